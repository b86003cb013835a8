import { DuckDBTypeId, type DuckDBConnection } from '@duckdb/node-api';
import { TENANT_ID_PATTERN, type Config } from '../config/schema.js';
import { openLakeSession } from '../lake/session.js';
import { QueryError } from './query-error.js';
import { createLogsView, lockDown } from './lake-view.js';
import { SpillWatch, type SandboxSource } from './sandbox.js';
import type { ViewColumn } from './scan.js';
import { BOTH_WALLS, confine, sandboxSource, viewColumns, type Confined, type Prepared, type Walls } from './tenant-query.js';

export { QueryError, createLogsView, lockDown };

export type OutputFormat = 'table' | 'json' | 'csv';

export interface QueryResult {
  columns: string[];
  rows: unknown[][];
}

export function plain(v: unknown, typeId: DuckDBTypeId | undefined): unknown {
  // A MAP comes back as a list of {key, value}: show it as an object.
  if (typeId === DuckDBTypeId.MAP && Array.isArray(v)) {
    return Object.fromEntries(v.map((e) => [(e as { key: unknown }).key, (e as { value: unknown }).value]));
  }
  return v;
}

/**
 * Runs `sql` on a fresh lake session with the `logs` view, returning JSON-safe values. With
 * `tenant`, it runs confined to that tenant's rows behind both walls of the query service
 * (tenant-query.ts); `walls` takes one away, for the tests only.
 */
export async function runQuery(cfg: Config, sql: string, tenant?: string, walls: Walls = BOTH_WALLS): Promise<QueryResult> {
  const session = await openLakeSession(cfg);
  try {
    if (tenant === undefined) {
      await createLogsView(session.connection, cfg);
      return await readAll(session.connection, sql);
    }
    if (!TENANT_ID_PATTERN.test(tenant)) throw new QueryError(`tenant '${tenant}' does not match ${TENANT_ID_PATTERN}`);
    await lockDown(session.connection, cfg);
    const sandboxes = sandboxSource(cfg, walls, 0);
    try {
      return await runConfined(session.connection, cfg, tenant, sql, walls, sandboxes);
    } finally {
      sandboxes.close();
    }
  } finally {
    session.close();
  }
}

/**
 * Runs a tenant's `sql` behind the walls: `trusted` is a locked-down lake session (lockDown)
 * that only runs the hand-over scan; the SQL runs on an instance from `sandboxes`.
 */
export async function runConfined(
  trusted: DuckDBConnection,
  cfg: Config,
  tenant: string,
  sql: string,
  walls: Walls,
  sandboxes: SandboxSource,
  columns?: ViewColumn[],
): Promise<QueryResult & { prepared: Prepared | undefined }> {
  let confined: Confined | undefined;
  const spill = new SpillWatch(cfg.QUERY_SPILL_LIMIT_MB * MIB, () => {
    trusted.interrupt();
    confined?.interrupt();
  });
  try {
    confined = await confine(trusted, cfg, tenant, sql, walls, columns ?? (await viewColumns(trusted, cfg)), sandboxes, () => spill.hasExceeded, spill);
    return { ...(await readAll(confined.connection, sql)), prepared: confined.prepared };
  } catch (e) {
    if (spill.hasExceeded) throw new QueryError(spillMessage(cfg));
    if (!(e instanceof QueryError)) confined?.discard();
    throw e;
  } finally {
    spill.stop();
    confined?.close();
  }
}

const MIB = 1024 * 1024;

/** What a query that spilled past its quota is told. */
export function spillMessage(cfg: Config): string {
  return `the query spilled more than QUERY_SPILL_LIMIT_MB (${cfg.QUERY_SPILL_LIMIT_MB} MB) to disk past QUERY_MEMORY_LIMIT_MB (${cfg.QUERY_MEMORY_LIMIT_MB} MB) and was stopped; narrow the rows it reads (a day, a service) or aggregate`;
}

async function readAll(connection: DuckDBConnection, sql: string): Promise<QueryResult> {
  let reader;
  try {
    reader = await connection.runAndReadAll(sql);
  } catch (e) {
    throw new QueryError((e as Error).message);
  }
  const types = reader.columnTypes().map((t) => t.typeId);
  return {
    columns: reader.columnNames(),
    rows: reader.getRowsJson().map((r) => r.map((v, i) => plain(v, types[i]))),
  };
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
