import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';
import { seededRandom } from '../helpers/prng.js';
import { createKafka } from '../../src/kafka/client.js';
import { ensureTopics, topicWithDlq } from '../../src/kafka/topics.js';
import { createLogger } from '../../src/telemetry/logger.js';
import { lakeCounts, produceLogs, spawnAppender } from '../helpers/lake.js';
import { runId, stackEnv, testConfig, waitFor } from '../helpers/stack.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const logger = createLogger(process.env.TEST_LOG_LEVEL ?? 'warn', 'it');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The pid of the maintenance Java process the maintainer `parent` started, if one is running. */
function javaChildOf(parent: number): number | undefined {
  try {
    const out = execFileSync('pgrep', ['-P', String(parent), '-f', 'IcebergMaintenance'], { encoding: 'utf8' }).trim();
    return out ? Number(out.split('\n')[0]) : undefined;
  } catch {
    return undefined;
  }
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

// Maintenance runs back to back (compaction of every partition with two small files, manifest
// rewrite, expiry down to 2 snapshots) beside an appender committing every second, and the
// maintainer is killed with SIGKILL in the middle of its runs: every record lands exactly once.
it('maintenance beside an appender under load, the maintainer killed with SIGKILL mid-run: every record exactly once', async () => {
  const id = runId();
  const cfg = testConfig(id, { TOPIC_PARTITIONS: '3', BUFFER_TIME_SECONDS: '1' });
  const kafka = createKafka(cfg.REDPANDA_BROKERS, 'it-producer', logger);
  await ensureTopics(kafka, topicWithDlq(cfg.REDPANDA_TOPIC), { partitions: 3, replicationFactor: -1 }, logger);
  const REQUESTS = 240;
  const PER_REQUEST = 25;
  const TOTAL = REQUESTS * PER_REQUEST;

  const appender = spawnAppender(cfg, { APPENDER_HTTP_PORT: '0' });
  const runs: { ok: boolean; filesRewritten: number; failed?: { task: string; table: string; error: string }[] }[] = [];
  const startMaintainer = (): ChildProcess => {
    const child = spawn(process.execPath, ['dist/cli/maintain.js'], {
      cwd: root,
      env: {
        ...process.env,
        ...stackEnv(),
        ICEBERG_NAMESPACE: cfg.ICEBERG_NAMESPACE,
        MAINTAINER_HTTP_PORT: '0',
        MAINTAINER_HOST: '127.0.0.1',
        MAINTENANCE_INTERVAL_SECONDS: '1',
        MAINTENANCE_MIN_INPUT_FILES: '2',
        MAINTENANCE_MAX_MANIFESTS: '2',
        MAINTENANCE_KEEP_SNAPSHOTS: '2',
        MAINTENANCE_SNAPSHOT_MAX_AGE: '0s',
        // Far above a commit's duration: an appender's files are named by a snapshot well within it.
        MAINTENANCE_ORPHAN_MIN_AGE: '10m',
        LOG_LEVEL: 'info',
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let rest = '';
    child.stdout!.on('data', (b: Buffer) => {
      const lines = (rest + b.toString('utf8')).split('\n');
      rest = lines.pop()!;
      for (const line of lines) {
        if (line.includes('"maintenance run')) runs.push(JSON.parse(line) as (typeof runs)[number]);
      }
    });
    return child;
  };

  try {
    const producing = produceLogs(kafka, cfg.REDPANDA_TOPIC, 0, REQUESTS, PER_REQUEST, 150);
    let kills = 0;
    let killedJava = 0;
    let maintainer = startMaintainer();
    // Kill it three times while its Java process is at work, at a random moment of the run.
    const random = seededRandom('kill moments');
    for (let round = 0; round < 3; round++) {
      const java = await waitFor(async () => javaChildOf(maintainer.pid!), (pid) => pid !== undefined, 60_000, 'a maintenance run');
      await sleep(200 + Math.floor(random() * 1500));
      const exited = new Promise((r) => maintainer.on('exit', r));
      maintainer.kill('SIGKILL');
      await exited;
      kills++;
      // The Java process sees its stdin close and stops by itself.
      await waitFor(async () => alive(java!), (a) => !a, 20_000, 'the maintenance process to stop after its maintainer was killed');
      killedJava++;
      maintainer = startMaintainer();
    }
    await producing;
    const rewroteDuringLoad = runs.filter((r) => r.filesRewritten > 0).length;
    const counts = await waitFor(() => lakeCounts(cfg), (c) => c.rows >= TOTAL, 120_000, `all ${TOTAL} records in the lake`);
    // A few more maintenance runs over the finished table, then a last look.
    await sleep(5000);
    const stopped = new Promise<number | null>((r) => maintainer.on('exit', (code) => r(code)));
    maintainer.kill('SIGTERM');
    expect(await stopped).toBe(0);
    const final = await lakeCounts(cfg);
    expect({ kills, killedJava }).toEqual({ kills: 3, killedJava: 3 });
    // Compaction did race the appender's commits (runs that finished while the load went on).
    expect(rewroteDuringLoad).toBeGreaterThan(0);
    // A run may lose a commit race more often than the library retries (it is then tried again
    // at the next run); any other failure is a fault.
    const failures = runs.flatMap((r) => r.failed ?? []);
    if (failures.length > 0) console.log(`maintenance task failures: ${JSON.stringify(failures)}`);
    expect(failures.filter((f) => !/^CommitFailedException/.test(f.error))).toEqual([]);
    expect(runs.filter((r) => r.ok).length).toBeGreaterThan(0);
    expect(counts).toEqual({ rows: TOTAL, distinct: TOTAL });
    expect(final).toEqual({ rows: TOTAL, distinct: TOTAL });
  } finally {
    const exited = new Promise((r) => appender.on('exit', r));
    appender.kill('SIGTERM');
    await exited;
  }
});
