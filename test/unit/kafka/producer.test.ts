import type { Kafka } from 'kafkajs';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { PRODUCE_SETTLE_GRACE_MS } from '../../../src/config/schema.js';
import { RecordProducer, retryWithin } from '../../../src/kafka/producer.js';
import { createLogger } from '../../../src/telemetry/logger.js';

const logger = createLogger('silent', 'test');

describe('retryWithin', () => {
  it('keeps kafkajs backoffs, at their longest, within the budget, and uses most of it', () => {
    for (const budget of [700, 1400, 7000, 21_000]) {
      const r = retryWithin(budget);
      // kafkajs: the first wait is initialRetryTime ± factor, each next one the last × (1 ± factor) × multiplier, capped
      let wait = r.initialRetryTime * (1 + r.factor);
      let total = 0;
      for (let i = 0; i < r.retries; i++) {
        total += wait;
        wait = Math.min(wait * (1 + r.factor) * r.multiplier, r.maxRetryTime);
      }
      expect(total, `budget ${budget}`).toBeLessThanOrEqual(budget);
      expect(total + wait, `budget ${budget}: one more retry would not fit`).toBeGreaterThan(budget * 0.8);
    }
  });
});

/** A kafkajs client whose producers record what they were asked; each send waits for `gate`. */
function fakeKafka() {
  const producers: { id: number; sends: string[]; disconnected: boolean }[] = [];
  let inFlight = 0;
  let mostAtOnce = 0;
  const script: ('ok' | 'fail' | Promise<void>)[] = [];
  const kafka = {
    producer: () => {
      const p = { id: producers.length, sends: [] as string[], disconnected: false };
      producers.push(p);
      return {
        connect: async () => {},
        disconnect: async () => void (p.disconnected = true),
        send: async ({ messages }: { messages: { key: string }[] }) => {
          p.sends.push(messages[0]!.key);
          inFlight++;
          mostAtOnce = Math.max(mostAtOnce, inFlight);
          try {
            const step = script.shift() ?? 'ok';
            if (step instanceof Promise) await step;
            else await new Promise((r) => setImmediate(r));
            if (step === 'fail') throw new Error('connection closed');
          } finally {
            inFlight--;
          }
        },
      };
    },
  };
  return { kafka: kafka as unknown as Kafka, producers, script, mostAtOnce: () => mostAtOnce };
}

const record = (key: string) => [{ key, value: Buffer.from(key), headers: {} }];

describe('RecordProducer', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('sends one write at a time per producer, and as many at once as it has producers', async () => {
    const one = fakeKafka();
    const p1 = new RecordProducer(one.kafka, 1000, logger);
    await p1.start();
    await Promise.all(['a', 'b', 'c', 'd'].map((k) => p1.send('t', record(k))));
    expect(one.mostAtOnce()).toBe(1);
    const two = fakeKafka();
    const p2 = new RecordProducer(two.kafka, 1000, logger, 2);
    await p2.start();
    await Promise.all(['a', 'b', 'c', 'd'].map((k) => p2.send('t', record(k))));
    expect(two.mostAtOnce()).toBe(2);
    expect(two.producers.map((p) => p.sends.length)).toEqual([2, 2]);
  });

  it('after a write that ended unacknowledged, sends the next on a new producer (a new producer id), so it cannot be taken for a duplicate of it', async () => {
    const f = fakeKafka();
    const p = new RecordProducer(f.kafka, 1000, logger);
    await p.start();
    const outcomes: string[] = [];
    f.script.push('fail');
    await expect(p.send('t', record('a'), (o) => outcomes.push(o))).rejects.toThrow(/broker did not take the write: connection closed/);
    await p.send('t', record('b'), (o) => outcomes.push(o));
    expect(f.producers.map((x) => [x.sends, x.disconnected])).toEqual([[['a'], true], [['b'], false]]);
    expect(outcomes).toEqual(['unknown', 'written']);
  });

  it('answers a write still running past the timeout as unknown, and does not send one that is still waiting for its turn', async () => {
    vi.useFakeTimers();
    const f = fakeKafka();
    const p = new RecordProducer(f.kafka, 1000, logger);
    await p.start();
    let finish!: () => void;
    f.script.push(new Promise<void>((r) => (finish = r)));
    const outcomes: Record<string, string> = {};
    const hung = p.send('t', record('a'), (o) => (outcomes.a = o));
    const queued = p.send('t', record('b'), (o) => (outcomes.b = o));
    const both = Promise.allSettled([hung, queued]);
    await vi.advanceTimersByTimeAsync(1000 + PRODUCE_SETTLE_GRACE_MS);
    const [a, b] = await both;
    expect((a as PromiseRejectedResult).reason.message).toMatch(/outcome is unknown/);
    expect((b as PromiseRejectedResult).reason.message).toMatch(/could not start .* it was not sent/);
    finish();
    await vi.advanceTimersByTimeAsync(10);
    expect(outcomes).toEqual({ a: 'written', b: 'not-written' });
    expect(f.producers[0]!.sends).toEqual(['a']);
  });
});
