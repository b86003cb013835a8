// bench/hostile: the worst inputs known, sent concurrently from many clients, against each
// process's documented memory bound; beside them, a quiet tenant's well-formed requests, whose
// latency and answers say whether anyone else was crowded out.
//
//   npm run bench:hostile     BENCH_PHASE_SECONDS (default 8) per attack,
//                             BENCH_QUIET_SECONDS (default 10) for the noisy-neighbour test,
//                             BENCH_ATTACKS (default all) names the attacks to send,
//                             BENCH_PROCESSES (default ingester,query,appender) the processes to attack,
//                             BENCH_APPENDER_SECONDS (default 240) the most the appender is given to drain,
//                             BENCH_APPENDER_PIPELINES (default lake,loki,opensearch) the appender's PIPELINES,
//                             BENCH_CPU_PROF a directory for the ingester's CPU profile,
//                             BENCH_NODE_FLAGS more flags for the ingester's node,
//                             BENCH_INGESTER_ENV a JSON object of settings for the ingester (over the bench's)
// Prints one JSON document on stdout (its `summary` per process: peakRssMb, boundMb,
// peakRssOverBound, rssAfterOverBefore; quietTenantP99Ratio, and brokerP99Ratio, the same ratio
// for writes straight to the broker) and a table on stderr.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { connect } from 'node:http2';
import { openSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import snappy from 'snappy';
import { Kafka, logLevel } from 'kafkajs';
import { Agent, request } from 'undici';
import { encodeLogsRequest } from '../dist/otlp/codec.js';
import { loadConfig } from '../dist/config/load.js';
import { ingesterMemoryBoundBytes } from '../dist/ingester/memory-bound.js';
import { SIGNALS } from '../dist/otlp/signals.js';
import { otlpJsonToMessage } from '../dist/otlp/json.js';
import { PromWriteRequest } from '../dist/otlp/codec.js';
import { ensureLakeTables, openLakeSession, qualifiedNamespace } from '../dist/lake/session.js';
import { queryServiceMemoryBoundBytes } from '../dist/query/query-processes.js';
import { appenderMemoryBoundBytes } from '../dist/appender/memory-bound.js';
import { ensureTopics, topicWithDlq } from '../dist/kafka/topics.js';
import { recordHeaders } from '../dist/kafka/record.js';
import { logsRequestBody, percentile, procStats, root, round, stackEnv } from './lib.mjs';

const phaseSeconds = Number(process.env.BENCH_PHASE_SECONDS ?? 8);
const quietSeconds = Number(process.env.BENCH_QUIET_SECONDS ?? 10);
const run = randomBytes(3).toString('hex');
const MiB = 1024 * 1024;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Waits (a minute at most) for a process's /readyz to answer 200. */
async function waitReady(url, what) {
  for (let i = 0; ; i++) {
    try {
      if ((await fetch(url)).status === 200) return;
    } catch {}
    if (i > 300) throw new Error(`${what} did not become ready`);
    await sleep(200);
  }
}

// ---------------------------------------------------------------- the ingester, as users run it
const httpPort = 24418;
const grpcPort = 24417;
const ingesterEnv = {
  ...stackEnv(),
  REDPANDA_TOPIC: `hostile-logs-${run}`,
  REDPANDA_TRACES_TOPIC: `hostile-traces-${run}`,
  REDPANDA_METRICS_TOPIC: `hostile-metrics-${run}`,
  TENANT_TOKENS: 'noisy=noisy-token,quiet=quiet-token',
  INGESTER_HOST: '127.0.0.1',
  INGESTER_HTTP_PORT: String(httpPort),
  INGESTER_GRPC_PORT: String(grpcPort),
  LOG_LEVEL: 'warn',
  ...JSON.parse(process.env.BENCH_INGESTER_ENV ?? '{}'),
};
// the bound of the settings the ingester runs with: defaults, but for the bench's own
const ingesterCfg = loadConfig(ingesterEnv);
const ingesterBound = ingesterMemoryBoundBytes(ingesterCfg);

async function startIngester() {
  const prof = [...(process.env.BENCH_NODE_FLAGS ? process.env.BENCH_NODE_FLAGS.split(' ') : []), ...(process.env.BENCH_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`] : []), ...(process.env.BENCH_TRACE_GC ? ['--trace-gc'] : [])];
  const child = spawn(process.execPath, [...prof, 'dist/cli/ingester.js'], { cwd: root, env: { ...process.env, ...ingesterEnv }, stdio: ['ignore', process.env.BENCH_TRACE_GC ? 2 : 'ignore', 2] });
  process.on('exit', () => child.kill('SIGKILL'));
  await waitReady(`http://127.0.0.1:${httpPort}/readyz`, 'ingester');
  return child;
}

const dispatcher = new Agent({ connections: 512, pipelining: 1, keepAliveTimeout: 30_000, bodyTimeout: 180_000, headersTimeout: 180_000 });

async function post(path, token, headers, body) {
  const started = performance.now();
  try {
    const res = await request(`http://127.0.0.1:${httpPort}${path}`, {
      method: 'POST',
      dispatcher,
      headers: { authorization: `Bearer ${token}`, ...headers },
      body,
    });
    await res.body.arrayBuffer();
    return { status: String(res.statusCode), ms: performance.now() - started };
  } catch (e) {
    return { status: `error:${e.code ?? e.message}`, ms: performance.now() - started };
  }
}

/** One unary gRPC call on raw HTTP/2, its framing and compression ours to choose. */
function grpcCall(method, token, message, gzip) {
  return new Promise((resolve) => {
    const started = performance.now();
    const session = connect(`http://127.0.0.1:${grpcPort}`);
    const done = (status) => {
      session.close();
      resolve({ status, ms: performance.now() - started });
    };
    session.on('error', (e) => done(`error:${e.code}`));
    const headers = { ':method': 'POST', ':path': method, 'content-type': 'application/grpc', te: 'trailers', 'grpc-encoding': gzip ? 'gzip' : 'identity' };
    if (token) headers.authorization = `Bearer ${token}`;
    const req = session.request(headers);
    let status = '';
    req.on('response', (h) => h['grpc-status'] !== undefined && (status = `grpc:${h['grpc-status']}`));
    req.on('trailers', (t) => (status = `grpc:${t['grpc-status']}`));
    req.on('data', () => {});
    req.on('error', (e) => done(`error:${e.code}`));
    req.on('close', () => done(status || 'error:closed'));
    const prefix = Buffer.alloc(5);
    prefix[0] = gzip ? 1 : 0;
    prefix.writeUInt32BE(message.length, 1);
    req.end(Buffer.concat([prefix, message]));
  });
}

/** Runs `send` from `clients` loops for `seconds`; the statuses it got, by count. */
async function flood(clients, seconds, send) {
  const stop = performance.now() + seconds * 1000;
  const statuses = {};
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (performance.now() < stop) {
        const r = await send();
        statuses[r.status] = (statuses[r.status] ?? 0) + 1;
      }
    }),
  );
  return statuses;
}

