import type { TenantLimits } from '../config/tenants.js';
import { LakehouseError } from '../core/errors.js';
import { TokenBucket } from '../core/token-bucket.js';

export interface AdmissionLimits {
  /** requests handled at once (MAX_INFLIGHT_REQUESTS) */
  maxRequests: number;
  /** bytes held by all requests together (MAX_INFLIGHT_BYTES) */
  maxBytes: number;
  /** one tenant's limits (TENANT_* settings and TENANTS_FILE) */
  tenant: (tenant: string) => TenantLimits;
}

const MiB = 1024 * 1024;
const mib = (n: number) => `${(n / MiB).toFixed(n % MiB === 0 ? 0 : 1)} MiB`;

/**
 * The ingester's walls against memory and against one tenant crowding out the others.
 *
 * - A request takes a slot (`enter`) and a Lease; the lease is charged as the request's bytes are
 *   read, as they are inflated, and with an estimate of what decoding them will hold, each
 *   before it happens. A charge over what is free is refused at once (429), so memory is bounded
 *   by what the leases may hold whatever the input; a charge the request could never get, even
 *   alone, is 413.
 * - Every tenant may hold at most its own share of those bytes, and send at most its rate of
 *   bytes and records a second (token buckets, with a burst). A tenant over either gets 429 with
 *   Retry-After naming its limit, while the others go on.
 *
 * The counts are this process's: with several replicas each holds its own (docs/limits.md).
 */
export class Admission {
  private requests = 0;
  private bytes = 0;
  private readonly tenantBytes = new Map<string, number>();
  private readonly buckets = new Map<string, { bytes: TokenBucket; records: TokenBucket }>();

  constructor(
    private readonly limits: AdmissionLimits,
    private readonly onChange?: (requests: number, bytes: number, tenant: string, tenantBytes: number) => void,
    private readonly now?: () => number,
  ) {}

  /** Admits one request of `tenant`; its Lease charges its bytes and must be ended. */
  enter(tenant: string): Lease {
    if (this.requests >= this.limits.maxRequests) {
      throw new LakehouseError('OVERLOADED', `too many requests in flight (MAX_INFLIGHT_REQUESTS ${this.limits.maxRequests}); retry later`, { retryAfterSeconds: 1 });
    }
    this.requests++;
    this.onChange?.(this.requests, this.bytes, tenant, this.tenantBytes.get(tenant) ?? 0);
    return new Lease(this, tenant, () => {
      this.requests--;
      this.onChange?.(this.requests, this.bytes, tenant, this.tenantBytes.get(tenant) ?? 0);
    });
  }

  /**
   * Charges `n` bytes to `tenant` on top of `already` charged by the same request, or refuses:
   * 413 when the request alone would be over a limit, else 429.
   */
  charge(tenant: string, n: number, already: number, what: string): void {
    const tenantMax = Math.min(this.limits.tenant(tenant).max_inflight_bytes, this.limits.maxBytes);
    if (already + n > tenantMax) {
      const which = tenantMax < this.limits.maxBytes ? `the tenant's in-flight limit of ${mib(tenantMax)} (max_inflight_bytes)` : `the ingester's in-flight limit of ${mib(tenantMax)} (MAX_INFLIGHT_BYTES)`;
      throw new LakehouseError('PAYLOAD_TOO_LARGE', `${what} would hold about ${mib(already + n)} in memory, over ${which}; send smaller requests`);
    }
    const held = this.tenantBytes.get(tenant) ?? 0;
    if (held + n > tenantMax) {
      throw new LakehouseError('TENANT_LIMITED', `tenant '${tenant}' holds ${mib(held)} in flight, its limit is ${mib(tenantMax)} (max_inflight_bytes); retry later`, { retryAfterSeconds: 1 });
    }
    if (this.bytes + n > this.limits.maxBytes) {
      throw new LakehouseError('OVERLOADED', `too many bytes in flight (MAX_INFLIGHT_BYTES ${mib(this.limits.maxBytes)}); retry later`, { retryAfterSeconds: 1 });
    }
    this.add(tenant, n);
  }

