// bench/catalog: how many commits one Iceberg table takes on this machine, from one and from
// several writers at once, against the local stack's REST catalog and MinIO.
//
//   catalog   the catalog alone: each commit sets a table property (a new metadata file, no
//             data), asserting the table's uuid, as any writer's commit must.
//   appender  the appender's own commit, tiny: BENCH_CATALOG_RECORDS log records (default 10)
//             buffered and committed with their Kafka offsets by the appender's committer (a
//             data file, manifests, and one multi-table catalog commit of the logs and offsets
//             tables), each writer with its own DuckDB and its own Kafka partition. A commit the
//             catalog refuses because another writer's landed first is retried, as the
//             appender retries it, and counted.
//             With its digests (LAKE_DEDUP_WINDOW of an hour) unless BENCH_CATALOG_DEDUP=0.
// Each for BENCH_SECONDS (default 10) with 1, 2 and 4 writers (BENCH_CATALOG_WRITERS), each writer
// on its own table set per run; BENCH_CATALOG_MODES (default catalog,appender) picks the kinds.
// BENCH_CATALOG_MAINTAIN_SECONDS runs the maintainer (`maintain --once`) on the appender's
// tables every that many seconds meanwhile, as a deployment does. Besides p50 and p99, the p50 of
// the first and of the last fifth of the commits: whether a commit's cost grows with the history.
//
//   node bench/catalog.mjs      (npm run bench:catalog builds first)
// Prints one JSON document on stdout and a table on stderr.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../dist/config/load.js';
import { LogBuffer } from '../dist/lake/buffer.js';
import { CatalogClient } from '../dist/lake/catalog-client.js';
import { IcebergCommitter } from '../dist/lake/committer.js';
import { OffsetsTable } from '../dist/lake/offsets-table.js';
import { ensureLakeTables, openLakeSession, qualifiedNamespace } from '../dist/lake/session.js';
import { logsRequestBody, percentile, root, round, stackEnv } from './lib.mjs';

const seconds = Number(process.env.BENCH_SECONDS ?? 10);
const writerCounts = (process.env.BENCH_CATALOG_WRITERS ?? '1,2,4').split(',').map(Number);
const records = Number(process.env.BENCH_CATALOG_RECORDS ?? 10);
const modes = (process.env.BENCH_CATALOG_MODES ?? 'catalog,appender').split(',');
const dedup = process.env.BENCH_CATALOG_DEDUP !== '0';
const maintainEvery = Number(process.env.BENCH_CATALOG_MAINTAIN_SECONDS ?? 0);
const env = stackEnv();

function configFor(run) {
  return loadConfig({ ...process.env, ...env, ICEBERG_NAMESPACE: `bench_catalog_${run}`, APPENDER_GROUP_ID: `bench-catalog-${run}`, LOG_LEVEL: 'warn' });
}

function summary(writers, latencies, conflicts, wall) {
  const s = [...latencies].sort((a, b) => a - b);
  const fifth = Math.max(1, Math.floor(latencies.length / 5));
  const p50Of = (part) => round(percentile([...part].sort((a, b) => a - b), 50));
  return {
    writers,
    commits: s.length,
    commitsPerSecond: round(s.length / wall, 1),
    p50Ms: round(percentile(s, 50)),
    p99Ms: round(percentile(s, 99)),
    conflicts,
    conflictsPerCommit: round(conflicts / Math.max(1, s.length), 2),
    firstFifthP50Ms: p50Of(latencies.slice(0, fifth)),
    lastFifthP50Ms: p50Of(latencies.slice(-fifth)),
  };
}

/** A new namespace with the service's tables; its config. */
async function newTables() {
  const cfg = configFor(randomBytes(3).toString('hex'));
  const session = await openLakeSession(cfg);
  await ensureLakeTables(session.connection, cfg);
  session.close();
  return cfg;
}

/** Runs `writer(w, until, stats)` for each of `writers` at once for BENCH_SECONDS; the summary of what they recorded. */
async function timed(writers, writer) {
  const stats = { latencies: [], conflicts: 0 };
  const t0 = performance.now();
  const until = t0 + seconds * 1000;
  await Promise.all(Array.from({ length: writers }, (_, w) => writer(w, until, stats)));
  return summary(writers, stats.latencies, stats.conflicts, (performance.now() - t0) / 1000);
}

/** Commits that only set a property, from `writers` loops at once. */
async function catalogAlone(writers) {
  const cfg = await newTables();
  const base = cfg.ICEBERG_CATALOG_URI.replace(/\/$/, '');
  const prefixed = (await (await fetch(`${base}/v1/config?warehouse=${encodeURIComponent(cfg.ICEBERG_WAREHOUSE)}`)).json()).overrides?.prefix;
  const url = `${base}/v1${prefixed ? `/${prefixed}` : ''}/namespaces/${cfg.ICEBERG_NAMESPACE}/tables/logs`;
  return timed(writers, async (w, until, stats) => {
    for (let i = 0; performance.now() < until; i++) {
      const started = performance.now();
      for (;;) {
        // a writer commits against what it read: the table's uuid and its current metadata
        const table = await (await fetch(url)).json();
        const res = await fetch(url, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({
            requirements: [{ type: 'assert-table-uuid', uuid: table.metadata['table-uuid'] }, { type: 'assert-last-assigned-field-id', 'last-assigned-field-id': table.metadata['last-column-id'] }],
            updates: [{ action: 'set-properties', updates: { [`bench.writer.${w}`]: String(i) } }],
          }),
        });
        await res.text();
        if (res.status === 409) {
          stats.conflicts++;
          continue;
        }
        if (!res.ok) throw new Error(`catalog answered ${res.status}`);
        break;
      }
      stats.latencies.push(performance.now() - started);
    }
  });
}

