import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Config } from '../../src/config/schema.js';
import { runQuery } from '../../src/lake/query.js';
import { ensureLakeTables, openLakeSession, qualifiedNamespace, type LakeSession } from '../../src/lake/session.js';
import { maintainOnce } from '../helpers/lake.js';
import { runId, testConfig } from '../helpers/stack.js';

const DAY_MS = 86_400_000;
const today = Math.floor(Date.now() / DAY_MS);
const dayStart = (day: number) => new Date(day * DAY_MS).toISOString();

/**
 * One small commit of `rows` rows per (tenant, day), as an appender at BUFFER_TIME_SECONDS=1 makes
 * them: in files of each tenant's own (tenant_shard is the tenant), or, with `shared`, in files
 * both tenants share (tenant_shard `~acme`, as the appender writes tenants of few rows).
 */
async function smallCommit(s: LakeSession, cfg: Config, commit: number, days: number[], rows: number, shared = false): Promise<void> {
  const selects = [];
  for (const tenant of ['acme', 'beta']) {
    for (const day of days) {
      selects.push(
        `SELECT TIMESTAMPTZ '${dayStart(day)}' + to_seconds(${commit * 30} + i * 5) AS "timestamp", '${tenant}' AS tenant_id, 'INFO' AS severity, 9 AS severity_number, ` +
          `'commit ${commit} row ' || i AS body, 'svc-' || (i % 3) AS service_name, MAP {'seq': '${commit}-' || i, 'http.route': '/r/' || (i % 5)} AS attributes, ` +
          `MAP {'k8s.pod.name': 'pod-${commit % 4}'} AS resource_attributes, '${shared ? '~acme' : tenant}' AS tenant_shard, ${commit} AS kafka_offset FROM range(${rows}) t(i)`,
      );
    }
  }
  await s.connection.run('BEGIN');
  await s.connection.run(
    `INSERT INTO ${qualifiedNamespace(cfg)}.logs ("timestamp", tenant_id, severity, severity_number, body, service_name, attributes, resource_attributes, tenant_shard) ` +
      `SELECT "timestamp", tenant_id, severity, severity_number, body, service_name, attributes, resource_attributes, tenant_shard FROM (${selects.join(' UNION ALL ')})`,
  );
  await s.connection.run(`INSERT INTO ${qualifiedNamespace(cfg)}.appender_offsets VALUES ('g', 't', 0, ${commit + 1}, now(), 'batch-${commit}')`);
  await s.connection.run('COMMIT');
}

/** What must not change: the row count, per tenant, and a checksum over every column of every row. */
async function fingerprint(cfg: Config) {
  const r = await runQuery(
    cfg,
    `SELECT tenant_id, count(*)::BIGINT, sum(hash("timestamp", observed_timestamp, tenant_id, severity, severity_number, body, trace_id, span_id, service_name, ` +
      `deployment_environment, host_name, scope_name, scope_version, attributes::VARCHAR, resource_attributes::VARCHAR))::VARCHAR FROM logs GROUP BY 1 ORDER BY 1`,
  );
  return r.rows.map((row) => row.map(String));
}

async function filesPerPartition(s: LakeSession, cfg: Config) {
  const r = await s.connection.runAndReadAll(
    `SELECT tenant_id, "timestamp"::DATE::VARCHAR, count(DISTINCT filename)::INTEGER FROM ${qualifiedNamespace(cfg)}.logs GROUP BY 1, 2 ORDER BY 1, 2`,
  );
  return r.getRows().map(([t, d, n]) => ({ partition: `${t}/${d}`, files: Number(n) }));
}

async function snapshotsOf(s: LakeSession, table: string) {
  const r = await s.connection.runAndReadAll(`SELECT snapshot_id::VARCHAR, manifest_list FROM iceberg_snapshots(${table}) ORDER BY sequence_number`);
  return r.getRows().map(([id, list]) => ({ id: String(id), manifestList: String(list) }));
}

