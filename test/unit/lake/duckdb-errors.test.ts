import { DuckDBInstance } from '@duckdb/node-api';
import { describe, expect, it } from 'vitest';
import { isOutOfMemory, isResourceError, isTransientLakeError } from '../../../src/lake/duckdb-errors.js';

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
    expect([isOutOfMemory(e), isResourceError(e), isTransientLakeError(e)], e.message).toEqual([false, false, false]);
  });
});

describe('isTransientLakeError: an outage is retried, a refusal is not', () => {
  // the wording of the iceberg extension, httpfs and the catalog client, as measured against the local stack
  const cases: [string, boolean][] = [
    ["IO Error: Could not connect to server error for HTTP GET to 'http://127.0.0.1:1/v1/config?warehouse=warehouse'", true],
    ["Invalid Configuration Error: Request to 'http://127.0.0.1:9000/v1/config?warehouse=warehouse' returned a non-200 status code (BadRequest_400), with reason: Bad Request", false],
    ["Invalid Configuration Error: Request to 'http://127.0.0.1:8181/v1/namespaces/it_1/tables' returned a non-200 status code (Conflict_409), with reason: Conflict", false],
    ["Request to 'http://127.0.0.1:8181/v1/namespaces/x/tables/logs' returned a non-200 status code (Internal_Server_Error_500)", true],
    ["Request to 'http://catalog:8181/v1/config' returned a non-200 status code (Service_Unavailable_503)", true],
    ["Request to 'http://catalog:8181/v1/config' returned a non-200 status code (Unauthorized_401)", false],
    ["IO Error: Timeout was reached error for HTTP GET to 'http://127.0.0.1:8181/v1/namespaces/x/tables/logs'", true],
    ['HTTP Error: HTTP GET error on \'http://127.0.0.1:9000/warehouse/x.parquet\' (HTTP 503)', true],
    ['catalog answered 503 for GET /v1/namespaces/x/tables/logs: …', true],
    ['catalog answered 403 for GET /v1/namespaces/x/tables/logs: …', false],
    ['catalog connection failed for GET /v1/config: fetch failed: connect ECONNREFUSED 127.0.0.1:8181', true],
  ];
  it.each(cases)('%s → %s', (msg, transient) => {
    expect(isTransientLakeError(new Error(msg))).toBe(transient);
  });
});
