// bench/soak: does the lake stay as fast after thousands of commits as on the first? One
// appender commits every second (BUFFER_TIME_SECONDS=1) under a steady load while the maintainer
// runs on its schedule; then the flush times of the first and last 100 commits are compared, and
// queries on the soaked table are timed against the same rows written into a fresh table.
//
//   npm run bench:soak    BENCH_COMMITS (default 2000), BENCH_RATE (records/s, default 500),
//                         BENCH_MAINTENANCE_SECONDS (default 60), BENCH_SNAPSHOT_MAX_AGE (default 2m),
//                         BENCH_KEEP_SNAPSHOTS (default 20)
// Prints one JSON document on stdout and a human summary on stderr.
import { execFileSync, spawn } from 'node:child_process';
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

/** A child process whose JSON log lines with a message starting with `msg` (or `also`) are collected. */
function service(cli, extraEnv, msg, also = '\u0000') {
  const child = spawn(process.execPath, [`dist/cli/${cli}.js`], {
    cwd: root,
    env: { ...process.env, ...env, ICEBERG_NAMESPACE: namespace, LOG_LEVEL: 'info', ...extraEnv },
    stdio: ['ignore', 'pipe', 2],
  });
  const lines = [];
  const other = [];
  let rest = '';
  child.stdout.on('data', (d) => {
    const parts = (rest + d.toString()).split('\n');
    rest = parts.pop();
    for (const line of parts) {
      if (line.includes(`"msg":"${msg}`)) lines.push(JSON.parse(line));
      else if (line.includes(`"msg":"${also}`)) other.push(JSON.parse(line));
    }
  });
  process.on('exit', () => child.kill('SIGKILL'));
  return { child, lines, other };
}

const appender = service('appender', {
  REDPANDA_TOPIC: topic, APPENDER_GROUP_ID: `bench-soak-${run}`, TOPIC_PARTITIONS: '3', BUFFER_TIME_SECONDS: '1',
  APPENDER_HOST: '127.0.0.1', APPENDER_HTTP_PORT: String(appenderPort),
}, 'flushed to Iceberg', 'Iceberg commit failed; retrying');
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

// Drain: every record sent is committed; the appender stops.
const committed = () => appender.lines.reduce((n, f) => n + f.rows, 0);
while (committed() < sent) await new Promise((r) => setTimeout(r, 500));
const appenderStats = procStats(appender.child.pid);
appender.child.kill('SIGTERM');
await new Promise((r) => appender.child.on('exit', r));

const cfg = loadConfig({ ...env, ICEBERG_NAMESPACE: namespace });
const soaked = `lake.${namespace}.logs`;
const fresh = `lake.${freshNamespace}.logs`;
const shape = async (c, table) => {
  const one = async (sql) => Number((await c.runAndReadAll(sql)).getRows()[0][0]);
  const snaps = (await c.runAndReadAll(`SELECT manifest_list FROM iceberg_snapshots(${table}) ORDER BY sequence_number`)).getRows();
  return {
    rows: await one(`SELECT count(*) FROM ${table}`),
    dataFiles: await one(`SELECT count(DISTINCT filename) FROM ${table}`),
    manifests: await one(`SELECT count(*) FROM read_avro('${snaps.at(-1)[0]}')`),
    snapshots: snaps.length,
  };
};
// Each query in a new session (as a user's query would run), 5 times, interleaved; the median.
const queries = {
  count: (t) => `SELECT count(*) FROM ${t}`,
  tenantDay: (t) => `SELECT count(*), max("timestamp") FROM ${t} WHERE tenant_id = 'tenant-1' AND "timestamp" >= current_date::TIMESTAMPTZ`,
};
const med = (a) => round(percentile([...a].sort((x, y) => x - y), 50), 0);
async function timeQueries(tables) {
  const t = Object.fromEntries(Object.keys(tables).map((k) => [k, { count: [], tenantDay: [] }]));
  for (let i = 0; i < 5; i++) {
    for (const [which, table] of Object.entries(tables)) {
      for (const [name, sql] of Object.entries(queries)) {
        const s = await openLakeSession(cfg);
        const t0 = performance.now();
        await s.connection.runAndReadAll(sql(table));
        t[which][name].push(performance.now() - t0);
        s.close();
      }
    }
  }
  return Object.fromEntries(Object.entries(t).map(([k, v]) => [k, { count: med(v.count), tenantDay: med(v.tenantDay) }]));
}

