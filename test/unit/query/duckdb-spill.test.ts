import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { describe, expect, it } from 'vitest';
import { diskBytes, SpillWatch } from '../../../src/query/sandbox.js';

// DuckDB documents max_temp_directory_size as the most it spills; DuckDB 1.5 spills far past it,
// so the query service holds the quota itself (SpillWatch). Should DuckDB come to hold it, this
// test fails and the watch can be reconsidered.
describe('DuckDB spill past max_temp_directory_size', () => {
  const bigSort = `SELECT max(x) FROM (SELECT row_number() OVER (ORDER BY b) AS x FROM (SELECT md5(i::VARCHAR) || md5((i + 1)::VARCHAR) AS b FROM range(1500000) r(i)))`;

  it('spills more than ten times a 1 MB max_temp_directory_size, and the spill watch sees it and stops the query', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'duckdb-spill-'));
    const instance = await DuckDBInstance.create(':memory:', { temp_directory: dir, memory_limit: '48MB', max_temp_directory_size: '1MB', threads: '1' });
    const connection = await instance.connect();
    try {
      let peak = 0;
      const poll = setInterval(() => (peak = Math.max(peak, diskBytes(dir))), 5);
      await connection.run(bigSort);
      clearInterval(poll);
      expect(peak).toBeGreaterThan(10 * 1024 * 1024);

      let stoppedAt = 0;
      const watch = new SpillWatch(4 * 1024 * 1024, (bytes) => {
        stoppedAt = bytes;
        connection.interrupt();
      });
      watch.add(dir);
      await expect(connection.run(bigSort)).rejects.toThrow(/interrupt/i);
      watch.stop();
      expect(watch.hasExceeded).toBe(true);
      expect(stoppedAt).toBeGreaterThan(4 * 1024 * 1024);
    } finally {
      connection.closeSync();
      instance.closeSync();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
