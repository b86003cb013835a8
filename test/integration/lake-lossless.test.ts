import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Config } from '../../src/config/schema.js';
import { Ingester } from '../../src/ingester/ingester.js';
import { createKafka } from '../../src/kafka/client.js';
import { LakePipeline } from '../../src/lake/lake-pipeline.js';
import { readdirSync, readFileSync } from 'node:fs';
import { runQuery, type QueryResult } from '../../src/query/query.js';
import { decodeLogsRequest, encodeLogsRequest, ExportLogsServiceRequest, type AnyValue, type KeyValue, type LogsRequest } from '../../src/otlp/codec.js';
import { mapLogsRequest } from '../../src/otlp/logs-mapping.js';
import { LOG_COLUMNS, type LogRow } from '../../src/schema/logs.js';
import { LAKE_LOG_COLUMNS } from '../../src/schema/tables.js';
import { createLogger } from '../../src/telemetry/logger.js';
import { duckdbRows, readWithPyIceberg } from '../engines/pyiceberg.js';
import { kv } from '../helpers/otlp.js';
import { runId, testConfig, waitFor } from '../helpers/stack.js';

// now, to the second, in ns: the example queries look at the last day
const T0 = BigInt(Math.floor(Date.now() / 1000)) * 1_000_000_000n - 3_600_000_000_000n;
const DAY_NS = 86_400_000_000_000n;

/** Attributes that test a map's limits: many keys, empty, long and non-ASCII keys and values, JSON-hostile text. */
function edgeAttributes(prefix: string): KeyValue[] {
  return [
    ...Array.from({ length: 200 }, (_, i) => kv(`${prefix}.k${String(i).padStart(3, '0')}`, `v${i}`)),
    kv('', 'empty key'),
    kv(`${prefix}.empty`, ''),
    kv('x'.repeat(1000), 'y'.repeat(70_000)),
    kv('日本語キー', 'значение ✓ 🚀 e\u0301'),
    kv('quote " backslash \\ ', 'line\nbreak\ttab\r\u0001 \u2028'),
    kv(`${prefix}.int`, { intValue: 502 }),
    kv(`${prefix}.big`, { intValue: '9223372036854775807' }),
    kv(`${prefix}.list`, { arrayValue: { values: [{ stringValue: 'a' }, { doubleValue: 1.5 }] } }),
    { key: `${prefix}.unset` },
  ];
}

/** One record per AnyValue kind of body, and one of each other field, under two scopes of one resource. */
function everyFieldRequest(shiftNs = 0n): LogsRequest {
  const at = (ms: number) => (T0 + shiftNs + BigInt(ms) * 1_000_000n + 123_456n).toString();
  const ids = { traceId: Buffer.from('5b8efff798038103d269b633813fc60c', 'hex'), spanId: Buffer.from('eee19b7ec3c1b174', 'hex') };
  const bodies: (AnyValue | undefined)[] = [
    { stringValue: 'plain body ünï 🚀' },
    { intValue: 42 },
    { intValue: '-9223372036854775808' },
    { doubleValue: 0.5 },
    { doubleValue: Number.NaN },
    { boolValue: true },
    { bytesValue: Buffer.from([0, 1, 2, 255]) },
    { arrayValue: { values: [{ stringValue: 's' }, { intValue: 7 }, {}, { arrayValue: { values: [{ boolValue: false }] } }] } },
    { kvlistValue: { values: [kv('ok', { boolValue: true }), kv('nested', { kvlistValue: { values: [kv('a', 'b')] } }), kv('raw', { bytesValue: Buffer.from('hi') })] } },
  ];
  return {
    resourceLogs: [
      {
        resource: {
          attributes: [kv('service.name', 'checkout'), kv('host.name', 'node-7'), kv('deployment.environment.name', 'prod'), kv('deployment.environment', 'legacy'), ...edgeAttributes('res')],
          droppedAttributesCount: 7,
        },
        schemaUrl: 'https://opentelemetry.io/schemas/1.26.0',
        scopeLogs: [
          {
            scope: { name: 'io.example.cart', version: '2.1.0', attributes: [...edgeAttributes('scope'), kv('otel.library.feature', 'enabled')], droppedAttributesCount: 5 },
            schemaUrl: 'https://opentelemetry.io/schemas/1.21.0',
            logRecords: bodies.map((body, i) => ({
              timeUnixNano: at(i),
              observedTimeUnixNano: at(i + 1000),
              severityNumber: 17,
              severityText: 'Err',
              eventName: i === 0 ? 'checkout.failed' : `event.${i}`,
              body,
              attributes: i === 0 ? edgeAttributes('rec') : [kv('i', { intValue: i })],
              droppedAttributesCount: i === 0 ? 2 : 0,
              flags: i === 0 ? 1 : 0,
              ...ids,
            })),
          },
          {
            // no scope at all, no attributes, unset fields
            logRecords: [
              { observedTimeUnixNano: at(20), severityNumber: 9, flags: 0xffffffff, droppedAttributesCount: 0xffffffff },
              { timeUnixNano: at(21), body: {} },
            ],
          },
        ],
      },
    ],
  } as unknown as LogsRequest;
}

