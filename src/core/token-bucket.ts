/**
 * A token bucket: `rate` tokens a second up to `burst`. Used for the per-tenant ingestion rates,
 * as Loki and Mimir limit theirs: a tenant may send `burst` at once, then `rate` a second.
 */
export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(
    readonly rate: number,
    readonly burst: number,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.tokens = burst;
    this.last = now();
  }

  private refill(): void {
    const t = this.now();
    this.tokens = Math.min(this.burst, this.tokens + ((t - this.last) / 1000) * this.rate);
    this.last = t;
  }

  /**
   * Takes `n` tokens if there are that many and returns 0; otherwise takes none and returns the
   * seconds until there would be (Infinity when `n` is over the burst: never).
   */
  take(n: number): number {
    if (n > this.burst) return Infinity;
    this.refill();
    if (this.tokens >= n) {
      this.tokens -= n;
      return 0;
    }
    return (n - this.tokens) / this.rate;
  }

  /** Like take, without taking. */
  wouldWait(n: number): number {
    if (n > this.burst) return Infinity;
    this.refill();
    return this.tokens >= n ? 0 : (n - this.tokens) / this.rate;
  }
}
