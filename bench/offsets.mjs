// bench/offsets: what the appender pays to read the lake's offsets (max(next_offset) per
// partition, read at every commit after another writer's, so at every commit with two replicas)
// as the offsets table grows with commits, and after the maintainer's `offsets` task.
//
//   npm run bench:offsets     BENCH_OFFSET_ROWS (default 1000,10000,100000,1000000) the table
//                             sizes, BENCH_PARTITIONS (default 12) partitions per group, two groups
//
// Each size: a fresh table holding that many rows (as many commits' worth: one row per
// partition per commit), the read timed (median of 5), then `maintain --once` with
// MAINTENANCE_TASKS=offsets and MAINTENANCE_OFFSETS_KEEP=1h over rows a day old, and the read
// timed again. Prints one JSON document (its `summary`) on stdout and a table on stderr.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { loadConfig } from '../dist/config/load.js';
import { OffsetsTable } from '../dist/lake/offsets-table.js';
import { ensureLakeTables, openLakeSession, qualifiedNamespace } from '../dist/lake/session.js';
import { root, round, stackEnv } from './lib.mjs';

const sizes = (process.env.BENCH_OFFSET_ROWS ?? '1000,10000,100000,1000000').split(',').map(Number);
const partitions = Number(process.env.BENCH_PARTITIONS ?? 12);
const env = stackEnv();

async function timedLoad(table, connection) {
  const times = [];
  let offsets;
  for (let i = 0; i < 5; i++) {
    const t = performance.now();
    offsets = await table.load(connection);
    times.push(performance.now() - t);
  }
  times.sort((a, b) => a - b);
  return { ms: round(times[2], 1), partitions: offsets.size };
}

const results = [];
for (const rows of sizes) {
  const run = randomBytes(3).toString('hex');
  const settings = { ...env, ICEBERG_NAMESPACE: `bench_offsets_${run}`, APPENDER_GROUP_ID: 'g0', LOG_LEVEL: 'warn' };
  const cfg = loadConfig({ ...process.env, ...settings });
  const session = await openLakeSession(cfg);
  const c = session.connection;
  try {
    await ensureLakeTables(c, cfg);
    const name = `${qualifiedNamespace(cfg)}.appender_offsets`;
    const perGroup = partitions;
    // row i: group i % 2, partition (i / 2) % partitions, commit i / (2 * partitions), a day old
    await c.run(
      `INSERT INTO ${name} (consumer_group, topic, "partition", next_offset, committed_at, batch_id) ` +
        `SELECT 'g' || (i % 2), 't', (i // 2) % ${perGroup}, (i // ${2 * perGroup}) * 1000 + 1, now() - INTERVAL 1 DAY + INTERVAL (i // ${2 * perGroup}) MILLISECOND, 'b' || (i // ${2 * perGroup}) FROM range(${rows}) r(i)`,
    );
    const table = new OffsetsTable(name, 'g0', 't');
    const before = await timedLoad(table, c);
    const t = performance.now();
    const out = execFileSync(process.execPath, ['dist/cli/maintain.js', '--once'], { cwd: root, env: { ...process.env, ...settings, MAINTENANCE_TASKS: 'offsets', MAINTENANCE_OFFSETS_KEEP: '1h' }, encoding: 'utf8' });
    const trimMs = performance.now() - t;
    const summary = JSON.parse(out.trim().split('\n').filter((l) => l.startsWith('{"ok"')).pop());
    const task = summary.results.find((r) => r.task === 'offsets');
    const after = await timedLoad(table, c);
    const left = Number((await c.runAndReadAll(`SELECT count(*) FROM ${name}`)).getRows()[0][0]);
    results.push({ rows, readMs: before.ms, trimSeconds: round(trimMs / 1000, 1), rowsDropped: task.offsetRowsDropped, rowsLeft: left, readMsAfter: after.ms });
    process.stderr.write(`${String(rows).padStart(9)} rows: read ${before.ms} ms; trimmed to ${left} rows in ${round(trimMs / 1000, 1)} s; read ${after.ms} ms\n`);
  } finally {
    session.close();
  }
}
console.log(JSON.stringify({ partitions, groups: 2, results, summary: { readMsBySize: Object.fromEntries(results.map((r) => [r.rows, r.readMs])), readMsAfterTrim: Object.fromEntries(results.map((r) => [r.rows, r.readMsAfter])), rowsLeft: results.map((r) => r.rowsLeft) } }, null, 2));
