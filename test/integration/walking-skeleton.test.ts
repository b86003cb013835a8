import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Config } from '../../src/config/schema.js';
import { Ingester } from '../../src/ingester/ingester.js';
import { createKafka } from '../../src/kafka/client.js';
import { LakePipeline } from '../../src/lake/lake-pipeline.js';
import { runQuery } from '../../src/query/query.js';
import { openLakeSession, sqlString } from '../../src/lake/session.js';
import { encodeLogsRequest } from '../../src/otlp/codec.js';
import { createLogger } from '../../src/telemetry/logger.js';
import { logsRequest, kv, type SampleLog } from '../helpers/otlp.js';
import { runId, testConfig, waitFor } from '../helpers/stack.js';

const REQUESTS = 20;
const PER_REQUEST = 25;
const TOTAL = REQUESTS * PER_REQUEST;
const BASE_NS = 1_763_800_000_000_000_000n; // 2025-11-22T08:26:40Z

function sample(seq: number): SampleLog {
  return {
    tenant: seq % 2 === 0 ? 'acme' : 'beta',
    service: `svc-${seq % 3}`,
    seq,
    body: `request ${seq} done`,
    severityNumber: [9, 13, 17][seq % 3]!,
    timeUnixNano: BASE_NS + BigInt(seq) * 1_000_000_000n + 123_456_789n,
    attrs: { 'http.route': { stringValue: `/r/${seq % 5}` }, 'http.status_code': { intValue: 200 + (seq % 4) }, ok: { boolValue: seq % 2 === 0 } },
  };
}

