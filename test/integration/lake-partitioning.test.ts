import { expect, it } from 'vitest';
import { createKafka } from '../../src/kafka/client.js';
import { recordHeaders } from '../../src/kafka/record.js';
import { ensureTopics, topicWithDlq } from '../../src/kafka/topics.js';
import { DEFAULT_FILE_LAYOUT, MAX_PARTITIONS_PER_WRITE } from '../../src/lake/committer.js';
import { LakePipeline } from '../../src/lake/lake-pipeline.js';
import { runQuery } from '../../src/query/query.js';
import { openLakeSession, sqlString } from '../../src/lake/session.js';
import { LAKE_TABLES } from '../../src/schema/tables.js';
import { CatalogClient } from '../../src/lake/catalog-client.js';
import { utcTransformStats } from '../../src/lake/utc-transforms.js';
import { encodeLogsRequest } from '../../src/otlp/codec.js';
import { createLogger } from '../../src/telemetry/logger.js';
import { logsRequest, type SampleLog } from '../helpers/otlp.js';
import { runId, testConfig, waitFor } from '../helpers/stack.js';

const logger = createLogger(process.env.TEST_LOG_LEVEL ?? 'warn', 'it');
const DAY0 = 1_763_769_600n; // 2025-11-22T00:00:00Z, seconds

