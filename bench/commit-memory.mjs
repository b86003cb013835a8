// bench/commit-memory: where DuckDB's memory goes while the appender loads a full buffer and
// commits it, under the appender's memory limit: the peak of each of DuckDB's memory tags (held
// in memory / spilled to disk) and the CPU of each phase, against the local stack.
//
//   npm run bench:commit-memory   BENCH_COMMIT_RECORDS (default 200000, about a full 100 MB buffer
//                                 of the benches' 1000-record requests), BENCH_MEMORY_MB (default
//                                 100, the appender's limit at BUFFER_SIZE_MB=100), BENCH_TENANTS (default 4),
//                                 BENCH_TABLE_PROPERTIES (e.g. write.parquet.compression-level=1, comma-separated:
//                                 set on the bench's new table before the phases)
//
// Phases, each on a buffer of its own:
//   load                      the buffer loaded as the appender loads it (a read_json per 8 requests)
//   commit                    the appender's commit of it (one INSERT for all partitions)
//   commit, one INSERT per tenant   the same rows, a tenant per INSERT, in one transaction
//   commit beside loads       the appender's commit while the next buffer loads (its outcome is reported)
//   commit beside loads, one INSERT per tenant
// Prints one JSON document on stdout and a table on stderr. CPU is the process's user+system
// time over the phase (all threads), the memory the highest of samples taken every 100 ms.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { loadConfig } from '../dist/config/load.js';
import { bufferRows, LogBuffer, LOG_COLUMN_NAMES } from '../dist/lake/buffer.js';
import { IcebergCommitter } from '../dist/lake/committer.js';
import { OffsetsTable } from '../dist/lake/offsets-table.js';
import { CatalogClient } from '../dist/lake/catalog-client.js';
import { ensureLakeTables, openLakeSession, qualifiedNamespace, sqlIdent, sqlString } from '../dist/lake/session.js';
import { APPENDER_DUCKDB_THREADS } from '../dist/lake/lake-pipeline.js';
import { logsRequestBody, round, stackEnv } from './lib.mjs';

const total = Number(process.env.BENCH_COMMIT_RECORDS ?? 200_000);
const memoryMb = Number(process.env.BENCH_MEMORY_MB ?? 100);
const tenants = Number(process.env.BENCH_TENANTS ?? 4);
const perRequest = 1000;
const requests = Array.from({ length: total / perRequest }, (_, i) => logsRequestBody(perRequest, i));

const env = stackEnv();
const run = randomBytes(3).toString('hex');
const cfg = loadConfig({ ...process.env, ...env, ICEBERG_NAMESPACE: `bench_${run}`, APPENDER_GROUP_ID: `bench-${run}` });
const spool = mkdtempSync(join(tmpdir(), 'bench-commit-memory-'));
// As the appender opens it: its memory limit, spill directory and thread count.
const session = await openLakeSession(cfg, { memoryLimitMb: memoryMb, tempDirectory: join(spool, 'duckdb'), threads: APPENDER_DUCKDB_THREADS, utcPartitionTransforms: true });
await ensureLakeTables(session.connection, cfg);
const logsTable = `${qualifiedNamespace(cfg)}.logs`;
const tableProperties = (process.env.BENCH_TABLE_PROPERTIES ?? '').split(',').filter(Boolean).map((kv) => kv.split('='));
if (tableProperties.length > 0) {
  await session.connection.run(`CALL set_iceberg_table_properties(${logsTable}, {${tableProperties.map(([k, v]) => `'${k}': '${v}'`).join(', ')}})`);
}
const loadConnection = await session.instance.connect();
const statsConnection = await session.instance.connect();
const buffer = new LogBuffer(loadConnection, spool);
await buffer.init();
const committer = new IcebergCommitter(session.connection, logsTable, new OffsetsTable(`${qualifiedNamespace(cfg)}.appender_offsets`, cfg.APPENDER_GROUP_ID, 'bench'), new CatalogClient(cfg), cfg.ICEBERG_NAMESPACE);

let peaks = {};
let sampling = true;
const sampler = (async () => {
  while (sampling) {
    try {
      const r = await statsConnection.runAndReadAll('SELECT tag, memory_usage_bytes, temporary_storage_bytes FROM duckdb_memory()');
      for (const [tag, used, spilled] of r.getRows()) {
        const k = String(tag).toLowerCase();
        const p = peaks[k] ?? [0, 0];
        peaks[k] = [Math.max(p[0], Number(used)), Math.max(p[1], Number(spilled))];
      }
    } catch {
      // over the limit, the statistics query itself may be refused: skip the sample
    }
    await new Promise((r) => setTimeout(r, 100));
  }
})();

