import type { Kafka } from 'kafkajs';
import { beforeAll } from 'vitest';
import type { Config } from '../../src/config/schema.js';
import { createKafka } from '../../src/kafka/client.js';
import { recordHeaders } from '../../src/kafka/record.js';
import { ensureTopics, topicWithDlq } from '../../src/kafka/topics.js';
import { createLogger } from '../../src/telemetry/logger.js';
import { runId, testConfig } from './stack.js';

const logger = createLogger(process.env.TEST_LOG_LEVEL ?? 'warn', 'it');

/** A one-partition topic (and its DLQ) of its own, and a way to write records to it as the ingester would. */
export function topicFixture() {
  const f = { id: runId(), cfg: undefined as unknown as Config, kafka: undefined as unknown as Kafka };
  beforeAll(async () => {
    f.cfg = testConfig(f.id, { TOPIC_PARTITIONS: '1' });
    f.kafka = createKafka(f.cfg.REDPANDA_BROKERS, 'it-producer', logger);
    await ensureTopics(f.kafka, topicWithDlq(f.cfg.REDPANDA_TOPIC), { partitions: 1, replicationFactor: -1 }, logger);
  });
  const produce = async (values: { value: Buffer; tenant?: string }[]): Promise<void> => {
    const producer = f.kafka.producer();
    await producer.connect();
    await producer.send({
      topic: f.cfg.REDPANDA_TOPIC,
      acks: -1,
      messages: values.map((v) => ({ key: 'acme', value: v.value, headers: recordHeaders(v.tenant ?? 'acme', 'logs', Date.now()) })),
    });
    await producer.disconnect();
  };
  return { f, produce };
}

