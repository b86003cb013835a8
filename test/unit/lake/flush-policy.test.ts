import { describe, expect, it } from 'vitest';
import { FlushPolicy, type BufferState } from '../../../src/lake/flush-policy.js';

const policy = new FlushPolicy({ BUFFER_SIZE_MB: 1, BUFFER_MAX_RECORDS: 100, BUFFER_TIME_SECONDS: 2 });
const buffer = (byteSize: number, recordCount: number, ageMs: number): BufferState => ({ isEmpty: recordCount === 0 && byteSize === 0, byteSize, recordCount, ageMs: () => ageMs });

describe('FlushPolicy: when the lake pipeline commits its buffer', () => {
  it('at the first limit reached: size, then records, then age', () => {
    expect(policy.due(buffer(1024 * 1024, 1, 0))).toBe('size');
    expect(policy.due(buffer(10, 100, 0))).toBe('records');
    expect(policy.due(buffer(10, 1, 2000))).toBe('age');
    expect(policy.due(buffer(1024 * 1024, 100, 2000))).toBe('size');
  });

  it('not before a limit, and never when empty', () => {
    expect(policy.due(buffer(1024 * 1024 - 1, 99, 1999))).toBeUndefined();
    expect(policy.due(buffer(0, 0, 60_000))).toBeUndefined();
  });

  it('checks the age often enough to keep it within a second, more often for short buffers', () => {
    expect(policy.ageCheckIntervalMs).toBe(500);
    expect(new FlushPolicy({ BUFFER_SIZE_MB: 100, BUFFER_MAX_RECORDS: 1, BUFFER_TIME_SECONDS: 300 }).ageCheckIntervalMs).toBe(1000);
  });
});
