import { describe, expect, it } from 'vitest';
import { retryWithin } from '../../../src/kafka/producer.js';

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