  /** Gives back `n` bytes of `tenant`. */
  uncharge(tenant: string, n: number): void {
    this.add(tenant, -n);
  }

  private add(tenant: string, n: number): void {
    if (n === 0) return;
    this.bytes += n;
    const t = (this.tenantBytes.get(tenant) ?? 0) + n;
    if (t === 0) this.tenantBytes.delete(tenant);
    else this.tenantBytes.set(tenant, t);
    this.onChange?.(this.requests, this.bytes, tenant, t);
  }

  /**
   * Takes `n` bytes (decompressed) or records from the tenant's rate, or refuses: 429 with the
   * seconds until they would be there, or 413 when `n` is over the burst and never would be.
   */
  rate(tenant: string, kind: 'bytes' | 'records', n: number, peek = false): void {
    let b = this.buckets.get(tenant);
    if (!b) {
      const limits = this.limits.tenant(tenant);
      b = {
        bytes: new TokenBucket(limits.ingestion_rate_bytes, limits.ingestion_burst_bytes, this.now),
        records: new TokenBucket(limits.ingestion_rate_records, limits.ingestion_burst_records, this.now),
      };
      this.buckets.set(tenant, b);
    }
    const bucket = b[kind];
    const wait = peek ? bucket.wouldWait(n) : bucket.take(n);
    if (wait === 0) return;
    const [rateKey, unit] = kind === 'bytes' ? ['ingestion_rate_bytes', (v: number) => mib(v)] : ['ingestion_rate_records', (v: number) => `${v} records`];
    if (wait === Infinity) {
      throw new LakehouseError('PAYLOAD_TOO_LARGE', `this request's ${unit(n)} are over tenant '${tenant}''s ingestion burst of ${unit(bucket.burst)} (ingestion_burst_${kind}); send smaller requests`);
    }
    const seconds = Math.max(1, Math.ceil(wait));
    throw new LakehouseError('TENANT_LIMITED', `tenant '${tenant}' is over its ingestion rate of ${unit(bucket.rate)}/s (${rateKey}, burst ${unit(bucket.burst)}); retry in ${seconds} s`, {
      retryAfterSeconds: seconds,
    });
  }

  get inflightRequests(): number {
    return this.requests;
  }
  get inflightBytes(): number {
    return this.bytes;
  }
  inflightBytesOf(tenant: string): number {
    return this.tenantBytes.get(tenant) ?? 0;
  }
}

/**
 * What one request holds: its slot, and the bytes charged to it. `end` gives them back, except
 * what `pin` charged for writes still under way at the broker, given back as each ends.
 */
export class Lease {
  private charged = 0;
  private ended = false;

  constructor(
    private readonly admission: Admission,
    readonly tenant: string,
    private readonly onEnd: () => void,
  ) {}

  get bytes(): number {
    return this.charged;
  }

  /** Charges `n` more bytes, or throws (429 or 413) without charging; `what` names them in a 413. */
  grow(n: number, what = 'this request'): void {
    if (this.ended) throw new Error('a lease was charged after it ended');
    this.admission.charge(this.tenant, n, this.charged, what);
    this.charged += n;
  }

  /** Gives back what is charged beyond `n` bytes. */
  shrinkTo(n: number): void {
    if (this.charged <= n) return;
    this.admission.uncharge(this.tenant, this.charged - n);
    this.charged = n;
  }

  /**
   * Moves `n` of the charged bytes out of the lease, to be given back by the returned function
   * (idempotent) rather than by `end`: the parts of a write the broker has not answered yet
   * outlive the request that gave up waiting for them.
   */
  pin(n: number): () => void {
    const moved = Math.min(n, this.charged);
    this.charged -= moved;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.admission.uncharge(this.tenant, moved);
    };
  }

  /** Takes from the tenant's ingestion rate (see Admission.rate). */
  rate(kind: 'bytes' | 'records', n: number, peek = false): void {
    this.admission.rate(this.tenant, kind, n, peek);
  }

  /** Gives back the slot and the charged bytes (idempotent). */
  end(): void {
    if (this.ended) return;
    this.ended = true;
    this.admission.uncharge(this.tenant, this.charged);
    this.charged = 0;
    this.onEnd();
  }
}
