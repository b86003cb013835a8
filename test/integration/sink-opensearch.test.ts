import type { Kafka } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Config } from '../../src/config/schema.js';
import { Ingester } from '../../src/ingester/ingester.js';
import { createKafka } from '../../src/kafka/client.js';
import { encodeLogsRequest } from '../../src/otlp/codec.js';
import type { Pipeline } from '../../src/kafka/consumer-pipeline.js';
import { HotPathPipeline } from '../../src/sinks/hot-path-pipeline.js';
import { OpenSearchSink, searchField } from '../../src/sinks/opensearch/sink.js';
import { createLogger } from '../../src/telemetry/logger.js';
import { createMetrics } from '../../src/telemetry/metrics.js';
import { LOG_COLUMNS } from '../../src/schema/logs.js';
import { readTopic } from '../helpers/kafka.js';
import { kv } from '../helpers/otlp.js';
import { runId, stackEnv, testConfig, waitFor, stack, withStopped } from '../helpers/stack.js';

const logger = createLogger(process.env.TEST_LOG_LEVEL ?? 'warn', 'it');

describe('OpenSearch sink against a real OpenSearch node', () => {
  const id = runId();
  let cfg: Config;
  let ingester: Ingester;
  let pipeline: Pipeline;
  let kafka: Kafka;
  let base: string;
  const metrics = createMetrics();
  const retriesSoFar = async () => (await metrics.sinkRequests.get()).values.find((v) => v.labels.outcome === 'retry')?.value ?? 0;
  const os = () => stackEnv().OPENSEARCH_URL!;
  // Tenant ids are per run, so the per-tenant indices are too.
  const acme = `acme-${id}`;
  const beta = `beta-${id}`;

  async function search(index: string, q: string): Promise<{ status: number; hits: Record<string, unknown>[] }> {
    const res = await fetch(`${os()}/${index}/_search?q=${encodeURIComponent(q)}&size=100`);
    if (res.status !== 200) return { status: res.status, hits: [] };
    const body = (await res.json()) as { hits: { hits: { _source: Record<string, unknown> }[] } };
    return { status: 200, hits: body.hits.hits.map((h) => h._source) };
  }

  async function send(tenant: string, lines: string[]): Promise<void> {
    const now = BigInt(Date.now()) * 1_000_000n;
    const req = { resourceLogs: [{ resource: { attributes: [kv('service.name', 'checkout')] }, scopeLogs: [{ logRecords: lines.map((l, i) => ({ timeUnixNano: (now + BigInt(i)).toString(), severityNumber: 9, body: { stringValue: l }, attributes: [kv('http.route', '/pay')] })) }] }] };
    const res = await fetch(`${base}/v1/logs`, { method: 'POST', headers: { 'content-type': 'application/x-protobuf', authorization: `Bearer ${tenant}-token` }, body: Buffer.from(encodeLogsRequest(req as never)) });
    expect(res.status).toBe(200);
  }

  beforeAll(async () => {
    stackEnv();
    cfg = testConfig(id, { SINK_GROUP_PREFIX: `it-${id}`, SINK_RETRY_MAX_MS: '1000', TENANT_TOKENS: `${acme}=${acme}-token,${beta}=${beta}-token` });
    ingester = new Ingester(cfg, logger);
    await ingester.start();
    base = `http://127.0.0.1:${ingester.http.boundPort}`;
    kafka = createKafka(cfg.REDPANDA_BROKERS, 'it-os', logger);
    pipeline = new HotPathPipeline(cfg, kafka, cfg.REDPANDA_TOPIC, ['logs'], new OpenSearchSink(os(), cfg.REDPANDA_TOPIC), metrics, logger);
    await pipeline.start();
  });

  afterAll(async () => {
    stack('up', 'opensearch');
    await pipeline?.stop();
    await ingester?.stop();
  });

  it('indexes each tenant\'s logs into its own index with the explicit mapping', async () => {
    await send(acme, ['payment accepted', 'payment refused']);
    await send(beta, ['beta line']);
    const hits = await waitFor(() => search(`logs-tenant-${acme}`, 'body:payment'), (r) => r.hits.length === 2, 60_000, 'acme documents');
    expect(hits.hits[0]).toMatchObject({ tenant_id: acme, service_name: 'checkout', severity: 'INFO', attributes: { 'http.route': '/pay' } });
    expect((await search(`logs-tenant-${acme}`, 'body:beta')).hits).toEqual([]);
    await waitFor(() => search(`logs-tenant-${beta}`, 'body:beta'), (r) => r.hits.length === 1, 60_000, 'beta document');
    const mapping = (await (await fetch(`${os()}/logs-tenant-${acme}/_mapping`)).json()) as Record<string, { mappings: { properties: Record<string, { type: string }> } }>;
    const props = mapping[`logs-tenant-${acme}`]!.mappings.properties;
    expect([props['@timestamp']!.type, props.body!.type, props.trace_id!.type, props.attributes!.type]).toEqual(['date_nanos', 'text', 'keyword', 'flat_object']);
    // Found by an attribute value through the flat_object field.
    expect((await search(`logs-tenant-${acme}`, 'attributes.http.route:"/pay"')).hits.length).toBe(2);
  });

  it('retries while OpenSearch is down and catches up when it is back, without duplicates', async () => {
    await withStopped(['opensearch'], async () => {
      const before = await retriesSoFar();
      await send(acme, ['during outage']);
      await waitFor(retriesSoFar, (n) => n > before, 30_000, 'a retried bulk while OpenSearch is down');
    });
    await waitFor(() => search(`logs-tenant-${acme}`, 'body:outage'), (r) => r.hits.length >= 1, 120_000, 'the document sent during the outage');
    await fetch(`${os()}/logs-tenant-${acme}/_refresh`, { method: 'POST' });
    expect((await search(`logs-tenant-${acme}`, 'body:outage')).hits.length).toBe(1);
  });

  it('adds the new fields to an index made by an earlier version, and indexes every field into it', async () => {
    // the index as versions before event_name, scope attributes and the other lossless fields made it
    const tenant = `old-${id}`;
    const earlier = { dynamic: 'strict', properties: Object.fromEntries(LOG_COLUMNS.filter((c) => !('since' in c)).map((c) => [searchField(c), { type: c.search.type }])) };
    const made = await fetch(`${os()}/logs-tenant-${tenant}`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ mappings: earlier }) });
    expect(made.status).toBe(200);
    const other = new Ingester({ ...cfg, TENANT_TOKENS: `${cfg.TENANT_TOKENS},${tenant}=${tenant}-token` }, logger);
    await other.start();
    try {
      const now = BigInt(Date.now()) * 1_000_000n;
      const req = {
        resourceLogs: [{
          resource: { attributes: [kv('service.name', 'cart')], droppedAttributesCount: 1 },
          schemaUrl: 'https://opentelemetry.io/schemas/1.26.0',
          scopeLogs: [{
            scope: { name: 'io.example.cart', version: '2.1.0', attributes: [kv('lib.feature', 'on')] },
            schemaUrl: 'https://opentelemetry.io/schemas/1.21.0',
            logRecords: [{ timeUnixNano: now.toString(), eventName: 'cart.emptied', flags: 1, droppedAttributesCount: 2, body: { kvlistValue: { values: [kv('items', { intValue: 0 })] } } }],
          }],
        }],
      };
      const res = await fetch(`http://127.0.0.1:${other.http.boundPort}/v1/logs`, { method: 'POST', headers: { 'content-type': 'application/x-protobuf', authorization: `Bearer ${tenant}-token` }, body: Buffer.from(encodeLogsRequest(req as never)) });
      expect(res.status).toBe(200);
    } finally {
      await other.stop();
    }
    const found = await waitFor(() => search(`logs-tenant-${tenant}`, 'event_name:"cart.emptied"'), (r) => r.hits.length === 1, 60_000, 'the document in the earlier index');
    expect(found.hits[0]).toMatchObject({
      event_name: 'cart.emptied', body: '{"items":0}', body_type: 'kvlist', trace_flags: 1, dropped_attributes_count: 2,
      scope_attributes: { 'lib.feature': 'on' }, scope_schema_url: 'https://opentelemetry.io/schemas/1.21.0',
      resource_schema_url: 'https://opentelemetry.io/schemas/1.26.0', resource_dropped_attributes_count: 1,
    });
    const mapping = (await (await fetch(`${os()}/logs-tenant-${tenant}/_mapping`)).json()) as Record<string, { mappings: { properties: Record<string, { type: string }> } }>;
    const props = mapping[`logs-tenant-${tenant}`]!.mappings.properties;
    for (const c of LOG_COLUMNS) expect(props[searchField(c)]?.type, c.name).toBe(c.search.type);
    // found by a scope attribute too
    expect((await search(`logs-tenant-${tenant}`, 'scope_attributes.lib.feature:on')).hits.length).toBe(1);
  });

  it('sends documents OpenSearch refuses to the DLQ with its reason', async () => {
    // An index made by hand with a mapping the documents do not fit: the field cannot be changed
    // to the sink's mapping, and every document would be refused (400).
    const bad = `bad-${id}`;
    const tokens = `${cfg.TENANT_TOKENS},${bad}=${bad}-token`;
    await fetch(`${os()}/logs-tenant-${bad}`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ mappings: { dynamic: 'strict', properties: { body: { type: 'integer' } } } }) });
    const other = new Ingester({ ...cfg, TENANT_TOKENS: tokens }, logger);
    await other.start();
    try {
      const res = await fetch(`http://127.0.0.1:${other.http.boundPort}/v1/logs`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${bad}-token` }, body: JSON.stringify({ resourceLogs: [{ scopeLogs: [{ logRecords: [{ body: { stringValue: 'not a number' } }] }] }] }) });
      expect(res.status).toBe(200);
    } finally {
      await other.stop();
    }
    const dead = await waitFor(() => readTopic(kafka, `${cfg.REDPANDA_TOPIC}-dlq`), (r) => r.length >= 1, 60_000, 'a DLQ record');
    expect(dead[0]!.headers).toMatchObject({ 'error-code': 'BACKEND_REJECTED', 'tenant-id': bad });
    expect(dead[0]!.headers['error-message']).toMatch(/mapper \[body\] cannot be changed from type \[integer\] to \[text\]/);
  });
});
