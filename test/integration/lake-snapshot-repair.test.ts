import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { CatalogClient } from '../../src/lake/catalog-client.js';
import { ensureLakeTables, openLakeSession, qualifiedNamespace } from '../../src/lake/session.js';
import { ObjectStore } from '../../src/lake/object-store.js';
import { SnapshotRepair } from '../../src/lake/snapshot-repair.js';
import { maintainOnce } from '../helpers/lake.js';
import { createLogger } from '../../src/telemetry/logger.js';
import { runId, testConfig } from '../helpers/stack.js';

const logger = createLogger(process.env.TEST_LOG_LEVEL ?? 'warn', 'it');

/** A signed S3 DELETE, as the iceberg extension's clean-up sends it. */
function s3Delete(cfg: ReturnType<typeof testConfig>, url: string): void {
  const [, bucket, key] = /^s3:\/\/([^/]+)\/(.+)$/.exec(url)!;
  execFileSync('curl', ['-sf', '-X', 'DELETE', '--aws-sigv4', `aws:amz:${cfg.S3_REGION}:s3`, '--user', `${cfg.S3_ACCESS_KEY}:${cfg.S3_SECRET_KEY}`, `${cfg.S3_ENDPOINT}/${bucket}/${key!.split('/').map(encodeURIComponent).join('/')}`]);
}

/** A namespace of its own, its session, catalog, object store and repair, and a commit of both tables. */
async function lake() {
  const cfg = testConfig(runId());
  const ns = qualifiedNamespace(cfg);
  const session = await openLakeSession(cfg);
  const c = session.connection;
  const catalog = new CatalogClient(cfg);
  const store = new ObjectStore(cfg);
  const repair = new SnapshotRepair(c, catalog, store, cfg.ICEBERG_NAMESPACE, ['logs', 'appender_offsets'], logger, ['appender_digests']);
  await ensureLakeTables(c, cfg);
  /** One appender-like commit: 10 rows of `batch N` and the offsets row of batch bN (and, `withDigests`, a digest of the batch). */
  const commit = async (batch: number, withDigests = false) => {
    await c.run('BEGIN TRANSACTION');
    await c.run(
      `INSERT INTO ${ns}.logs ("timestamp", tenant_id, body, attributes, resource_attributes) ` +
        `SELECT TIMESTAMPTZ '2026-11-22 10:00:00+00' + INTERVAL (i) SECOND, 'acme', 'batch ${batch}', MAP {}, MAP {} FROM range(10) r(i)`,
    );
    await c.run(`INSERT INTO ${ns}.appender_offsets (consumer_group, topic, "partition", next_offset, committed_at, batch_id) VALUES ('g', 't', 0, ${batch * 10}, now(), 'b${batch}')`);
    if (withDigests) await c.run(`INSERT INTO ${ns}.appender_digests VALUES ('digest-${batch}', 'acme', now(), 0, ${batch * 10 - 1})`);
    await c.run('COMMIT');
  };
  const close = () => {
    session.close();
    store.close();
  };
  return { cfg, ns, c, catalog, repair, commit, close };
}

/**
 * The state DuckDB leaves when a commit that the catalog accepted answers with an error: the
 * current snapshots of both tables name data files that were deleted. Made here by deleting the
 * files of the last commit; the repair must roll both tables back to the commit before.
 */
