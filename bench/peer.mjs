// bench/peer: the Apache Iceberg Kafka Connect sink (a standalone Connect worker, one task)
// draining an equivalent topic into an equivalent table on the same local stack, for records/s
// and records per CPU second beside the appender's.
//
// "Equivalent": the sink cannot read OTLP protobuf (Kafka Connect has no converter for it), so
// the topic holds the same log records already mapped to rows, one JSON object per Kafka record
// (JsonConverter, no schemas), timestamps as epoch milliseconds. The table is created with the
// same DDL (sql/ddl/001_logs.sql: same columns, partitioned by tenant_id and day(timestamp)).
// The peer thus skips the protobuf decode and mapping the appender does.
//
//   npm run bench:peer     BENCH_PEER_RECORDS (default 300000), BENCH_PARTITIONS (default 6),
//                          BENCH_PEER_COMMIT_MS (default 5000: iceberg.control.commit.interval-ms)
// Installs the worker's jars on first use (stack.sh install-peer). Prints one JSON document on
// stdout and a summary on stderr.
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { loadConfig } from '../dist/config/load.js';
import { ensureLakeTables, openLakeSession } from '../dist/lake/session.js';
import { ByteSink, logsRequestToNdjson } from '../dist/otlp/logs-ndjson.js';
import { logsRequestBody, procStats, root, round, stackEnv } from './lib.mjs';

