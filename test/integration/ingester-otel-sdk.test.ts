import { Metadata } from '@grpc/grpc-js';
import { SeverityNumber } from '@opentelemetry/api-logs';
import { OTLPLogExporter as LogsGrpc } from '@opentelemetry/exporter-logs-otlp-grpc';
import { OTLPLogExporter as LogsJson } from '@opentelemetry/exporter-logs-otlp-http';
import { OTLPLogExporter as LogsProto } from '@opentelemetry/exporter-logs-otlp-proto';
import { OTLPMetricExporter as MetricsGrpc } from '@opentelemetry/exporter-metrics-otlp-grpc';
import { OTLPMetricExporter as MetricsJson } from '@opentelemetry/exporter-metrics-otlp-http';
import { OTLPMetricExporter as MetricsProto } from '@opentelemetry/exporter-metrics-otlp-proto';
import { OTLPTraceExporter as TracesGrpc } from '@opentelemetry/exporter-trace-otlp-grpc';
import { OTLPTraceExporter as TracesJson } from '@opentelemetry/exporter-trace-otlp-http';
import { OTLPTraceExporter as TracesProto } from '@opentelemetry/exporter-trace-otlp-proto';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { LoggerProvider, SimpleLogRecordProcessor } from '@opentelemetry/sdk-logs';
import { MeterProvider, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import { BasicTracerProvider, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import type { Kafka } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Config } from '../../src/config/schema.js';
import { Ingester } from '../../src/ingester/ingester.js';
import { createKafka } from '../../src/kafka/client.js';
import { SIGNALS, leaves, type OtlpSignal } from '../../src/otlp/signals.js';
import { anyValueToString } from '../../src/otlp/logs-mapping.js';
import { createLogger } from '../../src/telemetry/logger.js';
import { readTopic, type ReadRecord } from '../helpers/kafka.js';
import { runId, testConfig } from '../helpers/stack.js';

type Transport = 'proto' | 'json' | 'grpc';
const TRANSPORTS: Transport[] = ['proto', 'json', 'grpc'];
const logger = createLogger(process.env.TEST_LOG_LEVEL ?? 'warn', 'it');

function decode(signal: OtlpSignal, r: ReadRecord): Record<string, unknown> {
  return SIGNALS[signal].request.toObject(SIGNALS[signal].request.decode(r.value), { longs: String, bytes: String }) as Record<string, unknown>;
}

describe('ingester with the OpenTelemetry JS SDK exporters (OTLP/HTTP protobuf, OTLP/HTTP JSON, OTLP/gRPC)', () => {
  const id = runId();
  let cfg: Config;
  let ingester: Ingester;
  let kafka: Kafka;
  let http: string;
  let grpc: string;

  beforeAll(async () => {
    cfg = testConfig(id, { REDPANDA_TRACES_TOPIC: `it-traces-${id}`, REDPANDA_METRICS_TOPIC: `it-metrics-${id}` });
    ingester = new Ingester(cfg, logger);
    await ingester.start();
    kafka = createKafka(cfg.REDPANDA_BROKERS, 'it-reader', logger);
    http = `http://127.0.0.1:${ingester.http.boundPort}`;
    grpc = `http://127.0.0.1:${ingester.grpc.boundPort}`;
  });

  afterAll(async () => {
    await ingester?.stop();
  });

  function grpcMetadata(tenant: string): Metadata {
    const m = new Metadata();
    m.set('authorization', `Bearer ${tenant}-token`);
    return m;
  }

  const resource = (transport: Transport) => resourceFromAttributes({ 'service.name': `sdk-${transport}`, 'deployment.environment.name': 'it' });

  it('receives logs from every exporter, intact and attributed to the token tenant', async () => {
    for (const [i, transport] of TRANSPORTS.entries()) {
      const tenant = i % 2 === 0 ? 'acme' : 'beta';
      const headers = { Authorization: `Bearer ${tenant}-token` };
      const exporter =
        transport === 'proto' ? new LogsProto({ url: `${http}/v1/logs`, headers })
        : transport === 'json' ? new LogsJson({ url: `${http}/v1/logs`, headers })
        : new LogsGrpc({ url: grpc, metadata: grpcMetadata(tenant), compression: 'gzip' as never });
      const provider = new LoggerProvider({ resource: resource(transport), processors: [new SimpleLogRecordProcessor({ exporter })] });
      const log = provider.getLogger('it-logger', '1.2.3');
      for (let n = 0; n < 3; n++) {
        log.emit({ severityNumber: SeverityNumber.WARN, severityText: 'WARN', body: `hello ${transport} ${n}`, attributes: { n, transport, ok: true } });
      }
      await provider.forceFlush();
      await provider.shutdown();
    }
    const records = await readTopic(kafka, cfg.REDPANDA_TOPIC);
    const seen = new Map<string, { tenant: string; key: string; severity: number; attrs: Record<string, string> }>();
    for (const r of records) {
      expect(r.headers).toMatchObject({ signal: 'logs', 'content-schema': 'otlp-proto-1' });
      expect(r.key).toBe(r.headers['tenant-id']);
      const msg = decode('logs', r);
      for (const leaf of leaves(SIGNALS.logs, msg)) {
        const rec = leaf.item as { body: { stringValue: string }; severityNumber: number; attributes: { key: string; value: never }[] };
        seen.set(rec.body.stringValue, {
          tenant: r.headers['tenant-id']!,
          key: r.key,
          severity: rec.severityNumber,
          attrs: Object.fromEntries(rec.attributes.map((a) => [a.key, anyValueToString(a.value) ?? ''])),
        });
      }
    }
    for (const [i, transport] of TRANSPORTS.entries()) {
      for (let n = 0; n < 3; n++) {
        const got = seen.get(`hello ${transport} ${n}`);
        expect(got, `${transport} ${n}`).toBeDefined();
        expect(got!.tenant).toBe(i % 2 === 0 ? 'acme' : 'beta');
        expect(got!.severity).toBe(SeverityNumber.WARN);
        expect(got!.attrs).toEqual({ n: String(n), transport, ok: 'true' });
      }
    }
    expect(seen.size).toBe(9);
  });

  it('receives spans from every exporter, with their ids, names and parent links', async () => {
    const sent = new Map<string, { traceId: string; spanId: string; tenant: string }>();
    for (const [i, transport] of TRANSPORTS.entries()) {
      const tenant = i % 2 === 0 ? 'acme' : 'beta';
      const headers = { Authorization: `Bearer ${tenant}-token` };
      const exporter =
        transport === 'proto' ? new TracesProto({ url: `${http}/v1/traces`, headers })
        : transport === 'json' ? new TracesJson({ url: `${http}/v1/traces`, headers })
        : new TracesGrpc({ url: grpc, metadata: grpcMetadata(tenant), compression: 'gzip' as never });
      const provider = new BasicTracerProvider({ resource: resource(transport), spanProcessors: [new SimpleSpanProcessor(exporter)] });
      const tracer = provider.getTracer('it-tracer');
      const span = tracer.startSpan(`op-${transport}`, { attributes: { 'http.route': '/x' } });
      const ctx = span.spanContext();
      sent.set(`op-${transport}`, { traceId: ctx.traceId, spanId: ctx.spanId, tenant });
      span.end();
      await provider.forceFlush();
      await provider.shutdown();
    }
    const records = await readTopic(kafka, cfg.REDPANDA_TRACES_TOPIC);
    const got = new Map<string, { traceId: string; spanId: string; tenant: string }>();
    for (const r of records) {
      expect(r.headers.signal).toBe('traces');
      for (const leaf of leaves(SIGNALS.traces, decode('traces', r))) {
        const s = leaf.item as { name: string; traceId: string; spanId: string };
        got.set(s.name, {
          traceId: Buffer.from(s.traceId, 'base64').toString('hex'),
          spanId: Buffer.from(s.spanId, 'base64').toString('hex'),
          tenant: r.headers['tenant-id']!,
        });
      }
    }
    expect(got).toEqual(sent);
  });

  it('receives metrics from every exporter, with their data points', async () => {
    for (const [i, transport] of TRANSPORTS.entries()) {
      const tenant = i % 2 === 0 ? 'acme' : 'beta';
      const headers = { Authorization: `Bearer ${tenant}-token` };
      const exporter =
        transport === 'proto' ? new MetricsProto({ url: `${http}/v1/metrics`, headers })
        : transport === 'json' ? new MetricsJson({ url: `${http}/v1/metrics`, headers })
        : new MetricsGrpc({ url: grpc, metadata: grpcMetadata(tenant), compression: 'gzip' as never });
      const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 3_600_000 });
      const provider = new MeterProvider({ resource: resource(transport), readers: [reader] });
      const meter = provider.getMeter('it-meter');
      meter.createCounter(`requests_${transport}`).add(5 + i, { route: '/a' });
      meter.createHistogram(`latency_${transport}`, { unit: 'ms' }).record(12.5);
      await reader.forceFlush();
      await provider.shutdown();
    }
    const records = await readTopic(kafka, cfg.REDPANDA_METRICS_TOPIC);
    const byName = new Map<string, { tenant: string; metric: Record<string, unknown> }>();
    for (const r of records) {
      expect(r.headers.signal).toBe('metrics');
      for (const leaf of leaves(SIGNALS.metrics, decode('metrics', r))) {
        byName.set(leaf.item.name as string, { tenant: r.headers['tenant-id']!, metric: leaf.item });
      }
    }
    for (const [i, transport] of TRANSPORTS.entries()) {
      const counter = byName.get(`requests_${transport}`);
      expect(counter, transport).toBeDefined();
      expect(counter!.tenant).toBe(i % 2 === 0 ? 'acme' : 'beta');
      const points = (counter!.metric.sum as { dataPoints: { asDouble?: number; asInt?: string }[]; isMonotonic: boolean }).dataPoints;
      expect(Number(points[0]!.asDouble ?? points[0]!.asInt)).toBe(5 + i);
      const hist = byName.get(`latency_${transport}`)!.metric.histogram as { dataPoints: { count: string; sum: number }[] };
      expect(hist.dataPoints[0]).toMatchObject({ count: '1', sum: 12.5 });
    }
  });
});
