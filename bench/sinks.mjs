// bench/sinks: per-sink throughput and hot-path latency (Kafka record timestamp → backend
// acknowledgement) of the Loki and Prometheus sinks against the local stack's real servers, at
// a steady moderate load produced straight to Kafka.
//
//   npm run bench:sinks     BENCH_SECONDS (default 20), BENCH_RATE requests/s per signal
//                           (default 20), BENCH_RECORDS per request (default 100)
// Latency percentiles come from the appender's histogram: each is the upper bound of the bucket
// the percentile falls in. Prints one JSON document on stdout and a summary on stderr.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { Kafka, logLevel } from 'kafkajs';
import { ExportMetricsServiceRequest } from '../dist/otlp/codec.js';
import { logsRequestBody, procStats, promValue, root, round, stackEnv } from './lib.mjs';

const seconds = Number(process.env.BENCH_SECONDS ?? 20);
const rate = Number(process.env.BENCH_RATE ?? 20);
const records = Number(process.env.BENCH_RECORDS ?? 100);
const run = randomBytes(3).toString('hex');
const port = 29465;
const env = stackEnv();
const topics = { logs: `bench-sink-logs-${run}`, metrics: `bench-sink-metrics-${run}` };

const child = spawn(process.execPath, ['dist/cli/appender.js'], {
  cwd: root,
  env: { ...process.env, ...env, PIPELINES: 'loki,prometheus', SINK_GROUP_PREFIX: `bench-${run}`, REDPANDA_TOPIC: topics.logs, REDPANDA_METRICS_TOPIC: topics.metrics, TOPIC_PARTITIONS: '3', APPENDER_HOST: '127.0.0.1', APPENDER_HTTP_PORT: String(port), LOG_LEVEL: 'warn' },
  stdio: ['ignore', 2, 2],
});
process.on('exit', () => child.kill('SIGKILL')); // never leave it behind
for (let i = 0; ; i++) {
  try { if ((await fetch(`http://127.0.0.1:${port}/readyz`)).status === 200) break; } catch {}
  if (i > 600) throw new Error('appender not ready');
  await new Promise((r) => setTimeout(r, 100));
}
await new Promise((r) => setTimeout(r, 3000)); // consumer groups joined

function metricsBody(seq) {
  const now = `${BigInt(Date.now()) * 1_000_000n}`;
  const points = Array.from({ length: records }, (_, i) => ({ asInt: String(seq), timeUnixNano: now, attributes: [{ key: 'series', value: { stringValue: String(i) } }] }));
  return Buffer.from(ExportMetricsServiceRequest.encode(ExportMetricsServiceRequest.fromObject({
    resourceMetrics: [{ resource: { attributes: [{ key: 'service.name', value: { stringValue: 'bench' } }] }, scopeMetrics: [{ metrics: [{ name: `bench_${run}_requests`, sum: { aggregationTemporality: 2, isMonotonic: true, dataPoints: points } }] }] }],
  })).finish());
}

