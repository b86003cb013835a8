import type { Kafka } from 'kafkajs';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { PRODUCE_SETTLE_GRACE_MS } from '../../../src/config/schema.js';
import { RecordProducer, retryWithin } from '../../../src/kafka/producer.js';
import { createLogger } from '../../../src/telemetry/logger.js';
import { seededRandom } from '../../helpers/prng.js';

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

  it('sends one write at a time per producer; one key writes through all but one of them, the last kept for a key that holds none', async () => {
    const one = fakeKafka();
    const p1 = new RecordProducer(one.kafka, 1000, logger);
    await p1.start();
    await Promise.all(['a', 'b', 'c', 'd'].map((k) => p1.send('t', record(k))));
    expect(one.mostAtOnce()).toBe(1);
    const three = fakeKafka();
    const p3 = new RecordProducer(three.kafka, 1000, logger, 3);
    await p3.start();
    await Promise.all(['a', 'b', 'c', 'd', 'e', 'f'].map((k) => p3.send('t', record(k), undefined, 'busy')));
    expect(three.mostAtOnce()).toBe(2);
    // a second key's write goes through the kept lane while the first key holds the others
    const held = [new Promise<void>(() => {}), new Promise<void>(() => {})];
    three.script.push(...held);
    void p3.send('t', record('busy-1'), undefined, 'busy');
    void p3.send('t', record('busy-2'), undefined, 'busy');
    void p3.send('t', record('busy-3'), undefined, 'busy');
    await p3.send('t', record('quiet'), undefined, 'quiet');
    expect(three.producers.flatMap((x) => x.sends)).toContain('quiet');
    expect(three.producers.flatMap((x) => x.sends)).not.toContain('busy-3');
  });

  it('generated writes under many keys: no more at once than producers, the last free one kept for a key that holds none, none left waiting while one is free, every write ends', async () => {
    const rand = seededRandom('producer lanes');
    const tick = () => new Promise((r) => setImmediate(r));
    for (let round = 0; round < 300; round++) {
      const where = `round ${round}`;
      // sends park here, under their record's key, until the test releases them
      const inFlight: { key: string; release: () => void }[] = [];
      const started = new Map<string, number>();
      const kafka = {
        producer: () => ({
          connect: async () => {},
          disconnect: async () => {},
          send: ({ messages }: { messages: { key: string }[] }) => {
            const key = messages[0]!.key;
            started.set(key, (started.get(key) ?? 0) + 1);
            return new Promise<void>((release) => inFlight.push({ key, release }));
          },
        }),
      } as unknown as Kafka;
      const lanes = 1 + Math.floor(rand() * 5);
      const keys = 1 + Math.floor(rand() * 4);
      const p = new RecordProducer(kafka, 600_000, logger, lanes);
      await p.start();
      const sentByKey = new Map<string, number>();
      const writes: Promise<void>[] = [];
      let sent = 0;
      const check = () => {
        const held = new Map<string, number>();
        for (const w of inFlight) held.set(w.key, (held.get(w.key) ?? 0) + 1);
        const busy = inFlight.length;
        expect(busy, where).toBeLessThanOrEqual(lanes);
        for (const [k, n] of held) expect(n, `${where}: ${k} holds ${n} of ${lanes}`).toBeLessThanOrEqual(Math.max(1, lanes - 1));
        const waitingKeys = [...sentByKey].filter(([k, n]) => n > (started.get(k) ?? 0)).map(([k]) => k);
        if (busy < lanes - 1) expect(waitingKeys, `${where}: waiting while ${lanes - busy} are free`).toEqual([]);
        if (busy === lanes - 1 || (lanes === 1 && busy === 0)) for (const k of waitingKeys) expect(held.get(k) ?? 0, `${where}: ${k} holds none and waits beside a free one`).toBeGreaterThan(0);
      };
      while (sent < 40 || inFlight.length > 0) {
        if (sent < 40 && (rand() < 0.6 || inFlight.length === 0)) {
          const key = `k${Math.floor(rand() * keys)}`;
          sentByKey.set(key, (sentByKey.get(key) ?? 0) + 1);
          writes.push(p.send('t', record(key), undefined, key));
          sent++;
        } else {
          inFlight.splice(Math.floor(rand() * inFlight.length), 1)[0]!.release();
        }
        await tick();
        check();
      }
      const settled = await Promise.allSettled(writes);
      expect(settled.filter((x) => x.status === 'rejected'), where).toEqual([]);
      await p.stop();
    }
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