/** The flood of flood-client.mjs, sent from its own process; the statuses it got, by count. */
async function floodFromOwnProcess({ body, ...rest }) {
  const bodyFile = join(tmpdir(), `hostile-flood-${run}.bin`);
  writeFileSync(bodyFile, body);
  try {
    const child = spawn(process.execPath, [join(root, 'bench', 'flood-client.mjs'), JSON.stringify({ ...rest, bodyFile })], { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    const code = await new Promise((r) => child.once('exit', r));
    if (code !== 0) throw new Error(`the flood client exited with ${code}`);
    return JSON.parse(out);
  } finally {
    rmSync(bodyFile, { force: true });
  }
}

// ------------------------------------------------------------------ the quiet tenant's requests
const quietBodies = Array.from({ length: 8 }, (_, i) => logsRequestBody(10, 9000 + i));
/**
 * Calls `send(i)` every 50 ms (or as soon as the last one ended) until `stop()`; the statuses it
 * got, and the latencies of those that were `ok`, counted under `okName`.
 */
function paced(send, okName, ok = '200') {
  const latencies = [];
  const statuses = {};
  let running = true;
  const loop = (async () => {
    for (let i = 0; running; i++) {
      const next = performance.now() + 50;
      const r = await send(i);
      statuses[r.status] = (statuses[r.status] ?? 0) + 1;
      if (r.status === ok) latencies.push(r.ms);
      const wait = next - performance.now();
      if (wait > 0) await sleep(wait);
    }
  })();
  return async () => {
    running = false;
    await loop;
    latencies.sort((x, y) => x - y);
    return { [okName]: latencies.length, statuses, p50Ms: round(percentile(latencies, 50)), p99Ms: round(percentile(latencies, 99)) };
  };
}

/** The quiet tenant: a 10-record request every 50 ms until `stop()`; its latencies and answers. */
function quietTenant() {
  return paced((i) => post('/v1/logs', 'quiet-token', { 'content-type': 'application/x-protobuf' }, quietBodies[i % quietBodies.length]), 'answered200');
}

// ------------------------------------------------------------------------- the hostile inputs
const ts = String(BigInt(Date.now()) * 1_000_000n);
/** OTLP/JSON of `n` small records: the 53 KB gzip body that inflates to 16 MB. */
function jsonLogs(n, bodyText = 'x') {
  const records = [];
  for (let i = 0; i < n; i++) records.push({ timeUnixNano: ts, severityNumber: 9, body: { stringValue: bodyText } });
  return Buffer.from(JSON.stringify({ resourceLogs: [{ resource: { attributes: [] }, scopeLogs: [{ scope: { name: 'h' }, logRecords: records }] }] }));
}
/** Records of `attrs` empty key-value pairs each (4 bytes on the wire, two objects decoded), one record invalid so that it must be decoded. */
function tinyMessages(records, attrs) {
  const attributes = Array.from({ length: attrs }, () => ({ key: '', value: {} }));
  const logRecords = Array.from({ length: records }, () => ({ timeUnixNano: BigInt(ts), attributes }));
  logRecords.push({ timeUnixNano: BigInt(ts), traceId: Buffer.from([1, 2, 3]) });
  return Buffer.from(encodeLogsRequest({ resourceLogs: [{ scopeLogs: [{ logRecords }] }] }));
}
function remoteWriteTiny(series, samples) {
  const timeseries = Array.from({ length: series }, (_, i) => ({
    labels: [{ name: '__name__', value: `m${i % 10}` }],
    samples: Array.from({ length: samples }, (_, j) => ({ value: j, timestamp: Date.now() })),
  }));
  return snappy.compressSync(Buffer.from(PromWriteRequest.encode({ timeseries }).finish()));
}

const bomb = gzipSync(jsonLogs(160_000), { level: 9 });
const tinyPlain = tinyMessages(400, 1000);
const tiny = gzipSync(tinyPlain);
const grpcLarge = gzipSync(Buffer.from(encodeLogsRequest({ resourceLogs: [{ scopeLogs: [{ logRecords: Array.from({ length: 600_000 }, () => ({ timeUnixNano: BigInt(ts), body: { stringValue: 'x' } })) }] }] })));
const grpcAtLimit = tinyMessages(300, 1000); // under 4 MiB, of tiny messages whose decode the tenant can hold
const grpcAtLimitGz = gzipSync(grpcAtLimit);
const rwTiny = remoteWriteTiny(20_000, 40);
const plain16 = tinyMessages(3_900, 1000);
const noisyJson = jsonLogs(9_000, 'the noisy tenant sends a great deal of this');

// HTTP attacks are sent from a process of their own (flood-client.mjs), as another tenant's
// clients would be; gRPC ones from this process.
const attacks = [
  { name: 'otlp-http-json-gzip-bomb', clients: 16, what: `${round(bomb.length / 1024)} KB gzip inflating to 16 MB of JSON (160,000 records)`, http: { path: '/v1/logs', headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' }, body: bomb } },
  { name: 'otlp-http-protobuf-tiny-messages', clients: 16, what: `${round(tiny.length / 1024)} KB gzip inflating to ${round(tinyPlain.length / MiB)} MB of empty key-value pairs, decoded (one record invalid)`, http: { path: '/v1/logs', headers: { 'content-type': 'application/x-protobuf', 'content-encoding': 'gzip' }, body: tiny } },
  { name: 'otlp-http-protobuf-over-max-body', clients: 64, what: `${round(plain16.length / MiB)} MB uncompressed bodies from 64 connections`, http: { path: '/v1/logs', headers: { 'content-type': 'application/x-protobuf' }, body: plain16 } },
  { name: 'remote-write-snappy-tiny-samples', clients: 16, what: `${round(rwTiny.length / 1024)} KB snappy of 800,000 samples`, http: { path: '/api/v1/write', headers: { 'content-type': 'application/x-protobuf', 'content-encoding': 'snappy' }, body: rwTiny } },
  { name: 'otlp-grpc-gzip-15mb', clients: 16, what: `${round(grpcLarge.length / 1024)} KB gzip messages of 600,000 records`, send: () => grpcCall(SIGNALS.logs.grpcMethod, 'noisy-token', grpcLarge, true) },
  { name: 'otlp-grpc-at-limit-tiny-messages', clients: 32, what: `${round(grpcAtLimitGz.length / 1024)} KB gzip inflating to ${round(grpcAtLimit.length / MiB, 2)} MB of empty key-value pairs`, send: () => grpcCall(SIGNALS.logs.grpcMethod, 'noisy-token', grpcAtLimitGz, true) },
  { name: 'otlp-grpc-no-token', clients: 64, what: `${round(grpcLarge.length / 1024)} KB gzip messages without a token`, send: () => grpcCall(SIGNALS.logs.grpcMethod, undefined, grpcLarge, true) },
];

// --------------------------------------------------------------------------------------- run
const ingester = await startIngester();
await sleep(2000);
const before = procStats(ingester.pid).rssMb;
const results = [];
// BENCH_ATTACKS: a comma-separated choice of them ('none': only the noisy neighbour)
const chosen = process.env.BENCH_ATTACKS ? attacks.filter((a) => process.env.BENCH_ATTACKS.split(',').includes(a.name)) : attacks;
for (const a of chosen) {
  const quiet = quietTenant();
  const statuses = a.http
    ? await floodFromOwnProcess({ url: `http://127.0.0.1:${httpPort}${a.http.path}`, token: 'noisy-token', headers: a.http.headers, body: a.http.body, clients: a.clients, seconds: phaseSeconds })
    : await flood(a.clients, phaseSeconds, a.send);
  const q = await quiet();
  const stats = procStats(ingester.pid);
  results.push({ attack: a.name, what: a.what, clients: a.clients, statuses, quietTenant: q, peakRssMbSoFar: round(stats.peakRssMb), alive: ingester.exitCode === null });
  process.stderr.write(`${a.name.padEnd(36)} ${JSON.stringify(statuses)}  quiet p99 ${q.p99Ms} ms  peak ${round(stats.peakRssMb)} MB\n`);
  if (ingester.exitCode !== null) break;
}

// the noisy neighbour: the quiet tenant alone, then beside 48 concurrent 1 MB JSON requests
const aloneStop = quietTenant();
await sleep(quietSeconds * 1000);
const alone = await aloneStop();
const besideStop = quietTenant();
// BENCH_NOISY_FORMAT=protobuf: the same records as protobuf (no decode: the broker's share alone)
const noisyProtobuf = process.env.BENCH_NOISY_FORMAT === 'protobuf';
// the noisy request as the Kafka record the ingester makes of it
const noisyRecord = Buffer.from(encodeLogsRequest(SIGNALS.logs.request.toObject(otlpJsonToMessage(SIGNALS.logs.request, noisyJson.toString('utf8')))));
const noisyBody = noisyProtobuf ? noisyRecord : noisyJson;
const noisyType = noisyProtobuf ? 'application/x-protobuf' : 'application/json';
const noisyStatuses = await floodFromOwnProcess({ url: `http://127.0.0.1:${httpPort}/v1/logs`, token: 'noisy-token', headers: { 'content-type': noisyType }, body: noisyBody, clients: 48, seconds: quietSeconds * 2 });
const beside = await besideStop();
process.stderr.write(`quiet alone: ${JSON.stringify(alone)}\nquiet beside the flood: ${JSON.stringify(beside)}\nnoisy: ${JSON.stringify(noisyStatuses)}\n`);

await sleep(5000);
const after = procStats(ingester.pid);
// where what is left after is held: the main thread's heap and its buffers outside it
const metricsAfter = await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text();
const heldAfter = Object.fromEntries(
  ['nodejs_heap_size_used_bytes', 'nodejs_heap_size_total_bytes', 'nodejs_external_memory_bytes'].map((m) => [m.replace('nodejs_', '').replace('_bytes', 'Mb'), round(Number(/^(?:otel_lakehouse_)?\S*?(\S+) (\S+)$/m.exec(metricsAfter.split('\n').find((l) => l.includes(m) && !l.startsWith('#')) ?? '')?.[2] ?? 0) / MiB)]),
);
const aliveAtEnd = ingester.exitCode === null;
ingester.kill('SIGTERM');
await new Promise((r) => ingester.once('exit', r));

// The broker's own share: the quiet tenant's bodies written straight to the broker, alone and
// beside the noisy tenant's records written straight to it at the rate the ingester took them.
// What the ingester adds to the quiet tenant's p99 is what is left beyond this ratio.
async function brokerControl(perSecond) {
  const kafka = new Kafka({ brokers: ingesterEnv.REDPANDA_BROKERS.split(','), clientId: 'bench-quiet', logLevel: logLevel.NOTHING });
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false });
  await producer.connect();
  const quietDirect = () =>
    paced(async (i) => {
      const started = performance.now();
      try {
        await producer.send({ topic: ingesterEnv.REDPANDA_TOPIC, acks: -1, messages: [{ key: 'quiet', value: quietBodies[i % quietBodies.length] }] });
        return { status: 'written', ms: performance.now() - started };
      } catch (e) {
        return { status: `error:${e.type ?? e.message}`, ms: performance.now() - started };
      }
    }, 'written', 'written');
  const aloneStop = quietDirect();
  await sleep(quietSeconds * 1000);
  const alone = await aloneStop();
  const besideStop = quietDirect();
  const noisy = await floodFromOwnProcess({ kafka: { brokers: ingesterEnv.REDPANDA_BROKERS.split(','), topic: ingesterEnv.REDPANDA_TOPIC }, perSecond, body: noisyRecord, clients: 4, seconds: quietSeconds * 2 });
  const beside = await besideStop();
  await producer.disconnect();
  process.stderr.write(`broker alone: ${JSON.stringify(alone)}\nbroker beside the flood: ${JSON.stringify(beside)}\nnoisy straight to the broker: ${JSON.stringify(noisy)}\n`);
  return { alone, beside, noisy, perSecond: round(perSecond, 1), p99Ratio: round(beside.p99Ms / alone.p99Ms, 2) };
}
const broker = await brokerControl((noisyStatuses['200'] ?? 0) / (quietSeconds * 2));

// ---------------------------------------------------------------- the query service, likewise
// BENCH_PROCESSES=ingester leaves the query service out
const processes = process.env.BENCH_PROCESSES ?? 'ingester,query,appender';
const query = processes.includes('query') ? await queryServiceAttacks() : { summary: undefined, detail: [] };
const appender = processes.includes('appender') ? await appenderAttacks() : { summary: undefined, detail: undefined };

const peak = after.peakRssMb;
const boundMb = ingesterBound / MiB;
const summary = {
  ingester: {
    peakRssMb: round(peak),
    boundMb: round(boundMb),
    peakRssOverBound: round(peak / boundMb, 2),
    rssBeforeMb: round(before),
    rssAfterMb: round(after.rssMb),
    rssAfterOverBefore: round(after.rssMb / before, 2),
    mainThreadAfter: heldAfter,
    alive: aliveAtEnd,
    answers500: results.reduce((n, r) => n + (r.statuses['500'] ?? 0), 0),
  },
  query: query.summary,
  appender: appender.summary,
  quietTenantP99Ratio: round(beside.p99Ms / alone.p99Ms, 2),
  // the same ratio for writes straight to the broker, beside the same records at the same rate
  brokerP99Ratio: broker.p99Ratio,
  quietTenantAnswersRatio: round(beside.answered200 / (alone.answered200 * 2), 2),
};
console.log(JSON.stringify({ bench: 'hostile', settings: { MAX_INFLIGHT_BYTES: ingesterCfg.MAX_INFLIGHT_BYTES, TENANT_MAX_INFLIGHT_BYTES: ingesterCfg.TENANT_MAX_INFLIGHT_BYTES, GRPC_MAX_MESSAGE_BYTES: ingesterCfg.GRPC_MAX_MESSAGE_BYTES }, attacks: results, noisyNeighbour: { alone, beside, noisyStatuses, broker }, queryService: query.detail, appender: appender.detail, summary }, null, 2));
process.exit(0);

/**
 * The appender, with the lake and the Loki and OpenSearch sinks, draining a topic of the records
 * past what an ingester takes, written to it directly: 100,000 attributes, nesting 5,000 deep,
 * 7 MB of empty key-value pairs, and requests of 10,000 records, beside well-formed ones.
 */
async function appenderAttacks() {
  const port = 24491;
  const topic = `hostile-appender-${run}`;
  const aEnv = {
    ...stackEnv(),
    REDPANDA_TOPIC: topic,
    PIPELINES: process.env.BENCH_APPENDER_PIPELINES ?? 'lake,loki,opensearch',
    ICEBERG_NAMESPACE: `bench_hostile_${run}`,
    APPENDER_GROUP_ID: `bench-hostile-lake-${run}`,
    SINK_GROUP_PREFIX: `bench-hostile-${run}`,
    APPENDER_HTTP_PORT: String(port),
    BUFFER_TIME_SECONDS: '10',
    LOG_LEVEL: 'warn',
  };
  const cfg = loadConfig(aEnv);
  const bound = appenderMemoryBoundBytes(cfg);
  const kafka = new Kafka({ brokers: cfg.REDPANDA_BROKERS, clientId: 'bench-appender', logLevel: logLevel.NOTHING });
  await ensureTopics(kafka, topicWithDlq(topic), { partitions: cfg.TOPIC_PARTITIONS, replicationFactor: -1 }, { info() {}, warn() {}, error() {}, debug() {}, child() { return this; } });
  const now = BigInt(Date.now()) * 1_000_000n;
  const kv = (k) => ({ key: k, value: { stringValue: 'v' } });
  const request = (logRecords, service = 'hostile') => Buffer.from(encodeLogsRequest({ resourceLogs: [{ resource: { attributes: [{ key: 'service.name', value: { stringValue: service } }] }, scopeLogs: [{ logRecords }] }] }));
  const kinds = [
    { name: '100,000 attributes', copies: 4, value: request([{ timeUnixNano: now, body: { stringValue: 'huge map' }, attributes: Array.from({ length: 100_000 }, (_, i) => kv(`k${i}`)) }]) },
    { name: 'nesting 5,000 deep', copies: 2, value: nestedRequest(5_000) },
    // as many as the local broker's message.max.bytes (8 MiB) takes in one record
    { name: '1,300,000 empty key-value pairs', copies: 2, value: request([{ timeUnixNano: now, attributes: Array.from({ length: 1_300_000 }, () => ({ key: '', value: {} })) }]) },
    { name: '10,000 records', copies: 20, value: request(Array.from({ length: 10_000 }, (_, i) => ({ timeUnixNano: now + BigInt(i), body: { stringValue: `record ${i} of a large request` } }))) },
    { name: 'well-formed, 10 records', copies: 200, value: logsRequestBody(10, 7) },
  ];
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false });
  await producer.connect();
  let written = 0;
  for (const k of kinds) {
    for (let i = 0; i < k.copies; i++) {
      await producer.send({ topic, acks: -1, messages: [{ key: `tenant-${i % 3}`, value: k.value, headers: recordHeaders(`tenant-${i % 3}`, 'logs', Date.now()) }] });
      written++;
    }
  }
  await producer.disconnect();
  // its log (warnings: what went to the DLQ, and why) is kept beside the bench's own
  const logFile = join(tmpdir(), `hostile-appender-${run}.log`);
  const child = spawn(process.execPath, ['dist/cli/appender.js'], { cwd: root, env: { ...process.env, ...aEnv }, stdio: ['ignore', openSync(logFile, 'w'), 2] });
  process.on('exit', () => child.kill('SIGKILL'));
  await waitReady(`http://127.0.0.1:${port}/readyz`, 'appender');
  await sleep(1000);
  const before = procStats(child.pid).rssMb;
  // until each pipeline's group has taken every record (or BENCH_APPENDER_SECONDS, default 240)
  const admin = kafka.admin();
  await admin.connect();
  const groups = cfg.PIPELINES.map((p) => (p === 'lake' ? cfg.APPENDER_GROUP_ID : `${cfg.SINK_GROUP_PREFIX}-${p}`));
  const end = (await admin.fetchTopicOffsets(topic)).reduce((n, o) => n + Number(o.high), 0);
  const startedAt = performance.now();
  const deadline = startedAt + Number(process.env.BENCH_APPENDER_SECONDS ?? 240) * 1000;
  let taken = {};
  for (;;) {
    for (const g of groups) {
      const [t] = await admin.fetchOffsets({ groupId: g, topics: [topic] });
      taken[g] = t ? t.partitions.reduce((n, p) => n + Math.max(0, Number(p.offset)), 0) : 0;
    }
    if (groups.every((g) => taken[g] >= end) || performance.now() > deadline || child.exitCode !== null) break;
    await sleep(1000);
  }
  const drainSeconds = round((performance.now() - startedAt) / 1000);
  const dlq = (await admin.fetchTopicOffsets(`${topic}-dlq`)).reduce((n, o) => n + Number(o.high), 0);
  await admin.disconnect();
  await sleep(3000);
  const stats = procStats(child.pid);
  const alive = child.exitCode === null;
  child.kill('SIGTERM');
  await new Promise((r) => child.once('exit', r));
  const boundMb = bound / MiB;
  const detail = { records: Object.fromEntries(kinds.map((k) => [k.name, { copies: k.copies, bytes: k.value.length }])), written, taken, deadLetters: dlq };
  process.stderr.write(`appender: ${JSON.stringify(detail)}  peak ${round(stats.peakRssMb)} MB of ${round(boundMb)}; its log: ${logFile}\n`);
  return {
    detail,
    summary: {
      peakRssMb: round(stats.peakRssMb),
      boundMb: round(boundMb),
      peakRssOverBound: round(stats.peakRssMb / boundMb, 2),
      rssBeforeMb: round(before),
      rssAfterMb: round(stats.rssMb),
      rssAfterOverBefore: round(stats.rssMb / before, 2),
      drained: groups.every((g) => taken[g] >= end),
      drainSeconds,
      alive,
    },
  };
}