const kafka = new Kafka({ brokers: [env.REDPANDA_BROKERS], clientId: 'bench', logLevel: logLevel.WARN });
const producer = kafka.producer();
await producer.connect();
const logBodies = Array.from({ length: 8 }, (_, i) => logsRequestBody(records, i));
const headers = (signal) => ({ 'tenant-id': 'bench', signal, 'received-at': String(Date.now()), 'content-schema': 'otlp-proto-1' });
// Warm-up (first pushes create streams and series), then measure from a histogram snapshot.
async function load(durationMs, from) {
  const t0 = performance.now();
  let tick = 0;
  for (; performance.now() - t0 < durationMs; tick++) {
    const due = t0 + (tick * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    await producer.send({ topic: topics.logs, messages: [{ key: 'bench', value: logBodies[(from + tick) % logBodies.length], headers: headers('logs') }] });
    await producer.send({ topic: topics.metrics, messages: [{ key: 'bench', value: metricsBody(from + tick), headers: headers('metrics') }] });
  }
  return tick;
}
const warm = await load(3000, 0);
const warmText = await waitDelivered(warm * records);
const before = procStats(child.pid);
const start = performance.now();
let sent = 0;
for (let tick = warm; performance.now() - start < seconds * 1000; tick++) {
  const due = start + (tick * 1000) / rate;
  const wait = due - performance.now();
  if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  await producer.send({ topic: topics.logs, messages: [{ key: 'bench', value: logBodies[tick % logBodies.length], headers: headers('logs') }] });
  await producer.send({ topic: topics.metrics, messages: [{ key: 'bench', value: metricsBody(tick), headers: headers('metrics') }] });
  sent++;
}
await producer.disconnect();
const expected = sent * records;
function rawHistogram(text, sink) {
  const buckets = [...text.matchAll(new RegExp(`^otel_lakehouse_sink_hot_path_latency_seconds_bucket\\{le="([^"]+)",sink="${sink}"\\} (\\S+)$`, 'gm'))].map((m) => [m[1], Number(m[2])]);
  const count = promValue(text, `otel_lakehouse_sink_hot_path_latency_seconds_count{sink="${sink}"}`);
  return { buckets, count };
}
function histogram(text, sink) {
  // the measured period only: the histogram now minus the one after the warm-up
  const now = rawHistogram(text, sink);
  const then = rawHistogram(warmText, sink);
  const buckets = now.buckets.map(([le, c], i) => [le, c - (then.buckets[i]?.[1] ?? 0)]);
  const count = now.count - then.count;
  const pct = (p) => buckets.find(([, c]) => c >= p * count)?.[0];
  const ms = (le) => (le === undefined ? null : le === '+Inf' ? 'inf' : Number(le) * 1000);
  return { records: count, p50MsAtMost: ms(pct(0.5)), p99MsAtMost: ms(pct(0.99)) };
}
async function scrape() {
  return (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
}
async function waitDelivered(n) {
  let t = await scrape();
  const until = performance.now() + 60_000;
  while ((items(t, 'loki') < n || items(t, 'prometheus') < n) && performance.now() < until) {
    await new Promise((r) => setTimeout(r, 250));
    t = await scrape();
  }
  return t;
}
function items(text, sink) {
  return promValue(text, `otel_lakehouse_sink_items_total{sink="${sink}"}`);
}
const text = await waitDelivered((warm + sent) * records);
const elapsed = (performance.now() - start) / 1000;
const after = procStats(child.pid);
child.kill('SIGTERM');
await new Promise((r) => child.on('exit', r));
const admin = kafka.admin();
await admin.connect();
await admin.deleteTopics({ topics: [...Object.values(topics), ...Object.values(topics).map((t) => `${t}-dlq`)] }).catch(() => {});
await admin.disconnect();

const doc = {
  bench: 'sinks',
  secondsOfLoad: seconds,
  requestsPerSecondPerSignal: rate,
  recordsPerRequest: records,
  appenderCpuSeconds: round(after.cpuSeconds - before.cpuSeconds, 2),
  appenderPeakRssMb: round(after.peakRssMb, 0),
  sinks: {
    loki: { itemsDelivered: items(text, 'loki'), itemsPerSecond: round(items(text, 'loki') / elapsed, 0), hotPathKafkaRecords: histogram(text, 'loki') },
    prometheus: { itemsDelivered: items(text, 'prometheus'), itemsPerSecond: round(items(text, 'prometheus') / elapsed, 0), hotPathKafkaRecords: histogram(text, 'prometheus') },
  },
};
process.stdout.write(JSON.stringify(doc) + '\n');
for (const [name, s] of Object.entries(doc.sinks)) {
  process.stderr.write(`${name}: ${s.itemsDelivered} of ${(warm + sent) * records} delivered (${warm * records} in the warm-up), ${s.itemsPerSecond}/s; hot-path latency p50 ≤ ${s.hotPathKafkaRecords.p50MsAtMost} ms, p99 ≤ ${s.hotPathKafkaRecords.p99MsAtMost} ms\n`);
}
