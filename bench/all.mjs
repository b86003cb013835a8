// npm run bench: every benchmark in one run against the local stack, then one JSON document
// (stdout) and a short table (stderr) that puts our figures beside the limits of this machine.
//
//   1. broker   Kafka's own perf tools: produce (acks=all) and fetch of 1000-record OTLP requests
//   2. ingester OTLP/HTTP protobuf, 1000-record requests, a concurrency sweep
//   3. appender a pre-filled topic drained to committed Iceberg rows (BENCH_RECORDS, default 1M)
//   4. stages   decode, rows, DuckDB load, Parquet, Iceberg commit, each alone on the same data
//   5. peer     the Apache Iceberg Kafka Connect sink on the same stack (an equivalent JSON topic)
//
// Each part is its own script (bench/<part>.mjs, also runnable alone) and its own process.
// BENCH_PARTS=broker,ingester,... runs a subset. The machine is shared and noisy: read the
// ratios (ours ÷ broker) as much as the absolute figures.
import { spawn } from 'node:child_process';
import { cpus, totalmem } from 'node:os';
import { round, root } from './lib.mjs';

const parts = (process.env.BENCH_PARTS ?? 'broker,ingester,appender,stages,peer').split(',');
const defaults = { BENCH_RECORDS: '1000000', BENCH_SECONDS: '8', BENCH_CONCURRENCY: '1,4,16,64' };

