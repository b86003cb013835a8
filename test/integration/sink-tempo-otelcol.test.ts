import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Config } from '../../src/config/schema.js';
import { Ingester } from '../../src/ingester/ingester.js';
import { createKafka } from '../../src/kafka/client.js';
import type { Pipeline } from '../../src/kafka/consumer-pipeline.js';
import { ExportTraceServiceRequest } from '../../src/otlp/codec.js';
import { HotPathPipeline } from '../../src/sinks/hot-path-pipeline.js';
import { TempoSink } from '../../src/sinks/tempo/sink.js';
import { createLogger } from '../../src/telemetry/logger.js';
import { createMetrics } from '../../src/telemetry/metrics.js';
import { freePort } from '../chaos/processes.js';
import { startCollector, type Collector } from '../helpers/otelcol.js';
import { runId, testConfig, waitFor } from '../helpers/stack.js';

const logger = createLogger(process.env.TEST_LOG_LEVEL ?? 'warn', 'it');
const ORG_ID_ATTRIBUTE = 'received.x_scope_orgid';

type Obj = Record<string, unknown>;
interface FlatSpan {
  resource: Obj;
  resourceSchemaUrl: unknown;
  scope: unknown;
  scopeSchemaUrl: unknown;
  span: Obj;
}

/** Every span of a request with what it sits under, keyed by span id. */
function flatten(req: Obj): Map<string, FlatSpan> {
  const out = new Map<string, FlatSpan>();
  for (const rs of (req.resourceSpans ?? []) as Obj[]) {
    for (const ss of (rs.scopeSpans ?? []) as Obj[]) {
      for (const span of (ss.spans ?? []) as Obj[]) {
        out.set(String(span.spanId), { resource: (rs.resource ?? {}) as Obj, resourceSchemaUrl: rs.schemaUrl, scope: ss.scope, scopeSchemaUrl: ss.schemaUrl, span });
      }
    }
  }
  return out;
}

/**
 * Drops empty strings and empty bytes: proto3's defaults, which mean "unset" whether or not a
 * writer puts them on the wire (the Collector writes an empty parent_span_id for a root span).
 */
function withoutDefaults(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(withoutDefaults);
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).filter(([, x]) => x !== '').map(([k, x]) => [k, withoutDefaults(x)]));
  return v;
}

const decoded = (bytes: Uint8Array): Obj =>
  withoutDefaults(ExportTraceServiceRequest.toObject(ExportTraceServiceRequest.decode(bytes), { longs: String, bytes: String })) as Obj;

/** A trace request that sets every field of the OTLP trace data model, its span ids made from `tag`. */
function fullTrace(tag: number): Uint8Array {
  const id = (n: number, len: number) => Buffer.alloc(len, tag * 16 + n);
  const kv = (key: string, value: Obj) => ({ key, value });
  return ExportTraceServiceRequest.encode(ExportTraceServiceRequest.fromObject({
    resourceSpans: [{
      resource: { attributes: [kv('service.name', { stringValue: `svc-${tag}` }), kv('host.name', { stringValue: 'node-1' })], droppedAttributesCount: 2 },
      schemaUrl: 'https://opentelemetry.io/schemas/1.26.0',
      scopeSpans: [{
        scope: { name: 'io.example.http', version: '1.2.3', attributes: [kv('lib.feature', { stringValue: 'on' })], droppedAttributesCount: 1 },
        schemaUrl: 'https://opentelemetry.io/schemas/1.21.0',
        spans: [1, 2].map((n) => ({
          traceId: id(0, 16),
          spanId: id(n, 8),
          traceState: 'vendor=1,other=ünï',
          parentSpanId: n === 2 ? id(1, 8) : undefined,
          flags: 0x301,
          name: `GET /checkout/${n}`,
          kind: n === 1 ? 2 : 3,
          startTimeUnixNano: '1764000000123456789',
          endTimeUnixNano: '1764000000987654321',
          attributes: [
            kv('http.request.method', { stringValue: 'GET' }),
            kv('http.response.status_code', { intValue: '502' }),
            kv('ratio', { doubleValue: 0.25 }),
            kv('ok', { boolValue: false }),
            kv('raw', { bytesValue: Buffer.from([0, 255]) }),
            kv('list', { arrayValue: { values: [{ stringValue: 'a' }, { intValue: '9007199254740993' }] } }),
            kv('map', { kvlistValue: { values: [kv('k', { stringValue: 'v' })] } }),
          ],
          droppedAttributesCount: 3,
          events: [{ timeUnixNano: '1764000000500000000', name: 'exception', attributes: [kv('exception.message', { stringValue: 'boom 🚀' })], droppedAttributesCount: 1 }],
          droppedEventsCount: 4,
          links: [{ traceId: id(9, 16), spanId: id(9, 8), traceState: 'l=1', attributes: [kv('link.kind', { stringValue: 'follows' })], droppedAttributesCount: 2, flags: 0x101 }],
          droppedLinksCount: 5,
          status: { message: 'upstream failed', code: 2 },
        })),
      }],
    }],
  })).finish();
}

