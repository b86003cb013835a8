// bench/appender: log records per second from a pre-filled topic to committed Iceberg rows,
// with the appender's CPU, peak RSS and flush durations, against the local stack.
//
//   npm run bench:appender     BENCH_RECORDS (default 500000, in 1000-record OTLP requests),
//                              BENCH_BUFFER_MB (default 100), BENCH_PARTITIONS (default 6),
//                              BENCH_BUFFER_SECONDS (default 1; a larger value lets the buffer fill to
//                              BENCH_BUFFER_MB, as in production, at the cost of a late last flush),
//                              BENCH_DUCKDB_THREADS (the appender's DUCKDB_THREADS),
//                              BENCH_REPLICAS (default 1: appender processes in one consumer group),
//                              BENCH_REQUEST_RECORDS (default 1000: log records per OTLP request, one Kafka record each),
//                              BENCH_DEDUP_WINDOW (the appender's LAKE_DEDUP_WINDOW; unset: its default)
// Besides the whole run (start-up and the last, partial buffer's wait included), it reports the
// run from readiness to the end of the last flush the buffer's size or record limit triggered:
// the appender's rate when it is kept busy.
// Prints one JSON document on stdout and a human summary on stderr.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { cpus } from 'node:os';
import { DuckDBInstance } from '@duckdb/node-api';
import { Kafka, logLevel } from 'kafkajs';
import { logsRequestBody, procStats, promSum, promValue, root, round, stackEnv } from './lib.mjs';

const total = Number(process.env.BENCH_RECORDS ?? 500_000);
const bufferMb = Number(process.env.BENCH_BUFFER_MB ?? 100);
const partitions = Number(process.env.BENCH_PARTITIONS ?? 6);
const bufferSeconds = Number(process.env.BENCH_BUFFER_SECONDS ?? 1);
const perRequest = Number(process.env.BENCH_REQUEST_RECORDS ?? 1000);
const dedupWindow = process.env.BENCH_DEDUP_WINDOW;
const run = randomBytes(3).toString('hex');
const topic = `bench-lake-${run}`;
const namespace = `bench_${run}`;
const basePort = 29464;
const replicaCount = Number(process.env.BENCH_REPLICAS ?? 1);
const env = stackEnv();

// 1. Pre-fill the topic.
const kafka = new Kafka({ brokers: [env.REDPANDA_BROKERS], clientId: 'bench', logLevel: logLevel.WARN });
const admin = kafka.admin();
await admin.connect();
await admin.createTopics({ topics: [{ topic, numPartitions: partitions }, { topic: `${topic}-dlq`, numPartitions: 1 }] });
const producer = kafka.producer();
await producer.connect();
// Every request is its own (no two records alike), so the Parquet size and cost per record are
// those of real traffic rather than of a few bodies repeated.
let otlpBytes = 0;
const fillStart = performance.now();
for (let r = 0; r < total / perRequest; r++) {
  const body = logsRequestBody(perRequest, r);
  otlpBytes += body.length;
  const tenant = `tenant-${r % 4}`;
  await producer.send({ topic, acks: -1, messages: [{ key: tenant, value: body, headers: { 'tenant-id': tenant, signal: 'logs', 'received-at': String(Date.now()), 'content-schema': 'otlp-proto-1' } }] });
}
await producer.disconnect();
process.stderr.write(`pre-filled ${topic}: ${total} records, ${round(otlpBytes / 1e6)} MB in ${round((performance.now() - fillStart) / 1000)} s\n`);