describe('snapshot repair', () => {
  it('rolls back both tables when the last commit lost its data files, and leaves a healthy table alone', async () => {
    const { cfg, ns, c, catalog, repair, commit, close } = await lake();
    try {
      await commit(1);
      expect(await repair.run()).toEqual([]); // healthy: nothing to do
      await commit(2);
      const good = await catalog.currentSnapshot(cfg.ICEBERG_NAMESPACE, 'logs');

      // Delete the data files of commit 2 in both tables.
      let deleted = 0;
      for (const table of ['logs', 'appender_offsets']) {
        const snap = (await catalog.currentSnapshot(cfg.ICEBERG_NAMESPACE, table))!;
        const files = await c.runAndReadAll(`SELECT file_path FROM iceberg_metadata('${ns}.${table}')`);
        const manifests = await c.runAndReadAll(`SELECT manifest_path FROM read_avro('${snap.manifestList}') WHERE added_snapshot_id = ${snap.id}`);
        const added = new Set<string>();
        for (const [m] of manifests.getRows()) {
          for (const [f] of (await c.runAndReadAll(`SELECT data_file.file_path FROM read_avro('${String(m)}') WHERE status = 1`)).getRows()) added.add(String(f));
        }
        expect(added.size).toBeGreaterThan(0);
        expect(files.getRows().length).toBeGreaterThan(added.size); // commit 1's files stay
        for (const f of added) {
          s3Delete(cfg, f);
          deleted++;
        }
      }
      expect(deleted).toBeGreaterThanOrEqual(2);
      await expect(c.runAndReadAll(`SELECT body, count(*) FROM ${ns}.logs GROUP BY ALL`)).rejects.toThrow(/404|not exist|NoSuchKey/i);

      expect((await repair.run()).sort()).toEqual(['appender_offsets', 'logs']);
      const logs = await c.runAndReadAll(`SELECT body, count(*) FROM ${ns}.logs GROUP BY ALL`);
      expect(logs.getRows().map((r) => [String(r[0]), Number(r[1])])).toEqual([['batch 1', 10]]);
      const offsets = await c.runAndReadAll(`SELECT batch_id FROM ${ns}.appender_offsets`);
      expect(offsets.getRows().map((r) => String(r[0]))).toEqual(['b1']);
      expect((await catalog.currentSnapshot(cfg.ICEBERG_NAMESPACE, 'logs'))!.id).toBe(good!.parentId);
      expect(await repair.run()).toEqual([]);
    } finally {
      close();
    }
  });

  it('finds the lost commit under a maintenance commit, and rolls back nothing when only one table lost files or storage does not answer', async () => {
    const { cfg, ns, c, catalog, repair, commit, close } = await lake();
    const addedBy = async (table: string) => {
      const { current, byId } = await catalog.snapshots(cfg.ICEBERG_NAMESPACE, table);
      const snap = byId.get(current!)!;
      const manifests = await c.runAndReadAll(`SELECT manifest_path FROM read_avro('${snap.manifestList}') WHERE added_snapshot_id = ${snap.id}`);
      const added: string[] = [];
      for (const [m] of manifests.getRows()) for (const [f] of (await c.runAndReadAll(`SELECT data_file.file_path FROM read_avro('${String(m)}') WHERE status = 1`)).getRows()) added.push(String(f));
      return { snap, added };
    };
    try {
      await commit(1);
      await commit(2);
      const logs2 = await addedBy('logs');
      const offsets2 = await addedBy('appender_offsets');

      // Storage that does not answer is no evidence: nothing is rolled back, the error says why.
      const down = new ObjectStore({ ...cfg, S3_ENDPOINT: 'http://127.0.0.1:1' });
      try {
        await expect(new SnapshotRepair(c, catalog, down, cfg.ICEBERG_NAMESPACE, ['logs', 'appender_offsets'], logger).run()).rejects.toThrow();
      } finally {
        down.close();
      }
      expect((await catalog.currentSnapshot(cfg.ICEBERG_NAMESPACE, 'logs'))!.id).toBe(logs2.snap.id);

      // Only the logs table's files of commit 2 gone: rolling it back alone would lose its rows
      // for good (the offsets say they landed), so nothing moves and the error names both.
      for (const f of logs2.added) s3Delete(cfg, f);
      await expect(repair.run()).rejects.toThrow(/logs.*appender_offsets lost none/);
      expect((await catalog.currentSnapshot(cfg.ICEBERG_NAMESPACE, 'logs'))!.id).toBe(logs2.snap.id);
      expect((await catalog.currentSnapshot(cfg.ICEBERG_NAMESPACE, 'appender_offsets'))!.id).toBe(offsets2.snap.id);

      // Now both, and a manifest rewrite committed on top of each: the append under it is found.
      for (const f of offsets2.added) s3Delete(cfg, f);
      const maintained = await maintainOnce(cfg, { MAINTENANCE_TASKS: 'manifests', MAINTENANCE_MAX_MANIFESTS: '1' });
      expect(maintained.code, JSON.stringify(maintained.summary)).toBe(0);
      const top = await catalog.snapshots(cfg.ICEBERG_NAMESPACE, 'logs');
      expect(top.current).not.toBe(logs2.snap.id);
      expect(top.byId.get(top.current!)!.operation).toBe('replace');

      expect((await repair.run()).sort()).toEqual(['appender_offsets', 'logs']);
      expect((await catalog.currentSnapshot(cfg.ICEBERG_NAMESPACE, 'logs'))!.id).toBe(logs2.snap.parentId);
      expect((await catalog.currentSnapshot(cfg.ICEBERG_NAMESPACE, 'appender_offsets'))!.id).toBe(offsets2.snap.parentId);
      const logs = await c.runAndReadAll(`SELECT body, count(*) FROM ${ns}.logs GROUP BY ALL`);
      expect(logs.getRows().map((r) => [String(r[0]), Number(r[1])])).toEqual([['batch 1', 10]]);
      expect(await repair.run()).toEqual([]);
    } finally {
      close();
    }
  });

  it('rolls the digests table back alone when only it lost files, and with the others when all did', async () => {
    const { cfg, ns, c, catalog, repair, commit, close } = await lake();
    const addedBy = async (table: string) => {
      const snap = (await catalog.currentSnapshot(cfg.ICEBERG_NAMESPACE, table))!;
      const manifests = await c.runAndReadAll(`SELECT manifest_path FROM read_avro('${snap.manifestList}') WHERE added_snapshot_id = ${snap.id}`);
      const added: string[] = [];
      for (const [m] of manifests.getRows()) for (const [f] of (await c.runAndReadAll(`SELECT data_file.file_path FROM read_avro('${String(m)}') WHERE status = 1`)).getRows()) added.push(String(f));
      return { snap, added };
    };
    const digests = async () => (await c.runAndReadAll(`SELECT record_digest FROM ${ns}.appender_digests ORDER BY 1`)).getRows().map(([d]) => String(d));
    try {
      await commit(1, true);
      await commit(2, true);
      const logs2 = await catalog.currentSnapshot(cfg.ICEBERG_NAMESPACE, 'logs');
      const digests2 = await addedBy('appender_digests');
      for (const f of digests2.added) s3Delete(cfg, f);
      // the rows and offsets of commit 2 stay; its digest goes (a retry of it would be stored again, nothing is lost)
      expect(await repair.run()).toEqual(['appender_digests']);
      expect((await catalog.currentSnapshot(cfg.ICEBERG_NAMESPACE, 'logs'))!.id).toBe(logs2!.id);
      expect(await digests()).toEqual(['digest-1']);

      await commit(3, true);
      const all = await Promise.all(['logs', 'appender_offsets', 'appender_digests'].map(addedBy));
      for (const { added } of all) for (const f of added) s3Delete(cfg, f);
      expect((await repair.run()).sort()).toEqual(['appender_digests', 'appender_offsets', 'logs']);
      expect(all.map(({ snap }) => snap.parentId)).toEqual(await Promise.all(['logs', 'appender_offsets', 'appender_digests'].map(async (t) => (await catalog.currentSnapshot(cfg.ICEBERG_NAMESPACE, t))!.id)));
      expect(await digests()).toEqual(['digest-1']);
      expect(await repair.run()).toEqual([]);
    } finally {
      close();
    }
  });
});
