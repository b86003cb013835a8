import { describe, expect, it } from 'vitest';
import type { TenantLimits } from '../../../src/config/tenants.js';
import { LakehouseError } from '../../../src/core/errors.js';
import { TokenBucket } from '../../../src/core/token-bucket.js';
import { Admission, type Lease } from '../../../src/ingester/admission.js';
import { seededRandom } from '../../helpers/prng.js';

const limits = (o: Partial<TenantLimits> = {}): TenantLimits => ({
  ingestion_rate_bytes: 1000,
  ingestion_burst_bytes: 2000,
  ingestion_rate_records: 10,
  ingestion_burst_records: 20,
  max_inflight_bytes: 600,
  query_max_inflight: 2,
  ...o,
});

const codeOf = (f: () => void): string | undefined => {
  try {
    f();
    return undefined;
  } catch (e) {
    if (!(e instanceof LakehouseError)) throw e;
    return `${e.code} ${e.status}`;
  }
};

describe('Admission: requests, in-flight bytes by tenant and in all', () => {
  it('refuses past the request limit and gives the slot back once', () => {
    const a = new Admission({ maxRequests: 2, maxBytes: 1000, tenant: () => limits() });
    const l1 = a.enter('a');
    a.enter('b');
    expect(codeOf(() => a.enter('a'))).toBe('OVERLOADED 429');
    l1.end();
    l1.end();
    expect(a.inflightRequests).toBe(1);
    a.enter('a');
  });

  it('a tenant over its share gets 429 TENANT_LIMITED while another is admitted; a request alone over a limit gets 413', () => {
    const a = new Admission({ maxRequests: 10, maxBytes: 1000, tenant: () => limits() });
    const x = a.enter('noisy');
    x.grow(500);
    const y = a.enter('noisy');
    expect(codeOf(() => y.grow(200))).toBe('TENANT_LIMITED 429');
    expect(codeOf(() => y.grow(601))).toBe('PAYLOAD_TOO_LARGE 413');
    const q = a.enter('quiet');
    q.grow(400);
    expect(codeOf(() => q.grow(200))).toBe('OVERLOADED 429'); // 500 + 400 + 200 > 1000
    expect(a.inflightBytes).toBe(900);
    x.end();
    y.grow(200);
    expect(a.inflightBytesOf('noisy')).toBe(200);
  });

  it('pinned bytes outlive the lease until their release', () => {
    const a = new Admission({ maxRequests: 10, maxBytes: 1000, tenant: () => limits() });
    const l = a.enter('t');
    l.grow(300);
    const release = l.pin(200);
    l.end();
    expect(a.inflightBytes).toBe(200);
    release();
    release();
    expect(a.inflightBytes).toBe(0);
  });

  it('never holds more than the limits, whatever the order of grows, pins and ends (generated)', () => {
    const random = seededRandom('admission');
    const tenants = ['a', 'b', 'c'];
    const a = new Admission({ maxRequests: 8, maxBytes: 1000, tenant: (t) => limits({ max_inflight_bytes: t === 'c' ? 2000 : 450 }) });
    const leases: Lease[] = [];
    const pins: (() => void)[] = [];
    for (let step = 0; step < 20_000; step++) {
      const r = random();
      try {
        if (r < 0.2) leases.push(a.enter(tenants[Math.floor(random() * 3)]!));
        else if (r < 0.6 && leases.length > 0) leases[Math.floor(random() * leases.length)]!.grow(Math.floor(random() * 300));
        else if (r < 0.7 && leases.length > 0) pins.push(leases[Math.floor(random() * leases.length)]!.pin(Math.floor(random() * 200)));
        else if (r < 0.8 && pins.length > 0) pins.splice(Math.floor(random() * pins.length), 1)[0]!();
        else if (leases.length > 0) leases.splice(Math.floor(random() * leases.length), 1)[0]!.end();
      } catch (e) {
        if (!(e instanceof LakehouseError) || e.status === 500) throw e;
      }
      expect(a.inflightBytes).toBeLessThanOrEqual(1000);
      expect(a.inflightRequests).toBeLessThanOrEqual(8);
      for (const t of tenants) expect(a.inflightBytesOf(t)).toBeLessThanOrEqual(t === 'c' ? 1000 : 450);
    }
    for (const l of leases) l.end();
    for (const p of pins) p();
    expect(a.inflightBytes).toBe(0);
    expect(a.inflightRequests).toBe(0);
  });

  it('a tenant over its rate gets 429 with Retry-After naming the rate; over its burst, 413; another tenant is unaffected', () => {
    let now = 0;
    const a = new Admission({ maxRequests: 10, maxBytes: 1 << 30, tenant: () => limits() }, undefined, () => now);
    a.rate('a', 'bytes', 2000);
    let err: LakehouseError | undefined;
    try {
      a.rate('a', 'bytes', 500);
    } catch (e) {
      err = e as LakehouseError;
    }
    expect(err?.code).toBe('TENANT_LIMITED');
    expect(err?.message).toMatch(/ingestion rate .*ingestion_rate_bytes/);
    expect(err?.retryAfterSeconds).toBe(1);
    a.rate('b', 'bytes', 2000);
    expect(codeOf(() => a.rate('a', 'bytes', 2001))).toBe('PAYLOAD_TOO_LARGE 413');
    expect(codeOf(() => a.rate('a', 'records', 25))).toBe('PAYLOAD_TOO_LARGE 413');
    now += 500;
    a.rate('a', 'bytes', 500);
    expect(codeOf(() => a.rate('a', 'bytes', 1, true))).toBe('TENANT_LIMITED 429');
  });
});

describe('TokenBucket', () => {
  it('gives the burst at once, then the rate, and says how long to wait', () => {
    let now = 0;
    const b = new TokenBucket(100, 300, () => now);
    expect(b.take(300)).toBe(0);
    expect(b.take(50)).toBeCloseTo(0.5);
    now += 500;
    expect(b.wouldWait(50)).toBe(0);
    expect(b.take(50)).toBe(0);
    now += 100_000;
    expect(b.take(300)).toBe(0); // never more than the burst
    expect(b.take(1)).toBeGreaterThan(0);
    expect(b.take(301)).toBe(Infinity);
  });
});
