import { expect, it } from 'vitest';
import { ensureLakeTables, openLakeSession } from '../../src/lake/session.js';
import { runId, testConfig } from '../helpers/stack.js';

// The exactly-once protocol relies on this behaviour of DuckDB's iceberg extension with the REST
// catalog: of two transactions that read the offsets table at the same snapshot and both append
// to it, the second to commit is refused with 409 (its requirements no longer hold), so a zombie
// owner cannot commit a batch that the new owner committed meanwhile.
it('a second concurrent commit to the offsets table is refused with 409 Conflict', async () => {
  const cfg = testConfig(runId());
  const a = await openLakeSession(cfg);
  const b = await openLakeSession(cfg);
  try {
    await ensureLakeTables(a.connection, cfg);
    const table = `lake.${cfg.ICEBERG_NAMESPACE}.appender_offsets`;
    await a.connection.run('BEGIN');
    await b.connection.run('BEGIN');
    for (const c of [a.connection, b.connection]) {
      expect(Number((await c.runAndReadAll(`SELECT count(*) FROM ${table}`)).getRows()[0]![0])).toBe(0);
    }
    await a.connection.run(`INSERT INTO ${table} VALUES ('g', 't', 0, 10, now(), 'batch-a')`);
    await b.connection.run(`INSERT INTO ${table} VALUES ('g', 't', 0, 10, now(), 'batch-b')`);
    await a.connection.run('COMMIT');
    await expect(b.connection.run('COMMIT')).rejects.toThrow(/409|Conflict/);
    const rows = (await a.connection.runAndReadAll(`SELECT batch_id FROM ${table}`)).getRows();
    expect(rows).toEqual([['batch-a']]);
  } finally {
    a.close();
    b.close();
  }
});
