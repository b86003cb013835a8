// bench/tenant-day: a day of flushes from many tenants of unequal size, as the appender commits
// them, then one maintenance run: the files the day keeps, and what a tenant + day query reads
// for a large, a middling and a small tenant (the files, the rows they hold, and the rows of
// their row groups whose tenant_id statistics admit the tenant). Tenant i sends about rows / (i + 1) / H records a
// flush (a Zipf distribution: a few tenants with files of their own, many that share files), each
// flush's counts varying by ±50 %. The rows are timestamped yesterday (UTC), a day that has ended,
// so compaction merges its partitions whole. Against the local stack, a new table each run.
//
//   node bench/tenant-day.mjs  BENCH_DAY_TENANTS (default 1000), BENCH_DAY_FLUSHES (default 48),
//                              BENCH_DAY_ROWS (rows per flush, default 40000),
//                              BENCH_OWN_FILE_MIN_ROWS (default: the appender's; 1 gives every
//                              tenant files of its own, the layout before shared files)
// Maintenance is skipped without a maintainer build (npm run build:maintainer); its time and the
// peak RSS of its Java process are reported.
// Prints one JSON document on stdout and a summary on stderr.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../dist/config/load.js';
import { LogBuffer } from '../dist/lake/buffer.js';
import { CatalogClient } from '../dist/lake/catalog-client.js';
import { DEFAULT_FILE_LAYOUT, IcebergCommitter } from '../dist/lake/committer.js';
import { OffsetsTable } from '../dist/lake/offsets-table.js';
import { ensureLakeTables, openLakeSession, qualifiedNamespace } from '../dist/lake/session.js';
import { logsRequestBody, procStats, round, stackEnv } from './lib.mjs';

/** The pids whose parent is `pid`, from /proc. */
function childrenOf(pid) {
  const out = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid) out.push(Number(d));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const tenants = Number(process.env.BENCH_DAY_TENANTS ?? 1000);
const flushes = Number(process.env.BENCH_DAY_FLUSHES ?? 48);
const rowsPerFlush = Number(process.env.BENCH_DAY_ROWS ?? 40_000);
const layout = { ...DEFAULT_FILE_LAYOUT, ownFileMinRows: Number(process.env.BENCH_OWN_FILE_MIN_ROWS ?? DEFAULT_FILE_LAYOUT.ownFileMinRows) };
const env = stackEnv();
const run = randomBytes(3).toString('hex');
const settings = { ...env, ICEBERG_NAMESPACE: `bench_day_${run}`, APPENDER_GROUP_ID: `bench-${run}` };
const cfg = loadConfig({ ...process.env, ...settings });
const spool = mkdtempSync(join(tmpdir(), 'bench-day-'));
const session = await openLakeSession(cfg, { tempDirectory: join(spool, 'duckdb'), threads: 1, utcPartitionTransforms: true });
await ensureLakeTables(session.connection, cfg);
const logs = `${qualifiedNamespace(cfg)}.logs`;
const committer = new IcebergCommitter(session.connection, logs, new OffsetsTable(`${qualifiedNamespace(cfg)}.appender_offsets`, cfg.APPENDER_GROUP_ID, 'bench'), new CatalogClient(cfg), cfg.ICEBERG_NAMESPACE, undefined, layout);
const buffer = new LogBuffer(session.connection, spool);
await buffer.init();

const harmonic = Array.from({ length: tenants }, (_, i) => 1 / (i + 1)).reduce((a, b) => a + b, 0);
const base = (i) => rowsPerFlush / (i + 1) / harmonic;
// a small deterministic generator, so that two runs (and two layouts) get the same counts
let seed = 12345;
const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
const dayStart = (Math.floor(Date.now() / 86_400_000) - 1) * 86_400_000;
const flushSeconds = [];
let offset = 0n;
let rows = 0;
for (let f = 0; f < flushes; f++) {
  const at = dayStart + Math.floor((f * 86_400_000) / flushes);
  let staged = 0;
  for (let t = 0; t < tenants; t++) {
    const n = Math.max(1, Math.round(base(t) * (0.5 + random())));
    buffer.stage(logsRequestBody(n, t * flushes + f, at), { tenant: `tenant-${t}`, fallbackMicros: 0n, partition: 0, offset: offset++ });
    rows += n;
    if (++staged % 50 === 0) await buffer.load();
  }
  await buffer.load();
  const sealed = await buffer.seal();
  const t0 = performance.now();
  await committer.commit(sealed.tables, sealed.ranges, randomBytes(8).toString('hex'));
  flushSeconds.push((performance.now() - t0) / 1000);
  buffer.release(sealed);
  await buffer.collect();
}

