import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Config } from '../../src/config/schema.js';
import { runQuery } from '../../src/lake/query.js';
import { ensureLakeTables, openLakeSession, qualifiedNamespace, type LakeSession } from '../../src/lake/session.js';
import { runId, stackEnv, testConfig } from '../helpers/stack.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const DAY_MS = 86_400_000;
const today = Math.floor(Date.now() / DAY_MS);
const dayStart = (day: number) => new Date(day * DAY_MS).toISOString();

/** Runs `node dist/cli/maintain.js --once` against the test's namespace; its summary and exit code. */
async function maintainOnce(cfg: Config, env: Record<string, string>): Promise<{ code: number; summary: { ok: boolean; results: Record<string, unknown>[]; error?: string } }> {
  try {
    const { stdout } = await promisify(execFile)(process.execPath, ['dist/cli/maintain.js', '--once'], {
      cwd: root,
      env: { ...process.env, ...stackEnv(), ICEBERG_NAMESPACE: cfg.ICEBERG_NAMESPACE, TENANT_TOKENS: 'acme=acme-token,beta=beta-token', LOG_LEVEL: 'warn', ...env },
      maxBuffer: 16 * 1024 * 1024,
    });
    return { code: 0, summary: JSON.parse(stdout.trim().split('\n').pop()!) };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    const last = err.stdout?.trim().split('\n').pop();
    if (!last) throw new Error(`maintain --once failed with ${err.code}: ${err.stderr}`);
    return { code: err.code, summary: JSON.parse(last) };
  }
}

/** One small commit of `rows` rows per (tenant, day), as an appender at BUFFER_TIME_SECONDS=1 makes them. */
async function smallCommit(s: LakeSession, cfg: Config, commit: number, days: number[], rows: number): Promise<void> {
  const selects = [];
  for (const tenant of ['acme', 'beta']) {
    for (const day of days) {
      selects.push(
        `SELECT TIMESTAMPTZ '${dayStart(day)}' + to_seconds(${commit * 1000} + i * 7) AS "timestamp", '${tenant}' AS tenant_id, 'INFO' AS severity, 9 AS severity_number, ` +
          `'commit ${commit} row ' || i AS body, 'svc-' || (i % 3) AS service_name, MAP {'seq': '${commit}-' || i, 'http.route': '/r/' || (i % 5)} AS attributes, ` +
          `MAP {'k8s.pod.name': 'pod-${commit % 4}'} AS resource_attributes, ${commit} AS kafka_offset FROM range(${rows}) t(i)`,
      );
    }
  }
  await s.connection.run('BEGIN');
  await s.connection.run(
    `INSERT INTO ${qualifiedNamespace(cfg)}.logs ("timestamp", tenant_id, severity, severity_number, body, service_name, attributes, resource_attributes) ` +
      `SELECT "timestamp", tenant_id, severity, severity_number, body, service_name, attributes, resource_attributes FROM (${selects.join(' UNION ALL ')})`,
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

async function filesPerPartition(cfg: Config) {
  const r = await runQuery(cfg, `SELECT tenant_id, "timestamp"::DATE::VARCHAR, count(DISTINCT filename)::INTEGER FROM logs GROUP BY 1, 2 ORDER BY 1, 2`);
  return r.rows.map(([t, d, n]) => ({ partition: `${t}/${d}`, files: Number(n) }));
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

  it('compacts hundreds of small commits into a few files per partition, merges manifests, expires snapshots, removes orphans, and changes no row', async () => {
    const logs = `${qualifiedNamespace(cfg)}.logs`;
    const days = [today - 3, today - 2, today];
    for (let commit = 0; commit < 120; commit++) await smallCommit(s, cfg, commit, days, 5);
    // An orphan: a Parquet file in the table's data folder that no snapshot names, as a failed commit leaves.
    const location = String((await s.connection.runAndReadAll(`SELECT filename FROM ${logs} LIMIT 1`)).getRows()[0]![0]).replace(/\/data\/.*$/, '');
    const orphan = `${location}/data/orphan-${runId()}.parquet`;
    await s.connection.run(`COPY (SELECT 1 AS x) TO '${orphan}' (FORMAT parquet)`);

    const before = await fingerprint(cfg);
    expect(before.map((r) => r.slice(0, 2))).toEqual([['acme', '1800'], ['beta', '1800']]);
    const filesBefore = await filesPerPartition(cfg);
    expect(filesBefore.every((p) => p.files === 120)).toBe(true);
    const snapshotsBefore = await snapshotsOf(s, logs);
    expect(snapshotsBefore.length).toBeGreaterThanOrEqual(120);

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
    const filesAfter = await filesPerPartition(cfg);
    expect(filesAfter.map((p) => p.partition)).toEqual(filesBefore.map((p) => p.partition));
    for (const p of filesAfter) expect(p.files, p.partition).toBeLessThanOrEqual(2);

    const snapshots = await snapshotsOf(s, logs);
    expect(snapshots.length).toBeLessThanOrEqual(3);
    const manifests = await s.connection.runAndReadAll(`SELECT count(*) FROM read_avro('${snapshots.at(-1)!.manifestList}')`);
    expect(Number(manifests.getRows()[0]![0])).toBeLessThanOrEqual(days.length + 1);
    // Every snapshot still kept reads whole: orphan removal took nothing a snapshot names.
    for (const snap of snapshots) {
      const n = await s.connection.runAndReadAll(`SELECT count(*) FROM ${logs} AT (VERSION => ${snap.id})`);
      expect(Number(n.getRows()[0]![0])).toBe(3600);
    }
    await expect(s.connection.runAndReadAll(`SELECT * FROM read_parquet('${orphan}')`)).rejects.toThrow(/404|No files found|not found/i);
    const offsets = await runQuery(cfg, `SELECT count(*), count(DISTINCT batch_id) FROM ${qualifiedNamespace(cfg)}.appender_offsets`).catch(() => undefined);
    if (offsets) expect(offsets.rows[0]!.map(Number)).toEqual([120, 120]);
    const offsetsFiles = await s.connection.runAndReadAll(`SELECT count(DISTINCT filename) FROM ${qualifiedNamespace(cfg)}.appender_offsets`);
    expect(Number(offsetsFiles.getRows()[0]![0])).toBeLessThanOrEqual(2);
  });
});
