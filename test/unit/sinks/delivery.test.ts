import { describe, expect, it } from 'vitest';
import type { ConsumedRecord } from '../../../src/kafka/consumed-record.js';
import { Deliverer } from '../../../src/sinks/delivery.js';
import type { Delivery, Sink } from '../../../src/sinks/sink.js';

const record = (n: number): ConsumedRecord => ({ tenant: 'acme', signal: 'logs', value: Buffer.from([n]), partition: 0, offset: String(n), kafkaTimestampMs: 0, receivedAtMs: 0 });

/** A backend that answers each request with the next scripted answer, or by a rule. */
class FakeSink implements Sink<number> {
  readonly name = 'fake';
  readonly requests: number[][] = [];
  constructor(private readonly answer: (items: number[], n: number) => Delivery) {}
  prepare(r: ConsumedRecord): number {
    return r.value[0]!;
  }
  async deliver(_tenant: string, items: number[]): Promise<Delivery> {
    this.requests.push(items);
    return this.answer(items, this.requests.length);
  }
}

function setup(answer: (items: number[], n: number) => Delivery, owned: () => boolean = () => true) {
  const sink = new FakeSink(answer);
  const waits: number[] = [];
  const dead: [string, string][] = [];
  const outcomes: string[] = [];
  const deliverer = new Deliverer(sink, {
    retryMaxMs: 1000,
    signal: new AbortController().signal,
    sleep: async (ms) => void waits.push(ms),
    hooks: { requested: (k) => outcomes.push(k) },
  });
  const records = [1, 2, 3, 4, 5, 6, 7, 8].map(record);
  const run = () =>
    deliverer.deliver('acme', records.map((r) => r.value[0]!), records, {
      deadLetter: async (r, reason) => void dead.push([r.offset, reason]),
      heartbeat: async () => {},
      owned,
    });
  return { sink, waits, dead, outcomes, run };
}

describe('Deliverer: retries, backoff and bisection of a hot-path delivery', () => {
  it('retries a retryable answer with growing backoff, at least the backend’s Retry-After, until it lands', async () => {
    const t = setup((_items, n) => (n <= 3 ? { kind: 'retry', reason: 'HTTP 503', ...(n === 2 ? { retryAfterMs: 5000 } : {}) } : { kind: 'ok', items: 8 }));
    expect(await t.run()).toBe(true);
    expect(t.sink.requests).toHaveLength(4);
    expect(t.waits).toHaveLength(3);
    expect(t.waits[1]).toBeGreaterThanOrEqual(5000);
    expect(t.waits.every((w) => w <= 5000)).toBe(true);
    expect(t.outcomes).toEqual(['retry', 'retry', 'retry', 'ok']);
    expect(t.dead).toEqual([]);
  });

  it('dead-letters exactly the records the backend refuses, and delivers the rest', async () => {
    const refused = new Set([3, 6]);
    const t = setup((items) => (items.some((i) => refused.has(i)) ? { kind: 'reject', reason: 'HTTP 400: bad' } : { kind: 'ok', items: items.length }));
    expect(await t.run()).toBe(true);
    expect(t.dead).toEqual([['3', 'HTTP 400: bad'], ['6', 'HTTP 400: bad']]);
    const delivered = t.sink.requests.filter((r) => !r.some((i) => refused.has(i))).flat().sort();
    expect(delivered).toEqual([1, 2, 4, 5, 7, 8]);
  });

  it('stops without acknowledging when the partition is lost or the pipeline stops', async () => {
    let owned = true;
    const t = setup((_items, n) => {
      if (n === 2) owned = false;
      return { kind: 'retry', reason: 'HTTP 503' };
    }, () => owned);
    expect(await t.run()).toBe(false);
    expect(t.sink.requests).toHaveLength(2);
    expect(t.dead).toEqual([]);
  });
});
