import type { DuckDBConnection } from '@duckdb/node-api';
import { TENANT_ID_PATTERN, type Config } from '../config/schema.js';
import { LAKE_TABLES, TENANT_SHARD_COLUMN } from '../schema/tables.js';
import { openLakeSession, qualifiedNamespace, sqlIdent, sqlString } from '../lake/session.js';
import { assertOneSelect, judgePlan, planOf, scansOf, type PlanNode, type ScanRule } from './confinement.js';
import { QueryError } from './query-error.js';
import { SANDBOX_DISABLED_OPTIMIZERS, SandboxPool, openSandbox, type SandboxInstance, type SandboxSource, type SpillWatch } from './sandbox.js';
import { scanNeeds, type ScanNeeds, type ViewColumn } from './scan.js';

/**
 * The two walls around a tenant's SQL, each of which holds without the other:
 *   1. the plan check (confinement.ts): DuckDB's own plan of the statement may scan nothing but
 *      the tenant's `logs`, and holds no operator beyond reading and shaping rows;
 *   2. the sandbox (sandbox.ts): the statement runs in a DuckDB that holds only the tenant's
 *      rows, handed over by a trusted scan whose tenant filter no SQL of the tenant's touches.
 * Both are always on in the product. `Walls` exists so that the tests can take each one away
 * and show that the other still holds: without the plan check any statement runs in the
 * sandbox; without the sandbox the statement runs, checked, in a DuckDB with the trusted
 * engine's whole reach (openExposedEngine).
 */
export interface Walls {
  plan: boolean;
  sandbox: boolean;
}

export const BOTH_WALLS: Walls = { plan: true, sandbox: true };

/** Where a query's SQL runs: the sandbox, or (the second wall taken away, in tests) an exposed engine. */
export function sandboxSource(cfg: Config, walls: Walls, maxIdle: number): SandboxPool {
  return new SandboxPool(cfg, maxIdle, walls.sandbox ? openSandbox : openExposedEngine);
}

/** The temp table of the sandbox that holds the rows handed over, behind the view `logs`. */
export const ROWS_TABLE = 'logs_rows';

/** A seq_scan of the sandbox's temp table `table`. */
function sandboxScan(table: string): ScanRule {
  return (get) => get.name === 'seq_scan' && get.function_data?.catalog === 'temp' && get.function_data.schema === 'main' && get.function_data.table === table;
}

/** The columns of the `logs` view: the table's, less the layout column. */
export async function viewColumns(trusted: DuckDBConnection, cfg: Config): Promise<ViewColumn[]> {
  const reader = await trusted.runAndReadAll(`DESCRIBE SELECT * FROM ${qualifiedNamespace(cfg)}.${LAKE_TABLES.logs.name}`);
  return reader
    .getRowObjectsJson()
    .map((r) => ({ name: String(r.column_name), type: String(r.column_type) }))
    .filter((c) => c.name !== TENANT_SHARD_COLUMN);
}

const columnList = (columns: ViewColumn[]) => columns.map((c) => `${sqlIdent(c.name)} ${c.type}`).join(', ');

/** The trusted scan's SQL: the needed columns of the tenant's rows, narrowed as the statement allows. */
export function trustedScanSql(cfg: Config, tenant: string, columns: ViewColumn[], needs: ScanNeeds): string {
  if (!TENANT_ID_PATTERN.test(tenant)) throw new QueryError(`tenant '${tenant}' does not match ${TENANT_ID_PATTERN}`);
  const select = needs.columns.length > 0 ? needs.columns.map((i) => sqlIdent(columns[i]!.name)).join(', ') : 'true AS present';
  let sql = `SELECT ${select} FROM ${qualifiedNamespace(cfg)}.${LAKE_TABLES.logs.name} WHERE tenant_id = ${sqlString(tenant)}`;
  if (needs.predicate) sql += ` AND (${needs.predicate})`;
  if (needs.limit?.orderBy) sql += ` ORDER BY ${needs.limit.orderBy}`;
  if (needs.limit) sql += ` LIMIT ${needs.limit.rows}`;
  return sql;
}

export interface Prepared {
  /** what the statement needed and the trusted scan handed over */
  needs: ScanNeeds;
  rowsHandedOver: number;
}

/**
 * Makes `sandbox` ready to run `sql` for `tenant`: plans it over an empty `logs` of the view's
 * columns (refusing it unless the plan passes, with walls.plan), hands over the tenant's rows
 * it needs through a scan on `trusted`, and checks the plan again over the rows as they will be
 * read. The caller then runs `sql` on `sandbox`. `stopped` is asked between the scan's chunks.
 */
