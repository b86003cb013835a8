import type { Consumer, ConsumerConfig, EachBatchPayload, Kafka, KafkaMessage } from 'kafkajs';
import type { Config } from '../config/schema.js';
import type { DeadLetterCode } from '../core/errors.js';
import type { Component } from '../core/lifecycle.js';
import type { Logger } from '../telemetry/logger.js';
import type { Metrics } from '../telemetry/metrics.js';
import { readRecord, type ConsumedRecord } from './consumed-record.js';
import { DeadLetterQueue } from './dlq.js';
import { RecordProducer } from './producer.js';
import type { Signal } from './record.js';
import { ensureTopics, topicWithDlq } from './topics.js';

/** A pipeline as the appender runs it: a component that says whether it consumes. */
export interface Pipeline extends Component {
  readonly isRunning: boolean;
  /** Why the pipeline cannot work now (a dependency of its own unreachable), or undefined. */
  notReadyReason?(): Promise<string | undefined>;
}

export interface ConsumerPipelineOptions {
  /** `lake`, `loki`, …: the component is `pipeline.<name>`, and the DLQ metrics' label */
  name: string;
  topic: string;
  groupId: string;
  /** the signals this pipeline reads; a record of another goes to the DLQ */
  signals: readonly Signal[];
  /** the consumer's settings besides the group */
  consumer: Omit<ConsumerConfig, 'groupId' | 'allowAutoTopicCreation'>;
  /** partitions whose batches are handled side by side */
  concurrency: number;
  /** whether kafkajs resolves a batch's offsets when its handler returns */
  autoResolve: boolean;
}

/**
 * What every pipeline of the appender shares: its topic and dead-letter twin created when
 * missing, its DLQ producer, a consumer group of its own reading from the beginning with Kafka
 * offsets committed only by the pipeline (after delivery), the record contract checked on every
 * record, and the order of a clean stop. A pipeline adds what it does with a batch, and hooks for
 * what it opens before consuming and drains before leaving the group.
 */
export abstract class ConsumerPipeline implements Pipeline {
  readonly name: string;
  protected readonly log: Logger;
  protected readonly dlq: DeadLetterQueue;
  protected consumer: Consumer | undefined;
  /** aborted when the pipeline stops: retries and backoffs end */
  protected readonly abort = new AbortController();
  protected stopping = false;
  private running = false;

  constructor(
    protected readonly cfg: Config,
    protected readonly kafka: Kafka,
    protected readonly options: ConsumerPipelineOptions,
    readonly metrics: Metrics,
    protected readonly logger: Logger,
  ) {
    this.name = `pipeline.${options.name}`;
    this.log = logger.child({ component: this.name });
    this.dlq = new DeadLetterQueue(options.name, options.topic, new RecordProducer(kafka, cfg.PRODUCE_TIMEOUT_MS, logger), metrics, logger, this.abort.signal);
  }

  /** Whether the pipeline consumes (started, not stopping). */
  get isRunning(): boolean {
    return this.running;
  }

  async start(): Promise<void> {
    if (this.consumer || this.stopping) return;
    const { topic, groupId } = this.options;
    await ensureTopics(this.kafka, topicWithDlq(topic), { partitions: this.cfg.TOPIC_PARTITIONS, replicationFactor: this.cfg.TOPIC_REPLICATION_FACTOR }, this.logger);
    await this.dlq.start();
    await this.open();
    const consumer = this.kafka.consumer({ ...this.options.consumer, groupId, allowAutoTopicCreation: false });
    this.consumer = consumer;
    this.watch(consumer);
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: this.options.autoResolve,
      partitionsConsumedConcurrently: this.options.concurrency,
      eachBatch: (payload) => this.onBatch(payload),
    });
    await this.consuming();
    this.running = true;
    this.log.info({ topic, group: groupId }, 'pipeline started');
  }

  /** Drains what the pipeline holds, then leaves the group and closes what it opened. */
  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    this.running = false;
    const consumer = this.consumer;
    try {
      await this.drain(consumer);
    } finally {
      this.abort.abort();
      if (consumer) await consumer.disconnect();
      this.consumer = undefined;
      await this.dlq.stop();
      await this.close();
      this.log.info('pipeline stopped');
    }
  }

  /** The record contract of a consumed record; one that breaks it goes to the DLQ (undefined). */
  protected async accept(message: KafkaMessage, partition: number): Promise<ConsumedRecord | undefined> {
    const record = readRecord(message, partition, this.options.signals);
    if ('problem' in record) {
      await this.deadLetter(message, partition, message.offset, 'BAD_RECORD', record.problem);
      return undefined;
    }
    return record;
  }

  protected deadLetter(message: KafkaMessage, partition: number, offset: string | bigint, code: DeadLetterCode, reason: string): Promise<void> {
    return this.dlq.send(message, partition, offset, code, reason);
  }

  /** Commits the group's position of each partition: the next offset to read. */
  protected async commitPositions(next: ReadonlyMap<number, bigint>): Promise<void> {
    const offsets = [...next].map(([partition, offset]) => ({ topic: this.options.topic, partition, offset: String(offset) }));
    await this.consumer?.commitOffsets(offsets);
  }

  protected abstract onBatch(payload: EachBatchPayload): Promise<void>;
  /** Before the consumer is made: what the pipeline needs to handle batches. */
  protected async open(): Promise<void> {}
  /** The consumer's events, before it connects. */
  protected watch(_consumer: Consumer): void {}
  /** Once the pipeline consumes: timers and the like. */
  protected async consuming(): Promise<void> {}
  /** Before the consumer leaves the group (stopping is set): what is held is delivered. */
  protected async drain(_consumer: Consumer | undefined): Promise<void> {}
  /** After the consumer left and the DLQ closed. */
  protected async close(): Promise<void> {}
}
