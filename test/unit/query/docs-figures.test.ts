import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { QUERY_SANDBOX_IDLE_MS, QUERY_SPILL_WATCH_MS } from '../../../src/config/schema.js';

const querying = readFileSync(new URL('../../../docs/querying.md', import.meta.url), 'utf8');

describe('docs/querying.md', () => {
  it('states the sandbox idle time and the spill watch interval the code uses', () => {
    expect(querying).toContain(`${QUERY_SANDBOX_IDLE_MS / 60_000} minutes at most`);
    expect(querying).toContain(`every ${QUERY_SPILL_WATCH_MS} ms`);
  });
});
