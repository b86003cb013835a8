import type { KafkaMessage } from 'kafkajs';
import type { DeadLetterCode } from '../core/errors.js';
import type { Component } from '../core/lifecycle.js';
import { retry } from '../core/retry.js';
import type { Logger } from '../telemetry/logger.js';
import type { Metrics } from '../telemetry/metrics.js';
import type { RecordProducer } from './producer.js';
import { dlqTopic } from './topics.js';

/**
 * Sends records that cannot be processed to `<topic>-dlq`: the original value and headers plus
 * error-code, error-message, pipeline, source-topic, source-partition, source-offset and failed-at.
 * Retries until the broker takes it (the caller must not move past the record before).
 */
export class DeadLetterQueue implements Component {
  readonly name: string;
  private readonly log: Logger;

  constructor(
    private readonly pipeline: string,
    private readonly topic: string,
    private readonly producer: RecordProducer,
    private readonly metrics: Metrics,
    logger: Logger,
    private readonly signal?: AbortSignal,
  ) {
    this.name = `dlq.${pipeline}`;
    this.log = logger.child({ component: this.name });
  }

  start(): Promise<void> {
    return this.producer.start();
  }

  stop(): Promise<void> {
    return this.producer.stop();
  }

  async send(message: KafkaMessage, partition: number, offset: string | bigint, code: DeadLetterCode, reason: string): Promise<void> {
    const headers = {
      ...(message.headers ?? {}),
      'error-code': code,
      'error-message': reason.slice(0, 1000),
      // which pipeline gave up on it: each dead-letters on its own, so one record may be here once per pipeline
      pipeline: this.pipeline,
      'source-topic': this.topic,
      'source-partition': String(partition),
      'source-offset': String(offset),
      'failed-at': String(Date.now()),
    };
    await retry(
      () => this.producer.send(dlqTopic(this.topic), [{ key: message.key?.toString() ?? '', value: message.value ?? Buffer.alloc(0), headers }]),
      {
        initialMs: 200,
        maxMs: 30_000,
        shouldRetry: () => !this.signal?.aborted,
        ...(this.signal ? { signal: this.signal } : {}),
        onRetry: (err, attempt, delayMs) => this.log.warn({ err, attempt, delayMs }, 'dead-lettering a record failed; retrying'),
      },
    );
    this.metrics.dlqRecords.inc({ pipeline: this.pipeline, code });
    this.log.warn({ partition, offset: String(offset), code, reason: reason.slice(0, 300) }, 'record sent to the DLQ');
  }
}
