import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Config } from '../../src/config/schema.js';
import { runQuery } from '../../src/query/query.js';
import { ensureLakeTables, openLakeSession, qualifiedNamespace, sqlString, type LakeSession } from '../../src/lake/session.js';
import { SHARED_REGROUP } from '../../src/maintainer/iceberg-tasks.js';
import { OffsetsTable } from '../../src/lake/offsets-table.js';
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

  it('retention and compaction run by two maintainers at once (a rolling deploy): every kept row once, each expired row gone', { timeout: 300_000 }, async () => {
    const ocfg = testConfig(runId());
    const o = await openLakeSession(ocfg, { utcPartitionTransforms: true });
    try {
      await ensureLakeTables(o.connection, ocfg);
      const logs = `${qualifiedNamespace(ocfg)}.logs`;
      const rowsOf = async (where: string) =>
        (await o.connection.runAndReadAll(`SELECT tenant_id, "timestamp"::VARCHAR, body, attributes::VARCHAR FROM ${logs} WHERE ${where} ORDER BY ALL`)).getRows().map((x) => x.map(String).join('|'));
      const days = [today - 6, today - 5, today - 1];
      const expired = `tenant_id = 'acme' AND "timestamp" < TIMESTAMPTZ '${dayStart(today - 2)}'`;
      let commit = 0;
      const outcomes: string[] = [];
      for (let round = 0; round < 3; round++) {
        // files both tenants share, many small ones per ended day: both tasks want them
        for (let i = 0; i < 6; i++) await smallCommit(o, ocfg, commit++, days, 3, true);
        const kept = await rowsOf(`NOT (${expired})`);
        const [retention, compaction] = await Promise.all([
          maintainOnce(ocfg, { MAINTENANCE_TASKS: 'retention', RETENTION_TENANT_DAYS: 'acme=3' }),
          maintainOnce(ocfg, { MAINTENANCE_TASKS: 'compact', MAINTENANCE_MIN_INPUT_FILES: '2' }),
        ]);
        const told = (r: typeof retention, task: string) => {
          const x = r.summary.results.find((y) => y.task === task);
          return x?.ok ? `${task} committed` : `${task} refused (${String(x?.error).slice(0, 120)})`;
        };
        outcomes.push(`${told(retention, 'retention')}, ${told(compaction, 'compact')}`);
        // whichever lost the race committed nothing; run retention once more to finish
        const after = await maintainOnce(ocfg, { MAINTENANCE_TASKS: 'retention', RETENTION_TENANT_DAYS: 'acme=3' });
        expect(after.code, JSON.stringify(after.summary)).toBe(0);
        expect(await rowsOf('true'), `round ${round}: ${outcomes.at(-1)}`).toEqual(kept);
        expect(await rowsOf(expired)).toEqual([]);
      }
      process.stdout.write(`retention beside compaction: ${outcomes.join('; ')}\n`);
    } finally {
      o.close();
    }
  });

  it('compaction regroups the files tenants share of a day that has ended into sorted, disjoint tenant ranges: a tenant + day query reads one file; no row changes; a second run does nothing; late rows rewrite only their range', { timeout: 180_000 }, async () => {
    const gcfg = testConfig(runId());
    const g = await openLakeSession(gcfg, { utcPartitionTransforms: true });
    const logs = `${qualifiedNamespace(gcfg)}.logs`;
    const day = today - 2;
    const ROWS = 200; // per tenant and commit: 30 tenants x 4 commits = 24,000 rows, more than one regrouped range takes
    expect(30 * 4 * ROWS).toBeGreaterThan(SHARED_REGROUP.maxRows);
    try {
      await ensureLakeTables(g.connection, gcfg);
      // Four commits of the day, each with three shared ranges whose cuts drift from commit to
      // commit (as the appender's do when the tenants' counts change), beside a tenant with files of its own.
      for (let commit = 0; commit < 4; commit++) {
        const b1 = 5 + commit;
        const b2 = 15 + 2 * commit;
        const t = (i: string) => `'t' || lpad((${i})::VARCHAR, 2, '0')`;
        const shard = `CASE WHEN k < ${b1} THEN '~t00' WHEN k < ${b2} THEN '~t${String(b1).padStart(2, '0')}' ELSE '~t${b2}' END`;
        await g.connection.run(
          `INSERT INTO ${logs} ("timestamp", tenant_id, body, attributes, resource_attributes, tenant_shard) ` +
            // bodies of ~200 bytes, so that a regrouped range makes several row groups
            `SELECT TIMESTAMPTZ '${dayStart(day)}' + to_seconds(${commit * 20000} + i % 20000), ${t('k')}, 'c${commit} ' || i || ' ' || repeat(md5(i::VARCHAR), 6), MAP {'seq': '${commit}-' || i}, MAP {}, ${shard} ` +
            `FROM (SELECT i, i % 30 AS k FROM range(${30 * ROWS}) r(i)) ` +
            `UNION ALL SELECT TIMESTAMPTZ '${dayStart(day)}' + to_seconds(${commit * 20000} + i), 'big', 'c${commit} ' || i, MAP {'seq': 'big-${commit}-' || i}, MAP {}, 'big' FROM range(500) r(i)`,
        );
      }
      const perFile = async () =>
        (await g.connection.runAndReadAll(`SELECT filename, min(tenant_id), max(tenant_id), min(tenant_shard), max(tenant_shard), count(*) FROM ${logs} GROUP BY 1 ORDER BY 2`)).getRows()
          .map(([f, lo, hi, slo, shi, n]) => ({ file: String(f), lo: String(lo), hi: String(hi), shard: slo === shi ? String(slo) : 'mixed', rows: Number(n) }));
      const before = await fingerprint(gcfg);
      expect((await perFile()).filter((f) => f.shard.startsWith('~'))).toHaveLength(12);

      const { code, summary } = await maintainOnce(gcfg, { MAINTENANCE_TASKS: 'compact' });
      expect(code, JSON.stringify(summary)).toBe(0);
      const compact = summary.results.find((x) => x.task === 'compact' && x.table === 'logs')!;
      expect(compact).toMatchObject({ ok: true, sharedDaysRegrouped: 1 });
      expect(await fingerprint(gcfg)).toEqual(before);

      const files = await perFile();
      const shared = files.filter((f) => f.shard !== 'big');
      // two ranges (24,000 rows, at most SHARED_REGROUP.maxRows each), disjoint, in order, each
      // under the partition of its first tenant, every tenant whole in one of them
      expect(shared.length).toBe(2);
      expect(shared.map((f) => f.shard)).toEqual(shared.map((f) => `~${f.lo}`));
      expect(shared[0]!.hi < shared[1]!.lo).toBe(true);
      expect(shared.every((f) => f.rows <= SHARED_REGROUP.maxRows)).toBe(true);
      // big's partition was merged as before, apart from the shared ones
      expect(files.filter((f) => f.shard === 'big')).toHaveLength(1);
      // each file is sorted by tenant, in several row groups that a query can skip
      const groups = (await g.connection.runAndReadAll(
        `SELECT file_name, row_group_id, stats_min_value, stats_max_value FROM parquet_metadata(${sqlString(shared[0]!.file)}) WHERE path_in_schema = 'tenant_id' ORDER BY row_group_id`,
      )).getRows().map(([, , lo, hi]) => [String(lo), String(hi)]);
      expect(groups.length).toBeGreaterThan(1);
      for (let i = 1; i < groups.length; i++) expect(groups[i]![0]! >= groups[i - 1]![1]!).toBe(true);
      const filesRead = async (tenant: string) => {
        const plan = (await g.connection.runAndReadAll(
          `EXPLAIN ANALYZE SELECT count(*) FROM ${logs} WHERE tenant_id = '${tenant}' AND "timestamp" >= TIMESTAMPTZ '${dayStart(day)}' AND "timestamp" < TIMESTAMPTZ '${dayStart(day + 1)}'`,
        )).getRows().map((r) => r.join('\n')).join('\n');
        return Number(/Total Files Read: (\d+)/.exec(plan)?.[1]);
      };
      for (const tenant of ['t00', 't07', 't16', 't29', 'big']) expect(await filesRead(tenant), tenant).toBe(1);

      const again = await maintainOnce(gcfg, { MAINTENANCE_TASKS: 'compact' });
      expect(again.summary.results.find((x) => x.task === 'compact' && x.table === 'logs')).toMatchObject({ ok: true, sharedDaysRegrouped: 0, filesRewritten: 0 });

      // Rows that arrive late for the day, from two tenants of the second range: only that range
      // is written again; the first range's file stays as it is.
      await g.connection.run(
        `INSERT INTO ${logs} ("timestamp", tenant_id, body, attributes, resource_attributes, tenant_shard) ` +
          `SELECT TIMESTAMPTZ '${dayStart(day)}' + to_seconds(i), ['t26', 't27'][i % 2 + 1], 'late ' || i, MAP {'seq': 'late-' || i}, MAP {}, '~t26' FROM range(40) r(i)`,
      );
      const late = await maintainOnce(gcfg, { MAINTENANCE_TASKS: 'compact' });
      expect(late.summary.results.find((x) => x.task === 'compact' && x.table === 'logs')).toMatchObject({ ok: true, sharedDaysRegrouped: 1, filesRewritten: 2, filesWritten: 1 });
      const afterLate = (await perFile()).filter((f) => f.shard !== 'big');
      expect(afterLate.map((f) => f.shard)).toEqual(['~t00', '~t25']);
      expect(afterLate[0]!.file).toBe(shared[0]!.file);
      expect(afterLate[1]!.rows).toBe(shared[1]!.rows + 40);
      expect(await filesRead('t26')).toBe(1);
    } finally {
      g.close();
    }
  });

  it('the offsets task keeps the latest row per group, topic and partition and the recent rows: what the appender reads is unchanged', async () => {
    const ocfg = testConfig(runId());
    const o = await openLakeSession(ocfg);
    try {
      await ensureLakeTables(o.connection, ocfg);
      const table = `${qualifiedNamespace(ocfg)}.appender_offsets`;
      // 12 commits two days ago and 2 recent ones, of two groups, three partitions each
      for (let commit = 1; commit <= 14; commit++) {
        const at = commit <= 12 ? `now() - INTERVAL 2 DAY + INTERVAL ${commit} MINUTE` : 'now()';
        const rows = ['g1', 'g2'].flatMap((g) => [0, 1, 2].map((p) => `('${g}', 't', ${p}, ${commit * 100 + p}, ${at}, '${g}-b${commit}')`));
        await o.connection.run(`INSERT INTO ${table} (consumer_group, topic, "partition", next_offset, committed_at, batch_id) VALUES ${rows.join(', ')}`);
      }
      const g1 = new OffsetsTable(table, 'g1', 't');
      const loaded = await g1.load(o.connection);
      const { code, summary } = await maintainOnce(ocfg, { MAINTENANCE_TASKS: 'offsets', MAINTENANCE_OFFSETS_KEEP: '1d' });
      expect(code, JSON.stringify(summary)).toBe(0);
      expect(summary.results.find((x) => x.task === 'offsets')).toMatchObject({ ok: true, offsetRowsRead: 84, offsetRowsDropped: 72 });
      // per group and partition: the two recent commits (the second the latest)
      expect(Number((await o.connection.runAndReadAll(`SELECT count(*) FROM ${table}`)).getRows()[0]![0])).toBe(12);
      expect(await g1.load(o.connection)).toEqual(loaded);
      expect(await g1.hasBatch(o.connection, 'g1-b13')).toBe(true);
      expect(await g1.hasBatch(o.connection, 'g1-b5')).toBe(false);
      // nothing more to drop: no commit
      const again = await maintainOnce(ocfg, { MAINTENANCE_TASKS: 'offsets', MAINTENANCE_OFFSETS_KEEP: '1d' });
      expect(again.summary.results.find((x) => x.task === 'offsets')).toMatchObject({ ok: true, offsetRowsRead: 12, offsetRowsDropped: 0 });
      // with nothing recent kept, only the latest row of each stays
      const last = await maintainOnce(ocfg, { MAINTENANCE_TASKS: 'offsets', MAINTENANCE_OFFSETS_KEEP: '0s' });
      expect(last.summary.results.find((x) => x.task === 'offsets')).toMatchObject({ ok: true, offsetRowsDropped: 6 });
      expect(await g1.load(o.connection)).toEqual(loaded);
    } finally {
      o.close();
    }
  });

  it('the digests task keeps the digests received within LAKE_DEDUP_WINDOW, in one file, and leaves a settled table alone', async () => {
    const dcfg = testConfig(runId());
    const d = await openLakeSession(dcfg);
    try {
      await ensureLakeTables(d.connection, dcfg);
      const table = `${qualifiedNamespace(dcfg)}.appender_digests`;
      const files = async () => Number((await d.connection.runAndReadAll(`SELECT count(DISTINCT filename) FROM ${table}`)).getRows()[0]![0]);
      const rows = async () => (await d.connection.runAndReadAll(`SELECT record_digest FROM ${table} ORDER BY 1`)).getRows().map(([x]) => String(x));
      // 10 commits: 6 of records received 3 hours ago, 4 of records received now
      for (let commit = 0; commit < 10; commit++) {
        const at = commit < 6 ? `now() - INTERVAL 3 HOUR + INTERVAL ${commit} MINUTE` : 'now()';
        const values = [0, 1, 2].map((i) => `('d${commit}-${i}', 'acme', ${at}, 0, ${commit * 3 + i})`);
        await d.connection.run(`INSERT INTO ${table} (record_digest, tenant_id, received_at, kafka_partition, kafka_offset) VALUES ${values.join(', ')}`);
      }
      expect(await files()).toBe(10);
      const { code, summary } = await maintainOnce(dcfg, { MAINTENANCE_TASKS: 'digests', LAKE_DEDUP_WINDOW: '1h' });
      expect(code, JSON.stringify(summary)).toBe(0);
      expect(summary.results.find((x) => x.task === 'digests')).toMatchObject({ ok: true, filesRewritten: 10, digestRowsRead: 30, digestRowsDropped: 18 });
      expect(await rows()).toEqual([6, 7, 8, 9].flatMap((c) => [0, 1, 2].map((i) => `d${c}-${i}`)));
      expect(await files()).toBe(1);
      // one file, all within the window: nothing read, nothing committed
      const again = await maintainOnce(dcfg, { MAINTENANCE_TASKS: 'digests', LAKE_DEDUP_WINDOW: '1h' });
      expect(again.summary.results.find((x) => x.task === 'digests')).toMatchObject({ ok: true, filesRewritten: 0, digestRowsRead: 0 });
      // deduplication turned off: every digest is past the window
      const off = await maintainOnce(dcfg, { MAINTENANCE_TASKS: 'digests', LAKE_DEDUP_WINDOW: '0' });
      expect(off.summary.results.find((x) => x.task === 'digests')).toMatchObject({ ok: true, digestRowsDropped: 12 });
      expect(await rows()).toEqual([]);
    } finally {
      d.close();
    }
  });
});