// 2. Drain it with the appender: BENCH_REPLICAS processes in one consumer group.
const replicas = [];
for (let r = 0; r < replicaCount; r++) {
  const port = basePort + r;
  const child = spawn(process.execPath, [...(process.env.BENCH_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`] : []), 'dist/cli/appender.js'], {
    cwd: root,
    env: { ...process.env, ...env, ...(process.env.BENCH_DUCKDB_THREADS ? { DUCKDB_THREADS: process.env.BENCH_DUCKDB_THREADS } : {}), REDPANDA_TOPIC: topic, APPENDER_GROUP_ID: `bench-${run}`, ICEBERG_NAMESPACE: namespace, TOPIC_PARTITIONS: String(partitions), BUFFER_SIZE_MB: String(bufferMb), BUFFER_TIME_SECONDS: String(bufferSeconds), BUFFER_MAX_RECORDS: '100000000', ...(dedupWindow === undefined ? {} : { LAKE_DEDUP_WINDOW: dedupWindow }), APPENDER_HOST: '127.0.0.1', APPENDER_HTTP_PORT: String(port), LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 2],
  });
  const replica = { child, port, flushes: [], out: '' };
  child.stdout.on('data', (d) => {
    replica.out += d.toString();
    let i;
    while ((i = replica.out.indexOf('\n')) >= 0) {
      const line = replica.out.slice(0, i);
      replica.out = replica.out.slice(i + 1);
      // warnings and errors of the appender, as they come
      if (/"level":(4|5|6)0/.test(line)) {
        const entry = JSON.parse(line);
        process.stderr.write(`appender ${r}: ${entry.time} ${entry.msg}${entry.err ? `: ${String(entry.err.message).slice(0, 160)}` : ''}${entry.kafkajs?.error ? `: ${String(entry.kafkajs.error).slice(0, 160)}` : ''}${entry.duckdbMemory ? ` ${JSON.stringify(entry.duckdbMemory)}` : ''}\n`);
      }
      if (line.includes('"flushed to Iceberg"')) replica.flushes.push({ ...JSON.parse(line), cpuSeconds: procStats(child.pid).cpuSeconds, at: performance.now() });
    }
  });
  replicas.push(replica);
}
process.on('exit', () => replicas.forEach((r) => r.child.kill('SIGKILL'))); // never leave them behind
// Each replica consumes once it is ready: the run starts when the first is, and what each spent
// before its own readiness is its start-up.
await Promise.all(replicas.map(async (replica) => {
  for (;;) {
    try {
      if ((await fetch(`http://127.0.0.1:${replica.port}/readyz`)).status === 200) break;
    } catch {}
    await new Promise((r) => setTimeout(r, 50));
  }
  replica.readyAt = performance.now();
  replica.readyCpu = procStats(replica.child.pid).cpuSeconds;
}));
const readyAt = Math.min(...replicas.map((r) => r.readyAt));
// Where the memory is: the appender's own account at the sample with the highest RSS.
const memoryOf = (text) => {
  const one = (name) => promValue(text, name) / 1e6;
  const sum = (name) => promSum(text, name) / 1e6;
  return {
    rssMb: one('otel_lakehouse_process_process_resident_memory_bytes'),
    nodeHeapUsedMb: one('otel_lakehouse_process_nodejs_heap_size_used_bytes'),
    nodeHeapTotalMb: one('otel_lakehouse_process_nodejs_heap_size_total_bytes'),
    nodeExternalMb: one('otel_lakehouse_process_nodejs_external_memory_bytes'),
    duckdbBufferManagerMb: sum('otel_lakehouse_lake_duckdb_memory_bytes'),
  };
};
const cpuOf = () => replicas.reduce((a, r) => a + procStats(r.child.pid).cpuSeconds, 0);
const readyCpu = replicas.reduce((a, r) => a + r.readyCpu, 0);
let peakRss = 0;
let rows = 0;
let memoryAtPeak;
let metrics = [];
while (rows < total) {
  await new Promise((r) => setTimeout(r, 250));
  metrics = await Promise.all(replicas.map(async (r) => (await fetch(`http://127.0.0.1:${r.port}/metrics`)).text()));
  rows = metrics.reduce((a, text) => a + promValue(text, 'otel_lakehouse_lake_rows_committed_total'), 0);
  for (const [i, text] of metrics.entries()) {
    const memory = memoryOf(text);
    if (!memoryAtPeak || memory.rssMb > memoryAtPeak.rssMb) memoryAtPeak = memory;
    peakRss = Math.max(peakRss, procStats(replicas[i].child.pid).peakRssMb);
  }
}
const doneAt = performance.now();
const commits = metrics.reduce((a, text) => a + promValue(text, 'otel_lakehouse_lake_commits_total'), 0);
const retriesOf = (kind) => metrics.reduce((a, text) => a + promValue(text, `otel_lakehouse_lake_commit_retries_total{kind="${kind}"}`), 0);
const stats = { cpuSeconds: cpuOf(), peakRssMb: Math.max(...replicas.map((r) => procStats(r.child.pid).peakRssMb)) };
for (const r of replicas) r.child.kill('SIGTERM');
await Promise.all(replicas.map((r) => new Promise((done) => r.child.on('exit', done))));
const flushes = replicas.flatMap((r) => r.flushes).sort((a, b) => a.at - b.at);

