import { LakehouseError } from './errors.js';

interface Waiter {
  bytes: number;
  resolve: () => void;
  reject: (e: unknown) => void;
}

/**
 * Bytes the consumers of one process may hold at once: taken before what they stand for is
 * allocated, given back once it is let go. A taker that does not fit waits, first come first
 * served. A waiter must hold nothing of the budget while it waits (it gives back what it holds
 * first), so waiters cannot hold each other up for ever.
 */
export class ByteBudget {
  private used = 0;
  private readonly waiting: Waiter[] = [];

  constructor(readonly total: number) {}

  get inUse(): number {
    return this.used;
  }

  /** Takes `bytes` if they fit now and no one waits before; false otherwise. */
  tryTake(bytes: number): boolean {
    if (this.waiting.length > 0 || this.used + bytes > this.total) return false;
    this.used += bytes;
    return true;
  }

  /** Takes `bytes`, waiting for room; rejects when `signal` aborts first. More than `total` is never given. */
  take(bytes: number, signal?: AbortSignal): Promise<void> {
    if (bytes > this.total) return Promise.reject(new LakehouseError('INTERNAL', `${bytes} bytes asked of a budget of ${this.total}`));
    if (this.tryTake(bytes)) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = { bytes, resolve, reject };
      const abort = () => {
        const i = this.waiting.indexOf(waiter);
        if (i >= 0) this.waiting.splice(i, 1);
        reject(signal!.reason ?? new Error('aborted'));
        // the next in line may fit now that this one stands aside
        this.wake();
      };
      if (signal?.aborted) return abort();
      signal?.addEventListener('abort', abort, { once: true });
      waiter.resolve = () => {
        signal?.removeEventListener('abort', abort);
        resolve();
      };
      this.waiting.push(waiter);
    });
  }

  give(bytes: number): void {
    this.used = Math.max(0, this.used - bytes);
    this.wake();
  }

  private wake(): void {
    while (this.waiting.length > 0 && this.used + this.waiting[0]!.bytes <= this.total) {
      const w = this.waiting.shift()!;
      this.used += w.bytes;
      w.resolve();
    }
  }
}