/** The appender's commit with a tiny buffer, from `writers` committers at once on one table. */
async function appenderCommits(writers) {
  const cfg = await newTables();
  const catalog = new CatalogClient(cfg);
  const ns = qualifiedNamespace(cfg);
  let maintaining = maintainEvery > 0;
  const runs = [];
  const maintenance = (async () => {
    while (maintaining) {
      await new Promise((r) => setTimeout(r, maintainEvery * 1000));
      if (!maintaining) break;
      const { stdout } = await promisify(execFile)(process.execPath, ['dist/cli/maintain.js', '--once'], {
        cwd: root, env: { ...process.env, ...env, ICEBERG_NAMESPACE: cfg.ICEBERG_NAMESPACE, LAKE_DEDUP_WINDOW: '15m', MAINTENANCE_SNAPSHOT_MAX_AGE: '1m', MAINTENANCE_KEEP_SNAPSHOTS: '5', MAINTENANCE_OFFSETS_KEEP: '1m', LOG_LEVEL: 'warn' }, maxBuffer: 16 << 20,
      }).catch((e) => ({ stdout: e.stdout ?? '' }));
      runs.push(stdout.includes('"ok":true') ? 'ok' : 'failed');
    }
  })();
  const result = await timed(writers, async (w, until, stats) => {
    const spool = mkdtempSync(join(tmpdir(), 'bench-catalog-'));
    const session = await openLakeSession(cfg, { threads: 1, tempDirectory: join(spool, 'duckdb'), utcPartitionTransforms: true });
    try {
      const buffer = new LogBuffer(session.connection, spool, undefined, dedup);
      await buffer.init();
      const committer = new IcebergCommitter(session.connection, `${ns}.logs`, new OffsetsTable(`${ns}.appender_offsets`, cfg.APPENDER_GROUP_ID, 'bench'), catalog, cfg.ICEBERG_NAMESPACE,
        undefined, undefined, undefined, dedup ? { table: `${ns}.appender_digests`, windowMs: 3_600_000 } : undefined);
      for (let offset = 0n; performance.now() < until; offset++) {
        buffer.stage(logsRequestBody(records, w * 1_000_000 + Number(offset)), { tenant: `tenant-${w}`, fallbackMicros: BigInt(Date.now()) * 1000n, partition: w, offset });
        await buffer.load();
        const sealed = await buffer.seal();
        const started = performance.now();
        const batchId = randomBytes(8).toString('hex');
        for (;;) {
          try {
            await committer.commit(sealed.tables, sealed.ranges, batchId);
            break;
          } catch (e) {
            if (e?.code !== 'COMMIT_CONFLICT') throw e;
            stats.conflicts++;
          }
        }
        stats.latencies.push(performance.now() - started);
        buffer.release(sealed);
        await buffer.collect();
      }
    } finally {
      session.close();
      rmSync(spool, { recursive: true, force: true });
    }
  });
  maintaining = false;
  await maintenance;
  return { ...result, dedup, ...(maintainEvery > 0 ? { maintenanceRuns: runs.length, maintenanceFailed: runs.filter((r) => r !== 'ok').length } : {}) };
}

const results = { catalog: [], appender: [] };
if (modes.includes('catalog')) for (const writers of writerCounts) results.catalog.push(await catalogAlone(writers));
if (modes.includes('appender')) for (const writers of writerCounts) results.appender.push(await appenderCommits(writers));
const summaryDoc = Object.fromEntries(Object.entries(results).flatMap(([kind, rows]) => rows.map((r) => [`${kind}${r.writers}`, { commitsPerSecond: r.commitsPerSecond, p50Ms: r.p50Ms, firstFifthP50Ms: r.firstFifthP50Ms, lastFifthP50Ms: r.lastFifthP50Ms }])));
process.stdout.write(JSON.stringify({ bench: 'catalog', seconds, records, results, summary: summaryDoc }) + '\n');
process.stderr.write(`\ncatalog: commits on one table for ${seconds} s\n${'kind'.padEnd(9)} ${'writers'.padStart(7)} ${'commits'.padStart(8)} ${'per s'.padStart(6)} ${'p50 ms'.padStart(7)} ${'p99 ms'.padStart(7)} ${'conflicts'.padStart(9)} ${'per commit'.padStart(10)} ${'p50 first/last fifth'.padStart(21)}\n`);
for (const [kind, rows] of Object.entries(results)) {
  for (const r of rows) {
    process.stderr.write(`${kind.padEnd(9)} ${String(r.writers).padStart(7)} ${String(r.commits).padStart(8)} ${String(r.commitsPerSecond).padStart(6)} ${String(r.p50Ms).padStart(7)} ${String(r.p99Ms).padStart(7)} ${String(r.conflicts).padStart(9)} ${String(r.conflictsPerCommit).padStart(10)} ${`${r.firstFifthP50Ms}/${r.lastFifthP50Ms}`.padStart(21)}\n`);
  }
}
