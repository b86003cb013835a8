import './crc32c.js'; // before kafkajs: see crc32c.ts
import { Partitioners, type IHeaders, type Kafka, type Producer } from 'kafkajs';
import { PRODUCE_SETTLE_GRACE_MS } from '../config/schema.js';
import { LakehouseError } from '../core/errors.js';
import type { Component } from '../core/lifecycle.js';
import type { Logger } from '../telemetry/logger.js';

export interface OutgoingRecord {
  key: string;
  value: Buffer;
  headers: IHeaders;
}

/**
 * kafkajs retry settings whose backoffs, at their longest (jitter included), add up to no more
 * than `budgetMs`: a write that cannot reach the broker gives up within the budget instead of
 * retrying on after the client was answered.
 */
export function retryWithin(budgetMs: number): { initialRetryTime: number; maxRetryTime: number; factor: number; multiplier: number; retries: number } {
  const r = { initialRetryTime: 100, maxRetryTime: 1000, factor: 0.2, multiplier: 2, retries: 0 };
  // kafkajs waits initialRetryTime ± factor before the first retry, and each next wait is the
  // last × (1 ± factor) × multiplier, capped at maxRetryTime
  let wait = r.initialRetryTime * (1 + r.factor);
  let total = 0;
  while (total + wait <= budgetMs) {
    total += wait;
    r.retries++;
    wait = Math.min(wait * (1 + r.factor) * r.multiplier, r.maxRetryTime);
  }
  return r;
}


/**
 * Idempotent producer with acks=all. send() resolves only when the broker has acknowledged
 * every record, and rejects with BROKER_UNAVAILABLE only when the write has ended without that:
 * its retries are bounded to about 70 % of `timeoutMs` (retryWithin), and send() waits for the
 * write to end rather than answering at a fixed time. A client told 503 can therefore send
 * again without the first write landing behind its back (which would store the records twice).
 * A write still running `PRODUCE_SETTLE_GRACE_MS` past the timeout (a broker that accepted the
 * connection and went silent) is answered 503 as an unknown outcome.
 */
export class RecordProducer implements Component {
  readonly name = 'kafka.producer';
  private producer: Producer | undefined;
  private connected = false;
  private readonly log: Logger;

  constructor(
    private readonly kafka: Kafka,
    private readonly timeoutMs: number,
    logger: Logger,
  ) {
    this.log = logger.child({ component: this.name });
  }

  async start(): Promise<void> {
    if (this.connected) return;
    this.producer ??= this.kafka.producer({
      idempotent: true,
      maxInFlightRequests: 1,
      allowAutoTopicCreation: false,
      retry: retryWithin(this.timeoutMs * 0.7),
      // murmur2 of the key, as the Java client does: a tenant's records share a partition.
      createPartitioner: Partitioners.DefaultPartitioner,
    });
    this.producer.on('producer.disconnect', () => {
      this.connected = false;
    });
    await this.producer.connect();
    this.connected = true;
    this.log.info('producer connected');
  }

  async stop(): Promise<void> {
    if (!this.producer) return;
    const p = this.producer;
    this.producer = undefined;
    this.connected = false;
    await p.disconnect();
    this.log.info('producer disconnected');
  }

  get isConnected(): boolean {
    return this.connected;
  }

  /**
   * Produces `records` and resolves once the broker acknowledged them (acks=all). `onSettled`
   * runs when the write itself ends, which after a timeout can be later than send() rejects.
   */
  async send(topic: string, records: OutgoingRecord[], onSettled?: () => void): Promise<void> {
    const producer = this.producer;
    if (!producer) {
      onSettled?.();
      throw new LakehouseError('BROKER_UNAVAILABLE', 'producer is not started', { retryAfterSeconds: 5 });
    }
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'late'>((resolve) => {
      timer = setTimeout(() => resolve('late'), this.timeoutMs + PRODUCE_SETTLE_GRACE_MS);
    });
    const write = producer.send({ topic, acks: -1, timeout: this.timeoutMs, messages: records });
    void write.then(onSettled, onSettled);
    try {
      const outcome = await Promise.race([write.then(() => 'written' as const), late]);
      if (outcome === 'late') {
        throw new LakehouseError('BROKER_UNAVAILABLE', `broker did not acknowledge within ${this.timeoutMs + PRODUCE_SETTLE_GRACE_MS} ms; the write's outcome is unknown`, { retryAfterSeconds: 5 });
      }
    } catch (e) {
      if (e instanceof LakehouseError) throw e;
      throw new LakehouseError('BROKER_UNAVAILABLE', `broker did not take the write: ${(e as Error).message}`, { cause: e, retryAfterSeconds: 5 });
    } finally {
      clearTimeout(timer);
    }
  }
}
