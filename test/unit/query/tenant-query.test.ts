import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/load.js';
import { qualifiedNamespace } from '../../../src/lake/session.js';
import { BOTH_WALLS, confine, viewColumns } from '../../../src/query/tenant-query.js';
import { renderValue, type ViewColumn } from '../../../src/query/scan.js';
import { QueryError } from '../../../src/query/query-error.js';
import { SandboxPool } from '../../../src/query/sandbox.js';
import { seededRandom } from '../../helpers/prng.js';

// The trusted side here is an in-memory DuckDB with a table where the lake's would be (lake.otel.logs):
// what is tested is the hand-over to the sandbox (a real one), not the iceberg extension.
const cfg = loadConfig({ LOG_LEVEL: 'warn', QUERY_MEMORY_LIMIT_MB: '256' });
let instance: DuckDBInstance;
let trusted: DuckDBConnection;
let columns: ViewColumn[];
const sandboxes = new SandboxPool(cfg, 2);

const TENANTS = ['acme', 'beta', 'gamma'];
const SERVICES = ['api', 'web', 'db', 'queue'];
const SEVERITIES = ['DEBUG', 'INFO', 'WARN', 'ERROR', null];
const WORDS = ['timeout', 'retry', 'ok', 'cache', 'miss', 'slow', 'Timeout', '50%', 'a_b', "it's"];

beforeAll(async () => {
  instance = await DuckDBInstance.create(':memory:');
  trusted = await instance.connect();
  await trusted.run(`SET TimeZone = 'UTC'`);
  await trusted.run(`ATTACH ':memory:' AS lake`);
  await trusted.run(`CREATE SCHEMA ${qualifiedNamespace(cfg)}`);
  await trusted.run(
    `CREATE TABLE ${qualifiedNamespace(cfg)}.logs ("timestamp" TIMESTAMPTZ, tenant_id VARCHAR, severity VARCHAR, severity_number INTEGER, body VARCHAR, ` +
      `trace_flags BIGINT, service_name VARCHAR, attributes MAP(VARCHAR, VARCHAR), tenant_shard VARCHAR)`,
  );
  // 3,000 rows of three tenants, each timestamp distinct so that an ordered answer has one right order
  await trusted.run(
    `INSERT INTO ${qualifiedNamespace(cfg)}.logs SELECT TIMESTAMPTZ '2026-11-01 00:00:00+00' + INTERVAL (i * 7) SECOND, ` +
      `${sqlList(TENANTS)}[i % 3 + 1], ${sqlList(SEVERITIES)}[i % 5 + 1], [5, 9, 13, 17, NULL][i % 5 + 1], ` +
      `CASE WHEN i % 11 = 0 THEN NULL ELSE ${sqlList(WORDS)}[i % 10 + 1] || ' ' || ${sqlList(WORDS)}[(i * 7) % 10 + 1] || ' ' || i END, ` +
      `CASE WHEN i % 4 = 0 THEN 9007199254740993 ELSE i % 2 END, ${sqlList(SERVICES)}[(i // 3) % 4 + 1], ` +
      `MAP {'route': '/r' || (i % 6), 'tenant': ${sqlList(TENANTS)}[i % 3 + 1]}, 'shard' FROM range(3000) r(i)`,
  );
  columns = await viewColumns(trusted, cfg);
});

afterAll(() => {
  sandboxes.close();
  trusted?.closeSync();
  instance?.closeSync();
});

function sqlList(values: (string | null)[]): string {
  return `[${values.map((v) => (v === null ? 'NULL' : `'${v.replaceAll("'", "''")}'`)).join(', ')}]`;
}

/** The statement's answer on the tenant's rows in one plain engine: what the walls must not change. */
async function expected(tenant: string, sql: string): Promise<unknown[][]> {
  const c = await instance.connect();
  try {
    await c.run(`CREATE TEMP VIEW logs AS SELECT * EXCLUDE (tenant_shard) FROM ${qualifiedNamespace(cfg)}.logs WHERE tenant_id = '${tenant}'`);
    return (await c.runAndReadAll(sql)).getRowsJson() as unknown[][];
  } finally {
    c.closeSync();
  }
}

async function confined(tenant: string, sql: string): Promise<{ rows: unknown[][]; handedOver: number }> {
  const c = await instance.connect();
  const walls = await confine(c, cfg, tenant, sql, BOTH_WALLS, columns, sandboxes);
  try {
    const rows = (await walls.connection.runAndReadAll(sql)).getRowsJson() as unknown[][];
    return { rows, handedOver: walls.prepared?.rowsHandedOver ?? -1 };
  } finally {
    walls.close();
    c.closeSync();
  }
}

