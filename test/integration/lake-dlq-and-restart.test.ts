import { beforeAll, describe, expect, it } from 'vitest';
import type { Kafka } from 'kafkajs';
import type { Config } from '../../src/config/schema.js';
import { LakePipeline } from '../../src/lake/lake-pipeline.js';
import { runQuery } from '../../src/query/query.js';
import { createLogger } from '../../src/telemetry/logger.js';
import { encodeLogsRequest } from '../../src/otlp/codec.js';
import { deeplyNested } from '../chaos/corpus.js';
import { readTopic, topicSize } from '../helpers/kafka.js';
import { topicFixture } from '../helpers/topic-fixture.js';
import { seqLogRecord } from '../helpers/otlp.js';
import { waitFor } from '../helpers/stack.js';

const logger = createLogger(process.env.TEST_LOG_LEVEL ?? 'warn', 'it');

const record = (seq: number): Buffer => seqLogRecord(seq);

async function seqs(cfg: Config): Promise<number[]> {
  const r = await runQuery(cfg, `SELECT CAST(attributes['seq'] AS INTEGER) FROM logs ORDER BY 1`);
  return r.rows.map((x) => x[0] as number);
}

describe('lake pipeline: poison records and restarts', () => {
  const { f, produce } = topicFixture();
  const id = f.id;
  let cfg: Config;
  let kafka: Kafka;
  beforeAll(() => {
    ({ cfg, kafka } = f);
  });

  it('sends undecodable records and records without a valid tenant to the DLQ; the rest land', async () => {
    await produce([
      { value: record(0) },
      { value: Buffer.from([0x0a, 0xff, 0xff, 0xff]) }, // truncated protobuf
      { value: record(1) },
      { value: record(99), tenant: 'Not A Tenant' },
      { value: record(2) },
    ]);
    const pipeline = new LakePipeline(cfg, kafka, logger);
    await pipeline.start();
    try {
      await waitFor(() => seqs(cfg), (s) => s.length >= 3, 60_000, 'three good records');
      expect(await seqs(cfg)).toEqual([0, 1, 2]);
    } finally {
      await pipeline.stop();
    }

    const dead: { offset: string; headers: Record<string, string>; value: Buffer }[] = [];
    const consumer = kafka.consumer({ groupId: `it-dlq-reader-${id}` });
    await consumer.connect();
    await consumer.subscribe({ topic: `${cfg.REDPANDA_TOPIC}-dlq`, fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ message }) => {
        const headers = Object.fromEntries(Object.entries(message.headers ?? {}).map(([k, v]) => [k, String(v)]));
        dead.push({ offset: message.offset, headers, value: message.value! });
      },
    });
    await waitFor(async () => dead.length, (n) => n >= 2, 30_000, 'two DLQ records');
    await consumer.disconnect();

    const bySource = new Map(dead.map((d) => [d.headers['source-offset'], d]));
    const truncated = bySource.get('1')!;
    expect(truncated.value).toEqual(Buffer.from([0x0a, 0xff, 0xff, 0xff]));
    expect(truncated.headers).toMatchObject({
      'error-code': 'DECODE_FAILED',
      'source-topic': cfg.REDPANDA_TOPIC,
      'source-partition': '0',
      'tenant-id': 'acme',
    });
    expect(Number(truncated.headers['failed-at'])).toBeGreaterThan(Date.now() - 120_000);
    expect(truncated.headers['error-message']).toBeTruthy();
    expect(bySource.get('3')!.headers['error-message']).toMatch(/tenant/);
  });

  it('resumes after a restart without writing anything twice, even when Kafka offsets lag the lake', async () => {
    await produce([{ value: record(3) }, { value: record(4) }]);
    const first = new LakePipeline(cfg, kafka, logger);
    await first.start();
    await waitFor(() => seqs(cfg), (s) => s.length >= 5, 60_000, 'five records');
    await first.stop();

    // Rewind the group's Kafka offsets to the start: only the lake's offsets stand between the
    // pipeline and writing everything again.
    const admin = kafka.admin();
    await admin.connect();
    await admin.setOffsets({ groupId: cfg.APPENDER_GROUP_ID, topic: cfg.REDPANDA_TOPIC, partitions: [{ partition: 0, offset: '0' }] });
    await admin.disconnect();

    await produce([{ value: record(5) }]);
    const second = new LakePipeline(cfg, kafka, logger);
    await second.start();
    try {
      await waitFor(() => seqs(cfg), (s) => s.includes(5), 60_000, 'record 5');
      // Let one more flush interval pass so a re-read of old offsets would have shown up.
      await new Promise((r) => setTimeout(r, 2500));
      expect(await seqs(cfg)).toEqual([0, 1, 2, 3, 4, 5]);
    } finally {
      await second.stop();
    }
  });
});

describe('lake pipeline: records past what an ingester takes', () => {
  const { f, produce } = topicFixture();
  let cfg: Config;
  let kafka: Kafka;
  beforeAll(() => {
    ({ cfg, kafka } = f);
  });

  it('lands or dead-letters, with a reason, records past what an ingester takes (100,000 attributes, nesting 5,000 deep, 10,000 records), and goes on', async () => {
    const t0 = 1_763_800_000_000_000_000n;
    const many = Array.from({ length: 100_000 }, (_, i) => ({ key: `k${i}`, value: { stringValue: 'v' } }));
    const hugeMap = Buffer.from(
      encodeLogsRequest({ resourceLogs: [{ scopeLogs: [{ logRecords: [{ timeUnixNano: t0, body: { stringValue: 'huge map' }, attributes: [{ key: 'seq', value: { intValue: 100 } }, ...many] }] }] }] } as never),
    );
    const deep = deeplyNested(5_000);
    const tenThousand = Buffer.from(
      encodeLogsRequest({
        resourceLogs: [{ scopeLogs: [{ logRecords: Array.from({ length: 10_000 }, (_, i) => ({ timeUnixNano: t0 + BigInt(i), body: { stringValue: `r${i}` }, attributes: [{ key: 'seq', value: { intValue: 1000 + i } }] })) }] }],
      } as never),
    );
    const firstOffset = await topicSize(kafka, cfg.REDPANDA_TOPIC).catch(() => 0);
    await produce([{ value: hugeMap }, { value: deep }, { value: tenThousand }, { value: record(7) }]);
    const pipeline = new LakePipeline(cfg, kafka, logger);
    await pipeline.start();
    try {
      // the record after them lands: nothing stalled
      await waitFor(() => seqs(cfg), (s) => s.includes(7), 120_000, 'the record after them');
    } finally {
      await pipeline.stop();
    }
    const landed = new Set(await seqs(cfg));
    const dead = await readTopic(kafka, `${cfg.REDPANDA_TOPIC}-dlq`, 10_000);
    const deadFrom = new Map(dead.map((d) => [Number(d.headers['source-offset']) - firstOffset, d.headers]));
    // each of the three is in the lake whole, or in the DLQ with its reason
    const outcome = (i: number, inLake: boolean) => (inLake ? 'landed' : deadFrom.has(i) ? `dlq ${deadFrom.get(i)!['error-code']}: ${deadFrom.get(i)!['error-message']}` : 'lost');
    const outcomes = [outcome(0, landed.has(100)), outcome(1, false), outcome(2, [...Array(10_000).keys()].every((i) => landed.has(1000 + i)))];
    for (const o of outcomes) expect(o).not.toBe('lost');
    expect(outcomes[1]).toMatch(/^dlq DECODE_FAILED: .*nested deeper/);
    expect(outcomes[2]).toBe('landed');
    expect(outcomes[0]).toBe('landed');
  });
});
