import { describe, expect, it } from 'vitest';
import { backoffDelay, retry } from '../../../src/core/retry.js';

describe('backoffDelay', () => {
  it('grows exponentially, stays under the cap, never below half the initial delay', () => {
    const opts = { initialMs: 100, maxMs: 1000 };
    expect(backoffDelay(0, opts, () => 0.999)).toBeLessThanOrEqual(100);
    expect(backoffDelay(3, opts, () => 0.999)).toBe(799);
    expect(backoffDelay(10, opts, () => 0.999)).toBe(999);
    expect(backoffDelay(10, opts, () => 0)).toBe(50);
  });
});

describe('retry', () => {
  it('retries what it may and returns the first success', async () => {
    let calls = 0;
    const v = await retry(async () => {
      if (++calls < 3) throw new Error('transient');
      return 'ok';
    }, { initialMs: 1, maxMs: 2, shouldRetry: () => true });
    expect(v).toBe('ok');
    expect(calls).toBe(3);
  });

  it('rethrows an error it may not retry at once', async () => {
    let calls = 0;
    await expect(retry(async () => {
      calls++;
      throw new Error('permanent');
    }, { initialMs: 1, maxMs: 2, shouldRetry: () => false })).rejects.toThrow('permanent');
    expect(calls).toBe(1);
  });

  it('gives up after maxAttempts and when aborted', async () => {
    let calls = 0;
    await expect(retry(async () => { calls++; throw new Error('x'); }, { initialMs: 1, maxMs: 1, shouldRetry: () => true, maxAttempts: 4 })).rejects.toThrow();
    expect(calls).toBe(4);
    const ac = new AbortController();
    ac.abort();
    await expect(retry(async () => { throw new Error('y'); }, { initialMs: 1, maxMs: 1, shouldRetry: () => true, signal: ac.signal })).rejects.toThrow('y');
  });
});
