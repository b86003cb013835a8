import type { Config } from '../config/schema.js';

const MiB = 1024 * 1024;

/**
 * The ingester's memory bound, as a function of its settings (docs/limits.md), and the limits
 * that make it hold: what the main thread holds is charged to the requests' leases as it is
 * read and inflated (admission.ts); what a decode thread holds is capped by its heap limit.
 */

/**
 * The ingester's resident memory at rest: Node, the Kafka producers, the gRPC and HTTP servers,
 * the decode threads' own code and buffers for idle connections.
 */
export const INGESTER_BASE_BYTES = 192 * MiB;

/**
 * Resident bytes one charged byte may cost the main thread: request bodies (as read and as
 * inflated) are counted exactly, and are freed some time after their request ended.
 */
export const INGESTER_MAIN_BYTES_PER_CHARGED_BYTE = 1.5;

/** A decode thread's young generation: where a decode's short-lived objects are made. */
export const DECODE_THREAD_YOUNG_BYTES = 32 * MiB;

/**
 * A decode thread's old generation: a thread may be given every request in flight, so the
 * in-flight bytes. Past it the thread ends (its requests answered 500), not the ingester.
 */
export function decodeThreadOldBytes(cfg: Pick<Config, 'MAX_INFLIGHT_BYTES'>): number {
  return cfg.MAX_INFLIGHT_BYTES;
}

/** A decode thread whose heap has grown past this is replaced once it has nothing to do. */
export const DECODE_THREAD_REPLACE_BYTES = 64 * MiB;

/** The ingester's documented memory bound for its settings. */
export function ingesterMemoryBoundBytes(cfg: Pick<Config, 'MAX_INFLIGHT_BYTES' | 'INGESTER_DECODE_THREADS'>): number {
  return (
    INGESTER_BASE_BYTES +
    INGESTER_MAIN_BYTES_PER_CHARGED_BYTE * cfg.MAX_INFLIGHT_BYTES +
    cfg.INGESTER_DECODE_THREADS * (decodeThreadOldBytes(cfg) + DECODE_THREAD_YOUNG_BYTES)
  );
}
