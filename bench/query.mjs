// bench/query: the query service (`npm run query-server`, its own process) answering tenants'
// tenant + day queries over a logs table of BENCH_QUERY_ROWS rows (default 1,200,000) on the
// local stack, first as the appender lays the table out, then after one maintenance run.
// As written: BENCH_QUERY_TENANTS tenants (default 10) over BENCH_QUERY_DAYS UTC days (default
// 4), one commit per flush with a file per tenant and day, BENCH_QUERY_FLUSHES_PER_DAY flushes a
// day (default 6). Then `npm run maintain -- --once` compacts it, merges its manifests and expires
// its old snapshots (skipped without a maintainer build: npm run build:maintainer). A new table
// each run.
//
// Two queries, each for one tenant and one day: `aggregate` (records per service and severity)
// and `search` (the latest 100 records whose body has a word). Each runs one at a time for
// BENCH_QUERY_SAMPLES queries (default 40), then with BENCH_QUERY_CONCURRENCY clients (default 4,
// each its own tenant) for BENCH_SECONDS (default 10).
//
//   node bench/query.mjs        (npm run bench:query builds first)
// Prints one JSON document on stdout and a table on stderr.
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { request } from 'undici';
import { loadConfig } from '../dist/config/load.js';
import { CatalogClient } from '../dist/lake/catalog-client.js';
import { ensureLakeTables, openLakeSession, qualifiedNamespace } from '../dist/lake/session.js';
import { percentile, procStats, root, round, stackEnv } from './lib.mjs';

const rows = Number(process.env.BENCH_QUERY_ROWS ?? 1_200_000);
const tenants = Number(process.env.BENCH_QUERY_TENANTS ?? 10);
const days = Number(process.env.BENCH_QUERY_DAYS ?? 4);
const flushesPerDay = Number(process.env.BENCH_QUERY_FLUSHES_PER_DAY ?? 6);
const samples = Number(process.env.BENCH_QUERY_SAMPLES ?? 40);
const concurrency = Number(process.env.BENCH_QUERY_CONCURRENCY ?? 4);
const seconds = Number(process.env.BENCH_SECONDS ?? 10);
const port = Number(process.env.BENCH_QUERY_PORT ?? 18_090);

const env = stackEnv();
const tenantIds = Array.from({ length: tenants }, (_, i) => `tenant-${i}`);
const tokens = Object.fromEntries(tenantIds.map((t) => [t, `${t}-token`]));
const settings = {
  ...env,
  ICEBERG_NAMESPACE: `bench_query_${randomBytes(3).toString('hex')}`,
  TENANT_TOKENS: tenantIds.map((t) => `${t}=${tokens[t]}`).join(','),
  QUERY_HOST: '127.0.0.1',
  QUERY_HTTP_PORT: String(port),
  LOG_LEVEL: 'warn',
};
const cfg = loadConfig({ ...settings });
const firstDay = Date.UTC(2026, 10, 1);
const dayText = (d) => new Date(firstDay + d * 86_400_000).toISOString().slice(0, 10);

