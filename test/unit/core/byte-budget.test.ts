import { describe, expect, it } from 'vitest';
import { ByteBudget } from '../../../src/core/byte-budget.js';
import { seededRandom } from '../../helpers/prng.js';

describe('ByteBudget', () => {
  it('generated takers: never more in use than the total, served first come first served, every taker served once the holders give back', async () => {
    const rand = seededRandom('byte budget');
    const tick = () => new Promise((r) => setImmediate(r));
    for (let round = 0; round < 200; round++) {
      const where = `round ${round}`;
      const total = 1 + Math.floor(rand() * 100);
      const b = new ByteBudget(total);
      const holding: number[] = [];
      const served: number[] = [];
      const asked: number[] = [];
      const aborts = new Map<number, AbortController>();
      const outcomes: Promise<unknown>[] = [];
      for (let step = 0; step < 60; step++) {
        const r = rand();
        if (r < 0.5) {
          const bytes = 1 + Math.floor(rand() * total);
          const n = asked.length;
          asked.push(bytes);
          if (rand() < 0.3 && b.tryTake(bytes)) {
            holding.push(bytes);
            served.push(n);
          } else {
            const ac = new AbortController();
            aborts.set(n, ac);
            outcomes.push(
              b.take(bytes, ac.signal).then(
                () => {
                  holding.push(bytes);
                  served.push(n);
                },
                () => {},
              ),
            );
          }
        } else if (r < 0.9 && holding.length > 0) {
          b.give(holding.splice(Math.floor(rand() * holding.length), 1)[0]!);
        } else if (aborts.size > 0) {
          const [n, ac] = [...aborts][Math.floor(rand() * aborts.size)]!;
          if (!served.includes(n)) ac.abort();
          aborts.delete(n);
        }
        await tick();
        expect(b.inUse, where).toBe(holding.reduce((x, y) => x + y, 0));
        expect(b.inUse, where).toBeLessThanOrEqual(total);
      }
      // everyone still waiting is served as the holders give back
      for (let i = 0; i < 200 && (holding.length > 0 || b.inUse > 0); i++) {
        while (holding.length > 0) b.give(holding.pop()!);
        await tick();
      }
      await Promise.all(outcomes);
      expect(b.inUse, where).toBe(0);
      // first come, first served: no one is served before one who asked earlier and did not stand aside
      expect(served, where).toEqual([...served].sort((x, y) => x - y));
    }
  });

  it('a taker larger than the total is refused at once; an aborted waiter stands aside for the next', async () => {
    const b = new ByteBudget(10);
    await expect(b.take(11)).rejects.toThrow(/11 bytes asked of a budget of 10/);
    expect(b.tryTake(8)).toBe(true);
    const ac = new AbortController();
    const big = b.take(5, ac.signal);
    let smallServed = false;
    const small = b.take(2).then(() => (smallServed = true));
    await new Promise((r) => setImmediate(r));
    // first come, first served: the small one waits behind the big one, though it would fit
    expect(smallServed).toBe(false);
    ac.abort();
    await expect(big).rejects.toBeDefined();
    await small;
    expect(b.inUse).toBe(10);
  });
});
