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

// Of commits racing each other, every one the catalog acknowledges must be there afterwards,
// in both tables. Apache's REST fixture can lose one: it answers 200 after retrying its JDBC
// compare-and-swap without the request's changes (see stack/iceberg/SerialCommitCatalogServer.java,
// which the local stack runs to prevent it). This pins the catalog behaviour the appender needs.
it('commits racing each other to both tables: every acknowledged commit is in both tables', async () => {
  const cfg = testConfig(runId());
  const sessions = await Promise.all(Array.from({ length: 4 }, () => openLakeSession(cfg)));
  try {
    await ensureLakeTables(sessions[0]!.connection, cfg);
    const offsets = `lake.${cfg.ICEBERG_NAMESPACE}.appender_offsets`;
    const logs = `lake.${cfg.ICEBERG_NAMESPACE}.logs`;
    const acknowledged: string[] = [];
    let conflicts = 0;
    await Promise.all(
      sessions.map(async ({ connection: c }, s) => {
        for (let round = 0; round < 8; round++) {
          const batch = `s${s}-r${round}`;
          for (;;) {
            await c.run('BEGIN');
            await c.run(`INSERT INTO ${logs} (tenant_id, "timestamp", body) VALUES ('acme', now(), '${batch}')`);
            await c.run(`INSERT INTO ${offsets} VALUES ('g', 't', ${s}, ${round + 1}, now(), '${batch}')`);
            try {
              await c.run('COMMIT');
              acknowledged.push(batch);
              break;
            } catch (e) {
              await c.run('ROLLBACK').catch(() => {});
              if (!/409|Conflict/.test((e as Error).message)) throw e;
              conflicts++;
            }
          }
        }
      }),
    );
    const c = sessions[0]!.connection;
    const inOffsets = (await c.runAndReadAll(`SELECT batch_id FROM ${offsets} ORDER BY 1`)).getRows().map((r) => r[0]);
    const inLogs = (await c.runAndReadAll(`SELECT body FROM ${logs} ORDER BY 1`)).getRows().map((r) => r[0]);
    expect(acknowledged).toHaveLength(32);
    expect(inOffsets).toEqual([...acknowledged].sort());
    expect(inLogs).toEqual([...acknowledged].sort());
    expect(conflicts, 'the commits did race').toBeGreaterThan(0);
  } finally {
    for (const s of sessions) s.close();
  }
});
