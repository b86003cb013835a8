import './crc32c.js'; // before kafkajs: see crc32c.ts
import './request-queue.js'; // before any connection: see request-queue.ts
import kafkajs, { Partitioners, type IHeaders, type Kafka, type Producer } from 'kafkajs';
import './zstd.js'; // the codec of `compression: 'zstd'`
import { PRODUCE_SETTLE_GRACE_MS } from '../config/schema.js';
import { LakehouseError } from '../core/errors.js';
import { settlesWithin } from '../core/retry.js';
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


/** How a write ended: acknowledged, never sent, or sent and not acknowledged (it may have landed). */
export type WriteOutcome = 'written' | 'not-written' | 'unknown';

/** One kafkajs producer (one producer id, one connection per broker), used by one write at a time. */
interface Lane {
  producer: Producer | undefined;
  /** the key the lane was taken under */
  key: string;
}

/**
 * Idempotent producers with acks=all. send() resolves only when the broker has acknowledged
 * every record, and rejects with BROKER_UNAVAILABLE when the write has ended without that: its
 * retries are bounded to about 70 % of `timeoutMs` (retryWithin), and send() waits for the
 * write to end rather than answering at a fixed time. A write still running
 * `PRODUCE_SETTLE_GRACE_MS` past the timeout (a broker that took the request and went silent)
 * is answered as an unknown outcome; one still waiting for its turn then is not sent at all.
 *
 * Writes go through `lanes` producers, each taking one write at a time. kafkajs gives a failed
 * write's sequence numbers back to the next write on the same partition; had the failed write
 * landed all the same (its answer lost with the connection), the broker would take that next
 * write for a retry of it and acknowledge it without storing it. So a lane runs one write at a
 * time, and after a write ends unacknowledged the lane's producer is replaced: the next write
 * starts a new producer id, and at worst a client's retry stores a write twice, never loses one.
 */
export class RecordProducer implements Component {
  readonly name = 'kafka.producer';
  private readonly lanes: Lane[];
  private readonly free: Lane[] = [];
  /** writes waiting for a lane, by the key they share a turn under (a tenant), in turn order */
  private readonly waiting = new Map<string, ((lane: Lane) => void)[]>();
  /** lanes taken, by the key they were taken under */
  private readonly holding = new Map<string, number>();

  private started = false;
  private readonly log: Logger;

  constructor(
    private readonly kafka: Kafka,
    private readonly timeoutMs: number,
    logger: Logger,
    lanes = 1,
    /** KAFKA_COMPRESSION */
    private readonly compression: 'none' | 'zstd' = 'none',
  ) {
    this.log = logger.child({ component: this.name });
    this.lanes = Array.from({ length: lanes }, () => ({ producer: undefined, key: '' }));
    this.free.push(...this.lanes);
  }

  async start(): Promise<void> {
    if (this.started) return;
    await Promise.all(this.lanes.map((lane) => this.connected(lane)));
    this.started = true;
    this.log.info({ producers: this.lanes.length }, 'producer connected');
  }

  async stop(): Promise<void> {
    if (!this.started) return;
    this.started = false;
    await Promise.all(this.lanes.map((lane) => this.retire(lane)));
    this.log.info('producer disconnected');
  }

