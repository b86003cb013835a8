import type { DuckDBConnection } from '@duckdb/node-api';
import type { Config } from '../../src/config/schema.js';
import { prng } from './prng.js';

/**
 * A generated corpus of statements that try to reach beyond a tenant's `logs`: built from what
 * DuckDB itself says it has (every table function and table macro of duckdb_functions(), the
 * macros that read the catalog, every database, schema, table and view the engine knows), the
 * lake's own names and files, and paths of every kind, each put in many shapes (CTEs at every
 * scope, shadowing, recursive and materialized; subqueries in every clause; LATERAL; set
 * operations; FROM-first; PIVOT; comments; quoting, case and look-alike variants). A statement
 * may be refused or answered; an answer may hold only the tenant's rows (corpus tests).
 */
export interface Catalogue {
  /** table functions and table macros, with a parameter list each */
  tableFunctions: { name: string; parameters: string[]; types: string[] }[];
  /** scalar macros and functions that read the catalog or the settings */
  introspection: string[];
  /** qualified table and view names the engine knows: [database, schema, name] */
  relations: [string, string, string][];
  /** data and metadata files of the logs table, as S3 URLs */
  files: string[];
}

/** What DuckDB (with the iceberg and httpfs extensions, the catalog attached) says it has. */
export async function readCatalogue(connection: DuckDBConnection, cfg: Config): Promise<Catalogue> {
  const rows = async (sql: string) => (await connection.runAndReadAll(sql)).getRowsJson() as unknown[][];
  const tableFunctions = (
    await rows(`SELECT DISTINCT function_name, parameters, parameter_types FROM duckdb_functions() WHERE function_type IN ('table', 'table_macro') ORDER BY 1`)
  ).map(([name, parameters, types]) => ({ name: String(name), parameters: (parameters as string[]) ?? [], types: (types as string[]) ?? [] }));
  const introspection = (
    await rows(
      `SELECT DISTINCT function_name FROM duckdb_functions() WHERE (function_type = 'macro' AND (function_name LIKE 'pg\\_%' ESCAPE '\\' OR function_name LIKE '%description' OR function_name LIKE 'has\\_%' ESCAPE '\\' OR function_name LIKE 'current\\_%' ESCAPE '\\' OR function_name IN ('format_type', 'format_pg_type', 'user', 'session_user', 'get_block_size'))) ` +
        `OR (function_type = 'scalar' AND function_name IN ('current_setting', 'getvariable', 'current_database', 'current_schema', 'current_schemas', 'current_query', 'version', 'stats', 'which_secret', 'json_serialize_sql', 'txid_current', 'current_connection_id')) ORDER BY 1`,
    )
  ).map(([n]) => String(n));
  const relations = (
    await rows(
      `SELECT database_name, schema_name, table_name FROM duckdb_tables() UNION SELECT database_name, schema_name, view_name FROM duckdb_views() ORDER BY ALL`,
    )
  ).map((r) => r.map(String) as [string, string, string]);
  const ns = cfg.ICEBERG_NAMESPACE;
  // the lake's tables, which the duckdb_tables() of an attached REST catalog may not list
  relations.push(['lake', ns, 'logs'], ['lake', ns, 'appender_offsets']);
  const files = (await rows(`SELECT file FROM glob('s3://${cfg.S3_BUCKET}/${ns}/**') ORDER BY 1`)).map(([f]) => String(f));
  return { tableFunctions, introspection, relations, files };
}

const quote = (s: string) => `"${s.replaceAll('"', '""')}"`;
const literal = (s: string) => `'${s.replaceAll("'", "''")}'`;

/** Unicode look-alikes and invisible characters in a name. */
const LOOKALIKES: [string, string][] = [
  ['o', '\u043e'], // Cyrillic o
  ['l', '\u04cf'],
  ['s', '\u0455'],
  ['g', '\u0261'],
  ['e', '\u0435'],
  ['a', '\u0430'],
];

