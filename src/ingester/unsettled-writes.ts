import { createHash } from 'node:crypto';

/** How long a request answered 503 with its write unsettled is remembered for a retry. */
export const UNSETTLED_WRITE_TTL_MS = 15 * 60_000;
/** At most this many are remembered; past it the oldest is forgotten (its retry writes again). */
export const UNSETTLED_WRITES_MAX = 10_000;

/** What became of a request answered 503 before all its Kafka records had settled. */
export interface UnsettledWrite {
  /** how many of its records, from the first, the broker has acknowledged */
  landed: number;
  /** the write still running when the client was answered; resolves when it ends */
  running?: Promise<void>;
  at: number;
}

/**
 * Requests the ingester answered 503 while a write of theirs could still land (the broker took
 * the request and went silent past the answer's deadline), or after some of their records had
 * landed (a request split into several records). A client retries such a request with the same
 * body; the retry waits for the running write and writes only the records that did not land,
 * so the retry does not store them twice. Kept per tenant, keyed by a digest of signal and body,
 * so that requests of tenants without an entry are not hashed at all.
 */
export class UnsettledWrites {
  private readonly byTenant = new Map<string, Map<string, UnsettledWrite>>();
  private count = 0;

  constructor(
    private readonly ttlMs = UNSETTLED_WRITE_TTL_MS,
    private readonly max = UNSETTLED_WRITES_MAX,
    private readonly now: () => number = Date.now,
  ) {}

  get size(): number {
    return this.count;
  }

  /** The key of a request, or undefined when its tenant has nothing remembered (the usual case). */
  keyOf(tenant: string, signal: string, body: Uint8Array): string | undefined {
    if (!this.byTenant.has(tenant)) return undefined;
    return UnsettledWrites.digest(signal, body);
  }

  static digest(signal: string, body: Uint8Array): string {
    return createHash('sha256').update(signal).update('\0').update(body).digest('base64');
  }

  /** Removes and returns what is remembered of this request, if anything (and still fresh). */
  take(tenant: string, key: string): UnsettledWrite | undefined {
    const entries = this.byTenant.get(tenant);
    const entry = entries?.get(key);
    if (!entries || !entry) return undefined;
    this.remove(tenant, entries, key);
    return this.now() - entry.at <= this.ttlMs ? entry : undefined;
  }

  remember(tenant: string, key: string, entry: UnsettledWrite): void {
    this.expire();
    let entries = this.byTenant.get(tenant);
    if (!entries) this.byTenant.set(tenant, (entries = new Map()));
    if (entries.has(key)) this.remove(tenant, entries, key);
    entries.set(key, entry);
    this.count++;
    while (this.count > this.max) this.forgetOldest();
  }

  private remove(tenant: string, entries: Map<string, UnsettledWrite>, key: string): void {
    if (!entries.delete(key)) return;
    this.count--;
    if (entries.size === 0) this.byTenant.delete(tenant);
  }

  /** Drops entries past their time: each tenant's map is in insertion order, oldest first. */
  private expire(): void {
    const oldest = this.now() - this.ttlMs;
    for (const [tenant, entries] of this.byTenant) {
      for (const [key, entry] of entries) {
        if (entry.at >= oldest) break;
        this.remove(tenant, entries, key);
      }
    }
  }

  private forgetOldest(): void {
    let found: { tenant: string; entries: Map<string, UnsettledWrite>; key: string; at: number } | undefined;
    for (const [tenant, entries] of this.byTenant) {
      const first = entries.entries().next().value;
      if (first && (!found || first[1].at < found.at)) found = { tenant, entries, key: first[0], at: first[1].at };
    }
    if (found) this.remove(found.tenant, found.entries, found.key);
  }
}
