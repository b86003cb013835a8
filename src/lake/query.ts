import { DuckDBTypeId, type DuckDBConnection } from '@duckdb/node-api';
import { TENANT_ID_PATTERN, type Config } from '../config/schema.js';
import { openLakeSession, qualifiedNamespace, sqlString } from './session.js';

export type OutputFormat = 'table' | 'json' | 'csv';

export interface QueryResult {
  columns: string[];
  rows: unknown[][];
}

/** Thrown for a query the user wrote wrong; its message is DuckDB's. */
export class QueryError extends Error {
  override name = 'QueryError';
}

/** Creates the `logs` view: every row, or one tenant's rows when `tenant` is given. */
export async function createLogsView(connection: DuckDBConnection, cfg: Config, tenant?: string): Promise<void> {
  let where = '';
  if (tenant !== undefined) {
    if (!TENANT_ID_PATTERN.test(tenant)) throw new QueryError(`tenant '${tenant}' does not match ${TENANT_ID_PATTERN}`);
    where = ` WHERE tenant_id = ${sqlString(tenant)}`;
  }
  await connection.run(`CREATE OR REPLACE TEMP VIEW logs AS SELECT * FROM ${qualifiedNamespace(cfg)}.logs${where}`);
}

function plain(v: unknown, typeId: DuckDBTypeId | undefined): unknown {
  // A MAP comes back as a list of {key, value}: show it as an object.
  if (typeId === DuckDBTypeId.MAP && Array.isArray(v)) {
    return Object.fromEntries(v.map((e) => [(e as { key: unknown }).key, (e as { value: unknown }).value]));
  }
  return v;
}

/** Runs `sql` on a fresh lake session with the `logs` view, returning JSON-safe values. */
export async function runQuery(cfg: Config, sql: string, tenant?: string): Promise<QueryResult> {
  const session = await openLakeSession(cfg);
  try {
    await createLogsView(session.connection, cfg, tenant);
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

function csvCell(v: unknown): string {
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