export function generateCorpus(cat: Catalogue, cfg: Config, size: number, seed: number): string[] {
  const rnd = prng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const ns = cfg.ICEBERG_NAMESPACE;
  const bucket = cfg.S3_BUCKET;
  const location = `s3://${bucket}/${ns}/logs`;

  const paths = [
    `${location}/data/**/*.parquet`,
    `${location}/data/*/*/*.parquet`,
    `${location}/**`,
    `${location}/metadata/*.metadata.json`,
    `${location}/metadata/*.avro`,
    `s3://${bucket}/**/*.parquet`,
    `s3://${bucket}/${ns}/appender_offsets/data/**/*.parquet`,
    'file:///etc/passwd',
    '/etc/passwd',
    '/proc/self/environ',
    '../../../../etc/hostname',
    `${cfg.LAKE_SPOOL_DIR ?? '/tmp'}/**`,
    'http://127.0.0.1:8181/v1/config',
    `http://127.0.0.1:8181/v1/namespaces/${ns}/tables/logs`,
    `${cfg.S3_ENDPOINT}/${bucket}/${ns}/logs/metadata/`,
    ...cat.files.slice(0, 40),
  ];

  const caseVariant = (s: string): string => {
    switch (Math.floor(rnd() * 4)) {
      case 0:
        return s.toUpperCase();
      case 1:
        return s.replace(/./g, (c) => (rnd() < 0.5 ? c.toUpperCase() : c));
      default:
        return s;
    }
  };
  const lookalike = (s: string): string => {
    const [from, to] = pick(LOOKALIKES);
    return rnd() < 0.5 ? s.replace(from, to) : s + pick(['\u200b', '\u00a0', '\ufeff']);
  };
  const ident = (s: string): string => {
    const r = rnd();
    if (r < 0.45) return quote(s);
    if (r < 0.85 && /^[a-z_][a-z0-9_]*$/.test(s)) return caseVariant(s);
    if (r < 0.92) return quote(caseVariant(s));
    return quote(lookalike(s));
  };
  const relation = (): string => {
    const [db, schema, name] = pick(cat.relations);
    switch (Math.floor(rnd() * 4)) {
      case 0:
        return `${ident(db)}.${ident(schema)}.${ident(name)}`;
      case 1:
        return `${ident(schema)}.${ident(name)}`;
      case 2:
        return ident(name);
      default:
        return `${ident(db)}.${ident(name)}`;
    }
  };
  const pathRef = (): string => {
    const p = pick(paths);
    return pick([quote(p), literal(p), quote(caseVariant(p))]);
  };
  const argFor = (type: string, name: string): string => {
    const t = type.toUpperCase();
    if (t.includes('VARCHAR') && t.endsWith('[]')) return `[${literal(pick(paths))}]`;
    if (t === 'VARCHAR' || t === 'ANY') {
      if (/sql|query/i.test(name) || rnd() < 0.15) return literal(pick([`SELECT * FROM lake.${ns}.logs`, `FROM ${relation()}`, 'SELECT * FROM duckdb_secrets()', `SELECT * FROM read_parquet('${location}/data/**/*.parquet')`]));
      return literal(rnd() < 0.8 ? pick(paths) : `lake.${ns}.logs`);
    }
    if (t === 'TABLE') return `(SELECT * FROM lake.${ns}.logs)`;
    if (t.includes('INT') || t === 'DOUBLE' || t === 'UBIGINT') return pick(['1', '0', '3']);
    if (t === 'BOOLEAN') return pick(['true', 'false']);
    if (t === 'DATE' || t.startsWith('TIMESTAMP')) return `'2026-11-01'`;
    if (t.startsWith('STRUCT') || t.startsWith('MAP')) return 'NULL';
    return literal(pick(paths));
  };
  const tableFunction = (): string => {
    const f = pick(cat.tableFunctions);
    const args = f.parameters.map((p, i) => (rnd() < 0.1 && f.name === 'iceberg_snapshots' ? `lake.${ns}.logs` : argFor(f.types[i] ?? 'VARCHAR', p)));
    const name = rnd() < 0.2 ? caseVariant(f.name) : rnd() < 0.1 ? quote(f.name) : f.name;
    return `${name}(${args.join(', ')})`;
  };

  /** Something outside logs to read from, as a FROM item. */
  const target = (): string => {
    const r = rnd();
    if (r < 0.38) return relation();
    if (r < 0.75) return tableFunction();
    if (r < 0.93) return pathRef();
    return pick([`(SELECT * FROM ${relation()})`, `(FROM ${tableFunction()})`, `(SELECT * FROM ${pathRef()})`]);
  };
  /** A scalar expression that reads the catalog or the settings. */
  const introspect = (): string => {
    const f = pick(cat.introspection);
    const arg = pick(["'allowed_directories'", "'s3_secret_access_key'", "'s3_access_key_id'", "'temp_directory'", '1', "'lake'", `'lake.${ns}.logs'`, "'x'", `'${location}/x', 's3'`]);
    return rnd() < 0.3 ? `${f}()` : `${f}(${arg})`;
  };
  const comment = (): string => pick(['', '/* logs */ ', '-- logs\n', '/* */', ' /* nested /* */ */ '.slice(0, 8)]);

  const shapes: (() => string)[] = [
    () => `SELECT * FROM ${target()}`,
    () => `FROM ${target()}`,
    () => `FROM ${target()} SELECT *`,
    () => {
      // the same name as a CTE in an inner scope: the outer reference is not that CTE
      const t = target();
      return `SELECT (WITH ${t.startsWith('"') ? t : quote(t)} AS (SELECT 1) SELECT 1) x, * FROM ${t}`;
    },
    () => `WITH logs AS (SELECT * FROM ${target()}) SELECT * FROM logs`,
    () => `WITH ${ident('logs')} AS MATERIALIZED (SELECT * FROM ${target()}) SELECT * FROM logs`,
    () => `WITH x AS (SELECT * FROM logs), y AS (SELECT * FROM ${target()}) SELECT * FROM y`,
    () => `WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 3) SELECT * FROM r, ${target()}`,
    () => `WITH RECURSIVE r AS (SELECT * FROM logs UNION ALL SELECT * FROM ${target()}) SELECT * FROM r LIMIT 5`,
    () => `SELECT (SELECT count(*) FROM ${target()}) AS n`,
    () => `SELECT * FROM logs WHERE EXISTS (SELECT 1 FROM ${target()})`,
    () => `SELECT * FROM logs WHERE body IN (SELECT CAST(${pick(['1', 'tenant_id', 'body', '*'])} AS VARCHAR) FROM ${target()})`,
    () => `SELECT body, (SELECT count(*) FROM ${target()}) FROM logs`,
    () => `SELECT service_name, count(*) FROM logs GROUP BY ALL HAVING count(*) > (SELECT count(*) FROM ${target()})`,
    () => `SELECT * FROM logs ORDER BY (SELECT count(*) FROM ${target()})`,
    () => `SELECT * FROM logs QUALIFY row_number() OVER () <= (SELECT count(*) FROM ${target()})`,
    () => `SELECT * FROM logs, LATERAL (SELECT * FROM ${target()}) t`,
    () => `SELECT * FROM logs JOIN ${target()} t ON true`,
    () => `SELECT * FROM logs POSITIONAL JOIN ${target()}`,
    () => `SELECT * FROM logs ASOF JOIN ${target()} t ON logs."timestamp" >= t."timestamp"`,
    () => `SELECT * FROM logs UNION ALL BY NAME SELECT * FROM ${target()}`,
    () => `SELECT tenant_id FROM logs ${pick(['UNION', 'UNION ALL', 'INTERSECT', 'EXCEPT', 'INTERSECT ALL'])} SELECT ${pick(['tenant_id', '*', 'body'])} FROM ${target()}`,
    () => `PIVOT ${target()} ON ${pick(['tenant_id', 'severity', 'file'])} USING count(*)`,
    () => `SELECT * FROM (PIVOT logs ON severity USING count(*)) p, ${target()}`,
    () => `SELECT * FROM ${target()} USING SAMPLE 10`,
    () => `SELECT ${introspect()} AS v`,
    () => `SELECT ${introspect()} AS v FROM logs LIMIT 1`,
    () => `SELECT * FROM logs WHERE body = ${introspect()}`,
    () => `WITH s AS (SELECT ${introspect()} AS v) SELECT * FROM s`,
    () => `SELECT ${comment()}* FROM ${comment()}${target()}`,
    () => `SELECT * FROM ${ident('logs')} ${comment()}UNION ALL SELECT * FROM ${target()}`,
    () => `SELECT * FROM ${pick(['lоgs', 'logs\u200b', '"logs "', '"LOGS"', 'Logs', 'main.logs', 'temp.logs', 'temp.main.logs', 'memory.main.logs', 'system.main.logs'])}`,
    () => `SELECT * FROM logs; SELECT * FROM ${target()}`,
    () => pick(['DESCRIBE', 'SUMMARIZE', 'SHOW']) + ` ${target()}`,
    () => `EXPLAIN SELECT * FROM ${target()}`,
    () => `CREATE TEMP TABLE t AS SELECT * FROM ${target()}`,
    () => `CREATE OR REPLACE TEMP VIEW logs AS SELECT * FROM ${target()}`,
    () => `COPY (SELECT * FROM ${target()}) TO '/tmp/confinement-leak.csv'`,
    () => `ATTACH ${literal(pick(paths))} AS x`,
    () => `SET ${pick(['enable_external_access', 'lock_configuration', 'allowed_directories', 'disabled_optimizers'])} = ${pick(['true', 'false', "['/']", "''"])}`,
    () => `PRAGMA ${pick(['table_info', 'show', 'storage_info'])}(${literal(`lake.${ns}.logs`)})`,
    () => `SELECT * FROM query_table(${literal(pick(cat.relations).join('.'))})`,
    () => `SELECT unnest([${literal(pick(paths))}]) AS p, * FROM ${target()}`,
    // ordinary statements over the tenant's own rows: these must be answered, and only with its rows
    () => `SELECT tenant_id, count(*) FROM ${ident('logs')} GROUP BY ALL`,
    () => `SELECT body FROM logs WHERE body LIKE '%secret%' ORDER BY "timestamp" DESC LIMIT ${1 + Math.floor(rnd() * 10)}`,
    () => `WITH ${ident(pick(['logs', 'x', 'pg_settings', 'duckdb_settings']))} AS (SELECT * FROM logs) SELECT count(*) FROM logs`,
    () => `SELECT k, count(*) FROM logs, unnest(map_keys(attributes)) u(k) GROUP BY k`,
    () => `SELECT * FROM range(3) r, logs LIMIT 3`,
  ];

  // Every table function, catalog macro and relation the engine knows, once each in the plainest
  // shape, then shapes and targets drawn at random.
  const out: string[] = [
    ...cat.tableFunctions.map((f) => `SELECT * FROM ${f.name}(${f.parameters.map((p, i) => argFor(f.types[i] ?? 'VARCHAR', p)).join(', ')})`),
    ...cat.introspection.map((f) => `SELECT ${f}(${pick(["'allowed_directories'", '1', "'x'"])}) AS v`),
    ...cat.relations.map(([db, schema, name]) => `SELECT * FROM ${quote(db)}.${quote(schema)}.${quote(name)}`),
  ].slice(0, size);
  while (out.length < size) out.push(pick(shapes)());
  return out;
}
