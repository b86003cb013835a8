import { LAKE_TABLES, TENANT_SHARD_COLUMN } from '../schema/tables.js';
import { isNotSelect } from '../lake/duckdb-errors.js';
import { DuckDBTypeId, type DuckDBConnection } from '@duckdb/node-api';
import { TENANT_ID_PATTERN, type Config } from '../config/schema.js';
import { CatalogClient } from '../lake/catalog-client.js';
import { openLakeSession, qualifiedNamespace, sqlString } from '../lake/session.js';

export type OutputFormat = 'table' | 'json' | 'csv';

export interface QueryResult {
  columns: string[];
  rows: unknown[][];
}

/**
 * Thrown for a query the user wrote wrong: `invalid` when DuckDB cannot parse or run it (the
 * message is DuckDB's), `refused` when the tenant confinement does not allow it.
 */
export class QueryError extends Error {
  override name = 'QueryError';
  constructor(
    message: string,
    readonly reason: 'invalid' | 'refused' = 'invalid',
  ) {
    super(message);
  }
}

/**
 * Creates the `logs` view: every row, or one tenant's rows when `tenant` is given. The layout
 * column is left out: it says which files a row went into, and in a shared file it names
 * another tenant (TENANT_SHARD_COLUMN).
 */
export async function createLogsView(connection: DuckDBConnection, cfg: Config, tenant?: string): Promise<void> {
  let where = '';
  if (tenant !== undefined) {
    if (!TENANT_ID_PATTERN.test(tenant)) throw new QueryError(`tenant '${tenant}' does not match ${TENANT_ID_PATTERN}`);
    where = ` WHERE tenant_id = ${sqlString(tenant)}`;
  }
  await connection.run(`CREATE OR REPLACE TEMP VIEW logs AS SELECT COLUMNS(c -> c <> ${sqlString(TENANT_SHARD_COLUMN)}) FROM ${qualifiedNamespace(cfg)}.${LAKE_TABLES.logs.name}${where}`);
}

export function plain(v: unknown, typeId: DuckDBTypeId | undefined): unknown {
  // A MAP comes back as a list of {key, value}: show it as an object.
  if (typeId === DuckDBTypeId.MAP && Array.isArray(v)) {
    return Object.fromEntries(v.map((e) => [(e as { key: unknown }).key, (e as { value: unknown }).value]));
  }
  return v;
}

/** Kinds of FROM items a tenant-scoped query may use (BASE_TABLE only for `logs` and its CTEs). */
const TABLE_REF_TYPES_ALLOWED = new Set(['BASE_TABLE', 'SUBQUERY', 'JOIN', 'EXPRESSION_LIST', 'EMPTY', 'TABLE_FUNCTION']);
/** Table functions that read only their arguments. */
const TABLE_FUNCTIONS_ALLOWED = new Set(['unnest', 'range', 'generate_series']);
/** Scalar functions that read settings, variables or the catalog rather than rows. */
const FUNCTIONS_REFUSED = new Set(['current_setting', 'getvariable', 'current_database', 'current_schema', 'current_schemas', 'current_query']);

/**
 * Checks that `sql` is one or more SELECTs that read nothing but the view `logs` (and CTEs of
 * its own): no table functions (read_parquet, iceberg_scan, query, duckdb_secrets, …), no
 * other table or schema, no statement other than SELECT (ATTACH, COPY, SET, PRAGMA, …). It
 * walks DuckDB's own parse tree (json_serialize_sql), so what is checked is what will run.
 */
