import { onTestFailed } from 'vitest';

/** Deterministic pseudo-random numbers (mulberry32), so a failing generated case can be found again. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Random numbers for one test, seeded from TEST_SEED or at random; when the test fails, the seed
 * is printed so the same timings can be run again. Call it inside the test.
 */
export function seededRandom(what: string): () => number {
  const seed = process.env.TEST_SEED ? Number(process.env.TEST_SEED) : Math.floor(Math.random() * 2 ** 31);
  onTestFailed(() => {
    process.stderr.write(`${what}: random seed ${seed} (TEST_SEED=${seed} repeats it)\n`);
  });
  return prng(seed);
}
