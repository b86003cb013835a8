import type { Kafka } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { createKafka } from '../../src/kafka/client.js';
import { dlqTopic, ensureTopics, topicWithDlq } from '../../src/kafka/topics.js';
import { recordHeaders } from '../../src/kafka/record.js';
import { runQuery } from '../../src/query/query.js';
import { encodeLogsRequest } from '../../src/otlp/codec.js';
import { createLogger } from '../../src/telemetry/logger.js';
import { readTopic } from '../helpers/kafka.js';
import { logsRequest } from '../helpers/otlp.js';
import { runId, stackEnv, waitFor } from '../helpers/stack.js';
import { freePort, Service, waitReady } from './processes.js';

const logger = createLogger(process.env.TEST_LOG_LEVEL ?? 'warn', 'chaos');

/**
 * Records that reach Kafka with a tenant-id header outside the tenant pattern (written by
 * something other than the ingester) must not become a Loki org id, an OpenSearch index name or
 * an Iceberg partition value: every pipeline sends them to the dead-letter topic.
 */
describe('tenant ids outside the pattern, everywhere', () => {
  const id = runId();
  const topic = `chaos-tenant-${id}-logs`;
  const good = `good-${id}`;
  const hostile = ['Acme', '../etc', 'a\r\nX-Scope-OrgID: victim', 'a b', 'a'.repeat(64), '_x', 'x*', 'logs-tenant-*,x', ''];
  let appender: Service;
  let kafka: Kafka;
  let url = '';

  beforeAll(async () => {
    const env = stackEnv();
    kafka = createKafka(env.REDPANDA_BROKERS!.split(','), 'chaos-tenant', logger);
    await ensureTopics(kafka, topicWithDlq(topic), { partitions: 1, replicationFactor: -1 }, logger);
    const port = await freePort();
    appender = new Service('appender', {
      REDPANDA_TOPIC: topic,
      TOPIC_PARTITIONS: '1',
      APPENDER_HOST: '127.0.0.1',
      APPENDER_HTTP_PORT: String(port),
      APPENDER_GROUP_ID: `chaos-tenant-${id}-lake`,
      SINK_GROUP_PREFIX: `chaos-tenant-${id}`,
      ICEBERG_NAMESPACE: `chaos_tenant_${id}`,
      PIPELINES: 'lake,loki,opensearch',
      BUFFER_TIME_SECONDS: '1',
      LOG_LEVEL: 'info',
    });
    appender.start();
    url = `http://127.0.0.1:${port}`;
    await waitReady(`${url}/readyz`, 120_000, appender);
  });

  afterAll(async () => {
    await appender?.stop();
  });

  it('refuses them in configuration, and every pipeline dead-letters records carrying them', async () => {
    for (const bad of hostile.filter(Boolean)) {
      expect(() => loadConfig({ DEFAULT_TENANT: bad, AUTH_MODE: 'none' }), JSON.stringify(bad)).toThrow();
    }

    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    const body = (tenant: string, i: number) =>
      Buffer.from(encodeLogsRequest(logsRequest([{ tenant, service: 'svc', seq: i, body: `tenant probe ${i}`, severityNumber: 9, timeUnixNano: BigInt(Date.now()) * 1_000_000n + BigInt(i), attrs: {} }])));
    const messages = hostile.map((t, i) => ({ key: 'x', value: body(t, i), headers: recordHeaders(t, 'logs', Date.now()) }));
    messages.push({ key: good, value: body(good, 99), headers: recordHeaders(good, 'logs', Date.now()) });
    await producer.send({ topic, acks: -1, messages });
    await producer.disconnect();

    // The good record behind them lands everywhere, so every pipeline has passed the bad ones.
    const env = stackEnv();
    const cfg = loadConfig({ ...env, ICEBERG_NAMESPACE: `chaos_tenant_${id}` });
    await waitFor(() => runQuery(cfg, 'SELECT tenant_id, count(*) FROM logs GROUP BY ALL'), (r) => r.rows.length > 0, 120_000, 'the good record in the lake');
    expect((await runQuery(cfg, 'SELECT tenant_id, count(*) FROM logs GROUP BY ALL')).rows).toEqual([[good, '1']]);
    await waitFor(async () => {
      const res = await fetch(`${env.LOKI_URL}/loki/api/v1/query_range?query=${encodeURIComponent('{service_name="svc"}')}&start=${(Date.now() - 600_000) * 1e6}&end=${(Date.now() + 60_000) * 1e6}`, { headers: { 'x-scope-orgid': good } });
      return ((await res.json()) as { data: { result: unknown[] } }).data.result.length;
    }, (n) => n > 0, 120_000, 'the good record in Loki');
    await waitFor(async () => (await fetch(`${env.OPENSEARCH_URL}/logs-tenant-${good}/_count`)).status, (s) => s === 200, 120_000, 'the good tenant index');

    // Each bad record went to the dead-letter topic once per pipeline, and no index was made from one.
    const dlq = await waitFor(() => readTopic(kafka, dlqTopic(topic), 60_000), (r) => r.length >= hostile.length * 3, 120_000, 'dead-lettered records');
    expect(dlq.length).toBe(hostile.length * 3);
    const indices = (await (await fetch(`${env.OPENSEARCH_URL}/_cat/indices?format=json`)).json()) as { index: string }[];
    const made = indices.map((i) => i.index).filter((n) => n.startsWith('logs-tenant-'));
    for (const bad of hostile) expect(made).not.toContain(`logs-tenant-${bad.toLowerCase()}`);
    expect(made.filter((n) => n.includes('etc') || n.includes('victim') || n.includes('*'))).toEqual([]);
  });
});