function runPart(name, extraEnv = {}) {
  return new Promise((resolve, reject) => {
    const env = { ...process.env, ...extraEnv };
    const child = spawn(process.execPath, [`bench/${name}.mjs`], { cwd: root, env, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.on('error', reject);
    child.on('exit', (code) => {
      const line = out.trim().split('\n').filter((l) => l.startsWith('{')).at(-1);
      if (code !== 0 || !line) reject(new Error(`bench/${name}.mjs exited with ${code}`));
      else resolve(JSON.parse(line));
    });
  });
}

const started = new Date().toISOString();
const results = {};
for (const part of parts) {
  process.stderr.write(`\n=== ${part} ===\n`);
  const env = part === 'peer' ? {}
    : part === 'ingester' ? { BENCH_RECORDS: '1000', BENCH_SECONDS: process.env.BENCH_SECONDS ?? defaults.BENCH_SECONDS, BENCH_CONCURRENCY: process.env.BENCH_CONCURRENCY ?? defaults.BENCH_CONCURRENCY }
    : part === 'appender' ? { BENCH_RECORDS: process.env.BENCH_RECORDS ?? defaults.BENCH_RECORDS }
      : {};
  try {
    results[part] = await runPart(part, env);
  } catch (e) {
    results[part] = { error: e.message };
  }
}


const broker = results.broker?.produce ? results.broker : undefined;
const bestIngester = results.ingester?.results?.reduce((a, b) => (b.recordsPerSecond > (a?.recordsPerSecond ?? 0) ? b : a), undefined);
const appender = results.appender?.recordsPerSecond ? results.appender : undefined;
const peer = results.peer?.recordsPerSecond ? results.peer : undefined;
const ratio = (a, b) => (a && b ? round(a / b, 3) : null);
const summary = {
  brokerProduceRecordsPerSecond: broker?.produce.recordsPerSecond ?? null,
  brokerFetchRecordsPerSecond: broker?.fetch.recordsPerSecond ?? null,
  ingesterRecordsPerSecond: bestIngester?.recordsPerSecond ?? null,
  ingesterBestConcurrency: bestIngester?.concurrency ?? null,
  ingesterOverBrokerProduce: ratio(bestIngester?.recordsPerSecond, broker?.produce.recordsPerSecond),
  appenderRecordsPerSecond: appender?.recordsPerSecond ?? null,
  appenderRecordsPerCpuSecond: appender ? round(1e6 / appender.cpuSecondsPerMillionRecords, 0) : null,
  appenderPeakRssMb: appender?.peakRssMb ?? null,
  appenderOverBrokerFetch: ratio(appender?.recordsPerSecond, broker?.fetch.recordsPerSecond),
  peerRecordsPerSecond: peer?.recordsPerSecond ?? null,
  peerRecordsPerCpuSecond: peer?.recordsPerCpuSecond ?? null,
  appenderOverPeer: ratio(appender?.recordsPerSecond, peer?.recordsPerSecond),
  appenderOverPeerPerCpuSecond: ratio(appender ? 1e6 / appender.cpuSecondsPerMillionRecords : undefined, peer?.recordsPerCpuSecond),
  // the peer after its first commit, without the JVM start-up (the appender's figures keep theirs)
  peerSteadyRecordsPerSecond: peer?.steady.recordsPerSecond ?? null,
  peerSteadyRecordsPerCpuSecond: peer ? round(1e6 / peer.steady.cpuSecondsPerMillionRecords, 0) : null,
  appenderOverPeerSteady: ratio(appender?.recordsPerSecond, peer?.steady.recordsPerSecond),
  appenderOverPeerSteadyPerCpuSecond: ratio(appender ? 1e6 / appender.cpuSecondsPerMillionRecords : undefined, peer ? 1e6 / peer.steady.cpuSecondsPerMillionRecords : undefined),
  // each once running: the appender after its start-up, the peer after its first commit
  appenderRecordsPerCpuSecondAfterStartup: appender?.recordsPerCpuSecondAfterStartup ?? null,
  appenderAfterStartupOverPeerSteadyPerCpuSecond: ratio(appender?.recordsPerCpuSecondAfterStartup, peer ? 1e6 / peer.steady.cpuSecondsPerMillionRecords : undefined),
};
const doc = { bench: 'all', started, machine: { cores: cpus().length, memoryGb: round(totalmem() / 2 ** 30, 1), node: process.version }, summary, results };
process.stdout.write(JSON.stringify(doc) + '\n');

const row = (label, value, note = '') => process.stderr.write(`${label.padEnd(46)} ${String(value ?? '—').padStart(12)}  ${note}\n`);
process.stderr.write(`\n=== summary (${cpus().length} cores) ===\n`);
row('broker produce, acks=all (log records/s)', summary.brokerProduceRecordsPerSecond, 'Kafka ProducerPerformance');
row('broker fetch (log records/s)', summary.brokerFetchRecordsPerSecond, 'Kafka ConsumerPerformance');
row('ingester accepted (log records/s)', summary.ingesterRecordsPerSecond, `concurrency ${summary.ingesterBestConcurrency}; ÷ broker produce = ${summary.ingesterOverBrokerProduce}`);
row('appender to Iceberg (log records/s)', summary.appenderRecordsPerSecond, `÷ broker fetch = ${summary.appenderOverBrokerFetch}`);
row('appender per CPU second (log records)', summary.appenderRecordsPerCpuSecond, `peak RSS ${summary.appenderPeakRssMb} MB`);
for (const s of results.stages?.stages ?? []) row(`  stage: ${s.stage}`, s.recordsPerCpuSecond, 'records per CPU second');
row('peer: Iceberg Kafka Connect sink (records/s)', summary.peerRecordsPerSecond, `appender ÷ peer = ${summary.appenderOverPeer}`);
row('peer per CPU second (log records)', summary.peerRecordsPerCpuSecond, `appender ÷ peer = ${summary.appenderOverPeerPerCpuSecond}`);
row('peer after its first commit (records/s)', summary.peerSteadyRecordsPerSecond, `appender ÷ peer = ${summary.appenderOverPeerSteady}`);
row('peer after its first commit (per CPU second)', summary.peerSteadyRecordsPerCpuSecond, `appender ÷ peer = ${summary.appenderOverPeerSteadyPerCpuSecond} (appender's whole run), ${summary.appenderAfterStartupOverPeerSteadyPerCpuSecond} (appender after start-up)`);