it('writes files of its own for a tenant of many rows, one file per day for the tenants of few, and a query filtered by tenant and day reads one file', async () => {
  const cfg = testConfig(runId(), { TOPIC_PARTITIONS: '1' });
  const kafka = createKafka(cfg.REDPANDA_BROKERS, 'it-part', logger);
  await ensureTopics(kafka, topicWithDlq(cfg.REDPANDA_TOPIC), { partitions: 1, replicationFactor: -1 }, logger);
  const producer = kafka.producer();
  await producer.connect();
  // acme: enough rows in one commit for files of its own; 30 small tenants: 6 rows each
  const small = Array.from({ length: 30 }, (_, i) => `small-${String(i).padStart(2, '0')}`);
  const perTenant = new Map([['acme', DEFAULT_FILE_LAYOUT.ownFileMinRows + 200], ...small.map((t) => [t, 6] as const)]);
  for (const [tenant, n] of perTenant) {
    const logs: SampleLog[] = Array.from({ length: n }, (_, i) => ({
      tenant, service: 'svc', seq: i, body: `${tenant}-${i}`, severityNumber: 9, attrs: {},
      // three days, at the first and the last second of each (a partition value off by a zone
      // or by rounding would move half of them into another day)
      timeUnixNano: (DAY0 + BigInt(i % 3) * 86_400n + (i % 2 === 0 ? 0n : 86_399n)) * 1_000_000_000n,
    }));
    await producer.send({ topic: cfg.REDPANDA_TOPIC, messages: [{ key: tenant, value: Buffer.from(encodeLogsRequest(logsRequest(logs))), headers: recordHeaders(tenant, 'logs', Date.now()) }] });
  }
  await producer.disconnect();
  const total = [...perTenant.values()].reduce((a, b) => a + b, 0);
  const transformedBefore = utcTransformStats.rows;
  const pipeline = new LakePipeline(cfg, kafka, logger);
  await pipeline.start();
  try {
    await waitFor(async () => Number((await runQuery(cfg, 'SELECT count(*) FROM logs')).rows[0]![0]), (n) => n >= total, 60_000, `${total} rows`);
    // one commit took them all, so the layout below is one commit's
    expect((await pipeline.metrics.lakeCommits.get()).values[0]!.value).toBe(1);
    // The data-files metric agrees with the table.
    await waitFor(async () => (await pipeline.metrics.lakeDataFiles.get()).values[0]?.value ?? 0, (n) => n >= 6, 10_000, 'the data files metric');
    expect((await pipeline.metrics.lakeDataFiles.get()).values[0]!.value).toBe(6);
    // The partition values were computed by our UTC overload of date_diff, not by ICU's.
    expect(utcTransformStats.rows - transformedBefore).toBeGreaterThanOrEqual(total);
  } finally {
    await pipeline.stop();
  }

  const session = await openLakeSession(cfg);
  try {
    const c = session.connection;
    const table = `lake.${cfg.ICEBERG_NAMESPACE}.logs`;
    // acme's 3 days in files of its own; the 30 small tenants share one file a day, named after the first
    const files = (await c.runAndReadAll(`SELECT file_path, record_count FROM iceberg_metadata(${sqlString(table)}) WHERE content = 'EXISTING' OR status = 'ADDED'`)).getRows();
    // (the partition fields carry Iceberg's conventional names, so the paths do too)
    const partitions = new Set(files.map(([p]) => /\/tenant_shard=([^/]+)\/timestamp_day=([^/]+)\//.exec(String(p))?.slice(1).join('/')));
    const day0 = Number(DAY0 / 86_400n);
    expect([...partitions].sort()).toEqual(['acme', '~small-00'].flatMap((t) => [0, 1, 2].map((d) => `${t}/${day0 + d}`)));
    expect(files.length).toBe(6);
    // Each shared file holds its day's rows of every small tenant, and no row of acme.
    const shared = (await c.runAndReadAll(`SELECT tenant_shard, count(DISTINCT tenant_id), count(*), count(*) FILTER (tenant_id = 'acme') FROM ${table} WHERE tenant_shard <> 'acme' GROUP BY ALL`)).getRows();
    expect(shared.map((r) => r.map(String))).toEqual([['~small-00', '30', '180', '0']]);
    const filesRead = async (where: string) => {
      const plan = (await c.runAndReadAll(`EXPLAIN ANALYZE SELECT max(body) FROM ${table} WHERE ${where}`)).getRows().map((r) => r.join('\n')).join('\n');
      return Number(/Total Files Read: (\d+)/.exec(plan)?.[1]);
    };
    const day1 = `"timestamp" >= TIMESTAMPTZ '2025-11-23 00:00:00+00' AND "timestamp" < TIMESTAMPTZ '2025-11-24 00:00:00+00'`;
    // A tenant and a day: one file, its own for acme, the shared one for a small tenant; a
    // tenant alone: its three days. acme's files are skipped for a small tenant by their
    // tenant_id bounds, and the shared files for acme the same way.
    expect(await filesRead(`tenant_id = 'acme' AND ${day1}`)).toBe(1);
    expect(await filesRead(`tenant_id = 'small-17' AND ${day1}`)).toBe(1);
    expect(await filesRead(`tenant_id = 'acme'`)).toBe(3);
    expect(await filesRead(`tenant_id = 'small-17'`)).toBe(3);
    expect(await filesRead('true')).toBe(6);
    // The tenant's view shows its rows and no layout column (a shared file's value names another tenant).
    const scoped = await runQuery(cfg, 'SELECT * FROM logs', 'small-17');
    expect(scoped.rows).toHaveLength(6);
    expect(scoped.columns).not.toContain('tenant_shard');
  } finally {
    session.close();
  }
});

it('commits a buffer of more (tenant_shard, day) partitions than one write takes in one catalog commit, every row once, one file per partition', async () => {
  const cfg = testConfig(runId(), { TOPIC_PARTITIONS: '1', BUFFER_TIME_SECONDS: '3' });
  const kafka = createKafka(cfg.REDPANDA_BROKERS, 'it-part-many', logger);
  await ensureTopics(kafka, topicWithDlq(cfg.REDPANDA_TOPIC), { partitions: 1, replicationFactor: -1 }, logger);
  const producer = kafka.producer();
  await producer.connect();
  // 40 tenants with files of their own x 2 days: 80 partitions, more than MAX_PARTITIONS_PER_WRITE
  const tenants = Array.from({ length: 40 }, (_, i) => `tenant-${String(i).padStart(2, '0')}`);
  const perTenant = DEFAULT_FILE_LAYOUT.ownFileMinRows;
  expect(tenants.length * 2).toBeGreaterThan(MAX_PARTITIONS_PER_WRITE);
  await producer.send({
    topic: cfg.REDPANDA_TOPIC,
    messages: tenants.map((tenant) => {
      const logs: SampleLog[] = Array.from({ length: perTenant }, (_, i) => ({
        tenant, service: 'svc', seq: i, body: `${tenant}-${i}`, severityNumber: 9, attrs: {},
        timeUnixNano: (DAY0 + BigInt(i % 2) * 86_400n + 60n) * 1_000_000_000n,
      }));
      return { key: tenant, value: Buffer.from(encodeLogsRequest(logsRequest(logs))), headers: recordHeaders(tenant, 'logs', Date.now()) };
    }),
  });
  await producer.disconnect();
  const pipeline = new LakePipeline(cfg, kafka, logger);
  await pipeline.start();
  try {
    await waitFor(async () => Number((await runQuery(cfg, 'SELECT count(*) FROM logs')).rows[0]![0]), (n) => n >= tenants.length * perTenant, 60_000, 'every row');
    expect((await pipeline.metrics.lakeCommits.get()).values[0]!.value).toBe(1);
  } finally {
    await pipeline.stop();
  }
  const rows = (await runQuery(cfg, 'SELECT tenant_id, count(*), count(DISTINCT body) FROM logs GROUP BY 1 ORDER BY 1')).rows;
  expect(rows).toEqual(tenants.map((t) => [t, String(perTenant), String(perTenant)]));
  const session = await openLakeSession(cfg);
  try {
    const table = `lake.${cfg.ICEBERG_NAMESPACE}.logs`;
    const files = (await session.connection.runAndReadAll(`SELECT file_path FROM iceberg_metadata(${sqlString(table)})`)).getRows();
    const partitions = new Set(files.map(([p]) => /\/tenant_shard=([^/]+)\/timestamp_day=([^/]+)\//.exec(String(p))?.slice(1).join('/')));
    expect(files.length).toBe(80);
    expect(partitions.size).toBe(80);
  } finally {
    session.close();
  }
});

it('writes row groups of at most the rows the logs table\'s write.parquet.row-group-size names (the iceberg extension honours it on the partitioned table)', async () => {
  const rowGroupRows = Number(LAKE_TABLES.logs.properties['write.parquet.row-group-size']);
  const cfg = testConfig(runId(), { TOPIC_PARTITIONS: '1', BUFFER_TIME_SECONDS: '3' });
  const kafka = createKafka(cfg.REDPANDA_BROKERS, 'it-part-rowgroups', logger);
  await ensureTopics(kafka, topicWithDlq(cfg.REDPANDA_TOPIC), { partitions: 1, replicationFactor: -1 }, logger);
  const producer = kafka.producer();
  await producer.connect();
  // One tenant and one day, in one commit: one file of several row groups.
  const perRequest = 4000;
  const requests = Math.ceil((rowGroupRows * 2.5) / perRequest);
  for (let r = 0; r < requests; r++) {
    const logs: SampleLog[] = Array.from({ length: perRequest }, (_, i) => ({
      tenant: 'acme', service: 'svc', seq: r * perRequest + i, body: `b${r}-${i}`, severityNumber: 9, attrs: {},
      timeUnixNano: (DAY0 + 60n) * 1_000_000_000n + BigInt(r * perRequest + i),
    }));
    await producer.send({ topic: cfg.REDPANDA_TOPIC, messages: [{ key: 'acme', value: Buffer.from(encodeLogsRequest(logsRequest(logs))), headers: recordHeaders('acme', 'logs', Date.now()) }] });
  }
  await producer.disconnect();
  const total = requests * perRequest;
  const pipeline = new LakePipeline(cfg, kafka, logger);
  await pipeline.start();
  try {
    await waitFor(async () => Number((await runQuery(cfg, 'SELECT count(*) FROM logs')).rows[0]![0]), (n) => n >= total, 60_000, `${total} rows`);
  } finally {
    await pipeline.stop();
  }
  expect((await new CatalogClient(cfg).schemaState(cfg.ICEBERG_NAMESPACE, 'logs')).properties).toMatchObject(LAKE_TABLES.logs.properties);
  const session = await openLakeSession(cfg);
  try {
    const table = `lake.${cfg.ICEBERG_NAMESPACE}.logs`;
    const files = (await session.connection.runAndReadAll(`SELECT file_path FROM iceberg_metadata(${sqlString(table)})`)).getRows().map(([f]) => String(f));
    const groups = (await session.connection.runAndReadAll(
      `SELECT file_name, row_group_id, max(row_group_num_rows) FROM parquet_metadata([${files.map(sqlString).join(', ')}]) GROUP BY ALL`,
    )).getRows().map(([file, , rows]) => ({ file: String(file), rows: Number(rows) }));
    expect(groups.reduce((n, g) => n + g.rows, 0)).toBe(total);
    expect(Math.max(...groups.map((g) => g.rows))).toBeLessThanOrEqual(rowGroupRows);
    // and a file was cut into several (DuckDB's own row group, 122,880 rows, would have made one)
    const perFile = new Map<string, number>();
    for (const g of groups) perFile.set(g.file, (perFile.get(g.file) ?? 0) + 1);
    expect(Math.max(...perFile.values())).toBeGreaterThan(1);
  } finally {
    session.close();
  }
});
