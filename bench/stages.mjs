// bench/stages: each stage of the lake pipeline alone, on the same OTLP log requests, so the
// bottleneck is visible: protobufjs decode + row mapping (the reference path the hot-path sinks
// use), OTLP -> NDJSON rows (the lake's path), the DuckDB load of those rows into the buffer
// table, a local Parquet write of the buffer, and the Iceberg commit (Parquet on MinIO + the
// REST catalog) against the local stack.
//
//   npm run bench:stages     BENCH_STAGE_RECORDS (default 200000, in 1000-record requests),
//                            BENCH_DUCKDB_THREADS (unset: one per core), BENCH_MEMORY_MB (default 4096)
// Prints one JSON document on stdout and a table on stderr. CPU is the process's user+system
// time over the stage (all threads: DuckDB works in its own), wall is elapsed time.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { loadConfig } from '../dist/config/load.js';
import { decodeLogsRequest } from '../dist/otlp/codec.js';
import { mapLogsRequest } from '../dist/otlp/logs-mapping.js';
import { bufferRows, LogBuffer } from '../dist/lake/buffer.js';
import { IcebergCommitter } from '../dist/lake/committer.js';
import { OffsetsTable } from '../dist/lake/offsets-table.js';
import { CatalogClient } from '../dist/lake/catalog-client.js';
import { ensureLakeTables, openLakeSession, qualifiedNamespace } from '../dist/lake/session.js';
import { logsRequestBody, round, stackEnv } from './lib.mjs';

const total = Number(process.env.BENCH_STAGE_RECORDS ?? 200_000);
const perRequest = 1000;
const requests = Array.from({ length: total / perRequest }, (_, i) => logsRequestBody(perRequest, i));
const otlpBytes = requests.reduce((a, b) => a + b.length, 0);

async function stage(name, fn) {
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await fn();
  const wall = (performance.now() - t0) / 1000;
  const c = process.cpuUsage(cpu0);
  const cpu = (c.user + c.system) / 1e6;
  return { stage: name, wallSeconds: round(wall, 3), cpuSeconds: round(cpu, 3), recordsPerSecond: round(total / wall, 0), cpuMicrosPerRecord: round((cpu / total) * 1e6, 2), recordsPerCpuSecond: round(total / cpu, 0) };
}

const env = stackEnv();
const run = randomBytes(3).toString('hex');
const cfg = loadConfig({ ...process.env, ...env, ICEBERG_NAMESPACE: `bench_${run}`, APPENDER_GROUP_ID: `bench-${run}` });
const spool = mkdtempSync(join(tmpdir(), 'bench-stages-'));
const session = await openLakeSession(cfg, { memoryLimitMb: Number(process.env.BENCH_MEMORY_MB ?? 4096), tempDirectory: join(spool, 'duckdb'), threads: process.env.BENCH_DUCKDB_THREADS ? Number(process.env.BENCH_DUCKDB_THREADS) : undefined, utcPartitionTransforms: process.env.BENCH_ICU_TRANSFORMS !== '1' });
await ensureLakeTables(session.connection, cfg);
const buffer = new LogBuffer(session.connection, spool);
await buffer.init();
const committer = new IcebergCommitter(session.connection, `${qualifiedNamespace(cfg)}.logs`, new OffsetsTable(`${qualifiedNamespace(cfg)}.appender_offsets`, cfg.APPENDER_GROUP_ID, 'bench'), new CatalogClient(cfg), cfg.ICEBERG_NAMESPACE);

// warm up the JIT on both paths
for (const r of requests.slice(0, 5)) mapLogsRequest(decodeLogsRequest(r), 't', 0n);
const results = [];
results.push(await stage('protobufjs decode + map (reference)', () => {
  for (const r of requests) mapLogsRequest(decodeLogsRequest(r), 'tenant-1', 0n);
}));
// stage + load per 8 requests (~4 MB, a fetch's worth), as the pipeline does per batch
let stagedOnly;
{
  const { ByteSink, logsRequestToNdjson } = await import('../dist/otlp/logs-ndjson.js');
  const sink = new ByteSink();
  for (const r of requests.slice(0, 5)) logsRequestToNdjson(r, { tenant: 't', fallbackMicros: 0n, extraJson: ',"kafka_partition":0,"kafka_offset":0' }, sink);
  sink.reset();
  stagedOnly = await stage('OTLP -> NDJSON rows', () => {
    let offset = 0n;
    for (const r of requests) {
      logsRequestToNdjson(r, { tenant: `tenant-${Number(offset % 4n)}`, fallbackMicros: 0n, extraJson: `,"kafka_partition":0,"kafka_offset":${offset++}` }, sink);
      if (sink.len > 4 << 20) sink.reset();
    }
  });
  results.push(stagedOnly);
}
const loadAll = await stage('OTLP -> NDJSON -> DuckDB buffer (load)', async () => {
  let offset = 0n;
  for (let i = 0; i < requests.length; i++) {
    buffer.stage(requests[i], { tenant: `tenant-${i % 4}`, fallbackMicros: 0n, partition: i % 6, offset: offset++ });
    if (i % 8 === 7 || i === requests.length - 1) await buffer.load();
  }
});
results.push(loadAll);
results.push({ ...loadAll, stage: 'DuckDB load alone (difference)', wallSeconds: round(loadAll.wallSeconds - stagedOnly.wallSeconds, 3), cpuSeconds: round(loadAll.cpuSeconds - stagedOnly.cpuSeconds, 3), recordsPerSecond: round(total / (loadAll.wallSeconds - stagedOnly.wallSeconds), 0), cpuMicrosPerRecord: round(loadAll.cpuMicrosPerRecord - stagedOnly.cpuMicrosPerRecord, 2), recordsPerCpuSecond: round(total / (loadAll.cpuSeconds - stagedOnly.cpuSeconds), 0) });
results.push(await stage('buffer -> local Parquet file (zstd)', () => session.connection.run(`COPY (SELECT * EXCLUDE (kafka_partition, kafka_offset) FROM ${bufferRows(buffer.tables)}) TO '${join(spool, 'x.parquet')}' (FORMAT parquet, COMPRESSION zstd)`)));
const sealed = await buffer.seal();
results.push(await stage('buffer -> Iceberg commit (MinIO + catalog)', () => committer.commit(sealed.tables, sealed.ranges, randomBytes(8).toString('hex'))));
session.close();
rmSync(spool, { recursive: true, force: true });

const doc = { bench: 'stages', records: total, otlpMegabytes: round(otlpBytes / 1e6, 1), stages: results };
process.stdout.write(JSON.stringify(doc) + '\n');
process.stderr.write(`\nstages: ${total} records, ${doc.otlpMegabytes} MB OTLP\n`);
process.stderr.write(`${'stage'.padEnd(44)} ${'wall s'.padStart(8)} ${'cpu s'.padStart(8)} ${'rec/s'.padStart(10)} ${'cpu µs/rec'.padStart(11)} ${'rec/cpu-s'.padStart(10)}\n`);
for (const r of results) {
  process.stderr.write(`${r.stage.padEnd(44)} ${String(r.wallSeconds).padStart(8)} ${String(r.cpuSeconds).padStart(8)} ${String(r.recordsPerSecond).padStart(10)} ${String(r.cpuMicrosPerRecord).padStart(11)} ${String(r.recordsPerCpuSecond).padStart(10)}\n`);
}