/** A row as both readers are asked to give it: timestamps in µs, maps as their entries in order. */
function canonical(r: LogRow): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const c of LOG_COLUMNS) {
    const v = r[c.field];
    out[c.name] = v === null ? null : c.kind === 'timestamp' ? Number(v) : c.kind === 'map' ? [...(v as Map<string, string>)].map(([key, value]) => ({ key, value })) : v;
  }
  return out;
}

describe('lossless logs: every field of the OTLP log data model lands, and another engine reads it alike', () => {
  const id = runId();
  let cfg: Config;
  let ingester: Ingester;
  let pipeline: LakePipeline;
  const logger = createLogger(process.env.TEST_LOG_LEVEL ?? 'warn', 'it');
  const request = everyFieldRequest();
  const bytes = Buffer.from(encodeLogsRequest(request));
  // the reference mapping (unit-tested field by field) gives what each column must hold
  const want = mapLogsRequest(decodeLogsRequest(bytes), 'acme', 0n).map(canonical).sort((a, b) => (a.timestamp as number) - (b.timestamp as number));

  beforeAll(async () => {
    cfg = testConfig(id);
    ingester = new Ingester(cfg, logger);
    pipeline = new LakePipeline(cfg, createKafka(cfg.REDPANDA_BROKERS, 'it-lossless', logger), logger);
    await ingester.start();
    await pipeline.start();
    const url = `http://127.0.0.1:${ingester.http.boundPort}/v1/logs`;
    const send = async (tenant: string, body: Uint8Array) => {
      const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/x-protobuf', authorization: `Bearer ${tenant}-token` }, body });
      expect(res.status, await res.text()).toBe(200);
    };
    await send('acme', bytes);
    // another tenant, three days later (the partition values), sent as OTLP/JSON: every field
    // must come through the JSON path alike
    const json = ExportLogsServiceRequest.toObject(ExportLogsServiceRequest.decode(encodeLogsRequest(everyFieldRequest(3n * DAY_NS))), { longs: String, bytes: String }) as { resourceLogs: { scopeLogs: { logRecords: Record<string, unknown>[] }[] }[] };
    // OTLP/JSON writes trace and span ids in hex, other bytes in base64, NaN as "NaN"
    for (const rl of json.resourceLogs) for (const sl of rl.scopeLogs) for (const lr of sl.logRecords) {
      for (const k of ['traceId', 'spanId']) if (typeof lr[k] === 'string') lr[k] = Buffer.from(lr[k] as string, 'base64').toString('hex');
    }
    const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', authorization: 'Bearer beta-token' }, body: JSON.stringify(json, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? String(v) : v)) });
    expect(res.status, await res.text()).toBe(200);
    await waitFor(() => runQuery(cfg, 'SELECT count(*) FROM logs'), (r) => Number(r.rows[0]![0]) === want.length * 2, 60_000, `${want.length * 2} rows`);
  });

  afterAll(async () => {
    await ingester?.stop();
    await pipeline?.stop();
  });

  it('reads every column back through DuckDB as the mapping wrote it', async () => {
    const rows = await duckdbRows(cfg, `tenant_id = 'acme' ORDER BY "timestamp"`);
    expect(rows).toHaveLength(want.length);
    for (let i = 0; i < want.length; i++) expect(rows[i], `row ${i}`).toEqual(want[i]);
    // and the values themselves, so that a fault shared by the mapping and the lake shows too
    const first = rows[0]!;
    expect(first).toMatchObject({
      event_name: 'checkout.failed',
      body: 'plain body ünï 🚀',
      body_type: 'string',
      trace_flags: 1,
      dropped_attributes_count: 2,
      resource_dropped_attributes_count: 7,
      resource_schema_url: 'https://opentelemetry.io/schemas/1.26.0',
      scope_name: 'io.example.cart',
      scope_version: '2.1.0',
      scope_dropped_attributes_count: 5,
      scope_schema_url: 'https://opentelemetry.io/schemas/1.21.0',
      service_name: 'checkout',
      deployment_environment: 'prod',
      host_name: 'node-7',
      trace_id: '5b8efff798038103d269b633813fc60c',
      span_id: 'eee19b7ec3c1b174',
      observed_timestamp: Number((T0 + 1000n * 1_000_000n + 123_456n) / 1000n),
    });
    const entries = (v: unknown) => Object.fromEntries((v as { key: string; value: string }[]).map((e) => [e.key, e.value]));
    const scopeAttrs = entries(first.scope_attributes);
    expect(Object.keys(scopeAttrs)).toHaveLength(200 + 10);
    expect(scopeAttrs).toMatchObject({ '': 'empty key', 'scope.empty': '', '日本語キー': 'значение ✓ 🚀 e\u0301', 'quote " backslash \\ ': 'line\nbreak\ttab\r\u0001 \u2028', 'scope.big': '"9223372036854775807"', 'scope.unset': '' });
    expect(scopeAttrs['x'.repeat(1000)]).toBe('y'.repeat(70_000));
    expect(entries(first.resource_attributes)).toMatchObject({ 'deployment.environment': 'legacy', 'res.int': '502' });
    expect(entries(first.resource_attributes)).not.toHaveProperty('service.name');
    expect(rows.map((r) => [r.body, r.body_type])).toEqual([
      ['plain body ünï 🚀', 'string'],
      ['42', 'int'],
      ['"-9223372036854775808"', 'int'],
      ['0.5', 'double'],
      ['"NaN"', 'double'],
      ['true', 'bool'],
      ['"AAEC/w=="', 'bytes'],
      ['["s",7,null,[false]]', 'array'],
      ['{"ok":true,"nested":{"a":"b"},"raw":"aGk="}', 'kvlist'],
      [null, null],
      [null, null],
    ]);
    const unscoped = rows[9]!;
    expect(unscoped).toMatchObject({ severity: 'INFO', trace_flags: 4294967295, dropped_attributes_count: 4294967295, scope_name: null, scope_attributes: [], attributes: [], scope_dropped_attributes_count: null });
    // a record without time_unix_nano takes its observed time
    expect(unscoped.timestamp).toBe(unscoped.observed_timestamp);
  });

  it('runs every query of sql/examples as a tenant, and the examples of the new fields find their rows', async () => {
    const dir = new URL('../../sql/examples/', import.meta.url);
    const files = readdirSync(dir).filter((f) => f.endsWith('.sql'));
    expect(files).toEqual(expect.arrayContaining(['events_by_name.sql', 'scope_attribute_search.sql']));
    const results: Record<string, QueryResult> = {};
    for (const f of files) results[f] = await runQuery(cfg, readFileSync(new URL(f, dir), 'utf8'), 'acme');
    const events = results['events_by_name.sql']!;
    const checkout = events.rows.find((r) => r[0] === 'checkout.failed')!;
    expect(checkout.slice(0, 4).map(String)).toEqual(['checkout.failed', 'checkout', '1', '1']);
    expect(events.rows).toHaveLength(9); // event.1 … event.8 beside it; the unscoped records have none
    const scoped = results['scope_attribute_search.sql']!;
    expect(scoped.rows).toHaveLength(9);
    expect(new Set(scoped.rows.map((r) => `${r[2]} ${r[3]}`))).toEqual(new Set(['io.example.cart 2.1.0']));
  });

  it('reads the same through pyiceberg: schema, partition spec, pruning and every value of every row', async () => {
    const all = readWithPyIceberg(cfg, cfg.ICEBERG_NAMESPACE, 'logs');
    expect(all.schema.map((f) => f.name)).toEqual(LAKE_LOG_COLUMNS.map((c) => c.name));
    expect(Object.fromEntries(all.schema.map((f) => [f.name, f.type]))).toMatchObject({ scope_attributes: 'map<string, string>', trace_flags: 'long', timestamp: 'timestamptz' });
    expect(all.partition).toEqual([
      { name: 'tenant_shard', transform: 'identity', source: 'tenant_shard' },
      { name: 'timestamp_day', transform: 'day', source: 'timestamp' },
    ]);
    expect(all.rows).toHaveLength(want.length * 2);

    const acme = readWithPyIceberg(cfg, cfg.ICEBERG_NAMESPACE, 'logs', "tenant_id = 'acme'");
    expect(acme.files).toBeLessThan(all.files);
    const byTime = (a: Record<string, unknown>, b: Record<string, unknown>) => (a.timestamp as number) - (b.timestamp as number);
    const py = acme.rows.sort(byTime);
    const duck = await duckdbRows(cfg, `tenant_id = 'acme' ORDER BY "timestamp"`);
    expect(py).toHaveLength(duck.length);
    for (let i = 0; i < duck.length; i++) expect(py[i], `row ${i}`).toEqual(duck[i]);
    const beta = readWithPyIceberg(cfg, cfg.ICEBERG_NAMESPACE, 'logs', "tenant_id = 'beta'").rows.sort(byTime);
    expect(beta.map((r) => r.tenant_id)).toEqual(Array(want.length).fill('beta'));
    expect(beta).toEqual(await duckdbRows(cfg, `tenant_id = 'beta' ORDER BY "timestamp"`));
    // the same values as the protobuf request, three days on
    const shift = (r: Record<string, unknown>) => ({ ...r, tenant_id: 'beta', timestamp: (r.timestamp as number) + 3 * 86_400_000_000, observed_timestamp: r.observed_timestamp === null ? null : (r.observed_timestamp as number) + 3 * 86_400_000_000 });
    expect(beta).toEqual(want.map(shift));
  });
});