const total = Number(process.env.BENCH_PEER_RECORDS ?? 300_000);
const partitions = Number(process.env.BENCH_PARTITIONS ?? 6);
const commitMs = Number(process.env.BENCH_PEER_COMMIT_MS ?? 5000);
const env = stackEnv();
const lib = execFileSync('bash', ['stack/stack.sh', 'install-peer'], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim().split('\n').at(-1);
const run = randomBytes(3).toString('hex');
const namespace = `peer_${run}`;
const topic = `bench-peer-${run}`;
const control = `bench-peer-control-${run}`;
const work = mkdtempSync(join(tmpdir(), 'bench-peer-'));

// 1. The table, with the appender's own DDL.
const cfg = loadConfig({ ...process.env, ...env, ICEBERG_NAMESPACE: namespace });
const session = await openLakeSession(cfg);
await ensureLakeTables(session.connection, cfg);
session.close();

// 2. The topic: the same generated requests, as one JSON row per Kafka record.
const kafka = new Kafka({ brokers: [env.REDPANDA_BROKERS], clientId: 'bench', logLevel: logLevel.WARN });
const admin = kafka.admin();
await admin.connect();
await admin.createTopics({ topics: [{ topic, numPartitions: partitions }, { topic: control, numPartitions: 1 }] });
const producer = kafka.producer();
await producer.connect();
let jsonBytes = 0;
const fillStart = performance.now();
const sink = new ByteSink();
for (let r = 0; r < total / 1000; r++) {
  const tenant = `tenant-${r % 4}`;
  sink.reset();
  logsRequestToNdjson(logsRequestBody(1000, r), { tenant, fallbackMicros: 0n }, sink);
  const messages = sink.view().toString('utf8').trim().split('\n').map((line) => {
    const row = JSON.parse(line);
    row.timestamp = Math.floor(row.timestamp / 1000);
    if (row.observed_timestamp !== null) row.observed_timestamp = Math.floor(row.observed_timestamp / 1000);
    const value = JSON.stringify(row);
    jsonBytes += value.length;
    return { key: tenant, value };
  });
  await producer.send({ topic, acks: -1, messages });
}
await producer.disconnect();
process.stderr.write(`pre-filled ${topic}: ${total} JSON records, ${round(jsonBytes / 1e6)} MB in ${round((performance.now() - fillStart) / 1000)} s\n`);

// 3. The worker.
const s3 = new URL(env.S3_ENDPOINT);
writeFileSync(join(work, 'worker.properties'), [
  `bootstrap.servers=${env.REDPANDA_BROKERS}`,
  'key.converter=org.apache.kafka.connect.storage.StringConverter',
  'value.converter=org.apache.kafka.connect.json.JsonConverter',
  'value.converter.schemas.enable=false',
  `offset.storage.file.filename=${join(work, 'connect.offsets')}`,
  'listeners=http://127.0.0.1:18083',
  'consumer.auto.offset.reset=earliest',
  'plugin.discovery=only_scan',
  // the task only answers the sink's commit requests between polls, and an idle poll waits up
  // to the offset flush interval (default 60 s, past the 30 s commit timeout)
  'offset.flush.interval.ms=1000',
].join('\n'));
writeFileSync(join(work, 'iceberg-sink.properties'), [
  `name=iceberg-peer-${run}`,
  'connector.class=org.apache.iceberg.connect.IcebergSinkConnector',
  'tasks.max=1',
  `topics=${topic}`,
  `iceberg.tables=${namespace}.logs`,
  `iceberg.control.topic=${control}`,
  `iceberg.control.commit.interval-ms=${commitMs}`,
  `iceberg.kafka.bootstrap.servers=${env.REDPANDA_BROKERS}`,
  'iceberg.catalog.type=rest',
  `iceberg.catalog.uri=${env.ICEBERG_CATALOG_URI}`,
  'iceberg.catalog.io-impl=org.apache.iceberg.aws.s3.S3FileIO',
  `iceberg.catalog.s3.endpoint=${s3.origin}`,
  'iceberg.catalog.s3.path-style-access=true',
  `iceberg.catalog.s3.access-key-id=${env.S3_ACCESS_KEY}`,
  `iceberg.catalog.s3.secret-access-key=${env.S3_SECRET_KEY}`,
  `iceberg.catalog.client.region=${env.S3_REGION}`,
].join('\n'));
const started = performance.now();
const worker = spawn('java', ['-Xmx1g', '-Dorg.slf4j.simpleLogger.showDateTime=true', '-Dorg.slf4j.simpleLogger.dateTimeFormat=HH:mm:ss.SSS', '-cp', `${lib}/*`, 'org.apache.kafka.connect.cli.ConnectStandalone', join(work, 'worker.properties'), join(work, 'iceberg-sink.properties')], {
  stdio: ['ignore', 'ignore', 'pipe'],
});
process.on('exit', () => worker.kill('SIGKILL')); // never leave it behind
let workerLog = '';
const logFile = process.env.BENCH_PEER_LOG;
worker.stderr.on('data', (d) => {
  workerLog = (workerLog + d).slice(-20000);
  if (logFile) appendFileSync(logFile, d);
});
let exited = false;
worker.on('exit', () => (exited = true));

// 4. Wait until the table's current snapshot holds every record.
async function totalRecords() {
  const res = await fetch(`${env.ICEBERG_CATALOG_URI}/v1/namespaces/${namespace}/tables/logs`);
  if (!res.ok) return 0;
  const meta = (await res.json()).metadata;
  const snap = meta.snapshots?.find((s) => s['snapshot-id'] === meta['current-snapshot-id']);
  return Number(snap?.summary?.['total-records'] ?? 0);
}
let landed = 0;
let peakRss = 0;
let firstCommitAt;
let firstCommit;
const deadline = Date.now() + Number(process.env.BENCH_PEER_TIMEOUT_S ?? 900) * 1000;
while (landed < total) {
  if (exited) throw new Error(`the Connect worker exited:\n${workerLog.slice(-4000)}`);
  if (Date.now() > deadline) throw new Error(`timed out with ${landed} of ${total} records landed:\n${workerLog.slice(-4000)}`);
  await new Promise((r) => setTimeout(r, 500));
  const before = landed;
  landed = await totalRecords().catch(() => landed);
  if (landed !== before) {
    if (firstCommitAt === undefined) {
      firstCommitAt = performance.now();
      firstCommit = { records: landed, cpuSeconds: procStats(worker.pid).cpuSeconds };
    }
    process.stderr.write(`  ${round((performance.now() - started) / 1000)} s: ${landed} records committed\n`);
  }
  peakRss = Math.max(peakRss, procStats(worker.pid).peakRssMb);
}
const endedAt = performance.now();
const seconds = (endedAt - started) / 1000;
const stats = procStats(worker.pid);
worker.kill('SIGTERM');
// a standalone worker may hang in its shutdown: its figures are taken, so give it 30 s
const killer = setTimeout(() => worker.kill('SIGKILL'), 30_000);
await new Promise((r) => (exited ? r() : worker.on('exit', r)));
clearTimeout(killer);

const doc = {
  bench: 'peer',
  peer: 'Apache Iceberg Kafka Connect sink 1.10.1 on Kafka Connect 4.1.1 (standalone, tasks.max=1)',
  cores: cpus().length,
  records: landed,
  jsonMegabytes: round(jsonBytes / 1e6, 1),
  partitions,
  commitIntervalMs: commitMs,
  seconds: round(seconds, 2),
  secondsToFirstCommit: round((firstCommitAt - started) / 1000, 2),
  recordsPerSecond: round(total / seconds, 0),
  cpuSecondsPerMillionRecords: round((stats.cpuSeconds / total) * 1e6, 2),
  recordsPerCpuSecond: round(total / stats.cpuSeconds, 0),
  cpuSecondsTotal: round(stats.cpuSeconds, 2),
  peakRssMb: round(Math.max(peakRss, stats.peakRssMb), 0),
  // after the first commit: without the JVM's start-up and the first commit interval
  steady: {
    records: total - firstCommit.records,
    recordsPerSecond: round((total - firstCommit.records) / ((endedAt - firstCommitAt) / 1000), 0),
    cpuSecondsPerMillionRecords: round(((stats.cpuSeconds - firstCommit.cpuSeconds) / (total - firstCommit.records)) * 1e6, 2),
  },
  note: 'seconds and CPU include the worker JVM start-up (see steady for the part after the first commit); the topic holds JSON rows, not OTLP protobuf',
};
process.stdout.write(JSON.stringify(doc) + '\n');
process.stderr.write(`\npeer (Iceberg Kafka Connect sink, 1 task): ${total} records (${doc.jsonMegabytes} MB JSON) from ${partitions} partitions\n` +
  `  ${doc.recordsPerSecond} records/s, ${doc.cpuSecondsPerMillionRecords} CPU s per million records (${doc.recordsPerCpuSecond} per CPU second), peak RSS ${doc.peakRssMb} MB\n` +
  `  after the first commit: ${doc.steady.recordsPerSecond} records/s, ${doc.steady.cpuSecondsPerMillionRecords} CPU s per million records\n`);
await admin.deleteTopics({ topics: [topic, control] }).catch(() => {});
await admin.disconnect();
rmSync(work, { recursive: true, force: true });
