import { backoffDelay, sleep as sleepFor } from '../core/retry.js';
import type { Delivery, Sink, SinkRecord } from './sink.js';

/** What one delivery needs from the pipeline around it. */
export interface DeliveryContext {
  /** sends a record the backend refused for good to the DLQ */
  deadLetter(record: SinkRecord, reason: string): Promise<void>;
  /** keeps the consumer's group membership while a delivery waits */
  heartbeat(): Promise<void>;
  /** whether the pipeline still owns the partition and is not stopping */
  owned(): boolean;
}

export interface DeliveryHooks {
  /** each request's outcome */
  requested?(kind: Delivery['kind']): void;
  /** a request landed: its items, and the records it carried */
  delivered?(items: number, records: SinkRecord[]): void;
  /** a request will be sent again after `delayMs` */
  retrying?(tenant: string, attempt: number, delayMs: number, reason: string): void;
}

export interface DeliveryOptions {
  /** the longest backoff between attempts (SINK_RETRY_MAX_MS) */
  retryMaxMs: number;
  /** ends the waiting when the pipeline stops */
  signal: AbortSignal;
  hooks?: DeliveryHooks;
  /** how to wait; a test passes one that does not */
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
}

/**
 * Delivers one tenant's records to a hot-path backend, retrying what may pass with exponential
 * backoff (at least the backend's Retry-After). When the backend refuses a request for good, its
 * halves are tried apart, so only the records it refuses go to the DLQ and the rest land.
 * Resolves true when every record landed or was dead-lettered, false when it stopped early (the
 * pipeline is stopping or lost the partition): nothing of the batch is then acknowledged.
 */
export class Deliverer<P> {
  private readonly sleep: (ms: number, signal: AbortSignal) => Promise<void>;

  constructor(
    private readonly sink: Sink<P>,
    private readonly options: DeliveryOptions,
  ) {
    this.sleep = options.sleep ?? sleepFor;
  }

  async deliver(tenant: string, prepared: P[], records: SinkRecord[], ctx: DeliveryContext): Promise<boolean> {
    const hooks = this.options.hooks ?? {};
    for (let attempt = 0; ; attempt++) {
      if (!ctx.owned() || this.options.signal.aborted) return false;
      const result = await this.sink.deliver(tenant, prepared);
      hooks.requested?.(result.kind);
      if (result.kind === 'ok') {
        hooks.delivered?.(result.items, records);
        return true;
      }
      if (result.kind === 'reject') {
        if (records.length === 1) {
          await ctx.deadLetter(records[0]!, result.reason);
          return true;
        }
        const mid = Math.floor(records.length / 2);
        return (
          (await this.deliver(tenant, prepared.slice(0, mid), records.slice(0, mid), ctx)) &&
          (await this.deliver(tenant, prepared.slice(mid), records.slice(mid), ctx))
        );
      }
      const delay = Math.max(result.retryAfterMs ?? 0, backoffDelay(attempt, { initialMs: 200, maxMs: this.options.retryMaxMs }));
      hooks.retrying?.(tenant, attempt, delay, result.reason);
      await ctx.heartbeat();
      await this.sleep(delay, this.options.signal);
    }
  }
}
