import { Kafka, logLevel, Partitioners, type Producer } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RecordProducer } from '../../src/kafka/producer.js';
import { ensureTopics } from '../../src/kafka/topics.js';
import { createLogger } from '../../src/telemetry/logger.js';
import { readTopic } from '../helpers/kafka.js';
import { runId, stack, testConfig } from '../helpers/stack.js';

const logger = createLogger(process.env.TEST_LOG_LEVEL ?? 'warn', 'it');

/**
 * Pins the kafkajs behaviour RecordProducer is built around: an idempotent producer gives a
 * failed write's sequence numbers back, so when the failed write had landed after all, the
 * broker takes the next write on that partition for its duplicate, acknowledges it and drops it.
 * The write here is sent to a frozen broker and times out on the client; the broker stores it
 * once it goes on.
 */
describe('an idempotent kafkajs producer after a write that failed but landed', () => {
  const id = runId();
  const cfg = testConfig(id);
  const topics = [`it-seq-${id}-a`, `it-seq-${id}-b`] as const;
  // a short request timeout and one quick retry (the fewest kafkajs allows an idempotent
  // producer): the write fails while the broker is frozen
  const retry = { retries: 1, initialRetryTime: 50, maxRetryTime: 50 };
  const kafka = new Kafka({ clientId: `it-seq-${id}`, brokers: cfg.REDPANDA_BROKERS, requestTimeout: 1500, retry, logLevel: logLevel.NOTHING });

  beforeAll(async () => {
    await ensureTopics(kafka, topics.map((topic) => ({ topic, retentionMs: 3_600_000 })), { partitions: 1, replicationFactor: 1 }, logger);
  });

  afterAll(() => {
    stack('up', 'kafka');
  });

  /** Sends `first` while the broker is frozen (it fails), then `next` once it goes on. */
  async function failThenSend(send: (value: string) => Promise<void>, first: string, next: string): Promise<void> {
    await send('warm-up');
    stack('pause', 'kafka');
    try {
      await expect(send(first)).rejects.toThrow();
    } finally {
      stack('resume', 'kafka');
    }
    await send(next);
  }

  const values = async (topic: string) => (await readTopic(kafka, topic, 60_000)).map((r) => r.value.toString());

  it('kafkajs alone: the next write is acknowledged and not stored', { timeout: 120_000 }, async () => {
    const producer: Producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1, createPartitioner: Partitioners.DefaultPartitioner, retry });
    await producer.connect();
    try {
      await failThenSend((value) => producer.send({ topic: topics[0], acks: -1, messages: [{ key: 'k', value }] }).then(() => {}), 'a', 'b');
    } finally {
      await producer.disconnect();
    }
    expect(await values(topics[0])).toEqual(['warm-up', 'a']);
  });

  it('RecordProducer: the next write is stored', { timeout: 120_000 }, async () => {
    const producer = new RecordProducer(kafka, 1000, logger);
    await producer.start();
    try {
      await failThenSend((value) => producer.send(topics[1], [{ key: 'k', value: Buffer.from(value), headers: {} }]), 'a', 'b');
    } finally {
      await producer.stop();
    }
    expect(await values(topics[1])).toEqual(['warm-up', 'a', 'b']);
  });
});
