import { gzipSync } from 'node:zlib';
import snappy from 'snappy';
import type { Kafka } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Config } from '../../src/config/schema.js';
import { Ingester } from '../../src/ingester/ingester.js';
import { createKafka } from '../../src/kafka/client.js';
import { ExportLogsServiceResponse, PromWriteRequest, RpcStatus, encodeLogsRequest } from '../../src/otlp/codec.js';
import { SIGNALS, leaves } from '../../src/otlp/signals.js';
import { createLogger } from '../../src/telemetry/logger.js';
import { logsRequest, type SampleLog } from '../helpers/otlp.js';
import { readTopic, topicSize } from '../helpers/kafka.js';
import { runId, testConfig } from '../helpers/stack.js';

const logger = createLogger(process.env.TEST_LOG_LEVEL ?? 'warn', 'it');
const MAX_BODY = 64 * 1024;

function logs(n: number, bodySize = 20, start = 0): SampleLog[] {
  return Array.from({ length: n }, (_, i) => ({
    tenant: 'acme', service: 'svc', seq: start + i, body: 'x'.repeat(bodySize), severityNumber: 9,
    timeUnixNano: 1_763_800_000_000_000_000n + BigInt(i), attrs: {},
  }));
}
const validBody = () => Buffer.from(encodeLogsRequest(logsRequest(logs(3))));

interface Case {
  name: string;
  path?: string;
  method?: string;
  headers?: Record<string, string>;
  body?: Buffer | string;
  status: number;
  message: RegExp;
}

