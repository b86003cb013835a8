import type { Config } from '../config/schema.js';

/** Why a buffer is flushed: one of its limits, a rebalance, shutdown, or to free memory or disk. */
export type FlushReason = 'size' | 'records' | 'age' | 'rebalance' | 'shutdown' | 'resources';

/** What the policy needs to know of a buffer. */
export interface BufferState {
  readonly isEmpty: boolean;
  /** OTLP payload bytes buffered */
  readonly byteSize: number;
  readonly recordCount: number;
  /** how long the oldest buffered record has waited, ms */
  ageMs(): number;
}

/**
 * When the lake pipeline commits its buffer: at BUFFER_SIZE_MB of OTLP payload, at
 * BUFFER_MAX_RECORDS log records, or when the oldest record is BUFFER_TIME_SECONDS old,
 * whichever comes first; never when it is empty.
 */
export class FlushPolicy {
  private readonly maxBytes: number;
  private readonly maxRecords: number;
  private readonly maxAgeMs: number;

  constructor(cfg: Pick<Config, 'BUFFER_SIZE_MB' | 'BUFFER_MAX_RECORDS' | 'BUFFER_TIME_SECONDS'>) {
    this.maxBytes = cfg.BUFFER_SIZE_MB * 1024 * 1024;
    this.maxRecords = cfg.BUFFER_MAX_RECORDS;
    this.maxAgeMs = cfg.BUFFER_TIME_SECONDS * 1000;
  }

  /** The limit the buffer has reached, if any. */
  due(buffer: BufferState): FlushReason | undefined {
    if (buffer.isEmpty) return undefined;
    if (buffer.byteSize >= this.maxBytes) return 'size';
    if (buffer.recordCount >= this.maxRecords) return 'records';
    if (buffer.ageMs() >= this.maxAgeMs) return 'age';
    return undefined;
  }

  /** How often the age limit is checked between batches: often enough to keep it within a second. */
  get ageCheckIntervalMs(): number {
    return Math.min(1000, this.maxAgeMs / 4);
  }
}
