import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SeverityNumber } from '@opentelemetry/api-logs';
import { OTLPLogExporter } from '@opentelemetry/exporter-logs-otlp-proto';
import { OTLPMetricExporter } from '@opentelemetry/exporter-metrics-otlp-proto';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BatchLogRecordProcessor, LoggerProvider } from '@opentelemetry/sdk-logs';
import { MeterProvider, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Config } from '../../src/config/schema.js';
import { Ingester } from '../../src/ingester/ingester.js';
import { createKafka } from '../../src/kafka/client.js';
import type { Pipeline } from '../../src/kafka/consumer-pipeline.js';
import { LakePipeline } from '../../src/lake/lake-pipeline.js';
import { runQuery } from '../../src/query/query.js';
import { HotPathPipeline } from '../../src/sinks/hot-path-pipeline.js';
import { LokiSink } from '../../src/sinks/loki/sink.js';
import { OpenSearchSink } from '../../src/sinks/opensearch/sink.js';
import { PrometheusSink } from '../../src/sinks/prometheus/sink.js';
import { createLogger } from '../../src/telemetry/logger.js';
import { createMetrics } from '../../src/telemetry/metrics.js';
import { freePort } from '../chaos/processes.js';
import { startCollector, type Collector } from '../helpers/otelcol.js';
import { runId, stackEnv, testConfig, waitFor, withStopped } from '../helpers/stack.js';

const logger = createLogger(process.env.TEST_LOG_LEVEL ?? 'warn', 'it');