/** A random predicate over the view's columns, of the kinds DuckDB pushes into a scan and some it does not. */
function predicate(rnd: () => number): string {
  const pick = <T>(xs: T[]) => xs[Math.floor(rnd() * xs.length)]!;
  const ts = () => `TIMESTAMPTZ '2026-11-01 00:00:00+00' + INTERVAL ${Math.floor(rnd() * 21_000)} SECOND`;
  const one = (): string =>
    pick([
      () => `"timestamp" ${pick(['>=', '<', '>', '<=', '='])} ${ts()}`,
      () => `"timestamp" BETWEEN ${ts()} AND ${ts()}`,
      () => `service_name ${pick(['=', '<>', '<', '>='])} '${pick(SERVICES)}'`,
      () => `service_name IN ('${pick(SERVICES)}', '${pick(SERVICES)}')`,
      () => `severity ${pick(['IS NULL', 'IS NOT NULL', `= '${pick(SEVERITIES) ?? 'INFO'}'`])}`,
      () => `severity_number ${pick(['>=', '<', '='])} ${pick([5, 9, 13, 17])}`,
      () => `body ${pick(['LIKE', 'ILIKE', 'NOT LIKE'])} '${pick(['%', '', '%'])}${pick(WORDS).replaceAll("'", "''")}${pick(['%', '', '_%'])}'`,
      () => `contains(body, '${pick(WORDS).replaceAll("'", "''")}')`,
      () => `starts_with(body, '${pick(WORDS).replaceAll("'", "''")}')`,
      () => `body ${pick(['IS NULL', 'IS NOT NULL'])}`,
      () => `trace_flags ${pick(['=', '<>', '>'])} ${pick(['9007199254740993', '1', '0'])}`,
      () => `attributes['route'] = '/r${Math.floor(rnd() * 6)}'`,
      () => `tenant_id = '${pick(TENANTS)}'`,
      () => `lower(service_name) = '${pick(SERVICES)}'`,
    ])();
  const n = 1 + Math.floor(rnd() * 3);
  let p = one();
  for (let i = 1; i < n; i++) p = `(${p}) ${pick(['AND', 'AND', 'OR'])} (${one()})`;
  return p;
}

/** A random statement over logs whose answer has one right value (order and ties accounted for). */
function statement(rnd: () => number): string {
  const pick = <T>(xs: T[]) => xs[Math.floor(rnd() * xs.length)]!;
  const where = rnd() < 0.85 ? ` WHERE ${predicate(rnd)}` : '';
  return pick([
    () => `SELECT count(*) FROM logs${where}`,
    () => `SELECT service_name, severity, count(*) AS n FROM logs${where} GROUP BY ALL ORDER BY ALL`,
    () => `SELECT "timestamp", body FROM logs${where} ORDER BY "timestamp" ${pick(['DESC', 'ASC'])} LIMIT ${1 + Math.floor(rnd() * 50)}${pick(['', ' OFFSET 3'])}`,
    () => `SELECT * FROM logs${where} ORDER BY "timestamp" DESC LIMIT ${1 + Math.floor(rnd() * 20)}`,
    () => `SELECT count(*) FROM (SELECT body FROM logs${where} LIMIT ${1 + Math.floor(rnd() * 400)})`,
    () => `SELECT min("timestamp"), max(trace_flags), count(DISTINCT tenant_id) FROM logs${where}`,
    () => `SELECT a.service_name, count(*) FROM logs a JOIN logs b ON a."timestamp" = b."timestamp"${where.replaceAll('"timestamp"', 'a."timestamp"').replaceAll(/\b(service_name|severity_number|severity|body|trace_flags|attributes|tenant_id)\b/g, 'a.$1')} GROUP BY ALL ORDER BY ALL`,
    () => `WITH x AS (SELECT * FROM logs${where}) SELECT count(*), sum(severity_number) FROM x WHERE severity IS NOT NULL`,
    () => `SELECT k, count(*) FROM logs, unnest(map_keys(attributes)) u(k)${where} GROUP BY k ORDER BY k`,
  ])();
}