/** A logs request whose one record has an attribute of `levels` nested array values, built from the inside out (an encoder would recurse). */
function nestedRequest(levels) {
  const varint = (n) => {
    const out = [];
    for (; n >= 0x80; n = Math.floor(n / 128)) out.push((n % 128) | 0x80);
    out.push(n);
    return Buffer.from(out);
  };
  const field = (id, inner) => Buffer.concat([Buffer.from([(id << 3) | 2]), varint(inner.length), inner]);
  // AnyValue{array_value(5): ArrayValue{values(1): AnyValue}}, around a string value
  let value = field(1, Buffer.from('x'));
  for (let i = 0; i < levels; i++) value = field(5, field(1, value));
  const record = Buffer.concat([Buffer.from([(1 << 3) | 1]), Buffer.alloc(8, 1), field(6, Buffer.concat([field(1, Buffer.from('deep')), field(2, value)]))]);
  return field(1, field(2, field(2, record)));
}

/** Resident MB of a process and all its descendants, from /proc. */
function treeRssMb(pid) {
  const children = new Map();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (!children.has(ppid)) children.set(ppid, []);
      children.get(ppid).push(Number(entry));
    } catch {}
  }
  let total = 0;
  const visit = (p) => {
    try {
      total += Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${p}/status`, 'utf8'))?.[1] ?? 0) / 1024;
    } catch {}
    for (const c of children.get(p) ?? []) visit(c);
  };
  visit(pid);
  return total;
}

async function queryServiceAttacks() {
  const port = 24490;
  const qEnv = {
    ...stackEnv(),
    ICEBERG_NAMESPACE: `bench_hostile_${run}`,
    TENANT_TOKENS: 'noisy=noisy-token,other=other-token,quiet=quiet-token',
    QUERY_HOST: '127.0.0.1',
    QUERY_HTTP_PORT: String(port),
    QUERY_MEMORY_LIMIT_MB: '512',
    QUERY_MAX_INFLIGHT: '4',
    LOG_LEVEL: 'warn',
  };
  const cfg = loadConfig(qEnv);
  const session = await openLakeSession(cfg);
  try {
    await ensureLakeTables(session.connection, cfg);
    await session.connection.run(
      `INSERT INTO ${qualifiedNamespace(cfg)}.logs ("timestamp", tenant_id, severity, severity_number, body, service_name, attributes, resource_attributes, scope_attributes) ` +
        `SELECT now() - INTERVAL (i) SECOND, t, 'INFO', 9, 'a record of ' || t || ' number ' || i, 'svc', MAP {'k': 'v'}, MAP {}, MAP {} FROM range(2000) r(i), (VALUES ('noisy'), ('other'), ('quiet')) v(t)`,
    );
  } finally {
    session.close();
  }
  const child = spawn(process.execPath, ['dist/cli/query-server.js'], { cwd: root, env: { ...process.env, ...qEnv }, stdio: ['ignore', 'ignore', 2] });
  process.on('exit', () => child.kill('SIGKILL'));
  await waitReady(`http://127.0.0.1:${port}/readyz`, 'query service');
  const ask = async (token, sql) => {
    const started = performance.now();
    try {
      const res = await request(`http://127.0.0.1:${port}/v1/query`, { method: 'POST', dispatcher, headers: { authorization: `Bearer ${token}`, 'content-type': 'text/plain' }, body: sql });
      await res.body.arrayBuffer();
      return { status: String(res.statusCode), ms: performance.now() - started };
    } catch (e) {
      return { status: `error:${e.code ?? e.message}`, ms: performance.now() - started };
    }
  };
  await ask('quiet-token', 'SELECT count(*) FROM logs'); // the first query warms the process
  await sleep(1000);
  const before = treeRssMb(child.pid);
  let peak = before;
  const sampler = setInterval(() => (peak = Math.max(peak, treeRssMb(child.pid))), 50);
  const attacksQ = [
    { name: 'repeat-900mb', clients: 4, sql: "SELECT repeat('x', 900000000) AS s" },
    { name: 'repeat-400mb', clients: 4, sql: "SELECT repeat('x', 400000000) AS s" },
    { name: 'string-agg-cross-join', clients: 4, sql: "SELECT string_agg(body || repeat('y', 1000), ',') FROM logs, range(2000)" },
  ];
  const detail = [];
  for (const a of attacksQ) {
    const quietLatencies = [];
    let quietRunning = true;
    const quiet = (async () => {
      while (quietRunning) {
        const r = await ask('quiet-token', 'SELECT count(*) FROM logs');
        if (r.status === '200') quietLatencies.push(r.ms);
        await sleep(200);
      }
    })();
    let n = 0;
    const statuses = await flood(a.clients, phaseSeconds, () => ask(n++ % 2 === 0 ? 'noisy-token' : 'other-token', a.sql));
    quietRunning = false;
    await quiet;
    quietLatencies.sort((x, y) => x - y);
    detail.push({ attack: a.name, sql: a.sql, statuses, quietAnswered200: quietLatencies.length, quietP99Ms: round(percentile(quietLatencies, 99)) });
    process.stderr.write(`query ${a.name.padEnd(28)} ${JSON.stringify(statuses)}  quiet answered ${quietLatencies.length}, p99 ${round(percentile(quietLatencies, 99))} ms  peak ${round(peak)} MB\n`);
  }
  await sleep(5000);
  clearInterval(sampler);
  const after = treeRssMb(child.pid);
  child.kill('SIGTERM');
  await new Promise((r) => child.once('exit', r));
  const boundMb = queryServiceMemoryBoundBytes(cfg) / MiB;
  return {
    detail,
    summary: { peakRssMb: round(peak), boundMb: round(boundMb), peakRssOverBound: round(peak / boundMb, 2), rssBeforeMb: round(before), rssAfterMb: round(after), rssAfterOverBefore: round(after / before, 2) },
  };
}