/** Makes the table, as the appender would have written it. */
async function makeTable() {
  const session = await openLakeSession(cfg, { utcPartitionTransforms: true });
  try {
    await ensureLakeTables(session.connection, cfg);
    const table = `${qualifiedNamespace(cfg)}.logs`;
    const t0 = performance.now();
    const flushes = days * flushesPerDay;
    const perFlush = Math.ceil(rows / flushes);
    for (let f = 0; f < flushes; f++) {
      const n = Math.min(perFlush, rows - f * perFlush);
      const day = Math.floor(f / flushesPerDay);
      // the flush's rows spread over its share of the day, round-robin over the tenants
      const start = `TIMESTAMPTZ '${dayText(day)} 00:00:00+00' + INTERVAL (${(f % flushesPerDay) * Math.floor(86_400 / flushesPerDay)}) SECOND`;
      const words = `['request','served','upstream','cache','miss','retry','timeout','user','order','payment','cart','checkout','latency','db','query','slow','ok','failed']`;
      await session.connection.run(
        `INSERT INTO ${table} ("timestamp", observed_timestamp, tenant_id, severity, severity_number, body, body_type, trace_id, span_id, trace_flags, ` +
          `service_name, deployment_environment, host_name, scope_name, scope_version, attributes, resource_attributes, scope_attributes, tenant_shard) ` +
          `SELECT ${start} + INTERVAL ((i - ${f * perFlush}) * ${Math.floor(86_400 / flushesPerDay)} // ${n}) SECOND AS ts, ts, 'tenant-' || (i % ${tenants}), ` +
          `['INFO','INFO','INFO','WARN','ERROR'][i % 5 + 1], [9,9,9,13,17][i % 5 + 1], ` +
          `array_to_string(list_transform(range(12 + i % 20), w -> ${words}[(i + w * 7) % 18 + 1]), ' '), 'string', ` +
          `md5(i::VARCHAR || '${f}'), left(md5(i::VARCHAR), 16), 1, 'service-' || (i % 7), 'prod', 'ip-10-0-' || (i % 250), 'bench', '1.0.0', ` +
          `MAP {'http.route': '/api/' || ${words}[i % 18 + 1], 'http.status_code': ['200','200','200','404','500'][i % 5 + 1], 'user.id': (i % 5000)::VARCHAR, 'attempt': (i % 3)::VARCHAR}, ` +
          // at the defaults each tenant has thousands of rows a flush: files of its own, as the appender writes them
          `MAP {'service.name': 'service-' || (i % 7), 'k8s.pod.name': 'pod-' || (i % 97), 'cloud.region': 'eu-west-1'}, MAP {}, 'tenant-' || (i % ${tenants}) ` +
          `FROM range(${f * perFlush}, ${f * perFlush + n}) r(i)`,
      );
    }
    return { seconds: round((performance.now() - t0) / 1000, 1) };
  } finally {
    session.close();
  }
}

function startService() {
  const child = spawn(process.execPath, ['dist/cli/query-server.js'], { cwd: root, env: { ...process.env, ...settings }, stdio: ['ignore', 'ignore', 'inherit'] });
  return child;
}

