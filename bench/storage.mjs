// bench/storage: what a sort order within data files does to their size and to what a tenant +
// service query has to read. The same buffered rows (the appender's buffer, filled from the
// benches' distinct OTLP requests) are written to local Parquet files as a commit writes them:
// one file per tenant (one day), zstd, a row group per 32,768 rows at most (the appender's
// partitioned write threshold), in buffer order and sorted by each candidate order.
//
//   node bench/storage.mjs     BENCH_STORAGE_RECORDS (default 200000, in 1000-record requests)
// Needs no local stack. Prints one JSON document on stdout and a table on stderr. Bytes and row
// groups are exact; CPU and query times are as measured on a shared machine.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { bufferRows, LogBuffer } from '../dist/lake/buffer.js';
import { PARTITIONED_WRITE_FLUSH_ROWS } from '../dist/lake/session.js';
import { logsRequestBody, round } from './lib.mjs';

const total = Number(process.env.BENCH_STORAGE_RECORDS ?? 200_000);
const perRequest = 1000;
const tenants = 4;
const dir = mkdtempSync(join(tmpdir(), 'bench-storage-'));
const db = await DuckDBInstance.create(':memory:', { threads: '1', memory_limit: '4GB', temp_directory: join(dir, 'tmp') });
const c = await db.connect();
await c.run(`SET TimeZone = 'UTC'`);
const buffer = new LogBuffer(c, dir);
await buffer.init();
for (let r = 0; r < total / perRequest; r++) {
  buffer.stage(logsRequestBody(perRequest, r), { tenant: `tenant-${r % tenants}`, fallbackMicros: 0n, partition: r % 6, offset: BigInt(r) });
  if (r % 8 === 7) await buffer.load();
}
await buffer.load();
const rows = `(SELECT * EXCLUDE (kafka_partition, kafka_offset) FROM ${bufferRows(buffer.tables)})`;

const orders = [
  ['as buffered (arrival order)', ''],
  ['service_name, severity_number, timestamp', 'service_name, severity_number, "timestamp"'],
  ['service_name, timestamp', 'service_name, "timestamp"'],
];
const cpu = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};
const results = [];
for (const [name, orderBy] of orders) {
  const out = join(dir, `out-${results.length}`);
  const c0 = cpu();
  await c.run(
    `COPY (SELECT * FROM ${rows}${orderBy ? ` ORDER BY ${orderBy}` : ''}) TO '${out}' ` +
      `(FORMAT parquet, COMPRESSION zstd, PARTITION_BY (tenant_id), ROW_GROUP_SIZE ${PARTITIONED_WRITE_FLUSH_ROWS})`,
  );
  const writeCpu = cpu() - c0;
  const files = `'${out}/*/*.parquet'`;
  const [bytes] = (await c.runAndReadAll(`SELECT sum(size) FROM read_blob(${files})`)).getRows()[0];
  // Row groups a query for one tenant's one service must read: those whose service_name range
  // holds it (the file of other tenants is pruned by the partition).
  const [groups, readable] = (
    await c.runAndReadAll(
      `SELECT count(DISTINCT (file_name, row_group_id)), count(DISTINCT (file_name, row_group_id)) FILTER (WHERE stats_min_value <= 'service-3' AND stats_max_value >= 'service-3') ` +
        `FROM parquet_metadata(${files}) WHERE path_in_schema = 'service_name' AND file_name LIKE '%tenant_id=tenant-1%'`,
    )
  ).getRows()[0];
  const q0 = performance.now();
  const [count] = (await c.runAndReadAll(`SELECT count(*), max(length(body)) FROM read_parquet(${files}, hive_partitioning = true) WHERE tenant_id = 'tenant-1' AND service_name = 'service-3'`)).getRows()[0];
  const queryMs = performance.now() - q0;
  results.push({
    order: name,
    parquetBytesPerRecord: round(Number(bytes) / total, 1),
    writeCpuMicrosPerRecord: round((writeCpu / total) * 1e6, 2),
    tenantRowGroups: Number(groups),
    tenantServiceRowGroupsRead: Number(readable),
    tenantServiceRows: Number(count),
    tenantServiceQueryMs: round(queryMs, 1),
  });
}
rmSync(dir, { recursive: true, force: true });
const doc = { bench: 'storage', records: total, tenants, rowGroupRows: PARTITIONED_WRITE_FLUSH_ROWS, results };
process.stdout.write(JSON.stringify(doc) + '\n');
process.stderr.write(`\nstorage: ${total} records, ${tenants} tenants, row groups of up to ${PARTITIONED_WRITE_FLUSH_ROWS} rows\n`);
process.stderr.write(`${'order within files'.padEnd(44)} ${'B/rec'.padStart(6)} ${'write µs/rec'.padStart(13)} ${'row groups read / of tenant'.padStart(28)} ${'query ms'.padStart(9)}\n`);
for (const r of results) {
  process.stderr.write(`${r.order.padEnd(44)} ${String(r.parquetBytesPerRecord).padStart(6)} ${String(r.writeCpuMicrosPerRecord).padStart(13)} ${`${r.tenantServiceRowGroupsRead} / ${r.tenantRowGroups}`.padStart(28)} ${String(r.tenantServiceQueryMs).padStart(9)}\n`);
}
