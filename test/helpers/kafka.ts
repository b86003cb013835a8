import type { Kafka, KafkaMessage } from 'kafkajs';
import { randomBytes } from 'node:crypto';

export interface ReadRecord {
  partition: number;
  offset: string;
  key: string;
  headers: Record<string, string>;
  value: Buffer;
}

function toRecord(partition: number, m: KafkaMessage): ReadRecord {
  return {
    partition,
    offset: m.offset,
    key: m.key?.toString() ?? '',
    headers: Object.fromEntries(Object.entries(m.headers ?? {}).map(([k, v]) => [k, String(v)])),
    value: m.value ?? Buffer.alloc(0),
  };
}

/**
 * Total number of records in `topic` (sum of high watermarks). A broker that has just restarted
 * answers "does not host this topic-partition" until it has loaded the partition: asked again.
 */
export async function topicSize(kafka: Kafka, topic: string): Promise<number> {
  for (let attempt = 0; ; attempt++) {
    const admin = kafka.admin();
    try {
      await admin.connect();
      const offsets = await admin.fetchTopicOffsets(topic);
      return offsets.reduce((n, o) => n + Number(o.high) - Number(o.low), 0);
    } catch (e) {
      if (attempt >= 60) throw e;
      await new Promise((r) => setTimeout(r, 1000));
    } finally {
      await admin.disconnect();
    }
  }
}

/** Every record of `topic` from the beginning, read by a throwaway consumer group. */
export async function readTopic(kafka: Kafka, topic: string, timeoutMs = 30_000): Promise<ReadRecord[]> {
  const expected = await topicSize(kafka, topic);
  const out: ReadRecord[] = [];
  if (expected === 0) return out;
  const consumer = kafka.consumer({ groupId: `it-reader-${randomBytes(4).toString('hex')}` });
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    let done: () => void;
    const finished = new Promise<void>((r) => (done = r));
    await consumer.run({
      eachMessage: async ({ partition, message }) => {
        out.push(toRecord(partition, message));
        if (out.length >= expected) done();
      },
    });
    await Promise.race([finished, new Promise((_, reject) => setTimeout(() => reject(new Error(`read ${out.length} of ${expected} records of ${topic}`)), timeoutMs))]);
  } finally {
    await consumer.disconnect();
  }
  return out;
}
