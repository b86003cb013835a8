import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { CatalogClient } from '../../src/lake/catalog-client.js';
import { ensureLakeTables, openLakeSession, qualifiedNamespace } from '../../src/lake/session.js';
import { SnapshotRepair } from '../../src/lake/snapshot-repair.js';
import { createLogger } from '../../src/telemetry/logger.js';
import { runId, testConfig } from '../helpers/stack.js';

const logger = createLogger(process.env.TEST_LOG_LEVEL ?? 'warn', 'it');

/**
 * The state DuckDB leaves when a commit that the catalog accepted answers with an error: the
 * current snapshots of both tables name data files that were deleted. Made here by deleting the
 * files of the last commit; the repair must roll both tables back to the commit before.
 */
describe('snapshot repair', () => {
  it('rolls back both tables when the last commit lost its data files, and leaves a healthy table alone', async () => {
    const cfg = testConfig(runId());
    const ns = qualifiedNamespace(cfg);
    const session = await openLakeSession(cfg);
    const c = session.connection;
    const catalog = new CatalogClient(cfg);
    const repair = new SnapshotRepair(c, catalog, cfg.ICEBERG_NAMESPACE, ['logs', 'appender_offsets'], logger);
    try {
      await ensureLakeTables(c, cfg);
      const commit = async (batch: number) => {
        await c.run('BEGIN TRANSACTION');
        await c.run(
          `INSERT INTO ${ns}.logs ("timestamp", tenant_id, body, attributes, resource_attributes) ` +
            `SELECT TIMESTAMPTZ '2026-11-22 10:00:00+00' + INTERVAL (i) SECOND, 'acme', 'batch ${batch}', MAP {}, MAP {} FROM range(10) r(i)`,
        );
        await c.run(`INSERT INTO ${ns}.appender_offsets (consumer_group, topic, "partition", next_offset, committed_at, batch_id) VALUES ('g', 't', 0, ${batch * 10}, now(), 'b${batch}')`);
        await c.run('COMMIT');
      };
      await commit(1);
      expect(await repair.run()).toEqual([]); // healthy: nothing to do
      await commit(2);
      const good = await catalog.currentSnapshot(cfg.ICEBERG_NAMESPACE, 'logs');

      // Delete the data files of commit 2 in both tables.
      // A signed S3 DELETE, as the iceberg extension's clean-up sends it.
      const s3Delete = (bucket: string, key: string) =>
        execFileSync('curl', ['-sf', '-X', 'DELETE', '--aws-sigv4', `aws:amz:${cfg.S3_REGION}:s3`, '--user', `${cfg.S3_ACCESS_KEY}:${cfg.S3_SECRET_KEY}`, `${cfg.S3_ENDPOINT}/${bucket}/${key.split("/").map(encodeURIComponent).join("/")}`]);
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
          const [, bucket, key] = /^s3:\/\/([^/]+)\/(.+)$/.exec(f)!;
          s3Delete(bucket!, key!);
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
      session.close();
    }
  });
});
