import type { Kafka } from 'kafkajs';
import type { Logger } from '../telemetry/logger.js';

const DAY_MS = 24 * 60 * 60 * 1000;

export interface TopicSpec {
  topic: string;
  retentionMs: number;
}

/** A signal topic and its dead-letter twin, with the retention DESIGN.md gives them. */
export function topicWithDlq(topic: string): TopicSpec[] {
  return [
    { topic, retentionMs: 7 * DAY_MS },
    { topic: dlqTopic(topic), retentionMs: 30 * DAY_MS },
  ];
}

export function dlqTopic(topic: string): string {
  return `${topic}-dlq`;
}

/** Creates the topics that do not exist yet; existing topics are left as they are. */
export async function ensureTopics(
  kafka: Kafka,
  specs: TopicSpec[],
  opts: { partitions: number; replicationFactor: number },
  logger: Logger,
): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const existing = new Set(await admin.listTopics());
    const missing = specs.filter((s) => !existing.has(s.topic));
    if (missing.length === 0) return;
    try {
      await admin.createTopics({
        waitForLeaders: true,
        topics: missing.map((s) => ({
          topic: s.topic,
          numPartitions: opts.partitions,
          replicationFactor: opts.replicationFactor,
          configEntries: [
            { name: 'retention.ms', value: String(s.retentionMs) },
            { name: 'compression.type', value: 'producer' },
          ],
        })),
      });
    } catch (e) {
      // Another process (an ingester or appender replica) created them first.
      const err = e as { type?: string; errors?: { type?: string }[] };
      const types = [err.type, ...(err.errors ?? []).map((x) => x.type)];
      if (!types.includes('TOPIC_ALREADY_EXISTS')) throw e;
    }
    logger.child({ component: 'kafka.topics' }).info({ created: missing.map((s) => s.topic), partitions: opts.partitions }, 'topics created');
  } finally {
    await admin.disconnect();
  }
}
