import snappy from 'snappy';
import type { Kafka } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Config } from '../../src/config/schema.js';
import { Ingester } from '../../src/ingester/ingester.js';
import { createKafka } from '../../src/kafka/client.js';
import { PromWriteRequest } from '../../src/otlp/codec.js';
import type { Pipeline } from '../../src/kafka/consumer-pipeline.js';
import { HotPathPipeline } from '../../src/sinks/hot-path-pipeline.js';
import { PrometheusSink } from '../../src/sinks/prometheus/sink.js';
import { createLogger } from '../../src/telemetry/logger.js';
import { createMetrics } from '../../src/telemetry/metrics.js';
import { readTopic } from '../helpers/kafka.js';
import { runId, stackEnv, testConfig, waitFor, stack, withStopped } from '../helpers/stack.js';

const logger = createLogger(process.env.TEST_LOG_LEVEL ?? 'warn', 'it');

describe('Prometheus sink against a real Prometheus (remote-write receiver)', () => {
  const id = runId();
  let cfg: Config;
  let ingester: Ingester;
  let pipeline: Pipeline;
  let kafka: Kafka;
  let base: string;
  const metrics = createMetrics();
  const retriesSoFar = async () => (await metrics.sinkRequests.get()).values.find((v) => v.labels.outcome === 'retry')?.value ?? 0;
  const prom = () => stackEnv().PROMETHEUS_URL!;

  async function query(q: string): Promise<{ metric: Record<string, string>; value: [number, string] }[]> {
    const res = await fetch(`${prom()}/api/v1/query?query=${encodeURIComponent(q)}`);
    const body = (await res.json()) as { data: { result: { metric: Record<string, string>; value: [number, string] }[] } };
    return body.data.result;
  }

  async function sendMetrics(tenant: string, name: string, value: number): Promise<void> {
    const now = `${BigInt(Date.now()) * 1_000_000n}`;
    const body = {
      resourceMetrics: [{
        resource: { attributes: [{ key: 'service.name', value: { stringValue: 'checkout' } }] },
        scopeMetrics: [{ metrics: [
          { name: `${name}_requests`, sum: { aggregationTemporality: 2, isMonotonic: true, dataPoints: [{ asInt: String(value), timeUnixNano: now, attributes: [{ key: 'route', value: { stringValue: '/pay' } }] }] } },
          { name: `${name}_latency`, unit: 'ms', histogram: { aggregationTemporality: 2, dataPoints: [{ timeUnixNano: now, count: '6', sum: 300, bucketCounts: ['1', '2', '3'], explicitBounds: [10, 100] }] } },
        ] }],
      }],
    };
    const res = await fetch(`${base}/v1/metrics`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${tenant}-token` }, body: JSON.stringify(body) });
    expect(res.status).toBe(200);
  }

  async function remoteWrite(tenant: string, name: string, timestamp: number): Promise<number> {
    const write = PromWriteRequest.encode({ timeseries: [{ labels: [{ name: '__name__', value: name }, { name: 'job', value: 'node' }], samples: [{ value: 1, timestamp }] }] }).finish();
    const res = await fetch(`${base}/api/v1/write`, { method: 'POST', headers: { 'content-type': 'application/x-protobuf', 'content-encoding': 'snappy', authorization: `Bearer ${tenant}-token` }, body: snappy.compressSync(Buffer.from(write)) });
    return res.status;
  }

  beforeAll(async () => {
    stackEnv();
    cfg = testConfig(id, { REDPANDA_METRICS_TOPIC: `it-metrics-${id}`, SINK_GROUP_PREFIX: `it-${id}`, SINK_RETRY_MAX_MS: '1000' });
    ingester = new Ingester(cfg, logger);
    await ingester.start();
    base = `http://127.0.0.1:${ingester.http.boundPort}`;
    kafka = createKafka(cfg.REDPANDA_BROKERS, 'it-prom', logger);
    pipeline = new HotPathPipeline(cfg, kafka, cfg.REDPANDA_METRICS_TOPIC, ['metrics', 'prom-rw'], new PrometheusSink(`${prom()}/api/v1/write`, metrics), metrics, logger);
    await pipeline.start();
  });

  afterAll(async () => {
    stack('up', 'prometheus');
    await pipeline?.stop();
    await ingester?.stop();
  });

  const name = () => `it_${id}`;

  it('lands OTLP metrics (counter, histogram) and forwarded remote_write series, each with its tenant', async () => {
    await sendMetrics('acme', name(), 7);
    await sendMetrics('beta', name(), 9);
    expect(await remoteWrite('acme', `${name()}_up`, Date.now())).toBe(204);

    const counters = await waitFor(() => query(`${name()}_requests_total`), (r) => r.length >= 2, 60_000, 'both tenants\' counters');
    const byTenant = Object.fromEntries(counters.map((r) => [r.metric.tenant_id, r]));
    expect(byTenant.acme!.value[1]).toBe('7');
    expect(byTenant.beta!.value[1]).toBe('9');
    expect(byTenant.acme!.metric).toMatchObject({ job: 'checkout', route: '/pay' });
    const buckets = await waitFor(() => query(`${name()}_latency_milliseconds_bucket{tenant_id="acme"}`), (r) => r.length === 3, 30_000, 'histogram buckets');
    expect(Object.fromEntries(buckets.map((b) => [b.metric.le, b.value[1]]))).toEqual({ '10': '1', '100': '3', '+Inf': '6' });
    const up = await waitFor(() => query(`${name()}_up`), (r) => r.length === 1, 30_000, 'the forwarded remote_write series');
    expect(up[0]!.metric).toMatchObject({ tenant_id: 'acme', job: 'node' });
    const hist = await metrics.sinkHotPathSeconds.get();
    expect(hist.values.find((v) => v.metricName?.endsWith('_count'))!.value).toBeGreaterThanOrEqual(3);
  });

  it('sends what Prometheus refuses for good to the DLQ with its message, and moves on', async () => {
    const ancient = Date.now() - 30 * 24 * 3600 * 1000;
    expect(await remoteWrite('acme', `${name()}_old`, ancient)).toBe(204); // the ingester accepts it
    expect(await remoteWrite('acme', `${name()}_after`, Date.now())).toBe(204);
    await waitFor(() => query(`${name()}_after`), (r) => r.length === 1, 60_000, 'the record after the refused one');
    const dead = await waitFor(() => readTopic(kafka, `${cfg.REDPANDA_METRICS_TOPIC}-dlq`), (r) => r.length >= 1, 30_000, 'a DLQ record');
    expect(dead[0]!.headers).toMatchObject({ 'error-code': 'BACKEND_REJECTED', 'tenant-id': 'acme', signal: 'prom-rw' });
    expect(dead[0]!.headers['error-message']).toMatch(/HTTP 400/);
  });

  it('retries while Prometheus is down and catches up when it is back', async () => {
    await withStopped(['prometheus'], async () => {
      const before = await retriesSoFar();
      await sendMetrics('acme', `${name()}_outage`, 42);
      await waitFor(retriesSoFar, (n) => n > before, 30_000, 'a retried write while Prometheus is down');
    });
    const r = await waitFor(() => query(`${name()}_outage_requests_total`), (x) => x.length === 1, 90_000, 'the metric sent during the outage');
    expect(r[0]!.value[1]).toBe('42');
  });
});