export async function prepareInSandbox(
  trusted: DuckDBConnection,
  sandbox: DuckDBConnection,
  cfg: Config,
  tenant: string,
  sql: string,
  walls: Walls,
  columns: ViewColumn[],
  stopped: () => boolean = () => false,
): Promise<Prepared> {
  await sandbox.run(`CREATE TEMP TABLE logs (${columnList(columns)})`);
  let needs: ScanNeeds = { reads: true, columns: columns.map((_, i) => i), predicate: undefined };
  if (walls.plan) await assertOneSelect(sandbox, sql);
  const isLogs = sandboxScan('logs');
  try {
    const bound = await planOf(sandbox, sql, false);
    const boundScans = walls.plan ? judgePlan(bound, isLogs).length : scansOf(bound, isLogs).length;
    const optimized = await optimizedPlan(sandbox, sql);
    // Without the optimized plan, the bound one (judged) is what runs, less the optimizer's
    // rewrites, which add no scan: the trusted scan then hands over all the tenant's rows.
    if (optimized) {
      const gets = walls.plan ? judgePlan(optimized, isLogs) : scansOf(optimized, isLogs);
      needs = scanNeeds(optimized, gets, boundScans, columns);
    }
  } catch (e) {
    // Without the plan check, a statement DuckDB cannot plan still runs, on all the tenant's
    // rows: the sandbox alone has to hold it.
    if (walls.plan) throw e;
  }
  await sandbox.run('DROP TABLE temp.main.logs');
  const kept = needs.columns.map((i) => columns[i]!);
  await sandbox.run(`CREATE TEMP TABLE ${ROWS_TABLE} (${kept.length > 0 ? columnList(kept) : 'present BOOLEAN'})`);
  const rowsHandedOver = needs.reads ? await handOver(trusted, sandbox, trustedScanSql(cfg, tenant, columns, needs), stopped) : 0;
  // The view keeps every column; those the statement does not read are NULL.
  const keptSet = new Set(needs.columns);
  const viewSelect = columns.map((c, i) => (keptSet.has(i) ? sqlIdent(c.name) : `CAST(NULL AS ${c.type}) AS ${sqlIdent(c.name)}`)).join(', ');
  await sandbox.run(`CREATE TEMP VIEW logs AS SELECT ${viewSelect} FROM temp.main.${ROWS_TABLE}`);
  if (walls.plan) judgePlan((await optimizedPlan(sandbox, sql)) ?? (await planOf(sandbox, sql, false)), sandboxScan(ROWS_TABLE));
  return { needs, rowsHandedOver };
}

/** Copies the result of the trusted `scanSql` into the sandbox's rows table, chunk by chunk. */
async function handOver(trusted: DuckDBConnection, sandbox: DuckDBConnection, scanSql: string, stopped: () => boolean): Promise<number> {
  const result = await trusted.stream(scanSql);
  const appender = await sandbox.createAppender(ROWS_TABLE, 'main', 'temp');
  let rows = 0;
  try {
    for (;;) {
      if (stopped()) throw new Error('stopped');
      const chunk = await result.fetchChunk();
      if (!chunk || chunk.rowCount === 0) break;
      appender.appendDataChunk(chunk);
      rows += chunk.rowCount;
    }
    appender.flushSync();
  } finally {
    appender.closeSync();
  }
  return rows;
}

/**
 * The optimized plan, or undefined when DuckDB plans the statement but cannot serialize its
 * optimized form (an internal error of the serializer, not a fault of the statement).
 */
async function optimizedPlan(sandbox: DuckDBConnection, sql: string): Promise<PlanNode | undefined> {
  try {
    return await planOf(sandbox, sql, true);
  } catch (e) {
    if (e instanceof QueryError && e.reason === 'refused' && /could not be checked/.test(e.message)) return undefined;
    throw e;
  }
}

/** Where a tenant's statement is to run, once both walls are up. */
export interface Confined {
  connection: DuckDBConnection;
  prepared?: Prepared;
  interrupt(): void;
  /** ends the query's use of the sandbox (its connection, and the instance goes back) */
  close(): void;
  /** the query failed in a way not understood: the instance is closed rather than kept */
  discard(): void;
}

/**
 * Puts up the walls around `sql` for `tenant` and gives the connection to run it on. `trusted`
 * is a locked-down lake session (lockDown); with the sandbox it only runs the trusted scan.
 */
export async function confine(
  trusted: DuckDBConnection,
  cfg: Config,
  tenant: string,
  sql: string,
  walls: Walls,
  columns: ViewColumn[],
  sandboxes: SandboxSource,
  stopped: () => boolean = () => false,
  spill?: SpillWatch,
): Promise<Confined> {
  if (!TENANT_ID_PATTERN.test(tenant)) throw new QueryError(`tenant '${tenant}' does not match ${TENANT_ID_PATTERN}`);
  const sandbox = await sandboxes.acquire(tenant);
  spill?.add(sandbox.tempDirectory);
  let connection: DuckDBConnection | undefined;
  let reuse = true;
  const close = () => {
    connection?.closeSync();
    sandboxes.release(tenant, sandbox, reuse);
  };
  try {
    // the query's own connection: its temp table and view go with it
    connection = await sandbox.instance.connect();
    const prepared = await prepareInSandbox(trusted, connection, cfg, tenant, sql, walls, columns, stopped);
    const conn = connection;
    return {
      connection: conn,
      prepared,
      interrupt: () => conn.interrupt(),
      close,
      discard: () => {
        reuse = false;
      },
    };
  } catch (e) {
    if (!(e instanceof QueryError)) reuse = false;
    close();
    throw e;
  }
}

/**
 * For the tests that take the second wall away: the tenant's rows are handed over as always, but
 * into a DuckDB with all the reach of the trusted engine (the S3 secret, the catalog attached,
 * external access, nothing locked), so that the plan check alone must stop every way out.
 */
export async function openExposedEngine(cfg: Config): Promise<SandboxInstance> {
  const session = await openLakeSession(cfg);
  try {
    await session.connection.run(`SET disabled_optimizers = '${SANDBOX_DISABLED_OPTIMIZERS}'`);
  } catch (e) {
    session.close();
    throw e;
  }
  return { instance: session.instance, close: () => session.close() };
}
