import type { ConsumedRecord } from '../kafka/consumed-record.js';

/** One Kafka record handed to a hot-path sink: a consumed record that keeps the record contract. */
export type SinkRecord = ConsumedRecord;

/** What a delivery attempt came to, decided once where the backend's answer is seen. */
export type Delivery =
  | { kind: 'ok'; items: number }
  | { kind: 'retry'; reason: string; retryAfterMs?: number }
  | { kind: 'reject'; reason: string };

/**
 * A hot-path backend. `deliver` sends one tenant's records in one request and classifies the
 * answer: retryable (network, 429, 5xx), rejected for good (other 4xx: the records go to the
 * DLQ with the backend's message), or delivered. `prepare` may throw for a record it cannot
 * encode; that record alone goes to the DLQ.
 */
export interface Sink<P> {
  readonly name: string;
  prepare(record: SinkRecord): P;
  deliver(tenant: string, prepared: P[]): Promise<Delivery>;
}

/** Classifies an HTTP answer the way every hot-path sink does. */
export function classifyHttp(status: number, body: string, retryAfter: string | null): Delivery | undefined {
  if (status >= 200 && status < 300) return undefined;
  const reason = `HTTP ${status}: ${body.trim().slice(0, 500)}`;
  if (status === 429 || status >= 500 || status === 408) {
    const seconds = Number(retryAfter);
    return { kind: 'retry', reason, ...(Number.isFinite(seconds) && seconds > 0 ? { retryAfterMs: seconds * 1000 } : {}) };
  }
  return { kind: 'reject', reason };
}
