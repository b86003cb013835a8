// bench/digests: what a commit pays to find a client's retries (LAKE_DEDUP_WINDOW) as the lake
// holds more digests, and what the maintainer's `digests` task pays to keep them to the window.
//
//   npm run bench:digests     BENCH_DIGEST_ROWS (default 10000,100000,1000000,4000000): digests
//                             held, one per Kafka record stored within the window;
//                             BENCH_BATCH_RECORDS (default 1000): Kafka records in the commit;
//                             BENCH_DIGEST_COMMITS (default 12): commits' small files on top,
//                             as appenders leave them between two runs of the `digests` task
//
// Each size: a fresh digests table of that many rows received within the last hour, as the
// `digests` task leaves it (one file), plus BENCH_DIGEST_COMMITS commits' small files on top; a buffer of
// BENCH_BATCH_RECORDS records, 1 % of them copies; the commit's query (src/lake/record-digests.ts)
// timed (median of 5); then the `digests` task with a window that keeps half of the rows, timed.
// Prints one JSON document (its `summary`) on stdout and a table on stderr.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { loadConfig } from '../dist/config/load.js';
import { copiesQuery, DIGEST_COLUMNS, earliestQuery } from '../dist/lake/record-digests.js';
import { BUFFER_DATABASE } from '../dist/lake/buffer.js';
import { ensureLakeTables, openLakeSession, qualifiedNamespace } from '../dist/lake/session.js';
import { root, round, stackEnv } from './lib.mjs';

const sizes = (process.env.BENCH_DIGEST_ROWS ?? '10000,100000,1000000,4000000').split(',').map(Number);
const batchRecords = Number(process.env.BENCH_BATCH_RECORDS ?? 1000);
const commits = Number(process.env.BENCH_DIGEST_COMMITS ?? 12);
const env = stackEnv();
const WINDOW_MS = 3_600_000;

const results = [];
for (const rows of sizes) {
  const run = randomBytes(3).toString('hex');
  const settings = { ...env, ICEBERG_NAMESPACE: `bench_digests_${run}`, LOG_LEVEL: 'warn' };
  const cfg = loadConfig({ ...process.env, ...settings });
  const session = await openLakeSession(cfg);
  const c = session.connection;
  try {
    await ensureLakeTables(c, cfg);
    const lake = `${qualifiedNamespace(cfg)}.appender_digests`;
    // digest i: md5 of i (hex, 32 characters, as random as SHA-256's first half), received within the hour, at offset i of partition 0
    const digest = (i) => `md5('${run}' || ${i})`;
    await c.run(`INSERT INTO ${lake} SELECT ${digest('i')}, 'acme', now() - INTERVAL 59 MINUTE + INTERVAL (i * 3000000 // ${rows}) MILLISECOND, 0, i FROM range(${rows}) r(i)`);
    const per = Math.max(1, Math.floor(rows / 1000));
    for (let commit = 0; commit < commits; commit++) {
      await c.run(`INSERT INTO ${lake} SELECT ${digest(`${rows} + ${commit * per} + i`)}, 'acme', now() - INTERVAL ${commits - commit} SECOND, 0, ${rows} + ${commit * per} + i FROM range(${per}) r(i)`);
    }
    const held = rows + commits * per;
    // the buffer: batchRecords records after what the lake holds, 1 % of them copies of stored ones
    await c.run(`ATTACH IF NOT EXISTS ':memory:' AS ${BUFFER_DATABASE}`);
    const buffer = `${BUFFER_DATABASE}.bench_digests`;
    await c.run(`CREATE OR REPLACE TABLE ${buffer} (${DIGEST_COLUMNS.map(([n, t]) => `${n} ${t}`).join(', ')})`);
    await c.run(
      `INSERT INTO ${buffer} SELECT CASE WHEN i % 100 = 0 THEN ${digest(`(i * 7919) % ${rows}`)} ELSE md5('new' || '${run}' || i) END, 'acme', now(), 0, ${held} + i FROM range(${batchRecords}) r(i)`,
    );
    const where = `kafka_partition = 0 AND kafka_offset BETWEEN ${held} AND ${held + batchRecords - 1}`;
    const times = [];
    let copies = 0;
    for (let i = 0; i < 5; i++) {
      const t = performance.now();
      const [since] = (await c.runAndReadAll(earliestQuery(buffer, where))).getRows()[0];
      copies = (await c.runAndReadAll(copiesQuery(buffer, lake, where, WINDOW_MS, BigInt(since), new Map([[0, BigInt(held)]])))).getRows().length;
      times.push(performance.now() - t);
    }
    times.sort((a, b) => a - b);
    if (copies !== Math.ceil(batchRecords / 100)) throw new Error(`expected ${Math.ceil(batchRecords / 100)} copies, found ${copies}`);
    // the task, with a window that keeps the half received in the last 30 minutes
    const t = performance.now();
    const out = execFileSync(process.execPath, ['dist/cli/maintain.js', '--once'], { cwd: root, env: { ...process.env, ...settings, MAINTENANCE_TASKS: 'digests', LAKE_DEDUP_WINDOW: '30m' }, encoding: 'utf8', maxBuffer: 16 << 20 });
    const trimMs = performance.now() - t;
    const task = JSON.parse(out.trim().split('\n').filter((l) => l.startsWith('{"ok"')).pop()).results.find((r) => r.task === 'digests');
    if (!task?.ok) throw new Error(`digests task failed: ${JSON.stringify(task)}`);
    results.push({ digests: held, files: commits + 1, commitQueryMs: round(times[2], 1), copiesFound: copies, trimSeconds: round(trimMs / 1000, 1), digestsDropped: task.digestRowsDropped });
    process.stderr.write(`${String(held).padStart(9)} digests in ${commits + 1} files: the commit's query ${round(times[2], 1)} ms for ${batchRecords} records (${copies} copies); trimmed ${task.digestRowsDropped} in ${round(trimMs / 1000, 1)} s\n`);
  } finally {
    session.close();
  }
}
console.log(JSON.stringify({ batchRecords, commits, windowMs: WINDOW_MS, results, summary: { commitQueryMsByDigests: Object.fromEntries(results.map((r) => [r.digests, r.commitQueryMs])), trimSecondsByDigests: Object.fromEntries(results.map((r) => [r.digests, r.trimSeconds])) } }, null, 2));