const results = [];
async function phase(name, fn) {
  peaks = {};
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  let outcome = 'ok';
  try {
    await fn();
  } catch (e) {
    outcome = String(e.message).split('\n')[0].slice(0, 120);
  }
  const wall = (performance.now() - t0) / 1000;
  const c = process.cpuUsage(cpu0);
  const memory = Object.fromEntries(Object.entries(peaks).filter(([, [u, s]]) => u + s > 0).map(([k, [u, s]]) => [k, { inMemoryMb: round(u / 1e6, 0), spilledMb: round(s / 1e6, 0) }]));
  results.push({ phase: name, wallSeconds: round(wall, 2), cpuSeconds: round((c.user + c.system) / 1e6, 2), cpuMicrosPerRecord: round(((c.user + c.system) / total), 2), memory, outcome });
}

let nextOffset = 0n;
async function load() {
  for (let i = 0; i < requests.length; i++) {
    buffer.stage(requests[i], { tenant: `tenant-${i % tenants}`, fallbackMicros: 0n, partition: i % 6, offset: nextOffset++ });
    if (i % 8 === 7 || i === requests.length - 1) await buffer.load();
  }
}
async function sealed(fn) {
  const s = await buffer.seal();
  try {
    await fn(s);
  } finally {
    buffer.release(s);
    await buffer.collect();
  }
}
const columns = LOG_COLUMN_NAMES.map(sqlIdent).join(', ');

await phase('load', load);
await sealed((s) => phase('commit', () => committer.commit(s.tables, s.ranges, randomBytes(8).toString('hex'))));
/** The rows of sealed buffer `s` committed one tenant per INSERT, in one transaction (no offsets). */
async function commitPerTenant(s) {
  const c = session.connection;
  await c.run('BEGIN TRANSACTION');
  try {
    for (let t = 0; t < tenants; t++) await c.run(`INSERT INTO ${logsTable} (${columns}, tenant_shard) SELECT ${columns}, tenant_id FROM ${bufferRows(s.tables)} WHERE tenant_id = 'tenant-${t}'`);
    await c.run('COMMIT');
  } catch (e) {
    await c.run('ROLLBACK').catch(() => {});
    throw e;
  }
}
/** `commit` of sealed buffer `s` while the next buffer loads; both run to the end, failed or not, before the buffer's connection is used again. */
async function besideLoads(commit) {
  const [committed, loaded] = await Promise.allSettled([commit, load()]);
  for (const r of [committed, loaded]) if (r.status === 'rejected') throw r.reason;
}
await load();
await sealed((s) => phase('commit, one INSERT per tenant', () => commitPerTenant(s)));
await load();
await sealed((s) => phase('commit beside loads', () => besideLoads(committer.commit(s.tables, s.ranges, randomBytes(8).toString('hex')))));
// The buffer loaded beside the commit may be partial (a load out of memory stops it): start afresh.
await sealed(async () => {});
await load();
await sealed((s) => phase('commit beside loads, one INSERT per tenant', () => besideLoads(commitPerTenant(s))));

sampling = false;
await sampler;
// What the commits wrote: data files, Parquet bytes per record (column chunks), row groups per file.
let written;
try {
  const files = (await session.connection.runAndReadAll(`SELECT file_path, record_count FROM iceberg_metadata(${sqlString(logsTable)})`)).getRows();
  const records = files.reduce((n, [, r]) => n + Number(r), 0);
  const meta = await session.connection.runAndReadAll(
    `SELECT count(DISTINCT (file_name, row_group_id)), sum(total_compressed_size) FROM parquet_metadata([${files.map(([f]) => sqlString(String(f))).join(', ')}])`,
  );
  const [rowGroups, bytes] = meta.getRows()[0].map(Number);
  const rows = Number((await session.connection.runAndReadAll(`SELECT count(*) FROM ${logsTable}`)).getRows()[0][0]);
  written = { dataFiles: files.length, records, rows, parquetBytesPerRecord: round(bytes / records, 1), rowGroupsPerFile: round(rowGroups / files.length, 1) };
} catch (e) {
  written = { error: String(e.message).split('\n')[0] };
}
session.close();
rmSync(spool, { recursive: true, force: true });

const doc = { bench: 'commit-memory', records: total, memoryLimitMb: memoryMb, tenants, tableProperties: Object.fromEntries(tableProperties), phases: results, written };
process.stdout.write(JSON.stringify(doc) + '\n');
process.stderr.write(`\ncommit-memory: ${total} records, ${tenants} tenants, DuckDB memory limit ${memoryMb} MB${tableProperties.length ? `, table properties ${tableProperties.map((p) => p.join('=')).join(', ')}` : ''}\n`);
process.stderr.write(`written: ${JSON.stringify(written)}\n`);
for (const r of results) {
  const tags = Object.entries(r.memory).map(([k, m]) => `${k} ${m.inMemoryMb}/${m.spilledMb}`).join(', ');
  process.stderr.write(`${r.phase.padEnd(32)} cpu ${String(r.cpuSeconds).padStart(6)} s (${r.cpuMicrosPerRecord} µs/record), wall ${r.wallSeconds} s, ${r.outcome}\n    peak MB in memory/spilled: ${tags}\n`);
}