async function waitReady() {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    try {
      const r = await request(`http://127.0.0.1:${port}/readyz`);
      await r.body.text();
      if (r.statusCode === 200) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error('the query service did not become ready');
}

const QUERIES = {
  aggregate: (day) =>
    `SELECT service_name, severity, count(*) AS records FROM logs WHERE "timestamp" >= TIMESTAMPTZ '${day} 00:00:00+00' ` +
    `AND "timestamp" < TIMESTAMPTZ '${day} 00:00:00+00' + INTERVAL 1 DAY GROUP BY ALL ORDER BY records DESC`,
  search: (day) =>
    `SELECT "timestamp", service_name, severity, body FROM logs WHERE "timestamp" >= TIMESTAMPTZ '${day} 00:00:00+00' ` +
    `AND "timestamp" < TIMESTAMPTZ '${day} 00:00:00+00' + INTERVAL 1 DAY AND body LIKE '%timeout%' ORDER BY "timestamp" DESC LIMIT 100`,
};

/** One query; its latency in ms and the rows it answered. */
async function query(tenant, sql) {
  const t0 = performance.now();
  const r = await request(`http://127.0.0.1:${port}/v1/query`, {
    method: 'POST',
    headers: { authorization: `Bearer ${tokens[tenant]}`, 'content-type': 'application/json' },
    body: JSON.stringify({ sql }),
  });
  const text = await r.body.text();
  if (r.statusCode !== 200) throw new Error(`query answered ${r.statusCode}: ${text}`);
  return { ms: performance.now() - t0, rows: JSON.parse(text).row_count };
}

const summarize = (latencies, wallSeconds) => {
  const s = [...latencies].sort((a, b) => a - b);
  return { queries: s.length, queriesPerSecond: round(s.length / wallSeconds, 1), p50Ms: round(percentile(s, 50)), p99Ms: round(percentile(s, 99)) };
};

/** Starts the service, runs both queries one at a time and from several clients, stops it. */
async function measure() {
  const summary = await new CatalogClient(cfg).currentSnapshotSummary(cfg.ICEBERG_NAMESPACE, 'logs');
  const child = startService();
  const results = { dataFiles: Number(summary?.['total-data-files']), queries: {} };
  try {
    await waitReady();
    // the first query opens a DuckDB instance (extensions, secret, catalog): timed apart
    results.firstQueryMs = round((await query(tenantIds[0], QUERIES.aggregate(dayText(0)))).ms);
    for (const [name, sql] of Object.entries(QUERIES)) {
      const serial = [];
      const cpu0 = procStats(child.pid).cpuSeconds;
      let t0 = performance.now();
      for (let i = 0; i < samples; i++) serial.push((await query(tenantIds[i % tenants], sql(dayText(i % days)))).ms);
      const serialWall = (performance.now() - t0) / 1000;
      const serialCpu = procStats(child.pid).cpuSeconds - cpu0;
      const parallel = [];
      const cpu1 = procStats(child.pid).cpuSeconds;
      t0 = performance.now();
      const until = t0 + seconds * 1000;
      await Promise.all(
        Array.from({ length: concurrency }, async (_, c) => {
          for (let i = 0; performance.now() < until; i++) parallel.push((await query(tenantIds[c % tenants], sql(dayText(i % days)))).ms);
        }),
      );
      const parallelWall = (performance.now() - t0) / 1000;
      const parallelCpu = procStats(child.pid).cpuSeconds - cpu1;
      results.queries[name] = {
        serial: { ...summarize(serial, serialWall), cpuMsPerQuery: round((serialCpu * 1000) / serial.length) },
        concurrent: { clients: concurrency, ...summarize(parallel, parallelWall), cpuMsPerQuery: round((parallelCpu * 1000) / parallel.length) },
      };
    }
    results.servicePeakRssMb = round(procStats(child.pid).peakRssMb);
  } finally {
    child.kill('SIGTERM');
  }
  return results;
}

/** One maintenance run on the table (compaction, manifest rewrite, snapshot expiry), as `npm run maintain -- --once`. */
function maintain() {
  const t0 = performance.now();
  execFileSync(process.execPath, ['dist/cli/maintain.js', '--once'], {
    cwd: root,
    env: { ...process.env, ...settings, MAINTAINER_HTTP_PORT: '0', MAINTENANCE_TASKS: 'compact,manifests,expire', MAINTENANCE_KEEP_SNAPSHOTS: '1', MAINTENANCE_SNAPSHOT_MAX_AGE: '1s' },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  return round((performance.now() - t0) / 1000, 1);
}

const table = await makeTable();
const stages = { asWritten: await measure() };
if (existsSync(join(root, 'dist/maintainer/classes'))) {
  stages.maintenanceSeconds = maintain();
  stages.afterMaintenance = await measure();
} else {
  process.stderr.write('no maintainer build (npm run build:maintainer): measured the table as written only\n');
}

const doc = { bench: 'query', rows, tenants, days, flushesPerDay, rowsPerTenantDay: Math.round(rows / tenants / days), table, ...stages };
process.stdout.write(JSON.stringify(doc) + '\n');
process.stderr.write(`\nquery: ${rows} rows, ${tenants} tenants × ${days} days (${doc.rowsPerTenantDay} rows per tenant and day); made in ${table.seconds} s\n`);
for (const stage of ['asWritten', 'afterMaintenance']) {
  const r = stages[stage];
  if (!r) continue;
  process.stderr.write(
    `\n${stage === 'asWritten' ? 'as the appender wrote it' : `after one maintenance run (${stages.maintenanceSeconds} s)`}: ${r.dataFiles} data files; ` +
      `first query (opens a DuckDB) ${r.firstQueryMs} ms; service peak RSS ${r.servicePeakRssMb} MB\n` +
      `${'query'.padEnd(10)} ${'clients'.padStart(7)} ${'queries'.padStart(8)} ${'q/s'.padStart(6)} ${'p50 ms'.padStart(7)} ${'p99 ms'.padStart(7)} ${'cpu ms/q'.padStart(9)}\n`,
  );
  for (const name of Object.keys(QUERIES)) {
    for (const [mode, q] of Object.entries(r.queries[name])) {
      process.stderr.write(
        `${name.padEnd(10)} ${String(mode === 'serial' ? 1 : q.clients).padStart(7)} ${String(q.queries).padStart(8)} ${String(q.queriesPerSecond).padStart(6)} ${String(q.p50Ms).padStart(7)} ${String(q.p99Ms).padStart(7)} ${String(q.cpuMsPerQuery).padStart(9)}\n`,
      );
    }
  }
}
