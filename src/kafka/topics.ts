import type { Kafka } from 'kafkajs';
import { retry } from '../core/retry.js';
import type { Logger } from '../telemetry/logger.js';

const DAY_MS = 24 * 60 * 60 * 1000;

export interface TopicSpec {
  topic: string;
  retentionMs: number;
}

/** A signal topic and its dead-letter twin, with their retention (docs/kafka-records.md). */
export function topicWithDlq(topic: string): TopicSpec[] {
  return [
    { topic, retentionMs: 7 * DAY_MS },
    { topic: dlqTopic(topic), retentionMs: 30 * DAY_MS },
  ];
}

export function dlqTopic(topic: string): string {
  return `${topic}-dlq`;
}

/** How long start-up waits for the broker to create and lead the topics (it may be restarting). */
const READY_TIMEOUT_MS = 120_000;

/** Errors of a broker that is starting, electing leaders or loading partitions: worth waiting for. */
function isNotReadyYet(e: unknown): boolean {
  const err = e as { retriable?: boolean; type?: string; name?: string; errors?: unknown[] };
  if (err.retriable) return true;
  if (['UNKNOWN_TOPIC_OR_PARTITION', 'LEADER_NOT_AVAILABLE', 'NOT_LEADER_FOR_PARTITION', 'NOT_CONTROLLER', 'REQUEST_TIMED_OUT'].includes(err.type ?? '')) return true;
  if (['KafkaJSConnectionError', 'KafkaJSNumberOfRetriesExceeded', 'KafkaJSTopicMetadataNotLoaded', 'KafkaJSNotReady'].includes(err.name ?? '')) return true;
  return (err.errors ?? []).some(isNotReadyYet);
}

/**
 * Creates the topics that do not exist yet (existing topics are left as they are) and waits
 * until every partition of every topic has a leader. A broker that is still starting or
 * loading its partitions is waited for, up to two minutes, with a warning per attempt.
 */
export async function ensureTopics(
  kafka: Kafka,
  specs: TopicSpec[],
  opts: { partitions: number; replicationFactor: number },
  logger: Logger,
): Promise<void> {
  const log = logger.child({ component: 'kafka.topics' });
  const deadline = Date.now() + READY_TIMEOUT_MS;
  await retry(() => ensureTopicsOnce(kafka, specs, opts, log), {
    initialMs: 250,
    maxMs: 5000,
    shouldRetry: (e) => Date.now() < deadline && isNotReadyYet(e),
    onRetry: (err, attempt, delayMs) => log.warn({ err, attempt, delayMs }, 'the broker is not ready for the topics yet; retrying'),
  });
}

async function ensureTopicsOnce(
  kafka: Kafka,
  specs: TopicSpec[],
  opts: { partitions: number; replicationFactor: number },
  log: Logger,
): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const existing = new Set(await admin.listTopics());
    const missing = specs.filter((s) => !existing.has(s.topic));
    if (missing.length > 0) {
      try {
        await admin.createTopics({
          waitForLeaders: false,
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
        log.info({ created: missing.map((s) => s.topic), partitions: opts.partitions }, 'topics created');
      } catch (e) {
        // Another process (an ingester or appender replica) created them first.
        const err = e as { type?: string; errors?: { type?: string }[] };
        const types = [err.type, ...(err.errors ?? []).map((x) => x.type)];
        if (!types.includes('TOPIC_ALREADY_EXISTS')) throw e;
      }
    }
    const { topics } = await admin.fetchTopicMetadata({ topics: specs.map((s) => s.topic) });
    for (const t of topics) {
      const leaderless = t.partitions.filter((p) => p.leader < 0 || p.partitionErrorCode !== 0);
      if (t.partitions.length === 0 || leaderless.length > 0) {
        throw Object.assign(new Error(`topic ${t.name} has partitions without a leader yet`), { type: 'LEADER_NOT_AVAILABLE' });
      }
    }
  } finally {
    await admin.disconnect();
  }
}
