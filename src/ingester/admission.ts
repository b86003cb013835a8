import { LakehouseError } from '../core/errors.js';

/**
 * Backpressure: a request is admitted while fewer than `maxRequests` are in flight, and its
 * bytes are admitted while fewer than `maxBytes` are held. What is refused gets 429 with
 * Retry-After, so a client backs off instead of piling up work the broker cannot take.
 */
export class Admission {
  private requests = 0;
  private bytes = 0;

  constructor(
    private readonly maxRequests: number,
    private readonly maxBytes: number,
    private readonly retryAfterSeconds = 1,
    private readonly onChange?: (requests: number, bytes: number) => void,
  ) {}

  /** Admits one request; returns its release function (idempotent). */
  enter(): () => void {
    if (this.requests >= this.maxRequests) {
      throw new LakehouseError('OVERLOADED', `too many requests in flight (limit ${this.maxRequests}); retry later`, {
        retryAfterSeconds: this.retryAfterSeconds,
      });
    }
    this.requests++;
    this.onChange?.(this.requests, this.bytes);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.requests--;
      this.onChange?.(this.requests, this.bytes);
    };
  }

  /** Holds `n` bytes until the returned release function is called (idempotent). */
  hold(n: number): () => void {
    if (this.bytes > 0 && this.bytes + n > this.maxBytes) {
      throw new LakehouseError('OVERLOADED', `too many bytes in flight (limit ${this.maxBytes}); retry later`, {
        retryAfterSeconds: this.retryAfterSeconds,
      });
    }
    this.bytes += n;
    this.onChange?.(this.requests, this.bytes);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.bytes -= n;
      this.onChange?.(this.requests, this.bytes);
    };
  }

  get inflightRequests(): number {
    return this.requests;
  }
  get inflightBytes(): number {
    return this.bytes;
  }
}
