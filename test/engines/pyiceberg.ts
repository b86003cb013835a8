import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Config } from '../../src/config/schema.js';
import { runQuery } from '../../src/query/query.js';
import { sqlIdent } from '../../src/lake/session.js';
import { LOG_COLUMNS } from '../../src/schema/logs.js';
import { TENANT_SHARD_COLUMN } from '../../src/schema/tables.js';

const here = fileURLToPath(new URL('./', import.meta.url));
let python: string | undefined;

/** What pyiceberg reads of a table (see pyiceberg_read.py). */
export interface PyIcebergTable {
  schema: { name: string; type: string }[];
  partition: { name: string; transform: string; source: string }[];
  /** data files the scan plans (after partition pruning) */
  files: number;
  rows: Record<string, unknown>[];
}

/**
 * Reads `namespace.table` with pyiceberg (installed once from PyPI by ensure-pyiceberg.sh),
 * optionally with a row filter in pyiceberg's expression syntax (e.g. "tenant_id = 'acme'").
 */
export function readWithPyIceberg(cfg: Config, namespace: string, table: string, rowFilter?: string): PyIcebergTable {
  python ??= execFileSync('bash', [`${here}ensure-pyiceberg.sh`], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], timeout: 600_000 }).trim();
  const out = execFileSync(python, [`${here}pyiceberg_read.py`, namespace, table, ...(rowFilter ? [rowFilter] : [])], {
    encoding: 'utf8',
    maxBuffer: 512 * 1024 * 1024,
    timeout: 300_000,
    stdio: ['ignore', 'pipe', 'inherit'],
    env: {
      ...process.env,
      ICEBERG_CATALOG_URI: cfg.ICEBERG_CATALOG_URI,
      ICEBERG_WAREHOUSE: cfg.ICEBERG_WAREHOUSE,
      S3_ENDPOINT: cfg.S3_ENDPOINT,
      S3_ACCESS_KEY: cfg.S3_ACCESS_KEY,
      S3_SECRET_KEY: cfg.S3_SECRET_KEY,
      S3_REGION: cfg.S3_REGION,
    },
  });
  const read = JSON.parse(out) as PyIcebergTable;
  // the rows as the query view shows them: the layout column left out
  for (const r of read.rows) delete r[TENANT_SHARD_COLUMN];
  return read;
}

/**
 * Every column of the rows of `logs` that `where` (a condition, then ORDER BY/LIMIT) selects,
 * read by DuckDB's iceberg extension, in the shape readWithPyIceberg gives: timestamps in µs,
 * maps as their entries in order.
 */
export async function duckdbRows(cfg: Config, where: string): Promise<Record<string, unknown>[]> {
  const fields = LOG_COLUMNS.map((c) => {
    const col = sqlIdent(c.name);
    const expr = c.kind === 'timestamp' ? `epoch_us(${col})` : c.kind === 'map' ? `map_entries(${col})` : col;
    return `${col} := ${expr}`;
  });
  const r = await runQuery(cfg, `SELECT to_json(struct_pack(${fields.join(', ')}))::VARCHAR FROM logs WHERE ${where}`);
  return r.rows.map((row) => JSON.parse(String(row[0])) as Record<string, unknown>);
}
