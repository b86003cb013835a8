// bench/soak: does the lake stay as fast after thousands of commits as on the first? One
// appender commits every second (BUFFER_TIME_SECONDS=1) under a steady load while the maintainer
// runs on its schedule; then the flush times of the first and last 100 commits are compared, and
// queries on the soaked table are timed against the same rows written into a fresh table.
//
//   npm run bench:soak    BENCH_COMMITS (default 2000), BENCH_RATE (records/s, default 500),
//                         BENCH_MAINTENANCE_SECONDS (default 60), BENCH_SNAPSHOT_MAX_AGE (default 2m),
//                         BENCH_KEEP_SNAPSHOTS (default 20)
// Prints one JSON document on stdout and a human summary on stderr.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { cpus } from 'node:os';
import { Kafka, logLevel } from 'kafkajs';
import { loadConfig } from '../dist/config/load.js';
import { openLakeSession } from '../dist/lake/session.js';
import { logsRequestBody, percentile, procStats, root, round, stackEnv } from './lib.mjs';

const commitsWanted = Number(process.env.BENCH_COMMITS ?? 2000);
const rate = Number(process.env.BENCH_RATE ?? 500);
const maintenanceSeconds = Number(process.env.BENCH_MAINTENANCE_SECONDS ?? 60);
const snapshotMaxAge = process.env.BENCH_SNAPSHOT_MAX_AGE ?? '2m';
const keepSnapshots = process.env.BENCH_KEEP_SNAPSHOTS ?? '20';
const perRequest = 50;
const tenants = 4;
const run = randomBytes(3).toString('hex');
const topic = `bench-soak-${run}`;
const namespace = `bench_soak_${run}`;
const freshNamespace = `${namespace}_fresh`;
const appenderPort = 29474;
const maintainerPort = 29476;
const env = stackEnv();

const kafka = new Kafka({ brokers: [env.REDPANDA_BROKERS], clientId: 'bench', logLevel: logLevel.WARN });
const admin = kafka.admin();
await admin.connect();
await admin.createTopics({ topics: [{ topic, numPartitions: 3 }, { topic: `${topic}-dlq`, numPartitions: 1 }] });

/** A child process whose JSON log lines with message `msg` are collected. */
function service(cli, extraEnv, msg, args = []) {
  const child = spawn(process.execPath, [`dist/cli/${cli}.js`, ...args], {
    cwd: root,
    env: { ...process.env, ...env, ICEBERG_NAMESPACE: namespace, LOG_LEVEL: 'info', ...extraEnv },
    stdio: ['ignore', 'pipe', 2],
  });
  const lines = [];
  let rest = '';
  child.stdout.on('data', (d) => {
    const parts = (rest + d.toString()).split('\n');
    rest = parts.pop();
    for (const line of parts) if (line.includes(`"msg":"${msg}`)) lines.push(JSON.parse(line));
  });
  process.on('exit', () => child.kill('SIGKILL'));
  return { child, lines };
}

const appender = service('appender', {
  REDPANDA_TOPIC: topic, APPENDER_GROUP_ID: `bench-soak-${run}`, TOPIC_PARTITIONS: '3', BUFFER_TIME_SECONDS: '1',
  APPENDER_HOST: '127.0.0.1', APPENDER_HTTP_PORT: String(appenderPort),
}, 'flushed to Iceberg');
const maintainer = service('maintain', {
  MAINTAINER_HOST: '127.0.0.1', MAINTAINER_HTTP_PORT: String(maintainerPort), MAINTENANCE_INTERVAL_SECONDS: String(maintenanceSeconds),
  MAINTENANCE_SNAPSHOT_MAX_AGE: snapshotMaxAge, MAINTENANCE_KEEP_SNAPSHOTS: keepSnapshots, MAINTENANCE_ORPHAN_MIN_AGE: '10m',
}, 'maintenance run');

// Steady load: a request of 50 distinct records every 50/rate seconds, tenants in turn, straight to the topic.
const producer = kafka.producer();
await producer.connect();
let sent = 0;
let requests = 0;
const started = performance.now();
let lastReport = started;
while (appender.lines.length < commitsWanted) {
  const tenant = `tenant-${requests % tenants}`;
  await producer.send({ topic, acks: -1, messages: [{ key: tenant, value: logsRequestBody(perRequest, requests), headers: { 'tenant-id': tenant, signal: 'logs', 'received-at': String(Date.now()), 'content-schema': 'otlp-proto-1' } }] });
  requests++;
  sent += perRequest;
  const due = started + (sent / rate) * 1000;
  const wait = due - performance.now();
  if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  if (performance.now() - lastReport > 60_000) {
    lastReport = performance.now();
    const recent = appender.lines.slice(-50).map((f) => f.durationMs).sort((a, b) => a - b);
    process.stderr.write(`${round((lastReport - started) / 60_000)} min: ${appender.lines.length} commits, median flush of the last 50 ${percentile(recent, 50)} ms, ${maintainer.lines.length} maintenance runs\n`);
  }
}
await producer.disconnect();
const loadSeconds = (performance.now() - started) / 1000;

// Drain: every record sent is committed, then both processes stop.
const committed = () => appender.lines.reduce((n, f) => n + f.rows, 0);
while (committed() < sent) await new Promise((r) => setTimeout(r, 500));
const appenderStats = procStats(appender.child.pid);
const maintainerStats = procStats(maintainer.child.pid);
for (const { child } of [appender, maintainer]) {
  child.kill('SIGTERM');
  await new Promise((r) => child.on('exit', r));
}

