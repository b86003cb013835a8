import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { registerUtcTransforms, utcDay } from '../../../src/lake/utc-transforms.js';
import { prng } from '../../helpers/prng.js';

// Edge timestamps (microseconds): the epoch, around midnights, before 1970, leap days, far years.
const EDGES = [
  0n, -1n, 1n, 86_399_999_999n, 86_400_000_000n, -86_400_000_000n, -86_400_000_001n,
  951_782_400_000_000n - 1n, 951_782_400_000_000n, // 2000-02-29T00:00Z and the microsecond before
  1_763_769_600_000_000n - 1n, 1_763_769_600_000_000n, // 2025-11-22T00:00Z
  -2_208_988_800_000_000n, // 1900-01-01
  4_102_444_800_000_000n - 1n, // 2099-12-31T23:59:59.999999Z
  253_402_300_799_000_000n, // 9999-12-31T23:59:59Z
];

describe('date_diff(VARCHAR, DATE, TIMESTAMPTZ) in UTC', () => {
  let icu: DuckDBInstance;
  let ours: DuckDBInstance;
  let icuConn: DuckDBConnection;
  let oursConn: DuckDBConnection;

  beforeAll(async () => {
    icu = await DuckDBInstance.create(':memory:');
    ours = await DuckDBInstance.create(':memory:');
    icuConn = await icu.connect();
    oursConn = await ours.connect();
    // ICU computes in the session's zone; the lake session's is UTC. Ours ignores it.
    await icuConn.run(`SET TimeZone = 'UTC'`);
    await oursConn.run(`SET TimeZone = 'America/New_York'`);
    registerUtcTransforms(oursConn);
    const rand = prng(7);
    const micros = [...EDGES];
    for (let i = 0; i < 3000; i++) micros.push(BigInt(Math.floor((rand() - 0.3) * 4e9)) * 1_000_000n + BigInt(Math.floor(rand() * 1e6)));
    for (const c of [icuConn, oursConn]) {
      await c.run(`CREATE TABLE t (ts TIMESTAMPTZ)`);
      await c.run(`INSERT INTO t SELECT make_timestamptz(unnest([${micros.join(',')}]::BIGINT[]))`);
    }
  });

  afterAll(() => {
    icuConn.closeSync();
    oursConn.closeSync();
    icu.closeSync();
    ours.closeSync();
  });

  async function values(c: DuckDBConnection, part: string, start: string): Promise<string[]> {
    const r = await c.runAndReadAll(`SELECT date_diff('${part}', DATE '${start}', ts)::VARCHAR FROM t ORDER BY ts`);
    return r.getRows().map((row) => String(row[0]));
  }

  for (const part of ['day', 'month', 'year']) {
    for (const start of ['1970-01-01', '2000-03-01', '1969-12-31']) {
      it(`gives ICU's values in UTC for '${part}' from ${start}`, async () => {
        expect(await values(oursConn, part, start)).toEqual(await values(icuConn, part, start));
      });
    }
  }

  it('is the overload DuckDB binds for these argument types (it refuses what it does not compute)', async () => {
    await expect(oursConn.run(`SELECT date_diff('week', DATE '1970-01-01', TIMESTAMPTZ '2025-01-01 00:00:00+00')`)).rejects.toThrow(
      /part 'week' is not supported/,
    );
    // Other argument types still reach DuckDB's own functions.
    const r = await oursConn.runAndReadAll(`SELECT date_diff('week', DATE '1970-01-01', DATE '1970-01-15')`);
    expect(Number(r.getRows()[0]![0])).toBe(2);
  });

  it('keeps NULL as NULL', async () => {
    const r = await oursConn.runAndReadAll(`SELECT date_diff('day', DATE '1970-01-01', NULL::TIMESTAMPTZ)`);
    expect(r.getRows()[0]![0]).toBeNull();
  });

  it('rounds days before 1970 down, as the Iceberg spec does', () => {
    expect(utcDay(-1n)).toBe(-1n);
    expect(utcDay(-86_400_000_000n)).toBe(-1n);
    expect(utcDay(-86_400_000_001n)).toBe(-2n);
    expect(utcDay(86_399_999_999n)).toBe(0n);
  });
});
