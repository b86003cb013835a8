import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Kafka } from 'kafkajs';
import type { Config } from '../../src/config/schema.js';
import { createKafka } from '../../src/kafka/client.js';
import { recordHeaders } from '../../src/kafka/record.js';
import { LakePipeline } from '../../src/lake/lake-pipeline.js';
import { runQuery } from '../../src/query/query.js';
import { createLogger } from '../../src/telemetry/logger.js';
import { seqLogRecord } from '../helpers/otlp.js';
import { runId, testConfig, waitFor } from '../helpers/stack.js';

const logger = createLogger(process.env.TEST_LOG_LEVEL ?? 'warn', 'it');

function record(seq: number, bodyBytes: number): Buffer {
  return seqLogRecord(seq, `b${seq}:`.padEnd(bodyBytes, String.fromCharCode(97 + (seq % 26))));
}

// The appender fetches at most 4 MB per request and 2 MB per partition, to keep its memory
// down; a topic may allow larger records, and those must still arrive (Kafka returns the first
// record batch of a partition even when it is over the limits).
describe('lake pipeline: records larger than its fetch limits', () => {
  const id = runId();
  let cfg: Config;
  let kafka: Kafka;

  beforeAll(async () => {
    cfg = testConfig(id, { TOPIC_PARTITIONS: '1' });
    kafka = createKafka(cfg.REDPANDA_BROKERS, 'it-producer', logger);
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({
      topics: [
        { topic: cfg.REDPANDA_TOPIC, numPartitions: 1, configEntries: [{ name: 'max.message.bytes', value: String(16 << 20) }] },
        { topic: `${cfg.REDPANDA_TOPIC}-dlq`, numPartitions: 1, configEntries: [{ name: 'max.message.bytes', value: String(16 << 20) }] },
      ],
    });
    await admin.disconnect();
  });

  afterAll(async () => {
    const admin = kafka.admin();
    await admin.connect();
    await admin.deleteTopics({ topics: [cfg.REDPANDA_TOPIC, `${cfg.REDPANDA_TOPIC}-dlq`] }).catch(() => {});
    await admin.disconnect();
  });

  it('lands a 3 MB and a 6 MB record between small ones', async () => {
    const sizes = [100, 3 << 20, 100, 6 << 20, 100];
    const producer = kafka.producer({ allowAutoTopicCreation: false });
    await producer.connect();
    for (const [seq, size] of sizes.entries()) {
      // One record per request: a batch of them would be one record batch over the limits.
      await producer.send({ topic: cfg.REDPANDA_TOPIC, acks: -1, messages: [{ key: 'acme', value: record(seq, size), headers: recordHeaders('acme', 'logs', Date.now()) }] });
    }
    await producer.disconnect();

    const pipeline = new LakePipeline(cfg, kafka, logger);
    await pipeline.start();
    try {
      const rows = await waitFor(
        async () => (await runQuery(cfg, `SELECT CAST(attributes['seq'] AS INTEGER), CAST(length(body) AS INTEGER) FROM logs ORDER BY 1`)).rows,
        (r) => r.length >= sizes.length,
        90_000,
        'five records',
      );
      expect(rows).toEqual(sizes.map((size, seq) => [seq, size]));
    } finally {
      await pipeline.stop();
    }
  });
});