export async function assertTenantSafe(connection: DuckDBConnection, sql: string): Promise<number> {
  const reader = await connection.runAndReadAll(`SELECT json_serialize_sql(${sqlString(sql)})`);
  const tree = JSON.parse(String(reader.getRows()[0]?.[0])) as { error: boolean; error_message?: string; error_type?: string; statements?: unknown[] };
  if (tree.error) {
    if (isNotSelect(tree.error_message ?? '')) {
      throw new QueryError('only SELECT statements over the view logs can run', 'refused');
    }
    throw new QueryError(tree.error_message ?? 'the query could not be parsed');
  }
  const ctes = new Set<string>();
  const refs: { type: string; catalog: string; schema: string; table: string; fn: string }[] = [];
  const functions: string[] = [];
  const visit = (node: unknown): void => {
    if (Array.isArray(node)) {
      for (const n of node) visit(n);
      return;
    }
    if (!node || typeof node !== 'object') return;
    const o = node as Record<string, unknown>;
    if (o.cte_map && typeof o.cte_map === 'object') {
      for (const entry of ((o.cte_map as { map?: { key: string }[] }).map ?? [])) ctes.add(entry.key.toLowerCase());
    }
    // A FROM item (TableRef): a type and a query location, and no expression class.
    if (typeof o.type === 'string' && 'query_location' in o && !('class' in o)) {
      const fn = (o.function as { function_name?: string } | undefined)?.function_name ?? '';
      refs.push({ type: o.type, catalog: String(o.catalog_name ?? ''), schema: String(o.schema_name ?? ''), table: String(o.table_name ?? '').toLowerCase(), fn: fn.toLowerCase() });
    }
    if (o.class === 'FUNCTION' && typeof o.function_name === 'string') functions.push(o.function_name.toLowerCase());
    for (const v of Object.values(o)) visit(v);
  };
  visit(tree.statements);
  for (const r of refs) {
    if (!TABLE_REF_TYPES_ALLOWED.has(r.type)) throw new QueryError(`queries read only the view logs: ${r.type} is not allowed`, 'refused');
    if (r.type === 'TABLE_FUNCTION' && !TABLE_FUNCTIONS_ALLOWED.has(r.fn)) {
      throw new QueryError(`queries read only the view logs: the table function ${r.fn || '(unknown)'}() is not allowed`, 'refused');
    }
    if (r.type === 'BASE_TABLE' && (r.catalog || r.schema || (r.table !== 'logs' && !ctes.has(r.table)))) {
      const name = [r.catalog, r.schema, r.table].filter(Boolean).join('.');
      throw new QueryError(`queries read only the view logs, not ${name}`, 'refused');
    }
  }
  const refused = functions.find((f) => FUNCTIONS_REFUSED.has(f));
  if (refused) throw new QueryError(`the function ${refused}() is not allowed`, 'refused');
  return Array.isArray(tree.statements) ? tree.statements.length : 0;
}

/**
 * After the view is built: no file or network access outside the logs table's own files, and
 * no way to change that (defence in depth behind assertTenantSafe).
 */
export async function lockDown(connection: DuckDBConnection, cfg: Config): Promise<void> {
  const location = await new CatalogClient(cfg).tableLocation(cfg.ICEBERG_NAMESPACE, LAKE_TABLES.logs.name);
  await connection.run(`SET allowed_directories = [${sqlString(location.replace(/\/?$/, '/'))}]`);
  await connection.run('SET enable_external_access = false');
  await connection.run('SET lock_configuration = true');
}

/**
 * Runs `sql` on a fresh lake session with the `logs` view, returning JSON-safe values. With
 * `tenant`, the view holds that tenant's rows only and the query may read nothing else (see
 * assertTenantSafe and lockDown).
 */
export async function runQuery(cfg: Config, sql: string, tenant?: string): Promise<QueryResult> {
  const session = await openLakeSession(cfg);
  try {
    await createLogsView(session.connection, cfg, tenant);
    if (tenant !== undefined) {
      await assertTenantSafe(session.connection, sql);
      await lockDown(session.connection, cfg);
    }
    let reader;
    try {
      reader = await session.connection.runAndReadAll(sql);
    } catch (e) {
      throw new QueryError((e as Error).message);
    }
    const types = reader.columnTypes().map((t) => t.typeId);
    return {
      columns: reader.columnNames(),
      rows: reader.getRowsJson().map((r) => r.map((v, i) => plain(v, types[i]))),
    };
  } finally {
    session.close();
  }
}

function cell(v: unknown): string {
  if (v === null || v === undefined) return 'NULL';
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

/** One CSV field: empty for NULL, maps and lists as JSON, quoted when it holds a quote, comma or line end. */
export function csvCell(v: unknown): string {
  if (v === null || v === undefined) return '';
  const s = cell(v);
  return /[",\r\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}

/** Renders a result as an aligned text table, JSON lines' array, or CSV with a header. */
export function formatResult(r: QueryResult, format: OutputFormat, maxWidth = 60): string {
  if (format === 'json') {
    return JSON.stringify(r.rows.map((row) => Object.fromEntries(r.columns.map((c, i) => [c, row[i] ?? null]))), null, 2) + '\n';
  }
  if (format === 'csv') {
    return [r.columns.map(csvCell).join(','), ...r.rows.map((row) => row.map(csvCell).join(','))].join('\n') + '\n';
  }
  const clip = (s: string) => {
    const flat = s.replace(/\s+/g, ' ');
    return flat.length > maxWidth ? flat.slice(0, maxWidth - 1) + '…' : flat;
  };
  const cells = r.rows.map((row) => row.map((v) => clip(cell(v))));
  const widths = r.columns.map((c, i) => Math.max(c.length, ...cells.map((row) => row[i]!.length)));
  const line = (vals: string[]) => vals.map((v, i) => v.padEnd(widths[i]!)).join(' | ').trimEnd();
  const out = [line(r.columns), widths.map((w) => '-'.repeat(w)).join('-+-'), ...cells.map(line)];
  out.push(`(${r.rows.length} row${r.rows.length === 1 ? '' : 's'})`);
  return out.join('\n') + '\n';
}