const dayText = new Date(dayStart).toISOString().slice(0, 10);
const probes = [0, Math.floor(tenants / 20), Math.floor(tenants * 0.7)];
async function measure() {
  const c = session.connection;
  const current = (await c.runAndReadAll(`SELECT file_path, record_count FROM iceberg_metadata('${logs}')`)).getRows();
  const records = new Map(current.map(([p, n]) => [String(p), Number(n)]));
  const queries = [];
  for (const t of probes) {
    const where = `tenant_id = 'tenant-${t}' AND "timestamp" >= TIMESTAMPTZ '${dayText} 00:00:00+00' AND "timestamp" < TIMESTAMPTZ '${dayText} 00:00:00+00' + INTERVAL 1 DAY`;
    const plan = (await c.runAndReadAll(`EXPLAIN ANALYZE SELECT count(*) FROM ${logs} WHERE ${where}`)).getRows().map((r) => r.join('\n')).join('\n');
    const read = (await c.runAndReadAll(`SELECT DISTINCT filename FROM ${logs} WHERE ${where}`)).getRows().map(([p]) => String(p));
    const own = Number((await c.runAndReadAll(`SELECT count(*) FROM ${logs} WHERE ${where}`)).getRows()[0][0]);
    // the row groups of those files whose tenant_id statistics admit the tenant: what a reader that skips by them reads
    const groups = read.length === 0 ? 0 : Number((await c.runAndReadAll(
      `SELECT coalesce(sum(row_group_num_rows), 0) FROM parquet_metadata([${read.map((p) => `'${p}'`).join(', ')}]) ` +
        `WHERE path_in_schema = 'tenant_id' AND stats_min_value <= 'tenant-${t}' AND stats_max_value >= 'tenant-${t}'`,
    )).getRows()[0][0]);
    queries.push({ tenant: `tenant-${t}`, filesRead: Number(/Total Files Read: (\d+)/.exec(plan)?.[1]), rowsInFilesRead: read.reduce((n, p) => n + (records.get(p) ?? 0), 0), rowsInRowGroupsRead: groups, tenantRows: own });
  }
  return { dataFiles: current.length, queries };
}

const doc = { bench: 'tenant-day', tenants, flushes, rowsPerFlush, layout, rows, flushSeconds: { mean: round(flushSeconds.reduce((a, b) => a + b, 0) / flushes, 2), max: round(Math.max(...flushSeconds), 2) }, asWritten: await measure() };
if (existsSync(join(root, 'dist/maintainer/classes'))) {
  const t0 = performance.now();
  const child = spawn(process.execPath, ['dist/cli/maintain.js', '--once'], {
    cwd: root,
    env: { ...process.env, ...settings, MAINTAINER_HTTP_PORT: '0', MAINTENANCE_TASKS: 'compact,manifests,expire', MAINTENANCE_KEEP_SNAPSHOTS: '1', MAINTENANCE_SNAPSHOT_MAX_AGE: '1s' },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  // the peak RSS of the Java process the maintainer runs the table operations in (its child)
  let javaPeakMb = 0;
  const sample = setInterval(() => {
    for (const pid of childrenOf(child.pid)) {
      try {
        javaPeakMb = Math.max(javaPeakMb, procStats(pid).peakRssMb);
      } catch {
        // gone meanwhile
      }
    }
  }, 200);
  const code = await new Promise((resolve) => child.on('exit', resolve));
  clearInterval(sample);
  if (code !== 0) throw new Error(`maintain --once exited with ${code}`);
  doc.maintenanceSeconds = round((performance.now() - t0) / 1000, 1);
  doc.maintainerJavaPeakRssMb = Math.round(javaPeakMb);
  doc.afterMaintenance = await measure();
} else {
  process.stderr.write('no maintainer build (npm run build:maintainer): measured the table as written only\n');
}
session.close();
rmSync(spool, { recursive: true, force: true });
process.stdout.write(JSON.stringify(doc) + '\n');
process.stderr.write(`\ntenant-day: ${tenants} tenants, ${flushes} flushes of ~${rowsPerFlush} rows (own files from ${layout.ownFileMinRows} rows): ${rows} rows; flush mean ${doc.flushSeconds.mean} s, max ${doc.flushSeconds.max} s\n`);
if (doc.maintenanceSeconds !== undefined) process.stderr.write(`maintenance: ${doc.maintenanceSeconds} s, its Java process's peak RSS ${doc.maintainerJavaPeakRssMb} MB\n`);
for (const [name, m] of [['as written', doc.asWritten], ['after maintenance', doc.afterMaintenance]]) {
  if (!m) continue;
  process.stderr.write(`${name}: ${m.dataFiles} data files\n`);
  for (const q of m.queries) process.stderr.write(`  ${q.tenant.padEnd(12)} files read ${String(q.filesRead).padStart(5)}, rows they hold ${String(q.rowsInFilesRead).padStart(9)}, in the row groups that may hold the tenant ${String(q.rowsInRowGroupsRead).padStart(9)}, its rows ${String(q.tenantRows).padStart(7)}\n`);
}
