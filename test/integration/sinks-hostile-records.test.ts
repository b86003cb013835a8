import { describe, expect, it } from 'vitest';
import { encodeLogsRequest } from '../../src/otlp/codec.js';
import { heldBytes, HotPathPipeline } from '../../src/sinks/hot-path-pipeline.js';
import { LokiSink } from '../../src/sinks/loki/sink.js';
import { OpenSearchSink } from '../../src/sinks/opensearch/sink.js';
import type { Sink } from '../../src/sinks/sink.js';
import { createLogger } from '../../src/telemetry/logger.js';
import { createMetrics } from '../../src/telemetry/metrics.js';
import { deeplyNested } from '../chaos/corpus.js';
import { readTopic, topicSize } from '../helpers/kafka.js';
import { kv } from '../helpers/otlp.js';
import { stackEnv, waitFor } from '../helpers/stack.js';
import { topicFixture } from '../helpers/topic-fixture.js';

const logger = createLogger(process.env.TEST_LOG_LEVEL ?? 'warn', 'it');

/**
 * The records past what an ingester takes (see lake-dlq-and-restart), fed to each hot-path sink:
 * each is delivered or dead-lettered with a reason, and the record after them is delivered.
 */
function hostileRecords(service: string): { name: string; value: Buffer; lines: number }[] {
  const now = BigInt(Date.now()) * 1_000_000n;
  const resource = { attributes: [kv('service.name', service)] };
  const request = (logRecords: unknown[]) => Buffer.from(encodeLogsRequest({ resourceLogs: [{ resource, scopeLogs: [{ logRecords }] }] } as never));
  const many = Array.from({ length: 100_000 }, (_, i) => kv(`k${i}`, 'v'));
  return [
    { name: '100,000 attributes', value: request([{ timeUnixNano: now, body: { stringValue: 'huge map' }, attributes: many }]), lines: 1 },
    { name: 'nesting 5,000 deep', value: deeplyNested(5_000), lines: 1 },
    { name: '10,000 records', value: request(Array.from({ length: 10_000 }, (_, i) => ({ timeUnixNano: now + BigInt(i), body: { stringValue: `r${i}` } }))), lines: 10_000 },
    // under a service of its own, looked for first
    { name: 'the record after them', value: Buffer.from(encodeLogsRequest({ resourceLogs: [{ resource: { attributes: [kv('service.name', `${service}-after`)] }, scopeLogs: [{ logRecords: [{ timeUnixNano: now + 20_000n, body: { stringValue: 'after' } }] }] }] } as never)), lines: 1 },
  ];
}

describe.each([
  {
    sink: 'loki',
    make: (): Sink<unknown> => new LokiSink(stackEnv().LOKI_PUSH_URL!),
    /** lines of `service` Loki holds for `tenant` */
    delivered: async (tenant: string, service: string): Promise<number> => {
      const now = Date.now();
      const q = `sum(count_over_time({service_name="${service}"}[2h]))`;
      const res = await fetch(`${stackEnv().LOKI_URL}/loki/api/v1/query?query=${encodeURIComponent(q)}&time=${(now + 60_000) * 1e6}`, { headers: { 'x-scope-orgid': tenant } });
      if (!res.ok) throw new Error(`loki answered ${res.status}: ${await res.text()}`);
      const r = ((await res.json()) as { data: { result: { value: [number, string] }[] } }).data.result;
      return r.length === 0 ? 0 : Number(r[0]!.value[1]);
    },
  },
  {
    sink: 'opensearch',
    make: (topic: string): Sink<unknown> => new OpenSearchSink(stackEnv().OPENSEARCH_URL!, topic),
    delivered: async (tenant: string, service: string): Promise<number> => {
      const os = stackEnv().OPENSEARCH_URL!;
      await fetch(`${os}/logs-tenant-${tenant}/_refresh`, { method: 'POST' });
      const res = await fetch(`${os}/logs-tenant-${tenant}/_count?q=${encodeURIComponent(`service_name:"${service}"`)}`);
      if (res.status === 404) return 0;
      return ((await res.json()) as { count: number }).count;
    },
  },
])('$sink sink: records past what an ingester takes', ({ sink, make, delivered }) => {
  const { f, produce } = topicFixture();

  it('delivers or dead-letters each, with a reason, and delivers the record after them', async () => {
    const { cfg, kafka, id } = f;
    const tenant = `acme-${id}`;
    const service = `hostile-${sink}-${id}`;
    const records = hostileRecords(service);
    const firstOffset = await topicSize(kafka, cfg.REDPANDA_TOPIC);
    await produce(records.map((r) => ({ value: r.value, tenant })));
    const metrics = createMetrics();
    const pipeline = new HotPathPipeline(cfg, kafka, cfg.REDPANDA_TOPIC, ['logs'], make(cfg.REDPANDA_TOPIC), metrics, logger);
    await pipeline.start();
    let outcomes: string[];
    try {
      // the record after them is delivered: nothing stalled behind them, and each of them has been
      // delivered or dead-lettered before it (one partition, taken in order)
      await waitFor(() => delivered(tenant, `${service}-after`), (n) => n === 1, 180_000, 'the record after them');
      const dead = (await readTopic(kafka, `${cfg.REDPANDA_TOPIC}-dlq`)).filter((d) => d.headers.pipeline === sink);
      const deadFrom = new Map(dead.map((d) => [Number(d.headers['source-offset']) - firstOffset, d.headers]));
      outcomes = records.map((r, i) => `${r.name}: ${deadFrom.has(i) ? `dlq ${deadFrom.get(i)!['error-code']}: ${deadFrom.get(i)!['error-message']}` : 'delivered'}`);
      const expected = records.slice(0, 3).reduce((n, r, i) => n + (deadFrom.has(i) ? 0 : r.lines), 0);
      // every line of what was not dead-lettered, and no more
      await waitFor(() => delivered(tenant, service), (n) => n >= expected, 30_000, `${expected} lines (${outcomes.join('; ')})`);
      expect(await delivered(tenant, service), outcomes.join('; ')).toBe(expected);
    } finally {
      await pipeline.stop();
    }
    expect(outcomes[3]).toBe('the record after them: delivered');
    expect(outcomes[2]).toBe('10,000 records: delivered');
    expect(outcomes[1]).toMatch(/^nesting 5,000 deep: dlq (DECODE|ENCODE)_FAILED: .*nest/);
    // a dead letter names why
    for (const o of outcomes) expect(o).toMatch(/: (delivered|dlq [A-Z_]+: .{10,})$/);
    process.stdout.write(`${sink}: ${outcomes.join('; ')}\n`);
  });
});

