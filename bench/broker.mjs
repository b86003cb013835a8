// bench/broker: the broker's own limit on this machine, with Kafka's perf tools from the Maven
// artifacts the local stack installed (org.apache.kafka.tools.ProducerPerformance and
// ConsumerPerformance): produce with acks=all, then fetch, records the size of the 1000-record
// OTLP requests the other benches send, into a topic laid out like the logs topic.
//
//   npm run bench:broker     BENCH_BROKER_MESSAGES (default 600), BENCH_PARTITIONS (default 6)
// Prints one JSON document on stdout and a summary on stderr.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { logsRequestBody, round, stackEnv } from './lib.mjs';

const messages = Number(process.env.BENCH_BROKER_MESSAGES ?? 600);
const partitions = Number(process.env.BENCH_PARTITIONS ?? 6);
const recordsPerMessage = 1000;
const env = stackEnv();
const cache = process.env.OTEL_LAKEHOUSE_CACHE ?? join(homedir(), '.cache', 'otel-lakehouse');
const classpath = `${cache}/kafka/lib/*`;
const log4j = `-Dlog4j2.configurationFile=${cache}/run/kafka/log4j2.properties`;
// the size of the requests the ingester and appender benches use
const messageBytes = Math.round([0, 1, 2, 3].map((i) => logsRequestBody(recordsPerMessage, i).length).reduce((a, b) => a + b) / 4);

const topic = `bench-broker-${randomBytes(3).toString('hex')}`;
const kafka = new Kafka({ brokers: [env.REDPANDA_BROKERS], clientId: 'bench', logLevel: logLevel.WARN });
const admin = kafka.admin();
await admin.connect();
await admin.createTopics({ topics: [{ topic, numPartitions: partitions, configEntries: [{ name: 'compression.type', value: 'producer' }] }] });

const java = (cls, args) => execFileSync('java', ['-Xmx1g', log4j, '-cp', classpath, cls, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 << 20 });

// ProducerPerformance's last line: "600 records sent, 55.2 records/sec (27.6 MB/sec), 480.1 ms avg latency, 900.0 ms max latency, 470 ms 50th, 850 ms 95th, 890 ms 99th, 900 ms 99.9th."
const produced = java('org.apache.kafka.tools.ProducerPerformance', [
  '--topic', topic, '--num-records', String(messages), '--record-size', String(messageBytes), '--throughput', '-1',
  '--producer-props', `bootstrap.servers=${env.REDPANDA_BROKERS}`, 'acks=all', 'enable.idempotence=true', 'max.request.size=4194304', 'linger.ms=5',
]);
const last = produced.trim().split('\n').filter((l) => l.includes('records sent')).at(-1) ?? '';
const pm = /([\d.]+) records\/sec \(([\d.]+) MB\/sec\), ([\d.]+) ms avg latency.*?(\d+) ms 50th, (\d+) ms 95th, (\d+) ms 99th/.exec(last);
if (!pm) throw new Error(`could not read ProducerPerformance's summary: ${last || produced.slice(-500)}`);

// ConsumerPerformance prints a CSV header and one line of figures.
const consumed = java('org.apache.kafka.tools.ConsumerPerformance', [
  '--bootstrap-server', env.REDPANDA_BROKERS, '--topic', topic, '--messages', String(messages), '--timeout', '60000',
  '--group', `bench-broker-${randomBytes(3).toString('hex')}`,
]);
const lines = consumed.trim().split('\n').filter((l) => /^\s*\d{4}-/.test(l) || l.includes('MB.sec'));
const header = lines.find((l) => l.includes('MB.sec'))?.split(',').map((s) => s.trim()) ?? [];
const values = lines.find((l) => /^\s*\d{4}-/.test(l))?.split(',').map((s) => s.trim()) ?? [];
const cm = Object.fromEntries(header.map((h, i) => [h, values[i]]));
if (!cm['MB.sec']) throw new Error(`could not read ConsumerPerformance's output: ${consumed.slice(-500)}`);

const doc = {
  bench: 'broker',
  tool: 'org.apache.kafka.tools.ProducerPerformance / ConsumerPerformance',
  messages,
  messageBytes,
  recordsPerMessage,
  partitions,
  produce: {
    acks: 'all',
    messagesPerSecond: Number(pm[1]),
    megabytesPerSecond: Number(pm[2]),
    recordsPerSecond: round(Number(pm[1]) * recordsPerMessage, 0),
    avgLatencyMs: Number(pm[3]),
    p50LatencyMs: Number(pm[4]),
    p99LatencyMs: Number(pm[6]),
  },
  fetch: {
    messagesPerSecond: Number(cm['nMsg.sec']),
    megabytesPerSecond: Number(cm['MB.sec']),
    recordsPerSecond: round(Number(cm['nMsg.sec']) * recordsPerMessage, 0),
  },
};
process.stdout.write(JSON.stringify(doc) + '\n');
process.stderr.write(`\nbroker (Kafka's perf tools, ${messages} messages of ${messageBytes} bytes = ${recordsPerMessage}-record OTLP requests, ${partitions} partitions)\n` +
  `  produce acks=all: ${doc.produce.recordsPerSecond} log records/s, ${doc.produce.megabytesPerSecond} MB/s, p50 ${doc.produce.p50LatencyMs} ms, p99 ${doc.produce.p99LatencyMs} ms\n` +
  `  fetch:            ${doc.fetch.recordsPerSecond} log records/s, ${doc.fetch.megabytesPerSecond} MB/s\n`);
await admin.deleteTopics({ topics: [topic] }).catch(() => {});
await admin.disconnect();