describe('the OpenTelemetry Collector as the sender (stack/otelcol/sender.yaml)', () => {
  const id = runId();
  // tenant ids per run: Loki and OpenSearch keep their data between runs
  const tenantA = `files-${id}`;
  const tenantB = `sdk-${id}`;
  let cfg: Config;
  let ingester: Ingester;
  const pipelines: Pipeline[] = [];
  let collector: Collector;
  let dir: string;
  let logFile: string;
  let otlpHttp: string;
  const metrics = createMetrics();
  const env = stackEnv();

  /** An ingester's answers of one outcome so far (accepted, overloaded = 429, unavailable = 503, …). */
  const answers = async (i: Ingester, outcome: string) =>
    (await i.metrics.ingesterRequests.get()).values.filter((v) => v.labels.outcome === outcome).reduce((n, v) => n + v.value, 0);

  /** Rows of a tenant in the lake: count and distinct bodies. */
  async function lake(tenant: string): Promise<{ rows: number; distinct: number }> {
    const r = await runQuery(cfg, `SELECT count(*), count(DISTINCT body) FROM logs WHERE tenant_id = '${tenant}'`);
    return { rows: Number(r.rows[0]![0]), distinct: Number(r.rows[0]![1]) };
  }

  /** The variables of sender.yaml: files of `logDir` and the SDK's OTLP on the given ports, sent to `to`. */
  const senderEnv = (to: Ingester, logDir: string, grpcPort: number, httpPort: number) => ({
    LOG_FILES: join(logDir, '*.log'),
    INGESTER_HTTP_URL: `http://127.0.0.1:${to.http.boundPort}`,
    INGESTER_GRPC_ENDPOINT: `127.0.0.1:${to.grpc.boundPort}`,
    TENANT_A_TOKEN: `${tenantA}-token`,
    TENANT_B_TOKEN: `${tenantB}-token`,
    OTLP_GRPC_ENDPOINT: `127.0.0.1:${grpcPort}`,
    OTLP_HTTP_ENDPOINT: `127.0.0.1:${httpPort}`,
  });

  async function sdkLogs(from: number, count: number): Promise<void> {
    const provider = new LoggerProvider({
      resource: resourceFromAttributes({ 'service.name': 'checkout', 'deployment.environment.name': 'it' }),
      // batched: the SDK exporter drops what exceeds its 30 concurrent exports
      processors: [new BatchLogRecordProcessor({ exporter: new OTLPLogExporter({ url: `${otlpHttp}/v1/logs` }), maxExportBatchSize: 100, scheduledDelayMillis: 100 })],
    });
    const log = provider.getLogger('it-sdk', '1.0.0');
    for (let n = from; n < from + count; n++) log.emit({ severityNumber: SeverityNumber.INFO, body: `sdk record ${n} ${id}`, attributes: { n } });
    await provider.forceFlush();
    await provider.shutdown();
  }

  function fileLines(from: number, count: number): void {
    appendFileSync(logFile, Array.from({ length: count }, (_, i) => `file line ${from + i} ${id}\n`).join(''));
  }

  beforeAll(async () => {
    cfg = testConfig(id, {
      TENANT_TOKENS: `${tenantA}=${tenantA}-token,${tenantB}=${tenantB}-token`,
      SINK_GROUP_PREFIX: `it-${id}`,
      SINK_RETRY_MAX_MS: '1000',
      REDPANDA_METRICS_TOPIC: `it-metrics-${id}`,
    });
    ingester = new Ingester(cfg, logger);
    await ingester.start();
    const kafka = createKafka(cfg.REDPANDA_BROKERS, 'it-otelcol', logger);
    pipelines.push(
      new LakePipeline(cfg, kafka, logger),
      new HotPathPipeline(cfg, kafka, cfg.REDPANDA_TOPIC, ['logs'], new LokiSink(env.LOKI_PUSH_URL!), metrics, logger),
      new HotPathPipeline(cfg, kafka, cfg.REDPANDA_TOPIC, ['logs'], new OpenSearchSink(env.OPENSEARCH_URL!, cfg.REDPANDA_TOPIC), metrics, logger),
      new HotPathPipeline(cfg, kafka, cfg.REDPANDA_METRICS_TOPIC, ['metrics', 'prom-rw'], new PrometheusSink(env.PROMETHEUS_REMOTE_WRITE_URL!, metrics), metrics, logger),
    );
    for (const p of pipelines) await p.start();

    dir = mkdtempSync(join(tmpdir(), 'otelcol-'));
    logFile = join(dir, 'app.log');
    writeFileSync(logFile, '');
    const [grpcPort, httpPort] = [await freePort(), await freePort()];
    otlpHttp = `http://127.0.0.1:${httpPort}`;
    collector = await startCollector('sender.yaml', senderEnv(ingester, dir, grpcPort, httpPort), httpPort);
  });

  afterAll(async () => {
    await collector?.stop();
    for (const p of pipelines.reverse()) await p.stop();
    await ingester?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('tails a file and takes OTLP from an SDK, and every line lands once under its tenant in Iceberg, Loki and OpenSearch', { timeout: 300_000 }, async () => {
    fileLines(0, 300);
    await sdkLogs(0, 200);
    await waitFor(async () => [await lake(tenantA), await lake(tenantB)] as const, ([a, b]) => a.rows >= 300 && b.rows >= 200, 90_000, 'the lines in the lake');
    await new Promise((r) => setTimeout(r, 2000)); // a late duplicate would show here
    expect(await lake(tenantA)).toEqual({ rows: 300, distinct: 300 });
    expect(await lake(tenantB)).toEqual({ rows: 200, distinct: 200 });
    // the file's lines as the file_log receiver made them, the SDK's with their resource and scope
    const sample = await runQuery(cfg, `SELECT body, service_name, scope_name, attributes['n'] FROM logs WHERE tenant_id = '${tenantB}' AND body = 'sdk record 7 ${id}'`);
    expect(sample.rows).toEqual([[`sdk record 7 ${id}`, 'checkout', 'it-sdk', '7']]);
    const fileRow = await runQuery(cfg, `SELECT attributes['log.file.name'] FROM logs WHERE tenant_id = '${tenantA}' AND body = 'file line 0 ${id}'`);
    expect(fileRow.rows).toEqual([['app.log']]);
    // both transports were used: OTLP/HTTP for the file's tenant, OTLP/gRPC for the SDK's
    const byTransport = (await ingester.metrics.ingesterRequests.get()).values.filter((v) => v.labels.outcome === 'accepted' && v.labels.signal === 'logs');
    expect(byTransport.filter((v) => v.labels.tenant === tenantA).map((v) => v.labels.transport)).toEqual(['http']);
    expect(byTransport.filter((v) => v.labels.tenant === tenantB).map((v) => v.labels.transport)).toEqual(['grpc']);

    const loki = async (tenant: string) => {
      const now = Date.now();
      const q = `${env.LOKI_URL}/loki/api/v1/query_range?query=${encodeURIComponent('{service_name=~".+"}')}&start=${(now - 3600_000) * 1e6}&end=${(now + 60_000) * 1e6}&limit=5000`;
      const res = await fetch(q, { headers: { 'x-scope-orgid': tenant } });
      const body = (await res.json()) as { data: { result: { values: [string, string][] }[] } };
      return body.data.result.flatMap((s) => s.values.map((v) => v[1]));
    };
    const inLoki = await waitFor(() => loki(tenantA), (l) => l.length >= 300, 60_000, 'the file lines in Loki');
    expect(new Set(inLoki).size).toBe(300);
    expect((await waitFor(() => loki(tenantB), (l) => l.length >= 200, 60_000, 'the SDK records in Loki')).length).toBe(200);
    const count = async (tenant: string) => {
      await fetch(`${env.OPENSEARCH_URL}/logs-tenant-${tenant}/_refresh`, { method: 'POST' });
      const res = await fetch(`${env.OPENSEARCH_URL}/logs-tenant-${tenant}/_count`);
      return res.ok ? ((await res.json()) as { count: number }).count : 0;
    };
    expect(await waitFor(() => count(tenantA), (n) => n >= 300, 60_000, 'the file lines in OpenSearch')).toBe(300);
    expect(await waitFor(() => count(tenantB), (n) => n >= 200, 60_000, 'the SDK records in OpenSearch')).toBe(200);
  });

  it('sends SDK metrics through its prometheus_remote_write exporter, and the series reach Prometheus with the tenant label', async () => {
    const reader = new PeriodicExportingMetricReader({ exporter: new OTLPMetricExporter({ url: `${otlpHttp}/v1/metrics` }), exportIntervalMillis: 3_600_000 });
    const provider = new MeterProvider({ resource: resourceFromAttributes({ 'service.name': 'checkout' }), readers: [reader] });
    provider.getMeter('it-meter').createCounter(`otelcol_orders_${id}`).add(7, { route: '/pay' });
    await reader.forceFlush();
    await provider.shutdown();
    const query = async () => {
      const res = await fetch(`${env.PROMETHEUS_URL}/api/v1/query?query=${encodeURIComponent(`{__name__=~"otelcol_orders_${id}.*"}`)}`);
      return ((await res.json()) as { data: { result: { metric: Record<string, string>; value: [number, string] }[] } }).data.result;
    };
    const series = await waitFor(query, (r) => r.length > 0, 90_000, 'the series in Prometheus');
    expect(series[0]!.metric).toMatchObject({ tenant_id: tenantB, route: '/pay' });
    expect(series[0]!.value[1]).toBe('7');
  });

  it('retries through a broker outage (503): every record it was given lands once', { timeout: 400_000 }, async () => {
    const before503 = await answers(ingester, 'unavailable');
    await withStopped(['kafka'], async () => {
      fileLines(300, 100);
      await sdkLogs(200, 100);
      await waitFor(() => answers(ingester, 'unavailable'), (n) => n >= before503 + 2, 60_000, '503 answers while the broker is down');
    });
    await waitFor(async () => [await lake(tenantA), await lake(tenantB)] as const, ([a, b]) => a.rows >= 400 && b.rows >= 300, 180_000, 'the records sent during the outage');
    await new Promise((r) => setTimeout(r, 3000));
    expect(await lake(tenantA)).toEqual({ rows: 400, distinct: 400 });
    expect(await lake(tenantB)).toEqual({ rows: 300, distinct: 300 });
  });

  it('retries under backpressure (429): every line lands once', { timeout: 300_000 }, async () => {
    // an ingester that takes one request at a time, and a Collector whose queue sends several
    const tight = new Ingester({ ...cfg, MAX_INFLIGHT_REQUESTS: 1 }, logger);
    await tight.start();
    const dir2 = mkdtempSync(join(tmpdir(), 'otelcol-'));
    writeFileSync(join(dir2, 'app.log'), Array.from({ length: 5000 }, (_, i) => `busy line ${i} ${id}\n`).join(''));
    const [grpcPort, httpPort] = [await freePort(), await freePort()];
    const second = await startCollector('sender.yaml', senderEnv(tight, dir2, grpcPort, httpPort), httpPort);
    try {
      await waitFor(() => lake(tenantA), (a) => a.rows >= 400 + 5000, 180_000, 'the busy lines in the lake');
      await new Promise((r) => setTimeout(r, 3000));
      expect(await lake(tenantA)).toEqual({ rows: 5400, distinct: 5400 });
      expect(await answers(tight, 'overloaded'), 'the ingester answered 429 at least once').toBeGreaterThan(0);
    } finally {
      await second.stop();
      await tight.stop();
      rmSync(dir2, { recursive: true, force: true });
    }
  });
});
