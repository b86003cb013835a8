import { describe, expect, it } from 'vitest';
import { CatalogClient, type SnapshotInfo } from '../../src/lake/catalog-client.js';
import { ensureLakeTables, openLakeSession, qualifiedNamespace } from '../../src/lake/session.js';
import { runId, testConfig } from '../helpers/stack.js';

/**
 * What the committer's read-back of the logs table relies on (IcebergCommitter.confirmRows):
 * one DuckDB transaction of several INSERTs into the logs table and one into the offsets table
 * makes, in each table, appends that follow the snapshot the transaction began on and nothing
 * else, and the logs appends' summaries count the rows of all the INSERTs between them (the
 * extension makes one snapshot per INSERT of a partitioned write at times, one in all at others).
 */
describe('an Iceberg commit of the iceberg extension, as the committer reads it back', () => {
  it('is appends right after the base, whose added-records add up to every INSERT', async () => {
    const cfg = testConfig(runId());
    const ns = qualifiedNamespace(cfg);
    const session = await openLakeSession(cfg);
    const c = session.connection;
    const catalog = new CatalogClient(cfg);
    try {
      await ensureLakeTables(c, cfg);
      const insert = (n: number, tenant: string) =>
        c.run(`INSERT INTO ${ns}.logs ("timestamp", tenant_id, body, attributes, resource_attributes) SELECT TIMESTAMPTZ '2026-11-22 10:00:00+00' + INTERVAL (i) SECOND, '${tenant}', 'x', MAP {}, MAP {} FROM range(${n}) r(i)`);
      for (const round of [1, 2]) {
        const logsBase = (await catalog.snapshots(cfg.ICEBERG_NAMESPACE, 'logs')).current;
        const offsetsBase = (await catalog.snapshots(cfg.ICEBERG_NAMESPACE, 'appender_offsets')).current;
        await c.run('BEGIN TRANSACTION');
        await insert(7, 'acme');
        await insert(5, 'beta');
        await insert(3, 'gamma');
        await c.run(`INSERT INTO ${ns}.appender_offsets (consumer_group, topic, "partition", next_offset, committed_at, batch_id) VALUES ('g', 't', 0, ${round}, now(), 'b${round}')`);
        await c.run('COMMIT');
        const logs = await catalog.snapshots(cfg.ICEBERG_NAMESPACE, 'logs');
        const made: SnapshotInfo[] = [];
        for (let id = logs.current; id !== logsBase; id = logs.byId.get(id!)!.parentId) made.push(logs.byId.get(id!)!);
        expect(made.length).toBeGreaterThan(0);
        expect(made.every((s) => s.operation === 'append')).toBe(true);
        expect(made.reduce((n, s) => n + Number(s.summary['added-records']), 0)).toBe(15);
        const offsets = await catalog.snapshots(cfg.ICEBERG_NAMESPACE, 'appender_offsets');
        expect(offsets.byId.get(offsets.current!)!.parentId).toBe(offsetsBase);
      }
    } finally {
      session.close();
    }
  });
});
