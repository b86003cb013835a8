import type { Kafka } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Config } from '../../src/config/schema.js';
import { Ingester } from '../../src/ingester/ingester.js';
import { createKafka } from '../../src/kafka/client.js';
import { encodeLogsRequest } from '../../src/otlp/codec.js';
import type { Pipeline } from '../../src/kafka/consumer-pipeline.js';
import { HotPathPipeline } from '../../src/sinks/hot-path-pipeline.js';
import { LokiSink } from '../../src/sinks/loki/sink.js';
import { createLogger } from '../../src/telemetry/logger.js';
import { createMetrics } from '../../src/telemetry/metrics.js';
import { readTopic } from '../helpers/kafka.js';
import { kv } from '../helpers/otlp.js';
import { runId, stackEnv, testConfig, waitFor, stack, withStopped } from '../helpers/stack.js';

const logger = createLogger(process.env.TEST_LOG_LEVEL ?? 'warn', 'it');

interface LokiResult { stream: Record<string, string>; values: [string, string][] }

describe('Loki sink against a real Loki (multi-tenant)', () => {
  const id = runId();
  let cfg: Config;
  let ingester: Ingester;
  let pipeline: Pipeline;
  let kafka: Kafka;
  let base: string;
  const metrics = createMetrics();
  const retriesSoFar = async () => (await metrics.sinkRequests.get()).values.find((v) => v.labels.outcome === 'retry')?.value ?? 0;
  const loki = () => stackEnv().LOKI_URL!;

  async function query(tenant: string, q: string): Promise<LokiResult[]> {
    const now = Date.now();
    const url = `${loki()}/loki/api/v1/query_range?query=${encodeURIComponent(q)}&start=${(now - 3600_000) * 1e6}&end=${(now + 60_000) * 1e6}&limit=1000&direction=forward`;
    const res = await fetch(url, { headers: { 'x-scope-orgid': tenant } });
    if (!res.ok) throw new Error(`loki answered ${res.status}: ${await res.text()}`);
    return ((await res.json()) as { data: { result: LokiResult[] } }).data.result;
  }

  async function send(tenant: string, service: string, lines: string[], timeNs?: bigint): Promise<void> {
    const now = timeNs ?? BigInt(Date.now()) * 1_000_000n;
    const req = {
      resourceLogs: [{
        resource: { attributes: [kv('service.name', service), kv('deployment.environment.name', 'it')] },
        scopeLogs: [{ scope: { name: 'io.example.pay', version: '3.1', attributes: [kv('lib.feature', 'on')] }, logRecords: lines.map((l, i) => ({
          timeUnixNano: (now + BigInt(i)).toString(), severityNumber: 17, body: { stringValue: l }, eventName: 'payment.failed', flags: 1,
          traceId: Buffer.from('5b8efff798038103d269b633813fc60c', 'hex'), attributes: [kv('http.route', '/pay')],
        })) }],
      }],
    };
    const res = await fetch(`${base}/v1/logs`, { method: 'POST', headers: { 'content-type': 'application/x-protobuf', authorization: `Bearer ${tenant}-token` }, body: Buffer.from(encodeLogsRequest(req as never)) });
    expect(res.status).toBe(200);
  }

  beforeAll(async () => {
    stackEnv();
    cfg = testConfig(id, { SINK_GROUP_PREFIX: `it-${id}`, SINK_RETRY_MAX_MS: '1000' });
    ingester = new Ingester(cfg, logger);
    await ingester.start();
    base = `http://127.0.0.1:${ingester.http.boundPort}`;
    kafka = createKafka(cfg.REDPANDA_BROKERS, 'it-loki', logger);
    pipeline = new HotPathPipeline(cfg, kafka, cfg.REDPANDA_TOPIC, ['logs'], new LokiSink(`${loki()}/loki/api/v1/push`), metrics, logger);
    await pipeline.start();
  });

  afterAll(async () => {
    stack('up', 'loki');
    await pipeline?.stop();
    await ingester?.stop();
  });

  it('pushes each tenant\'s logs under its own org id, with labels and structured metadata', async () => {
    const svc = `svc-${id}`;
    await send('acme', svc, ['a1', 'a2', 'a3']);
    await send('beta', svc, ['b1']);
    const acme = await waitFor(() => query('acme', `{service_name="${svc}"}`), (r) => r.flatMap((s) => s.values).length >= 3, 60_000, 'acme lines in Loki');
    expect(acme.flatMap((s) => s.values.map((v) => v[1]))).toEqual(['a1', 'a2', 'a3']);
    expect(acme[0]!.stream).toMatchObject({ service_name: svc, deployment_environment: 'it', severity: 'error' });
    // Structured metadata is queryable as labels after the stream selector.
    const byTrace = await query('acme', `{service_name="${svc}"} | trace_id="5b8efff798038103d269b633813fc60c" | http_route="/pay"`);
    expect(byTrace.flatMap((s) => s.values).length).toBe(3);
    const byEvent = await query('acme', `{service_name="${svc}"} | event_name="payment.failed" | trace_flags="1" | scope_name="io.example.pay" | scope_version="3.1" | lib_feature="on"`);
    expect(byEvent.flatMap((s) => s.values).length).toBe(3);
    const beta = await waitFor(() => query('beta', `{service_name="${svc}"}`), (r) => r.length > 0, 30_000, 'beta lines');
    expect(beta.flatMap((s) => s.values.map((v) => v[1]))).toEqual(['b1']);
    // Tenant isolation: acme's org id sees none of beta's lines.
    expect((await query('acme', `{service_name="${svc}"}`)).flatMap((s) => s.values.map((v) => v[1]))).not.toContain('b1');
  });

  it('retries while Loki is down and catches up when it is back', async () => {
    const svc = `outage-${id}`;
    await withStopped(['loki'], async () => {
      const before = await retriesSoFar();
      await send('acme', svc, ['during outage']);
      await waitFor(retriesSoFar, (n) => n > before, 30_000, 'a retried push while Loki is down');
    });
    const r = await waitFor(() => query('acme', `{service_name="${svc}"}`), (x) => x.length > 0, 90_000, 'the line sent during the outage');
    expect(r[0]!.values[0]![1]).toBe('during outage');
    expect((await metrics.sinkRequests.get()).values.find((v) => v.labels.outcome === 'retry')?.value ?? 0).toBeGreaterThan(0);
  });

  it('sends lines Loki refuses for good to the DLQ with its message', async () => {
    const svc = `old-${id}`;
    // Older than Loki accepts for a stream that already has newer entries is fine out of order;
    // a timestamp far in the future is refused with 400.
    await send('acme', svc, ['from the future'], (BigInt(Date.now()) + 10n * 24n * 3600_000n) * 1_000_000n);
    const dead = await waitFor(() => readTopic(kafka, `${cfg.REDPANDA_TOPIC}-dlq`), (r) => r.length >= 1, 60_000, 'a DLQ record');
    expect(dead[0]!.headers).toMatchObject({ 'error-code': 'BACKEND_REJECTED', 'tenant-id': 'acme' });
    expect(dead[0]!.headers['error-message']).toMatch(/HTTP 400/);
  });
});
