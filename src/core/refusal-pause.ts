import { LakehouseError, type ErrorCode } from './errors.js';

/**
 * How long the refusals a flood repeats are held before they are answered: over a tenant's own limit (429:
 * up to its Retry-After, a second at most), without a valid token (401), too large (413).
 */
export const REFUSAL_PAUSE_MS: Partial<Record<ErrorCode, number>> = {
  TENANT_LIMITED: 1000,
  UNAUTHORIZED: 250,
  PAYLOAD_TOO_LARGE: 250,
};

/**
 * Refusals that cost little to make are answered after a pause (REFUSAL_PAUSE_MS): a client
 * that ignores Retry-After, or a stranger repeating a request without a token, and sends again
 * at once would otherwise cost the service a request's handling a thousand times a second per
 * connection, and take that time from the tenants within their limits. What a pause holds is a
 * timer and the connection, whose unread body waits in the kernel; past `maxWaiting` pauses at
 * once, refusals are answered at once.
 */
export class RefusalPause {
  private waiting = 0;

  constructor(private readonly maxWaiting = 4096) {}

  /** Resolves when the answer to `e` may be given. */
  async before(e: unknown): Promise<void> {
    if (!(e instanceof LakehouseError)) return;
    const most = REFUSAL_PAUSE_MS[e.code];
    if (most === undefined || this.waiting >= this.maxWaiting) return;
    this.waiting++;
    try {
      await new Promise((r) => setTimeout(r, Math.min(most, (e.retryAfterSeconds ?? Infinity) * 1000)));
    } finally {
      this.waiting--;
    }
  }
}
