import './crc32c.js'; // before kafkajs: see crc32c.ts
import { Partitioners, type IHeaders, type Kafka, type Producer } from 'kafkajs';
import { LakehouseError } from '../core/errors.js';
import type { Component } from '../core/lifecycle.js';
import type { Logger } from '../telemetry/logger.js';

export interface OutgoingRecord {
  key: string;
  value: Buffer;
  headers: IHeaders;
}

/**
 * Idempotent producer with acks=all. send() resolves only when the broker has acknowledged
 * every record; it rejects with BROKER_UNAVAILABLE when that takes longer than `timeoutMs`.
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
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new LakehouseError('BROKER_UNAVAILABLE', `broker did not acknowledge within ${this.timeoutMs} ms`, { retryAfterSeconds: 5 })),
        this.timeoutMs,
      );
    });
    const write = producer.send({ topic, acks: -1, timeout: this.timeoutMs, messages: records });
    void write.then(onSettled, onSettled);
    try {
      await Promise.race([write, timeout]);
    } catch (e) {
      if (e instanceof LakehouseError) throw e;
      throw new LakehouseError('BROKER_UNAVAILABLE', `broker refused the write: ${(e as Error).message}`, { cause: e, retryAfterSeconds: 5 });
    } finally {
      clearTimeout(timer);
    }
  }
}
