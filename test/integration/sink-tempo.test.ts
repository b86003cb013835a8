import type { Kafka } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Config } from '../../src/config/schema.js';
import { Ingester } from '../../src/ingester/ingester.js';
import { createKafka } from '../../src/kafka/client.js';
import { recordHeaders } from '../../src/kafka/record.js';
import { ExportTraceServiceRequest } from '../../src/otlp/codec.js';
import type { Pipeline } from '../../src/kafka/consumer-pipeline.js';
import { HotPathPipeline } from '../../src/sinks/hot-path-pipeline.js';
import { TempoSink } from '../../src/sinks/tempo/sink.js';
import { createLogger } from '../../src/telemetry/logger.js';
import { createMetrics } from '../../src/telemetry/metrics.js';
import { readTopic } from '../helpers/kafka.js';
import { runId, testConfig, waitFor } from '../helpers/stack.js';
import { TempoReceiver } from '../helpers/tempo-receiver.js';

const logger = createLogger(process.env.TEST_LOG_LEVEL ?? 'warn', 'it');

describe('Tempo sink (against an OTLP receiver that refuses what Tempo refuses)', () => {
  const id = runId();
  let cfg: Config;
  let ingester: Ingester;
  let pipeline: Pipeline;
  let kafka: Kafka;
  let base: string;
  const tempo = new TempoReceiver();
  const metrics = createMetrics();

  beforeAll(async () => {
    await tempo.start();
    cfg = testConfig(id, { REDPANDA_TRACES_TOPIC: `it-traces-${id}`, SINK_GROUP_PREFIX: `it-${id}`, SINK_RETRY_MAX_MS: '500' });
    ingester = new Ingester(cfg, logger);
    await ingester.start();
    base = `http://127.0.0.1:${ingester.http.boundPort}`;
    kafka = createKafka(cfg.REDPANDA_BROKERS, 'it-tempo', logger);
    pipeline = new HotPathPipeline(cfg, kafka, cfg.REDPANDA_TRACES_TOPIC, ['traces'], new TempoSink(`${tempo.url}/v1/traces`), metrics, logger);
    await pipeline.start();
  });

  afterAll(async () => {
    await pipeline?.stop();
    await ingester?.stop();
    await tempo.stop();
  });

  const span = (traceId: string, name: string) => ({ resourceSpans: [{ scopeSpans: [{ spans: [{ traceId, spanId: '0102030405060708', name }] }] }] });
  const post = (tenant: string, body: unknown) =>
    fetch(`${base}/v1/traces`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${tenant}-token` }, body: JSON.stringify(body) });

  it('delivers each tenant\'s spans under its org id; a trace is found by id in its tenant only', async () => {
    const trace = '5b8efff798038103d269b633813fc60c';
    expect((await post('acme', span(trace, 'checkout'))).status).toBe(200);
    expect((await post('beta', span('00000000000000000000000000000001', 'other'))).status).toBe(200);
    await waitFor(async () => (await fetch(`${tempo.url}/api/traces/${trace}`, { headers: { 'x-scope-orgid': 'acme' } })).status, (s) => s === 200, 30_000, 'the trace in acme');
    const got = await (await fetch(`${tempo.url}/api/traces/${trace}`, { headers: { 'x-scope-orgid': 'acme' } })).json();
    expect(got).toEqual({ spans: ['checkout'] });
    expect((await fetch(`${tempo.url}/api/traces/${trace}`, { headers: { 'x-scope-orgid': 'beta' } })).status).toBe(404);
  });

  it('retries while Tempo answers 503, then delivers', async () => {
    tempo.up = false;
    const trace = '0000000000000000000000000000beef';
    expect((await post('acme', span(trace, 'during-outage'))).status).toBe(200);
    const retried = async () => (await metrics.sinkRequests.get()).values.find((v) => v.labels.outcome === 'retry')?.value ?? 0;
    const before = await retried();
    await waitFor(retried, (n) => n > before, 30_000, 'a retried push while Tempo answers 503');
    expect(tempo.traces.get('acme')?.has(trace)).toBeFalsy();
    tempo.up = true;
    await waitFor(async () => tempo.traces.get('acme')?.has(trace) ?? false, (x) => x, 30_000, 'the span after the outage');
  });

  it('sends a request Tempo refuses for good to the DLQ, and moves on', async () => {
    // A record the ingester would never produce (5-byte trace id), written straight to the topic.
    const producer = kafka.producer();
    await producer.connect();
    const bad = ExportTraceServiceRequest.encode(ExportTraceServiceRequest.fromObject({ resourceSpans: [{ scopeSpans: [{ spans: [{ traceId: Buffer.from([1, 2, 3, 4, 5]), spanId: Buffer.alloc(8, 1), name: 'bad' }] }] }] })).finish();
    const good = (traceId: string, name: string) => Buffer.from(ExportTraceServiceRequest.encode(ExportTraceServiceRequest.fromObject({ resourceSpans: [{ scopeSpans: [{ spans: [{ traceId: Buffer.from(traceId, 'hex'), spanId: Buffer.alloc(8, 2), name }] }] }] })).finish());
    // The refused record sits between two good ones of the same tenant, in one batch: only it
    // may end in the DLQ.
    await producer.send({
      topic: cfg.REDPANDA_TRACES_TOPIC,
      messages: [
        { key: 'beta', value: good('000000000000000000000000000000b1', 'before'), headers: recordHeaders('beta', 'traces', Date.now()) },
        { key: 'beta', value: Buffer.from(bad), headers: recordHeaders('beta', 'traces', Date.now()) },
        { key: 'beta', value: good('000000000000000000000000000000b2', 'next'), headers: recordHeaders('beta', 'traces', Date.now()) },
      ],
    });
    await producer.disconnect();
    const after = '000000000000000000000000000000aa';
    expect((await post('beta', span(after, 'after'))).status).toBe(200);
    await waitFor(async () => ['000000000000000000000000000000b1', '000000000000000000000000000000b2'].every((t) => tempo.traces.get('beta')?.has(t)), (x) => x, 30_000, 'the good neighbours');
    await waitFor(async () => tempo.traces.get('beta')?.has(after) ?? false, (x) => x, 30_000, 'the span after the refused one');
    const dead = await readTopic(kafka, `${cfg.REDPANDA_TRACES_TOPIC}-dlq`);
    expect(dead.map((d) => [d.headers['error-code'], d.headers['error-message']])).toEqual([['BACKEND_REJECTED', 'HTTP 400: invalid trace id']]);
  });
});