describe('opensearch sink: a batch past SINK_MAX_DECODED_BYTES', () => {
  const { f, produce } = topicFixture();

  it('dead-letters a record larger than the budget alone (TOO_LARGE), delivers the rest of the batch in parts, waiting for room, and loses nothing', async () => {
    const budget = 16 * 1024 * 1024;
    const cfg = { ...f.cfg, SINK_MAX_DECODED_BYTES: budget };
    const { kafka, id } = f;
    const tenant = `acme-${id}`;
    const service = `budget-${id}`;
    const [huge, , tenThousand, after] = hostileRecords(service);
    const records = [huge!, tenThousand!, tenThousand!, tenThousand!, after!];
    // what the test stands on: the first alone is over the budget, each 10,000 fits, the three do not
    const cost = (v: Buffer) => heldBytes({ tenant, signal: 'logs', value: v, partition: 0, offset: '0', kafkaTimestampMs: 0, receivedAtMs: 0 }, { maxDepth: cfg.MAX_MESSAGE_DEPTH, maxAttributes: Number.MAX_SAFE_INTEGER });
    expect(cost(huge!.value)).toBeGreaterThan(budget);
    expect(cost(tenThousand!.value)).toBeLessThanOrEqual(budget);
    expect(3 * cost(tenThousand!.value)).toBeGreaterThan(budget);
    const firstOffset = await topicSize(kafka, cfg.REDPANDA_TOPIC);
    await produce(records.map((r) => ({ value: r.value, tenant })));
    const pipeline = new HotPathPipeline(cfg, kafka, cfg.REDPANDA_TOPIC, ['logs'], new OpenSearchSink(stackEnv().OPENSEARCH_URL!, cfg.REDPANDA_TOPIC), createMetrics(), logger);
    const os = stackEnv().OPENSEARCH_URL!;
    const count = async (svc: string) => {
      await fetch(`${os}/logs-tenant-${tenant}/_refresh`, { method: 'POST' });
      const res = await fetch(`${os}/logs-tenant-${tenant}/_count?q=${encodeURIComponent(`service_name:"${svc}"`)}`);
      return res.status === 404 ? 0 : ((await res.json()) as { count: number }).count;
    };
    await pipeline.start();
    try {
      await waitFor(() => count(`${service}-after`), (n) => n === 1, 180_000, 'the record after them');
      await waitFor(() => count(service), (n) => n >= 30_000, 30_000, 'the three 10,000-record requests');
      expect(await count(service)).toBe(30_000);
    } finally {
      await pipeline.stop();
    }
    const dead = (await readTopic(kafka, `${cfg.REDPANDA_TOPIC}-dlq`)).filter((d) => d.headers.pipeline === 'opensearch');
    expect(dead.map((d) => [Number(d.headers['source-offset']) - firstOffset, d.headers['error-code']])).toEqual([[0, 'TOO_LARGE']]);
    expect(dead[0]!.headers['error-message']).toMatch(/^decoded, the record would hold about \d+ MiB; the hot-path sinks may hold 16 MiB \(SINK_MAX_DECODED_BYTES\)$/);
  });
});