  /**
   * Produces `records` and resolves once the broker acknowledged them (acks=all). `onSettled`
   * gets the write's outcome when the write itself ends, which after an unknown-outcome answer
   * is later than send() rejects.
   */
  async send(topic: string, records: OutgoingRecord[], onSettled?: (outcome: WriteOutcome) => void, turnKey = ''): Promise<void> {
    if (!this.started) {
      onSettled?.('not-written');
      throw new LakehouseError('BROKER_UNAVAILABLE', 'producer is not started', { retryAfterSeconds: 5 });
    }
    const w: { stage: 'queued' | 'sending' | 'abandoned' } = { stage: 'queued' };
    // the answer may have given up on the write, or the producer stopped, while it waited
    const givenUp = () => w.stage === 'abandoned' || !this.started;
    const write = (async () => {
      const lane = await this.take(turnKey);
      try {
        if (givenUp()) return;
        const producer = await this.connected(lane);
        if (givenUp()) return;
        w.stage = 'sending';
        try {
          await producer.send({ topic, acks: -1, timeout: this.timeoutMs, messages: records, compression: this.compression === 'zstd' ? kafkajs.CompressionTypes.ZSTD : kafkajs.CompressionTypes.None });
        } catch (e) {
          await this.retire(lane);
          throw e;
        }
      } finally {
        this.give(lane);
      }
    })();
    void write.then(
      () => onSettled?.(w.stage === 'sending' ? 'written' : 'not-written'),
      () => onSettled?.(w.stage === 'sending' ? 'unknown' : 'not-written'),
    );
    const waitMs = this.timeoutMs + PRODUCE_SETTLE_GRACE_MS;
    try {
      if (!(await settlesWithin(write, waitMs))) {
        if (w.stage === 'sending') throw new LakehouseError('BROKER_UNAVAILABLE', `broker did not acknowledge within ${waitMs} ms; the write's outcome is unknown`, { retryAfterSeconds: 5 });
        w.stage = 'abandoned';
        throw new LakehouseError('BROKER_UNAVAILABLE', `the write could not start within ${waitMs} ms (earlier writes are still waiting for the broker); it was not sent`, { retryAfterSeconds: 5 });
      }
      if (w.stage !== 'sending') throw new LakehouseError('BROKER_UNAVAILABLE', 'producer is stopping; the write was not sent', { retryAfterSeconds: 5 });
    } catch (e) {
      if (e instanceof LakehouseError) throw e;
      throw new LakehouseError('BROKER_UNAVAILABLE', `broker did not take the write: ${(e as Error).message}`, { cause: e, retryAfterSeconds: 5 });
    }
  }

  /**
   * A lane for a write under `key`. Keys take turns for lanes as they free up (round robin), so
   * that one tenant's queue of large writes does not stand before another tenant's single small
   * one; and the last free lane is kept for a key that holds none, so that a tenant's first write
   * need not wait for a lane at all while another tenant's writes hold all the others.
   */
  private take(key: string): Promise<Lane> {
    if (!this.waiting.has(key) && this.mayTake(key, this.free.length)) return Promise.resolve(this.hold(key, this.free.pop()!));
    return new Promise((resolve) => {
      const queue = this.waiting.get(key);
      if (queue) queue.push(resolve);
      else this.waiting.set(key, [resolve]);
    });
  }

  private mayTake(key: string, free: number): boolean {
    return free > 1 || (free === 1 && !this.holding.has(key));
  }

  private hold(key: string, lane: Lane): Lane {
    this.holding.set(key, (this.holding.get(key) ?? 0) + 1);
    lane.key = key;
    return lane;
  }

  private give(lane: Lane): void {
    const held = (this.holding.get(lane.key) ?? 1) - 1;
    if (held > 0) this.holding.set(lane.key, held);
    else this.holding.delete(lane.key);
    this.free.push(lane);
    // the freed lane, or the one kept, may now go to a waiting key: the first in turn order that may take one
    for (let handed = true; handed && this.free.length > 0; ) {
      handed = false;
      for (const [next, queue] of this.waiting) {
        if (!this.mayTake(next, this.free.length)) continue;
        const resolve = queue.shift()!;
        // to the back of the turn order, with its remaining writes
        this.waiting.delete(next);
        if (queue.length > 0) this.waiting.set(next, queue);
        resolve(this.hold(next, this.free.pop()!));
        handed = true;
        break;
      }
    }
  }

  /** The lane's producer, connected (a new producer id) if the lane has none. */
  private async connected(lane: Lane): Promise<Producer> {
    if (lane.producer) return lane.producer;
    const producer = this.kafka.producer({
      idempotent: true,
      maxInFlightRequests: 1,
      allowAutoTopicCreation: false,
      retry: retryWithin(this.timeoutMs * 0.7),
      // murmur2 of the key, as the Java client does: a tenant's records share a partition.
      createPartitioner: Partitioners.DefaultPartitioner,
    });
    try {
      await producer.connect();
    } catch (e) {
      await producer.disconnect().catch(() => {});
      throw e;
    }
    lane.producer = producer;
    return producer;
  }

  /** Drops the lane's producer; its next write connects a new one. */
  private async retire(lane: Lane): Promise<void> {
    const producer = lane.producer;
    lane.producer = undefined;
    await producer?.disconnect().catch((err: unknown) => this.log.warn({ err }, 'disconnecting a producer failed'));
  }
}