// The same rows written at once into a fresh table: one commit, one file per partition.
const setup = await openLakeSession(cfg);
await setup.connection.run(`CREATE SCHEMA IF NOT EXISTS lake.${freshNamespace}`);
await setup.connection.run(`CREATE TABLE ${fresh} AS SELECT * FROM ${soaked} LIMIT 0`);
await setup.connection.run(`INSERT INTO ${fresh} SELECT * FROM ${soaked}`);
// As the load left it: up to one maintenance interval of commits not yet maintained.
const atLoadEnd = { table: await shape(setup.connection, soaked), offsets: await shape(setup.connection, `lake.${namespace}.appender_offsets`) };
const queryAtLoadEnd = await timeQueries({ soaked, fresh });
// After the maintainer's next scheduled run that started once the load had stopped.
const runsAtLoadEnd = maintainer.lines.length;
while (maintainer.lines.length < runsAtLoadEnd + 2) await new Promise((r) => setTimeout(r, 1000));
const maintainerStats = procStats(maintainer.child.pid);
// The Java process the maintainer keeps between runs, and those it has replaced.
const javaPid = Number(execFileSync('pgrep', ['-P', String(maintainer.child.pid)], { encoding: 'utf8' }).trim().split('\n')[0]);
const javaStats = javaPid ? procStats(javaPid) : { cpuSeconds: 0, peakRssMb: 0 };
maintainer.child.kill('SIGTERM');
await new Promise((r) => maintainer.child.on('exit', r));
const maintained = { table: await shape(setup.connection, soaked), offsets: await shape(setup.connection, `lake.${namespace}.appender_offsets`) };
const freshShape = await shape(setup.connection, fresh);
setup.close();
const queryMaintained = await timeQueries({ soaked, fresh });
const ratios = (q) => ({ count: { soaked: q.soaked.count, fresh: q.fresh.count, ratio: round(q.soaked.count / q.fresh.count, 2) }, tenantDay: { soaked: q.soaked.tenantDay, fresh: q.fresh.tenantDay, ratio: round(q.soaked.tenantDay / q.fresh.tenantDay, 2) } });