describe('renderValue', () => {
  it('writes back only constants it can write exactly', () => {
    expect(renderValue({ type: { id: 'VARCHAR' }, value: "it's" })).toBe("'it''s'");
    expect(renderValue({ type: { id: 'BIGINT' }, value: 42 })).toBe('CAST(42 AS BIGINT)');
    // parsed from JSON, 2^53 + 1 lost its last digit: never written back
    expect(renderValue({ type: { id: 'BIGINT' }, value: 9007199254740992 })).toBeUndefined();
    expect(renderValue({ type: { id: 'DOUBLE' }, value: 0.1 })).toBeUndefined();
    expect(renderValue({ type: { id: 'VARCHAR' }, is_null: true })).toBeUndefined();
    expect(renderValue({ type: { id: 'TIMESTAMP WITH TIME ZONE' }, value: 1793577600000000 })).toBe('CAST(make_timestamp(1793577600000000) AS TIMESTAMPTZ)');
  });
});

describe('the hand-over to the sandbox', () => {
  it('gives every generated statement the answer it has on the tenant\'s rows, and hands over no other tenant\'s row', async () => {
    const rnd = seededRandom('tenant-query hand-over');
    let narrowed = 0;
    for (let i = 0; i < 400; i++) {
      const tenant = TENANTS[i % 2]!;
      const sql = statement(rnd);
      const want = await expected(tenant, sql);
      const got = await confined(tenant, sql);
      expect(got.rows, sql).toEqual(want);
      expect(got.handedOver, sql).toBeLessThanOrEqual(1000);
      if (got.handedOver < 1000) narrowed++;
    }
    // most statements filter: the trusted scan must have narrowed most of them
    expect(narrowed).toBeGreaterThan(100);
  }, 120_000);

  it('narrows the scan to the statement\'s columns, predicates and limit', async () => {
    const c = await instance.connect();
    try {
      const w = await confine(c, cfg, 'acme', `SELECT body FROM logs WHERE service_name = 'api' AND "timestamp" >= TIMESTAMPTZ '2026-11-01 05:00:00+00' ORDER BY "timestamp" DESC LIMIT 5`, BOTH_WALLS, columns, sandboxes);
      expect(w.prepared?.needs.columns.map((i) => columns[i]!.name).sort()).toEqual(['body', 'service_name', 'timestamp']);
      expect(w.prepared?.needs.predicate).toMatch(/service_name.*'api'/);
      expect(w.prepared?.needs.limit).toEqual({ rows: 5, orderBy: '"timestamp" DESC NULLS LAST' });
      expect(w.prepared?.rowsHandedOver).toBe(5);
      w.close();
      // a statement that reads no row of logs gets none
      const none = await confine(c, cfg, 'acme', 'SELECT 1 AS one, (SELECT 2) AS two', BOTH_WALLS, columns, sandboxes);
      expect(none.prepared).toMatchObject({ needs: { reads: false }, rowsHandedOver: 0 });
      expect((await none.connection.runAndReadAll('SELECT 1 AS one, (SELECT 2) AS two')).getRowsJson()).toEqual([[1, 2]]);
      none.close();
      // count(*) reads rows but no column
      const count = await confine(c, cfg, 'acme', 'SELECT count(*) FROM logs', BOTH_WALLS, columns, sandboxes);
      expect(count.prepared).toMatchObject({ needs: { reads: true, columns: [] }, rowsHandedOver: 1000 });
      count.close();
    } finally {
      c.closeSync();
    }
  });

  it('writes the statement\'s constants into the trusted scan as values, never as SQL', async () => {
    for (const sql of [
      `SELECT count(*) FROM logs WHERE service_name = 'x'' OR tenant_id <> ''acme'`,
      `SELECT count(*) FROM logs WHERE body LIKE '%'') OR (true OR ''%'`,
      `SELECT count(*) FROM logs WHERE service_name IN ('api'') OR true --', 'nope')`,
    ]) {
      const c = await instance.connect();
      try {
        const w = await confine(c, cfg, 'acme', sql, BOTH_WALLS, columns, sandboxes);
        expect(w.prepared?.needs.predicate, sql).toBeDefined();
        expect(w.prepared?.rowsHandedOver, sql).toBe(0);
        expect((await w.connection.runAndReadAll(sql)).getRowsJson(), sql).toEqual([['0']]);
        w.close();
      } finally {
        c.closeSync();
      }
    }
  });

  it('refuses what the plan check refuses before handing anything over', async () => {
    for (const sql of ['SELECT * FROM duckdb_settings()', `SELECT current_setting('memory_limit')`, 'SELECT 1; SELECT 2', 'CREATE TABLE t (i INT)', `SELECT * FROM read_csv('/etc/passwd')`]) {
      const c = await instance.connect();
      try {
        await expect(confine(c, cfg, 'acme', sql, BOTH_WALLS, columns, sandboxes), sql).rejects.toBeInstanceOf(QueryError);
      } finally {
        c.closeSync();
      }
    }
  });
});
