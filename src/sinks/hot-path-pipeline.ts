import type { Consumer, EachBatchPayload, Kafka, KafkaMessage } from 'kafkajs';
import { TENANT_ID_PATTERN, type Config } from '../config/schema.js';
import type { Component } from '../core/lifecycle.js';
import { backoffDelay, sleep } from '../core/retry.js';
import { DeadLetterQueue } from '../kafka/dlq.js';
import { RecordProducer } from '../kafka/producer.js';
import { Headers, headerString, type Signal } from '../kafka/record.js';
import { ensureTopics, topicWithDlq } from '../kafka/topics.js';
import type { Logger } from '../telemetry/logger.js';
import type { Metrics } from '../telemetry/metrics.js';
import type { Sink, SinkRecord } from './sink.js';

const SIGNALS = new Set<string>(['logs', 'traces', 'metrics', 'prom-rw']);

/**
 * One hot-path pipeline: its own consumer group on one topic, delivering each fetched batch to
 * one backend, one request per tenant. A delivery is retried with backoff (and the backend's
 * Retry-After) until it lands; a record the backend refuses for good, or that cannot be encoded,
 * goes to the DLQ with the reason. Offsets are committed only after every record of the batch
 * was acknowledged or dead-lettered: at least once.
 */
export class HotPathPipeline<P> implements Component {
  readonly name: string;
  private readonly log: Logger;
  private readonly dlq: DeadLetterQueue;
  private consumer: Consumer | undefined;
  private readonly abort = new AbortController();
  private running = false;

  /** Whether the pipeline consumes (started, not stopping). */
  get isRunning(): boolean {
    return this.running;
  }

  constructor(
    private readonly cfg: Config,
    private readonly kafka: Kafka,
    private readonly topic: string,
    private readonly sink: Sink<P>,
    private readonly metrics: Metrics,
    private readonly logger: Logger,
  ) {
    this.name = `pipeline.${sink.name}`;
    this.log = logger.child({ component: this.name });
    this.dlq = new DeadLetterQueue(sink.name, topic, new RecordProducer(kafka, cfg.PRODUCE_TIMEOUT_MS, logger), metrics, logger, this.abort.signal);
  }

  async start(): Promise<void> {
    if (this.consumer) return;
    await ensureTopics(this.kafka, topicWithDlq(this.topic), { partitions: this.cfg.TOPIC_PARTITIONS, replicationFactor: this.cfg.TOPIC_REPLICATION_FACTOR }, this.logger);
    await this.dlq.start();
    const consumer = this.kafka.consumer({
      groupId: `${this.cfg.SINK_GROUP_PREFIX}-${this.sink.name}`,
      sessionTimeout: 30_000,
      heartbeatInterval: 3000,
      // Batching: a fetch waits up to SINK_LINGER_MS for SINK_MIN_BATCH_BYTES, and brings at
      // most SINK_MAX_BATCH_BYTES per partition; requests carry at most SINK_MAX_BATCH_RECORDS.
      maxWaitTimeInMs: this.cfg.SINK_LINGER_MS,
      minBytes: this.cfg.SINK_MIN_BATCH_BYTES,
      maxBytesPerPartition: this.cfg.SINK_MAX_BATCH_BYTES,
      allowAutoTopicCreation: false,
    });
    this.consumer = consumer;
    await consumer.connect();
    await consumer.subscribe({ topic: this.topic, fromBeginning: true });
    // Partitions are delivered side by side: a batch waiting on the backend holds back only its partition.
    await consumer.run({ autoCommit: false, eachBatchAutoResolve: false, partitionsConsumedConcurrently: Math.max(1, this.cfg.TOPIC_PARTITIONS), eachBatch: (p) => this.onBatch(p) });
    this.running = true;
    this.log.info({ topic: this.topic, group: `${this.cfg.SINK_GROUP_PREFIX}-${this.sink.name}` }, 'hot-path pipeline started');
  }

  async stop(): Promise<void> {
    const consumer = this.consumer;
    if (!consumer) return;
    this.consumer = undefined;
    this.running = false;
    this.abort.abort();
    await consumer.disconnect();
    await this.dlq.stop();
    this.log.info('hot-path pipeline stopped');
  }