describe('table maintenance', () => {
  let cfg: Config;
  let s: LakeSession;
  beforeAll(async () => {
    cfg = testConfig(runId());
    s = await openLakeSession(cfg, { utcPartitionTransforms: true });
    await ensureLakeTables(s.connection, cfg);
  });
  afterAll(() => s?.close());

  it('compacts 1,200 small files of 200 commits into a few files per partition, merges manifests, expires snapshots, removes orphans, and changes no row', async () => {
    const logs = `${qualifiedNamespace(cfg)}.logs`;
    const days = [today - 3, today - 2, today];
    const COMMITS = 200;
    const PER_COMMIT = 2 * days.length * 5; // two tenants, three days, five rows
    for (let commit = 0; commit < COMMITS; commit++) await smallCommit(s, cfg, commit, days, 5);
    // An orphan: a Parquet file in the table's data folder that no snapshot names, as a failed commit leaves.
    const location = String((await s.connection.runAndReadAll(`SELECT filename FROM ${logs} LIMIT 1`)).getRows()[0]![0]).replace(/\/data\/.*$/, '');
    const orphan = `${location}/data/orphan-${runId()}.parquet`;
    await s.connection.run(`COPY (SELECT 1 AS x) TO '${orphan}' (FORMAT parquet)`);

    const before = await fingerprint(cfg);
    expect(before.map((r) => r.slice(0, 2))).toEqual([['acme', String((COMMITS * PER_COMMIT) / 2)], ['beta', String((COMMITS * PER_COMMIT) / 2)]]);
    const filesBefore = await filesPerPartition(s, cfg);
    expect(filesBefore.every((p) => p.files === COMMITS)).toBe(true);
    const snapshotsBefore = await snapshotsOf(s, logs);
    expect(snapshotsBefore.length).toBeGreaterThanOrEqual(COMMITS);

    await new Promise((r) => setTimeout(r, 1500));
    const { code, summary } = await maintainOnce(cfg, {
      MAINTENANCE_KEEP_SNAPSHOTS: '3',
      MAINTENANCE_SNAPSHOT_MAX_AGE: '0s',
      MAINTENANCE_MIN_INPUT_FILES: '10',
      MAINTENANCE_ORPHAN_MIN_AGE: '1s',
    });
    expect(summary.error).toBeUndefined();
    expect(summary.results.filter((r) => !r.ok)).toEqual([]);
    expect(code).toBe(0);

    expect(await fingerprint(cfg)).toEqual(before);
    const filesAfter = await filesPerPartition(s, cfg);
    expect(filesAfter.map((p) => p.partition)).toEqual(filesBefore.map((p) => p.partition));
    for (const p of filesAfter) expect(p.files, p.partition).toBeLessThanOrEqual(2);

    const snapshots = await snapshotsOf(s, logs);
    expect(snapshots.length).toBeLessThanOrEqual(3);
    const manifests = await s.connection.runAndReadAll(`SELECT count(*) FROM read_avro('${snapshots.at(-1)!.manifestList}')`);
    expect(Number(manifests.getRows()[0]![0])).toBeLessThanOrEqual(2);
    // Every snapshot still kept reads whole (its rows as of its commit): orphan removal took
    // nothing a snapshot names.
    for (const [i, snap] of snapshots.entries()) {
      const n = await s.connection.runAndReadAll(`SELECT count(*) FROM ${logs} AT (VERSION => ${snap.id})`);
      expect(Number(n.getRows()[0]![0])).toBe(COMMITS * PER_COMMIT - Math.max(0, snapshots.length - 2 - i) * PER_COMMIT);
    }
    await expect(s.connection.runAndReadAll(`SELECT * FROM read_parquet('${orphan}')`)).rejects.toThrow(/404|No files found|not found/i);
    // The offsets table is compacted too, every row kept.
    const offsets = await s.connection.runAndReadAll(`SELECT count(*), count(DISTINCT batch_id), count(DISTINCT filename) FROM ${qualifiedNamespace(cfg)}.appender_offsets`);
    expect(offsets.getRows()[0]!.map(Number)).toEqual([COMMITS, COMMITS, 1]);

    // A second run finds nothing left to do, and still changes no row.
    const again = await maintainOnce(cfg, { MAINTENANCE_KEEP_SNAPSHOTS: '3', MAINTENANCE_SNAPSHOT_MAX_AGE: '0s', MAINTENANCE_MIN_INPUT_FILES: '10', MAINTENANCE_ORPHAN_MIN_AGE: '1s' });
    expect(again.code).toBe(0);
    expect(again.summary.results.filter((r) => r.task === 'compact').map((r) => r.filesRewritten)).toEqual([0, 0]);
    expect(await fingerprint(cfg)).toEqual(before);
  });

  it('retention drops exactly the expired days of exactly the configured tenant: files of its own, whole, rewriting nothing', async () => {
    const rcfg = testConfig(runId());
    const r = await openLakeSession(rcfg, { utcPartitionTransforms: true });
    try {
      await ensureLakeTables(r.connection, rcfg);
      const days = [today - 10, today - 5, today - 2, today - 1, today];
      for (let commit = 0; commit < 3; commit++) await smallCommit(r, rcfg, commit, days, 4);
      const perDay = async () => {
        const q = await r.connection.runAndReadAll(
          `SELECT tenant_id, "timestamp"::DATE::VARCHAR, count(*)::INTEGER, list(DISTINCT filename ORDER BY filename) FROM ${qualifiedNamespace(rcfg)}.logs GROUP BY 1, 2 ORDER BY 1, 2`,
        );
        return q.getRows().map(([t, d, n, files]) => ({ key: `${t}/${d}`, rows: Number(n), files: JSON.stringify(files) }));
      };
      const before = await perDay();
      expect(before).toHaveLength(10);
      const day = (d: number) => dayStart(d).slice(0, 10);

      // acme keeps 3 days (today and the 2 before); beta has no override and no default: kept forever.
      const { code, summary } = await maintainOnce(rcfg, { MAINTENANCE_TASKS: 'retention', RETENTION_TENANT_DAYS: 'acme=3' });
      expect(code).toBe(0);
      const retention = summary.results.find((x) => x.task === 'retention')!;
      expect(retention).toMatchObject({ ok: true, filesDropped: 6, filesRewritten: 0, recordsDropped: 24 });
      const after = await perDay();
      const dropped = new Set([`acme/${day(today - 10)}`, `acme/${day(today - 5)}`]);
      // Exactly those partitions are gone; every other one holds the same rows in the same files.
      expect(after).toEqual(before.filter((p) => !dropped.has(p.key)));

      // A default for every tenant, with an override keeping beta forever: acme's 2-day-old data goes now.
      const second = await maintainOnce(rcfg, { MAINTENANCE_TASKS: 'retention', RETENTION_DAYS: '2', RETENTION_TENANT_DAYS: 'beta=forever' });
      expect(second.code).toBe(0);
      expect((await perDay()).map((p) => p.key)).toEqual(after.map((p) => p.key).filter((k) => k !== `acme/${day(today - 2)}`));
    } finally {
      r.close();
    }
  });

  it('retention on files that tenants share rewrites them without the expired tenant\'s rows: every other row stays, value for value', async () => {
    const rcfg = testConfig(runId());
    const r = await openLakeSession(rcfg, { utcPartitionTransforms: true });
    try {
      await ensureLakeTables(r.connection, rcfg);
      const days = [today - 10, today - 5, today];
      for (let commit = 0; commit < 3; commit++) await smallCommit(r, rcfg, commit, days, 4, true);
      const logs = `${qualifiedNamespace(rcfg)}.logs`;
      const rowsOf = async (where: string) =>
        (await r.connection.runAndReadAll(`SELECT tenant_id, "timestamp"::VARCHAR, body, attributes::VARCHAR, resource_attributes::VARCHAR FROM ${logs} WHERE ${where} ORDER BY ALL`)).getRows().map((x) => x.map(String).join('|'));
      // both tenants in each file: 3 commits x 3 days
      const files = async () => (await r.connection.runAndReadAll(`SELECT DISTINCT filename FROM ${logs}`)).getRows().length;
      expect(await files()).toBe(9);
      const kept = await rowsOf(`NOT (tenant_id = 'acme' AND "timestamp" < TIMESTAMPTZ '${dayStart(today - 2)}')`);
      expect(kept).toHaveLength(3 * 4 * 4); // beta's 3 days and acme's today, 4 rows a commit

      const { code, summary } = await maintainOnce(rcfg, { MAINTENANCE_TASKS: 'retention', RETENTION_TENANT_DAYS: 'acme=3' });
      expect(code, JSON.stringify(summary)).toBe(0);
      // the 6 shared files of the two expired days, each rewritten with beta's rows alone
      expect(summary.results.find((x) => x.task === 'retention')).toMatchObject({ ok: true, filesDropped: 0, filesRewritten: 6, recordsDropped: 24 });
      expect(await rowsOf('true')).toEqual(kept);
      expect(await files()).toBe(9);
      // a second run has nothing left to do
      const again = await maintainOnce(rcfg, { MAINTENANCE_TASKS: 'retention', RETENTION_TENANT_DAYS: 'acme=3' });
      expect(again.summary.results.find((x) => x.task === 'retention')).toMatchObject({ ok: true, filesDropped: 0, filesRewritten: 0, recordsDropped: 0 });
    } finally {
      r.close();
    }
  });
});