describe('Tempo sink against the Collector’s OTLP receiver (stack/otelcol/tempo-receiver.yaml)', () => {
  const id = runId();
  let cfg: Config;
  let ingester: Ingester;
  let pipeline: Pipeline;
  let collector: Collector;
  let capture: Server;
  const received: Obj[] = [];

  beforeAll(async () => {
    const capturePort = await freePort();
    capture = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        received.push(decoded(Buffer.concat(chunks)));
        res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
      });
    });
    await new Promise<void>((r) => capture.listen(capturePort, '127.0.0.1', r));
    const otlpPort = await freePort();
    collector = await startCollector('tempo-receiver.yaml', { OTLP_HTTP_ENDPOINT: `127.0.0.1:${otlpPort}`, CAPTURE_URL: `http://127.0.0.1:${capturePort}` }, otlpPort);

    cfg = testConfig(id, { REDPANDA_TRACES_TOPIC: `it-traces-${id}`, SINK_GROUP_PREFIX: `it-${id}`, SINK_RETRY_MAX_MS: '500' });
    ingester = new Ingester(cfg, logger);
    await ingester.start();
    const kafka = createKafka(cfg.REDPANDA_BROKERS, 'it-tempo-otelcol', logger);
    pipeline = new HotPathPipeline(cfg, kafka, cfg.REDPANDA_TRACES_TOPIC, ['traces'], new TempoSink(`http://127.0.0.1:${otlpPort}/v1/traces`), createMetrics(), logger);
    await pipeline.start();
  });

  afterAll(async () => {
    await pipeline?.stop();
    await ingester?.stop();
    await collector?.stop();
    await new Promise((r) => capture?.close(r));
  });

  it('every span arrives intact, field by field, under its tenant’s org id', async () => {
    const sent = new Map<string, [string, Uint8Array]>([['acme', fullTrace(1)], ['beta', fullTrace(2)]].map(([t, b]) => [t as string, [t as string, b as Uint8Array]]));
    for (const [tenant, body] of sent.values()) {
      const res = await fetch(`http://127.0.0.1:${ingester.http.boundPort}/v1/traces`, { method: 'POST', headers: { 'content-type': 'application/x-protobuf', authorization: `Bearer ${tenant}-token` }, body });
      expect(res.status).toBe(200);
    }
    const spans = () => received.flatMap((r) => [...flatten(r).values()]);
    await waitFor(async () => spans().length, (n) => n >= 4, 60_000, 'four spans at the Collector');
    expect(spans()).toHaveLength(4);
    for (const [tenant, body] of sent.values()) {
      for (const [spanId, want] of flatten(decoded(body))) {
        const got = spans().find((s) => s.span.spanId === spanId);
        expect(got, `span ${spanId} of ${tenant}`).toBeDefined();
        // the org id the receiver saw, then the span without it
        const attrs = got!.resource.attributes as { key: string; value: { stringValue?: string } }[];
        expect(attrs.find((a) => a.key === ORG_ID_ATTRIBUTE)?.value.stringValue, 'X-Scope-OrgID').toBe(tenant);
        const resource = { ...got!.resource, attributes: attrs.filter((a) => a.key !== ORG_ID_ATTRIBUTE) };
        expect({ ...got!, resource }).toEqual(want);
      }
    }
  });
});