describe('ingester answers: bad input is refused with a status and a message, and never produced', () => {
  const id = runId();
  let cfg: Config;
  let ingester: Ingester;
  let kafka: Kafka;
  let base: string;

  beforeAll(async () => {
    cfg = testConfig(id, {
      REDPANDA_TRACES_TOPIC: `it-traces-${id}`,
      REDPANDA_METRICS_TOPIC: `it-metrics-${id}`,
      MAX_BODY_BYTES: String(MAX_BODY),
      MAX_RECORD_BYTES: '4096',
    });
    ingester = new Ingester(cfg, logger);
    await ingester.start();
    kafka = createKafka(cfg.REDPANDA_BROKERS, 'it-reader', logger);
    base = `http://127.0.0.1:${ingester.http.boundPort}`;
  });

  afterAll(async () => {
    await ingester?.stop();
  });

  const auth = { authorization: 'Bearer acme-token' };
  const proto = { ...auth, 'content-type': 'application/x-protobuf' };
  const json = { ...auth, 'content-type': 'application/json' };
  const cases: Case[] = [
    { name: 'truncated protobuf', headers: proto, body: validBody().subarray(0, 25), status: 400, message: /not a valid ExportLogsServiceRequest/ },
    { name: 'garbage bytes', headers: proto, body: Buffer.from([0xff, 0xff, 0xff, 0xff]), status: 400, message: /not a valid/ },
    { name: 'wrong content type', headers: { ...auth, 'content-type': 'text/plain' }, body: 'hello', status: 415, message: /Content-Type 'text\/plain' is not supported/ },
    { name: 'no content type', headers: auth, body: validBody(), status: 415, message: /Content-Type '\(none\)'/ },
    { name: 'bad gzip', headers: { ...proto, 'content-encoding': 'gzip' }, body: Buffer.from('not gzip at all'), status: 400, message: /gzip body could not be decompressed/ },
    { name: 'unsupported encoding', headers: { ...proto, 'content-encoding': 'br' }, body: validBody(), status: 415, message: /Content-Encoding 'br' is not supported/ },
    { name: 'JSON that is not JSON', headers: json, body: '{"resourceLogs": [', status: 400, message: /body is not JSON/ },
    { name: 'JSON array', headers: json, body: '[]', status: 400, message: /must be a JSON object/ },
    { name: 'JSON of the wrong shape', headers: json, body: '{"resourceLogs": "yes"}', status: 400, message: /resourceLogs: expected an array, got string "yes"/ },
    { name: 'JSON with a non-hex trace id', headers: json, body: JSON.stringify({ resourceLogs: [{ scopeLogs: [{ logRecords: [{ traceId: 'zz' }] }] }] }), status: 400, message: /resourceLogs\[0\].scopeLogs\[0\].logRecords\[0\].traceId: is not a hex string/ },
    { name: 'empty JSON body', headers: json, body: '', status: 400, message: /body is not JSON/ },
    { name: 'every record invalid (5-byte trace id)', headers: json, body: JSON.stringify({ resourceLogs: [{ scopeLogs: [{ logRecords: [{ traceId: '0102030405' }] }] }] }), status: 400, message: /all 1 log records are invalid: traceId must be 16 bytes/ },
    { name: 'body over MAX_BODY_BYTES', headers: proto, body: Buffer.alloc(MAX_BODY + 1), status: 413, message: /exceeds the limit of 65536 bytes/ },
    { name: 'gzip bomb', headers: { ...proto, 'content-encoding': 'gzip' }, body: gzipSync(Buffer.alloc(10 * MAX_BODY)), status: 413, message: /decompresses to more than 65536 bytes/ },
    { name: 'one record over the broker record limit', headers: proto, body: Buffer.from(encodeLogsRequest(logsRequest(logs(1, 5000)))), status: 413, message: /alone encodes to \d+ bytes, over the broker's record limit of 4096/ },
    { name: 'no token', headers: { 'content-type': 'application/x-protobuf' }, body: validBody(), status: 401, message: /missing or unknown bearer token/ },
    { name: 'unknown token', headers: { 'content-type': 'application/x-protobuf', authorization: 'Bearer nope' }, body: validBody(), status: 401, message: /missing or unknown bearer token/ },
    { name: 'basic auth', headers: { 'content-type': 'application/x-protobuf', authorization: 'Basic YWNtZTphY21l' }, body: validBody(), status: 401, message: /bearer token/ },
    { name: 'GET on an export path', method: 'GET', headers: auth, status: 405, message: /GET is not allowed on \/v1\/logs/ },
    { name: 'unknown path', path: '/v1/profiles', headers: proto, body: validBody(), status: 404, message: /no route for \/v1\/profiles/ },
    { name: 'remote_write not snappy', path: '/api/v1/write', headers: { ...proto, 'content-encoding': 'snappy' }, body: Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff]), status: 400, message: /snappy/ },
    { name: 'remote_write snappy bomb', path: '/api/v1/write', headers: { ...proto, 'content-encoding': 'snappy' }, body: Buffer.from([0x80, 0x80, 0x80, 0x40, 0x00]), status: 413, message: /declares \d+ bytes, over the limit/ },
    { name: 'remote_write wrong encoding', path: '/api/v1/write', headers: { ...proto, 'content-encoding': 'gzip' }, body: Buffer.alloc(4), status: 415, message: /remote_write 1.0 uses snappy/ },
    { name: 'remote_write not a WriteRequest', path: '/api/v1/write', headers: { ...proto, 'content-encoding': 'snappy' }, body: snappy.compressSync(Buffer.from([0x0a, 0xff, 0x01])), status: 400, message: /not a valid prometheus WriteRequest/ },
  ];

  it.each(cases)('$name → $status', async (c) => {
    const res = await fetch(`${base}${c.path ?? '/v1/logs'}`, {
      method: c.method ?? 'POST',
      headers: c.headers,
      ...(c.body !== undefined ? { body: c.body } : {}),
    });
    expect(res.status).toBe(c.status);
    const type = res.headers.get('content-type') ?? '';
    const raw = Buffer.from(await res.arrayBuffer());
    // OTLP/HTTP: a protobuf request gets a google.rpc.Status in protobuf, others JSON.
    const message = type.startsWith('application/x-protobuf')
      ? (RpcStatus.decode(raw) as unknown as { message: string }).message
      : (JSON.parse(raw.toString()) as { message: string }).message;
    expect(message).toMatch(c.message);
  });

  it('produced nothing for any of them', async () => {
    for (const topic of [cfg.REDPANDA_TOPIC, cfg.REDPANDA_TRACES_TOPIC, cfg.REDPANDA_METRICS_TOPIC]) {
      expect(await topicSize(kafka, topic), topic).toBe(0);
    }
  });

  it('answers an empty request with 200 and produces nothing', async () => {
    const res = await fetch(`${base}/v1/logs`, { method: 'POST', headers: proto, body: Buffer.alloc(0) });
    expect(res.status).toBe(200);
    expect(await topicSize(kafka, cfg.REDPANDA_TOPIC)).toBe(0);
  });

  it('accepts the valid records of a request with partial success, naming what was rejected', async () => {
    const body = JSON.stringify({
      resourceLogs: [{ scopeLogs: [{ logRecords: [
        { body: { stringValue: 'good-1' }, traceId: '0102030405060708090a0b0c0d0e0f10' },
        { body: { stringValue: 'bad' }, spanId: '01' },
        { body: { stringValue: 'good-2' } },
      ] }] }],
    });
    const res = await fetch(`${base}/v1/logs`, { method: 'POST', headers: json, body });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ partialSuccess: { rejectedLogRecords: '1', errorMessage: '1 log records rejected: spanId must be 8 bytes or empty, got 1' } });
    const records = await readTopic(kafka, cfg.REDPANDA_TOPIC);
    const bodies = records.flatMap((r) => leaves(SIGNALS.logs, SIGNALS.logs.request.decode(r.value) as never).map((l) => (l.item.body as { stringValue: string }).stringValue));
    expect(bodies).toEqual(['good-1', 'good-2']);
    // And in protobuf: the response carries the partial success too.
    const pb = await fetch(`${base}/v1/logs`, { method: 'POST', headers: proto, body: Buffer.from(SIGNALS.logs.request.encode(SIGNALS.logs.request.fromObject({ resourceLogs: [{ scopeLogs: [{ logRecords: [{ spanId: Buffer.from([1, 2]) }, {}] }] }] })).finish()) });
    expect(pb.status).toBe(200);
    const decoded = ExportLogsServiceResponse.toObject(ExportLogsServiceResponse.decode(Buffer.from(await pb.arrayBuffer())), { longs: String });
    expect(decoded).toMatchObject({ partialSuccess: { rejectedLogRecords: '1' } });
  });

  it('splits a request over the broker record limit into several records, losing nothing', async () => {
    const before = (await readTopic(kafka, cfg.REDPANDA_TOPIC)).length;
    const sent = logs(60, 200, 1000);
    const body = Buffer.from(encodeLogsRequest(logsRequest(sent)));
    expect(body.length).toBeGreaterThan(4096 * 2);
    const res = await fetch(`${base}/v1/logs`, { method: 'POST', headers: proto, body });
    expect(res.status).toBe(200);
    const records = (await readTopic(kafka, cfg.REDPANDA_TOPIC)).slice(before);
    expect(records.length).toBeGreaterThanOrEqual(3);
    for (const r of records) expect(r.value.length).toBeLessThanOrEqual(4096);
    const seqs = records.flatMap((r) =>
      leaves(SIGNALS.logs, SIGNALS.logs.request.toObject(SIGNALS.logs.request.decode(r.value), { longs: Number }) as never)
        .map((l) => Number(((l.item.attributes as { key: string; value: { intValue: number } }[])[0]!.value.intValue))),
    );
    expect(seqs).toEqual(sent.map((s) => s.seq));
  });

  it('accepts Prometheus remote_write and produces the decompressed WriteRequest to the metrics topic', async () => {
    const write = PromWriteRequest.encode({
      timeseries: [{ labels: [{ name: '__name__', value: 'up' }, { name: 'job', value: 'node' }], samples: [{ value: 1, timestamp: Date.now() }] }],
    }).finish();
    const res = await fetch(`${base}/api/v1/write`, {
      method: 'POST',
      headers: { ...proto, 'content-encoding': 'snappy', 'x-prometheus-remote-write-version': '0.1.0' },
      body: snappy.compressSync(Buffer.from(write)),
    });
    expect(res.status).toBe(204);
    const [record] = await readTopic(kafka, cfg.REDPANDA_METRICS_TOPIC);
    expect(record!.headers).toMatchObject({ signal: 'prom-rw', 'content-schema': 'prom-rw-1', 'tenant-id': 'acme' });
    expect(record!.value).toEqual(Buffer.from(write));
  });

  it('ignores tenant claims in headers: the token decides the tenant', async () => {
    const before = await topicSize(kafka, cfg.REDPANDA_TRACES_TOPIC);
    const body = JSON.stringify({ resourceSpans: [{ scopeSpans: [{ spans: [{ traceId: '0102030405060708090a0b0c0d0e0f10', spanId: '0102030405060708', name: 'x' }] }] }] });
    const res = await fetch(`${base}/v1/traces`, { method: 'POST', headers: { ...json, 'x-scope-orgid': 'beta', 'tenant-id': 'beta' }, body });
    expect(res.status).toBe(200);
    const records = (await readTopic(kafka, cfg.REDPANDA_TRACES_TOPIC)).slice(before);
    expect(records.map((r) => [r.key, r.headers['tenant-id']])).toEqual([['acme', 'acme']]);
  });

  it('counts requests by signal, tenant and outcome in /metrics', async () => {
    const text = await (await fetch(`${base}/metrics`)).text();
    expect(text).toMatch(/otel_lakehouse_ingester_requests_total\{signal="logs",transport="http",tenant="unknown",outcome="unauthorized"\} [1-9]/);
    expect(text).toMatch(/otel_lakehouse_ingester_requests_total\{signal="logs",transport="http",tenant="acme",outcome="bad_request"\} [1-9]/);
    expect(text).toMatch(/otel_lakehouse_ingester_requests_total\{signal="logs",transport="http",tenant="acme",outcome="partial"\} [1-9]/);
    expect(text).toMatch(/otel_lakehouse_ingester_produce_duration_seconds_bucket/);
    expect(text).toMatch(/otel_lakehouse_ingester_inflight_requests 0/);
  });
});