// The soaked table against the same rows written at once into a fresh table.
const cfg = loadConfig({ ...env, ICEBERG_NAMESPACE: namespace });
const setup = await openLakeSession(cfg);
const soaked = `lake.${namespace}.logs`;
const fresh = `lake.${freshNamespace}.logs`;
await setup.connection.run(`CREATE SCHEMA IF NOT EXISTS lake.${freshNamespace}`);
await setup.connection.run(`CREATE TABLE ${fresh} AS SELECT * FROM ${soaked} LIMIT 0`);
await setup.connection.run(`INSERT INTO ${fresh} SELECT * FROM ${soaked}`);
const shape = async (table) => {
  const c = setup.connection;
  const one = async (sql) => Number((await c.runAndReadAll(sql)).getRows()[0][0]);
  const snaps = (await c.runAndReadAll(`SELECT manifest_list FROM iceberg_snapshots(${table}) ORDER BY sequence_number`)).getRows();
  return {
    rows: await one(`SELECT count(*) FROM ${table}`),
    dataFiles: await one(`SELECT count(DISTINCT filename) FROM ${table}`),
    manifests: await one(`SELECT count(*) FROM read_avro('${snaps.at(-1)[0]}')`),
    snapshots: snaps.length,
  };
};
const soakedShape = await shape(soaked);
const freshShape = await shape(fresh);
const offsetsShape = await shape(`lake.${namespace}.appender_offsets`);
setup.close();

// Each query in a new session (as a user's query would run), 5 times, interleaved; the median.
const tenantDay = (table) => `SELECT count(*), max("timestamp") FROM ${table} WHERE tenant_id = 'tenant-1' AND "timestamp" >= current_date::TIMESTAMPTZ`;
const queries = { count: (t) => `SELECT count(*) FROM ${t}`, tenantDay };
const timings = { soaked: { count: [], tenantDay: [] }, fresh: { count: [], tenantDay: [] } };
for (let i = 0; i < 5; i++) {
  for (const [which, table] of [['soaked', soaked], ['fresh', fresh]]) {
    for (const [name, sql] of Object.entries(queries)) {
      const s = await openLakeSession(cfg);
      const t0 = performance.now();
      await s.connection.runAndReadAll(sql(table));
      timings[which][name].push(performance.now() - t0);
      s.close();
    }
  }
}
const med = (a) => round(percentile([...a].sort((x, y) => x - y), 50), 0);

const flushMs = appender.lines.map((f) => f.durationMs);
const first = flushMs.slice(0, 100).sort((a, b) => a - b);
const last = flushMs.slice(-100).sort((a, b) => a - b);
const runs = maintainer.lines;
const sum = (k) => runs.reduce((n, r) => n + (r[k] ?? 0), 0);
const doc = {
  bench: 'soak',
  cores: cpus().length,
  commits: flushMs.length,
  loadSeconds: round(loadSeconds, 0),
  recordsSent: sent,
  rowsInTable: soakedShape.rows,
  recordsPerSecond: rate,
  flushMedianMs: { first100: percentile(first, 50), last100: percentile(last, 50), ratio: round(percentile(last, 50) / percentile(first, 50), 2) },
  flushP90Ms: { first100: percentile(first, 90), last100: percentile(last, 90) },
  flushMaxMs: Math.max(...flushMs),
  queryMs: {
    count: { soaked: med(timings.soaked.count), fresh: med(timings.fresh.count), ratio: round(med(timings.soaked.count) / med(timings.fresh.count), 2) },
    tenantDay: { soaked: med(timings.soaked.tenantDay), fresh: med(timings.fresh.tenantDay), ratio: round(med(timings.soaked.tenantDay) / med(timings.fresh.tenantDay), 2) },
  },
  soakedTable: soakedShape,
  freshTable: freshShape,
  offsetsTable: offsetsShape,
  maintenance: {
    intervalSeconds: maintenanceSeconds,
    snapshotMaxAge,
    keepSnapshots: Number(keepSnapshots),
    runs: runs.length,
    failedRuns: runs.filter((r) => !r.ok).length,
    medianRunMs: med(runs.map((r) => r.durationMs)),
    filesRewritten: sum('filesRewritten'),
    filesWritten: sum('filesWritten'),
    snapshotsExpired: sum('snapshotsExpired'),
    filesDeletedWithSnapshots: sum('filesDeletedWithSnapshots'),
    orphansRemoved: sum('orphansRemoved'),
  },
  appender: { cpuSeconds: round(appenderStats.cpuSeconds, 1), peakRssMb: round(appenderStats.peakRssMb, 0) },
  maintainer: { cpuSeconds: round(maintainerStats.cpuSeconds, 1), peakRssMb: round(maintainerStats.peakRssMb, 0) },
};
process.stdout.write(JSON.stringify(doc) + '\n');
process.stderr.write(`\nsoak: ${doc.commits} commits over ${doc.loadSeconds} s at ${rate} records/s, ${doc.maintenance.runs} maintenance runs (${doc.maintenance.failedRuns} failed)\n` +
  `  median flush: first 100 ${doc.flushMedianMs.first100} ms, last 100 ${doc.flushMedianMs.last100} ms (x${doc.flushMedianMs.ratio})\n` +
  `  count(*): soaked ${doc.queryMs.count.soaked} ms, fresh ${doc.queryMs.count.fresh} ms (x${doc.queryMs.count.ratio}); tenant+day: soaked ${doc.queryMs.tenantDay.soaked} ms, fresh ${doc.queryMs.tenantDay.fresh} ms (x${doc.queryMs.tenantDay.ratio})\n` +
  `  soaked table: ${JSON.stringify(soakedShape)}; fresh: ${JSON.stringify(freshShape)}; offsets: ${JSON.stringify(offsetsShape)}\n`);
await admin.deleteTopics({ topics: [topic, `${topic}-dlq`] }).catch(() => {});
await admin.disconnect();
process.exit(0);
