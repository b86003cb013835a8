// bench/tenants: what one flush costs as the number of tenants in it grows. The same number of
// rows (BENCH_TENANT_ROWS, default 40000) is buffered from 2, 100, 1,000, … tenants and committed
// to Iceberg as the appender commits it (files of its own for a tenant of many rows, shared files
// of tenant ranges for the others), each into a table of its own, against the local stack. Then
// one tenant + day query: the files it reads and the rows those files hold.
//
//   node bench/tenants.mjs     BENCH_TENANT_ROWS (default 40000), BENCH_TENANTS (default "2,100,1000,10000"),
//                              BENCH_MEMORY_MB (DuckDB's memory limit, default 1000),
//                              BENCH_OWN_FILE_MIN_ROWS (default: the appender's; 1 gives every tenant
//                              files of its own, the layout before shared files)
// Prints one JSON document on stdout and a table on stderr.
import { mkdtempSync, rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../dist/config/load.js';
import { LogBuffer } from '../dist/lake/buffer.js';
import { CatalogClient } from '../dist/lake/catalog-client.js';
import { DEFAULT_FILE_LAYOUT, IcebergCommitter } from '../dist/lake/committer.js';
import { OffsetsTable } from '../dist/lake/offsets-table.js';
import { ensureLakeTables, openLakeSession, qualifiedNamespace } from '../dist/lake/session.js';
import { logsRequestBody, round, stackEnv } from './lib.mjs';

const rows = Number(process.env.BENCH_TENANT_ROWS ?? 40_000);
const counts = (process.env.BENCH_TENANTS ?? '2,100,1000,10000').split(',').map(Number);
const memoryMb = Number(process.env.BENCH_MEMORY_MB ?? 1000);
const layout = { ...DEFAULT_FILE_LAYOUT, ownFileMinRows: Number(process.env.BENCH_OWN_FILE_MIN_ROWS ?? DEFAULT_FILE_LAYOUT.ownFileMinRows) };
const env = stackEnv();
const cpu = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};

const results = [];
for (const tenants of counts) {
  const run = randomBytes(3).toString('hex');
  const cfg = loadConfig({ ...process.env, ...env, ICEBERG_NAMESPACE: `bench_tenants_${run}`, APPENDER_GROUP_ID: `bench-${run}` });
  const spool = mkdtempSync(join(tmpdir(), 'bench-tenants-'));
  const session = await openLakeSession(cfg, { memoryLimitMb: memoryMb, tempDirectory: join(spool, 'duckdb'), threads: 1, utcPartitionTransforms: true });
  await ensureLakeTables(session.connection, cfg);
  const catalog = new CatalogClient(cfg);
  const buffer = new LogBuffer(session.connection, spool);
  await buffer.init();
  // rows / tenants records per tenant, one request each (at least one record)
  const perTenant = Math.max(1, Math.floor(rows / tenants));
  for (let t = 0; t < tenants; t++) {
    buffer.stage(logsRequestBody(perTenant, t), { tenant: `tenant-${t}`, fallbackMicros: 0n, partition: 0, offset: BigInt(t) });
    if (t % 50 === 49) await buffer.load();
  }
  await buffer.load();
  const committer = new IcebergCommitter(session.connection, `${qualifiedNamespace(cfg)}.logs`, new OffsetsTable(`${qualifiedNamespace(cfg)}.appender_offsets`, cfg.APPENDER_GROUP_ID, 'bench'), catalog, cfg.ICEBERG_NAMESPACE, undefined, layout);
  const sealed = await buffer.seal();
  const c0 = cpu();
  const t0 = performance.now();
  const result = await committer.commit(sealed.tables, sealed.ranges, randomBytes(8).toString('hex'));
  const wall = (performance.now() - t0) / 1000;
  const commitCpu = cpu() - c0;
  const [files, bytes] = (await session.connection.runAndReadAll(`SELECT count(*), sum(size) FROM read_blob('s3://${cfg.S3_BUCKET}/${cfg.ICEBERG_NAMESPACE}/logs/data/**/*.parquet')`)).getRows()[0].map(Number);
  // one tenant + day query (a tenant in the middle of the id order): the files it reads, and the rows they hold
  const logs = `${qualifiedNamespace(cfg)}.logs`;
  const day = new Date(Math.floor(Date.now() / 86_400_000) * 86_400_000);
  const where = `tenant_id = 'tenant-${Math.floor(tenants / 2)}' AND "timestamp" >= TIMESTAMPTZ '${day.toISOString()}' AND "timestamp" < TIMESTAMPTZ '${new Date(day.getTime() + 86_400_000).toISOString()}'`;
  const plan = (await session.connection.runAndReadAll(`EXPLAIN ANALYZE SELECT count(*) FROM ${logs} WHERE ${where}`)).getRows().map((r) => r.join('\n')).join('\n');
  const read = (await session.connection.runAndReadAll(`SELECT DISTINCT filename FROM ${logs} WHERE ${where}`)).getRows().map(([f]) => String(f));
  const heldRows = (await session.connection.runAndReadAll(`SELECT sum(record_count) FROM iceberg_metadata('${logs}') WHERE file_path IN (${read.map((f) => `'${f}'`).join(', ') || "''"})`)).getRows()[0][0];
  const tenantRows = (await session.connection.runAndReadAll(`SELECT count(*) FROM ${logs} WHERE ${where}`)).getRows()[0][0];
  results.push({
    tenants, rows: result.rows, flushSeconds: round(wall, 2), cpuSeconds: round(commitCpu, 2), dataFiles: files, bytesPerFile: Math.round(bytes / Math.max(1, files)), parquetBytesPerRecord: round(bytes / Math.max(1, result.rows), 1),
    query: { filesRead: Number(/Total Files Read: (\d+)/.exec(plan)?.[1]), rowsInFilesRead: Number(heldRows ?? 0), tenantRows: Number(tenantRows) },
  });
  session.close();
  rmSync(spool, { recursive: true, force: true });
}
const doc = { bench: 'tenants', rows, layout, results };
process.stdout.write(JSON.stringify(doc) + '\n');
process.stderr.write(`\ntenants: one flush of ~${rows} rows (own files from ${layout.ownFileMinRows} rows)\n${'tenants'.padStart(8)} ${'rows'.padStart(7)} ${'flush s'.padStart(8)} ${'cpu s'.padStart(6)} ${'files'.padStart(6)} ${'bytes/file'.padStart(11)} ${'B/rec'.padStart(6)} ${'q files'.padStart(8)} ${'q rows held'.padStart(12)} ${'tenant rows'.padStart(12)}\n`);
for (const r of results) {
  process.stderr.write(`${String(r.tenants).padStart(8)} ${String(r.rows).padStart(7)} ${String(r.flushSeconds).padStart(8)} ${String(r.cpuSeconds).padStart(6)} ${String(r.dataFiles).padStart(6)} ${String(r.bytesPerFile).padStart(11)} ${String(r.parquetBytesPerRecord).padStart(6)} ${String(r.query.filesRead).padStart(8)} ${String(r.query.rowsInFilesRead).padStart(12)} ${String(r.query.tenantRows).padStart(12)}\n`);
}