describe('walking skeleton: OTLP/HTTP → Kafka → DuckDB buffer → Iceberg → DuckDB SQL', () => {
  const id = runId();
  let cfg: Config;
  let ingester: Ingester;
  let pipeline: LakePipeline;
  let url: string;
  const logger = createLogger(process.env.TEST_LOG_LEVEL ?? 'warn', 'it');

  beforeAll(async () => {
    cfg = testConfig(id);
    ingester = new Ingester(cfg, logger);
    pipeline = new LakePipeline(cfg, createKafka(cfg.REDPANDA_BROKERS, 'it-appender', logger), logger);
    await ingester.start();
    await pipeline.start();
    url = `http://127.0.0.1:${ingester.http.boundPort}/v1/logs`;
  });

  afterAll(async () => {
    await ingester?.stop();
    await pipeline?.stop();
  });

  it('lands every record sent over OTLP/HTTP in the Iceberg table, once, with its columns and maps', async () => {
    for (let r = 0; r < REQUESTS; r++) {
      const tenant = r % 2 === 0 ? 'acme' : 'beta';
      const logs = Array.from({ length: PER_REQUEST }, (_, i) => sample(r * PER_REQUEST + i)).map((l) => ({ ...l, tenant }));
      const body = Buffer.from(encodeLogsRequest(logsRequest(logs, [kv('host.name', `host-${r}`), kv('deployment.environment', 'test'), kv('region', 'eu')])));
      const gzip = r % 3 === 0;
      const res = await fetch(url, {
        method: 'POST',
        headers: {
          'content-type': 'application/x-protobuf',
          authorization: `Bearer ${tenant}-token`,
          ...(gzip ? { 'content-encoding': 'gzip' } : {}),
        },
        body: gzip ? gzipSync(body) : body,
      });
      expect(res.status, await res.clone().text()).toBe(200);
      expect(res.headers.get('content-type')).toBe('application/x-protobuf');
    }

    const count = await waitFor(
      async () => Number((await runQuery(cfg, 'SELECT count(*) AS n FROM logs')).rows[0]![0]),
      (n) => n >= TOTAL,
      90_000,
      `${TOTAL} rows in the Iceberg table`,
    );
    expect(count).toBe(TOTAL);

    // Every record exactly once, attributed to the tenant whose token sent it.
    const seqs = await runQuery(cfg, `SELECT CAST(attributes['seq'] AS INTEGER) AS seq, tenant_id FROM logs ORDER BY seq`);
    expect(seqs.rows.map((r) => r[0])).toEqual(Array.from({ length: TOTAL }, (_, i) => i));
    for (const [seq, tenant] of seqs.rows) {
      expect(tenant).toBe(Math.floor((seq as number) / PER_REQUEST) % 2 === 0 ? 'acme' : 'beta');
    }

    // One record, every column.
    const one = await runQuery(cfg, `SELECT * FROM logs WHERE attributes['seq'] = '26'`);
    const row = Object.fromEntries(one.columns.map((c, i) => [c, one.rows[0]![i]]));
    expect(row).toMatchObject({
      tenant_id: 'beta',
      severity: 'ERROR', // severity_number 17, no severity_text
      severity_number: 17,
      body: 'request 26 done',
      trace_id: null,
      service_name: 'svc-2',
      deployment_environment: 'test',
      host_name: 'host-1',
      scope_name: 'otel-lakehouse-test',
      scope_version: '1.0.0',
      observed_timestamp: null,
      attributes: { seq: '26', 'http.route': '/r/1', 'http.status_code': '202', ok: 'true' },
      resource_attributes: { region: 'eu' },
    });
    const ts = await runQuery(cfg, `SELECT epoch_us("timestamp") FROM logs WHERE attributes['seq'] = '26'`);
    expect(BigInt(ts.rows[0]![0] as string)).toBe((BASE_NS + 26n * 1_000_000_000n + 123_456_789n) / 1000n);

    // A tenant-scoped view sees only that tenant's rows.
    const scoped = await runQuery(cfg, 'SELECT tenant_id, count(*) FROM logs GROUP BY ALL', 'acme');
    expect(scoped.rows).toEqual([['acme', String(TOTAL / 2)]]);
  });

  it('keeps Parquet data, metadata and manifests in MinIO, readable with iceberg_scan', async () => {
    const table = await (await fetch(`${cfg.ICEBERG_CATALOG_URI}/v1/namespaces/${cfg.ICEBERG_NAMESPACE}/tables/logs`)).json() as {
      'metadata-location': string;
      metadata: { location: string; 'partition-specs': { fields: { name: string; transform: string }[] }[]; 'default-spec-id': number };
    };
    expect(table['metadata-location']).toMatch(/^s3:\/\/warehouse\/.*\.metadata\.json$/);
    const spec = table.metadata['partition-specs'].find((s) => s.fields.length > 0)!;
    expect(spec.fields.map((f) => f.transform)).toEqual(['identity', 'day']);

    const session = await openLakeSession(cfg);
    try {
      const files = async (pattern: string) =>
        Number((await session.connection.runAndReadAll(`SELECT count(*) FROM glob(${sqlString(`${table.metadata.location}/${pattern}`)})`)).getRows()[0]![0]);
      expect(await files('data/**/*.parquet')).toBeGreaterThanOrEqual(1);
      expect(await files('metadata/*.metadata.json')).toBeGreaterThanOrEqual(1);
      expect(await files('metadata/*.avro')).toBeGreaterThanOrEqual(2); // manifest list and manifest
      const scanned = await session.connection.runAndReadAll(`SELECT count(*) FROM iceberg_scan(${sqlString(table['metadata-location'])})`);
      expect(Number(scanned.getRows()[0]![0])).toBe(TOTAL);
      // Data files sit under a tenant_shard partition: a tenant's own, or the range of tenants of
      // few rows that starts at acme.
      const paths = await session.connection.runAndReadAll(`SELECT file FROM glob(${sqlString(`${table.metadata.location}/data/**/*.parquet`)})`);
      for (const [p] of paths.getRows()) expect(String(p)).toMatch(/\/tenant_shard=(acme|beta|~acme)\//);
    } finally {
      session.close();
    }
  });

  it('records in the lake the offsets it committed, and commits the same offsets to Kafka', async () => {
    const kafka = createKafka(cfg.REDPANDA_BROKERS, 'it-check', logger);
    const admin = kafka.admin();
    await admin.connect();
    try {
      const ends = await admin.fetchTopicOffsets(cfg.REDPANDA_TOPIC);
      const lake = await runQuery(cfg, `SELECT "partition", max(next_offset) FROM lake.${cfg.ICEBERG_NAMESPACE}.appender_offsets WHERE consumer_group = '${cfg.APPENDER_GROUP_ID}' GROUP BY ALL`);
      const lakeByPartition = new Map(lake.rows.map(([p, n]) => [Number(p), String(n)]));
      for (const e of ends) {
        if (e.high === '0') continue;
        expect(lakeByPartition.get(e.partition)).toBe(e.high);
      }
      const committed = await admin.fetchOffsets({ groupId: cfg.APPENDER_GROUP_ID, topics: [cfg.REDPANDA_TOPIC] });
      for (const p of committed[0]!.partitions) {
        if (lakeByPartition.has(p.partition)) expect(p.offset).toBe(lakeByPartition.get(p.partition));
      }
    } finally {
      await admin.disconnect();
    }
  });
});
