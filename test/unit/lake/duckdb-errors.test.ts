import { DuckDBInstance } from '@duckdb/node-api';
import { describe, expect, it } from 'vitest';
import { isMissingObject, isOutOfMemory, isResourceError, isTransientLakeError } from '../../../src/lake/duckdb-errors.js';

/** The message of the error `sql` raises in a fresh in-memory DuckDB with `settings`. */
async function errorOf(sql: string, settings: string[] = []): Promise<Error> {
  const instance = await DuckDBInstance.create(':memory:');
  const c = await instance.connect();
  try {
    for (const s of settings) await c.run(s);
    await c.runAndReadAll(sql);
  } catch (e) {
    return e as Error;
  } finally {
    c.closeSync();
    instance.closeSync();
  }
  throw new Error(`expected ${sql} to fail`);
}

describe('DuckDB errors are recognised by the wording DuckDB really uses', () => {
  it('out of memory, with nowhere to spill', async () => {
    const e = await errorOf('SELECT list(range) FROM range(50000000)', ["SET memory_limit = '16MB'", "SET temp_directory = ''", 'SET threads = 1']);
    expect(isOutOfMemory(e), e.message).toBe(true);
    expect(isResourceError(e), e.message).toBe(true);
    expect(isTransientLakeError(e), e.message).toBe(false);
  });

  it('a bad statement is none of them', async () => {
    const e = await errorOf('SELECT * FROM no_such_table');
    expect([isOutOfMemory(e), isResourceError(e), isTransientLakeError(e), isMissingObject(e)], e.message).toEqual([false, false, false, false]);
  });
});
