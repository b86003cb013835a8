import type { KafkaMessage } from 'kafkajs';
import { TENANT_ID_PATTERN } from '../config/schema.js';
import { Headers, headerString, type Signal } from './record.js';

/** A consumed record that keeps the record contract (docs/kafka-records.md). */
export interface ConsumedRecord {
  tenant: string;
  signal: Signal;
  value: Buffer;
  partition: number;
  offset: string;
  /** the Kafka record's timestamp (ms): where the hot-path latency starts */
  kafkaTimestampMs: number;
  /**
   * When the ingester received the request (ms): its `received-at` header, else the Kafka
   * timestamp. Every pipeline gives a log record that carries neither time field this time.
   */
  receivedAtMs: number;
}

const SIGNALS: ReadonlySet<string> = new Set<Signal>(['logs', 'traces', 'metrics', 'prom-rw']);

/**
 * Reads a consumed record by the record contract, the one check every pipeline makes: a valid
 * `tenant-id` header, a `signal` header the pipeline reads, and a value. Returns the problem
 * instead when the record breaks it (it then goes to the DLQ as BAD_RECORD).
 */
export function readRecord(message: Pick<KafkaMessage, 'headers' | 'value' | 'timestamp' | 'offset'>, partition: number, signals: readonly Signal[]): ConsumedRecord | { problem: string } {
  const tenant = headerString(message.headers, Headers.tenant);
  if (!tenant || !TENANT_ID_PATTERN.test(tenant)) return { problem: 'record has no valid tenant-id header' };
  const signal = headerString(message.headers, Headers.signal);
  if (!signal || !SIGNALS.has(signal)) return { problem: `record has no valid signal header (${signal ?? 'none'})` };
  if (!signals.includes(signal as Signal)) return { problem: `record has signal '${signal}', not one this pipeline reads (${signals.join(', ')})` };
  if (!message.value) return { problem: 'record has no value' };
  const kafkaTimestampMs = Number(message.timestamp);
  const receivedAt = Number(headerString(message.headers, Headers.receivedAt));
  return {
    tenant,
    signal: signal as Signal,
    value: message.value,
    partition,
    offset: message.offset,
    kafkaTimestampMs,
    receivedAtMs: Number.isFinite(receivedAt) && receivedAt > 0 ? receivedAt : Number.isFinite(kafkaTimestampMs) ? kafkaTimestampMs : Date.now(),
  };
}