// 3. What landed: Parquet bytes per record, files.
const db = await DuckDBInstance.create(':memory:', { extension_directory: env.DUCKDB_EXTENSION_DIRECTORY, autoinstall_known_extensions: 'false', autoload_known_extensions: 'false' });
const c = await db.connect();
await c.run(`LOAD httpfs; LOAD avro; LOAD iceberg; CREATE SECRET (TYPE s3, KEY_ID '${env.S3_ACCESS_KEY}', SECRET '${env.S3_SECRET_KEY}', ENDPOINT '${new URL(env.S3_ENDPOINT).host}', URL_STYLE 'path', USE_SSL false, REGION 'us-east-1')`);
const files = (await c.runAndReadAll(`SELECT count(*), sum(size) FROM read_blob('s3://${env.S3_BUCKET}/${namespace}/logs/data/**/*.parquet')`)).getRows()[0];
const seconds = (doneAt - readyAt) / 1000;
const flushMs = flushes.map((f) => f.durationMs).sort((a, b) => a - b);
// Up to the end of the last flush that a limit (not the timer) triggered (one replica: with
// several, their CPU at that moment is not known, so only the rate is given).
const lastFull = flushes.findLastIndex((f) => f.reason === 'size' || f.reason === 'records');
const busy = lastFull < 0 ? undefined : (() => {
  const f = flushes[lastFull];
  const rows = flushes.slice(0, lastFull + 1).reduce((a, x) => a + x.rows, 0);
  const secs = (f.at - readyAt) / 1000;
  const cpu = replicas.length === 1 ? { recordsPerCpuSecond: round(rows / (f.cpuSeconds - readyCpu), 0), cpuSecondsPerMillionRecords: round(((f.cpuSeconds - readyCpu) / rows) * 1e6, 2) } : {};
  return { rows, seconds: round(secs, 2), recordsPerSecond: round(rows / secs, 0), ...cpu };
})();
const doc = {
  bench: 'appender',
  cores: cpus().length,
  records: total,
  otlpMegabytes: round(otlpBytes / 1e6, 1),
  bufferSizeMb: bufferMb,
  bufferTimeSeconds: bufferSeconds,
  recordsPerRequest: perRequest,
  dedupWindow: dedupWindow ?? '(default)',
  partitions,
  replicas: replicas.length,
  seconds: round(seconds, 2),
  recordsPerSecond: round(total / seconds, 0),
  otlpMegabytesPerSecond: round(otlpBytes / 1e6 / seconds, 2),
  cpuSecondsPerMillionRecords: round((stats.cpuSeconds / total) * 1e6, 2),
  cpuSecondsTotal: round(stats.cpuSeconds, 2),
  recordsPerCpuSecond: round(total / stats.cpuSeconds, 0),
  startupCpuSeconds: round(readyCpu, 2),
  recordsPerCpuSecondAfterStartup: round(total / (stats.cpuSeconds - readyCpu), 0),
  commits,
  commitRetries: { conflict: retriesOf('conflict'), unknownOutcome: retriesOf('unknown_outcome'), unavailable: retriesOf('unavailable') },
  conflictsPerCommit: round(retriesOf('conflict') / Math.max(1, commits), 3),
  // from readiness to the end of the last size- or record-driven flush (see above)
  untilLastFullFlush: busy,
  // of the replica with the highest
  peakRssMb: round(Math.max(peakRss, stats.peakRssMb), 0),
  // At the sample with the highest RSS (every 250 ms; DuckDB's figure is refreshed every 5 s).
  memoryAtPeakMb: Object.fromEntries(Object.entries(memoryAtPeak ?? {}).map(([k, v]) => [k.replace(/Mb$/, ''), round(v, 0)])),
  flushes: flushes.length,
  flushMs: { min: flushMs[0], median: flushMs[Math.floor(flushMs.length / 2)], max: flushMs.at(-1) },
  dataFiles: Number(files[0]),
  parquetBytesPerRecord: round(Number(files[1]) / total, 1),
  flushLog: flushes.map(({ reason, rows, durationMs, dedupMs }) => ({ reason, rows, durationMs, ...(dedupMs === undefined ? {} : { dedupMs }) })),
};
doc.summary = { recordsPerSecond: doc.recordsPerSecond, cpuSecondsPerMillionRecords: doc.cpuSecondsPerMillionRecords, peakRssMb: doc.peakRssMb, medianFlushMs: doc.flushMs.median, commits };
process.stdout.write(JSON.stringify(doc) + '\n');
process.stderr.write(`\nappender (lake pipeline): ${total} records (${doc.otlpMegabytes} MB OTLP) from ${partitions} partitions, ${replicas.length} replica(s), BUFFER_SIZE_MB=${bufferMb}\n` +
  `  whole run: ${doc.recordsPerSecond} records/s, ${doc.otlpMegabytesPerSecond} MB/s, ${doc.cpuSecondsPerMillionRecords} CPU s per million records (all threads; ${doc.startupCpuSeconds} s of it start-up), peak RSS ${doc.peakRssMb} MB\n` +
  `  ${doc.recordsPerCpuSecondAfterStartup} records per CPU second after start-up; ${commits} commits, ${doc.commitRetries.conflict} conflicts (${doc.conflictsPerCommit} per commit)\n` +
  (busy ? `  ready to the last full-buffer flush: ${busy.rows} records in ${busy.seconds} s: ${busy.recordsPerSecond} records/s${busy.recordsPerCpuSecond ? `, ${busy.recordsPerCpuSecond} records per CPU second` : ''}\n` : '') +
  `  at the highest sample: ${JSON.stringify(doc.memoryAtPeakMb)} MB\n` +
  `  ${doc.flushes} flushes (${doc.flushMs.min}/${doc.flushMs.median}/${doc.flushMs.max} ms min/median/max), ${doc.dataFiles} data files, ${doc.parquetBytesPerRecord} Parquet bytes per record\n`);
await admin.deleteTopics({ topics: [topic, `${topic}-dlq`] }).catch(() => {});
await admin.disconnect();