const flushMs = appender.lines.map((f) => f.durationMs);
const first = flushMs.slice(0, 100).sort((a, b) => a - b);
const last = flushMs.slice(-100).sort((a, b) => a - b);
const runs = maintainer.lines;
// A flush overlaps a maintenance run when their [end - duration, end] intervals meet (log times are
// the ends); on a machine where everything shares two cores, those flushes also share the CPU.
const spans = runs.map((r) => [Date.parse(r.time) - r.durationMs, Date.parse(r.time)]);
const overlaps = (f) => spans.some(([a, b]) => Date.parse(f.time) - f.durationMs <= b && Date.parse(f.time) >= a);
const quiet = (fs) => fs.filter((f) => !overlaps(f)).map((f) => f.durationMs).sort((a, b) => a - b);
const firstQuiet = quiet(appender.lines.slice(0, 100));
const lastQuiet = quiet(appender.lines.slice(-100));
const taskMs = {};
for (const r of runs) for (const [k, v] of Object.entries(r.taskMs ?? {})) (taskMs[k] ??= []).push(v);
const sum = (k) => runs.reduce((n, r) => n + (r[k] ?? 0), 0);
const doc = {
  bench: 'soak',
  cores: cpus().length,
  commits: flushMs.length,
  loadSeconds: round(loadSeconds, 0),
  recordsSent: sent,
  rowsInTable: maintained.table.rows,
  recordsPerSecond: rate,
  flushMedianMs: { first100: percentile(first, 50), last100: percentile(last, 50), ratio: round(percentile(last, 50) / percentile(first, 50), 2) },
  flushMedianMsOutsideMaintenance: { first100: percentile(firstQuiet, 50), last100: percentile(lastQuiet, 50), ratio: round(percentile(lastQuiet, 50) / percentile(firstQuiet, 50), 2), flushesCounted: [firstQuiet.length, lastQuiet.length] },
  flushesDuringMaintenance: appender.lines.filter(overlaps).length,
  flushP90Ms: { first100: percentile(first, 90), last100: percentile(last, 90) },
  flushMaxMs: Math.max(...flushMs),
  queryMsAtLoadEnd: ratios(queryAtLoadEnd),
  queryMsAfterNextMaintenance: ratios(queryMaintained),
  soakedTableAtLoadEnd: atLoadEnd.table,
  soakedTableAfterNextMaintenance: maintained.table,
  offsetsTableAtLoadEnd: atLoadEnd.offsets,
  offsetsTableAfterNextMaintenance: maintained.offsets,
  freshTable: freshShape,
  appenderCommitRetries: appender.other.length,
  appenderCommitRetriesMaxAttempt: Math.max(0, ...appender.other.map((l) => l.attempt ?? 0)),
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
    maxRunMs: Math.max(0, ...runs.map((r) => r.durationMs)),
    orphansRemoved: sum('orphansRemoved'),
    taskMedianMs: Object.fromEntries(Object.entries(taskMs).map(([k, v]) => [k, med(v)])),
  },
  appender: { cpuSeconds: round(appenderStats.cpuSeconds, 1), peakRssMb: round(appenderStats.peakRssMb, 0) },
  maintainer: {
    cpuSeconds: round(maintainerStats.cpuSeconds, 1),
    peakRssMb: round(maintainerStats.peakRssMb, 0),
    javaCpuSeconds: round(javaStats.cpuSeconds + maintainerStats.childCpuSeconds, 1),
    javaPeakRssMb: round(javaStats.peakRssMb, 0),
  },
};
process.stdout.write(JSON.stringify(doc) + '\n');
process.stderr.write(`\nsoak: ${doc.commits} commits over ${doc.loadSeconds} s at ${rate} records/s, ${doc.maintenance.runs} maintenance runs (${doc.maintenance.failedRuns} failed, median ${doc.maintenance.medianRunMs} ms)\n` +
  `  median flush: first 100 ${doc.flushMedianMs.first100} ms, last 100 ${doc.flushMedianMs.last100} ms (x${doc.flushMedianMs.ratio}); appender commit retries ${doc.appenderCommitRetries}\n` +
  `  median flush outside maintenance runs: first 100 ${doc.flushMedianMsOutsideMaintenance.first100} ms, last 100 ${doc.flushMedianMsOutsideMaintenance.last100} ms (x${doc.flushMedianMsOutsideMaintenance.ratio}); ${doc.flushesDuringMaintenance} flushes during a run\n` +
  `  at load end: count(*) x${doc.queryMsAtLoadEnd.count.ratio}, tenant+day x${doc.queryMsAtLoadEnd.tenantDay.ratio} of fresh; table ${JSON.stringify(atLoadEnd.table)}\n` +
  `  after the next maintenance: count(*) x${doc.queryMsAfterNextMaintenance.count.ratio}, tenant+day x${doc.queryMsAfterNextMaintenance.tenantDay.ratio} of fresh; table ${JSON.stringify(maintained.table)}; fresh ${JSON.stringify(freshShape)}\n`);
await admin.deleteTopics({ topics: [topic, `${topic}-dlq`] }).catch(() => {});
await admin.disconnect();
process.exit(0);
