import { LakehouseError } from './errors.js';

/**
 * Refusals for being over a limit (429) are answered after a pause of up to a second, the
 * Retry-After they carry at most: a client that ignores Retry-After and sends again at once
 * would otherwise cost a request's handling a thousand times a second per
 * connection, and take that time from the tenants within their limits. What a pause holds is
 * a timer and the connection, whose unread body waits in the kernel; past `maxWaiting` pauses
 * at once, refusals are answered at once.
 */
export class RefusalPause {
  private waiting = 0;

  constructor(
    private readonly maxWaiting = 4096,
    private readonly maxMs = 1000,
  ) {}

  /** Resolves when the answer to `e` may be given. */
  async before(e: unknown): Promise<void> {
    if (!(e instanceof LakehouseError) || (e.code !== 'TENANT_LIMITED' && e.code !== 'OVERLOADED')) return;
    if (this.waiting >= this.maxWaiting) return;
    this.waiting++;
    try {
      await new Promise((r) => setTimeout(r, Math.min(this.maxMs, (e.retryAfterSeconds ?? 1) * 1000)));
    } finally {
      this.waiting--;
    }
  }
}