  private async onBatch({ batch, resolveOffset, heartbeat, isRunning, isStale }: EachBatchPayload): Promise<void> {
    const started = Date.now();
    const byTenant = new Map<string, { prepared: P[]; records: SinkRecord[] }>();
    for (const message of batch.messages) {
      const record = this.toRecord(message, batch.partition);
      if (typeof record === 'string') {
        await this.dlq.send(message, batch.partition, message.offset, 'BAD_RECORD', record);
        continue;
      }
      let prepared: P;
      try {
        prepared = this.sink.prepare(record);
      } catch (e) {
        await this.dlq.send(message, batch.partition, message.offset, 'ENCODE_FAILED', (e as Error).message);
        continue;
      }
      const group = byTenant.get(record.tenant) ?? { prepared: [], records: [] };
      group.prepared.push(prepared);
      group.records.push(record);
      byTenant.set(record.tenant, group);
    }
    const messagesByOffset = new Map(batch.messages.map((m) => [m.offset, m]));
    const max = this.cfg.SINK_MAX_BATCH_RECORDS;
    for (const [tenant, group] of byTenant) {
      for (let i = 0; i < group.records.length; i += max) {
        const done = await this.deliverGroup(tenant, group.prepared.slice(i, i + max), group.records.slice(i, i + max), (r, reason) =>
          this.dlq.send(messagesByOffset.get(r.offset)!, batch.partition, r.offset, 'BACKEND_REJECTED', reason),
          heartbeat, () => isRunning() && !isStale());
        if (!done) return; // stopping or rebalanced: not acknowledged, read again by the next owner
      }
    }
    resolveOffset(batch.lastOffset());
    await this.consumer?.commitOffsets([{ topic: batch.topic, partition: batch.partition, offset: String(BigInt(batch.lastOffset()) + 1n) }]);
    this.metrics.sinkBatchSeconds.observe({ sink: this.sink.name }, (Date.now() - started) / 1000);
    await heartbeat();
  }

  /**
   * Delivers one tenant's records, retrying what may pass. When the backend refuses a request
   * for good, its halves are tried apart, so only the records it refuses go to the DLQ.
   * Returns false when it stopped early (the pipeline is stopping or lost the partition).
   */
  private async deliverGroup(
    tenant: string,
    prepared: P[],
    records: SinkRecord[],
    deadLetter: (r: SinkRecord, reason: string) => Promise<void>,
    heartbeat: () => Promise<void>,
    owned: () => boolean,
  ): Promise<boolean> {
    for (let attempt = 0; ; attempt++) {
      if (!owned() || this.abort.signal.aborted) return false;
      const result = await this.sink.deliver(tenant, prepared);
      this.metrics.sinkRequests.inc({ sink: this.sink.name, outcome: result.kind });
      if (result.kind === 'ok') {
        this.metrics.sinkItems.inc({ sink: this.sink.name }, result.items);
        const now = Date.now();
        for (const r of records) this.metrics.sinkHotPathSeconds.observe({ sink: this.sink.name }, Math.max(0, now - r.timestamp) / 1000);
        return true;
      }
      if (result.kind === 'reject') {
        if (records.length === 1) {
          await deadLetter(records[0]!, result.reason);
          return true;
        }
        const mid = Math.floor(records.length / 2);
        return (
          (await this.deliverGroup(tenant, prepared.slice(0, mid), records.slice(0, mid), deadLetter, heartbeat, owned)) &&
          (await this.deliverGroup(tenant, prepared.slice(mid), records.slice(mid), deadLetter, heartbeat, owned))
        );
      }
      const delay = Math.max(result.retryAfterMs ?? 0, backoffDelay(attempt, { initialMs: 200, maxMs: this.cfg.SINK_RETRY_MAX_MS }));
      if (attempt % 10 === 0) this.log.warn({ tenant, attempt, delayMs: delay, reason: result.reason }, 'delivery failed; retrying');
      await heartbeat();
      await sleep(delay, this.abort.signal);
    }
  }

  private toRecord(message: KafkaMessage, partition: number): SinkRecord | string {
    const tenant = headerString(message.headers, Headers.tenant);
    const signal = headerString(message.headers, Headers.signal);
    if (!tenant || !TENANT_ID_PATTERN.test(tenant)) return 'record has no valid tenant-id header';
    if (!signal || !SIGNALS.has(signal)) return `record has no valid signal header (${signal ?? 'none'})`;
    if (!message.value) return 'record has no value';
    return { tenant, signal: signal as Signal, value: message.value, timestamp: Number(message.timestamp), partition, offset: message.offset };
  }
}
