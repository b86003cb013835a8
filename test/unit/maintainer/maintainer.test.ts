import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/load.js';
import { IcebergProcess } from '../../../src/maintainer/iceberg-tasks.js';
import { Maintainer } from '../../../src/maintainer/maintainer.js';
import { createLogger } from '../../../src/telemetry/logger.js';

/**
 * A stand-in for the Java side: a script that reads one job per line from stdin and answers one
 * JSON line per task as `answer` decides (with its pid and how many jobs it has run), then
 * `{"done":true}`; with `exitCode` it exits after the task lines instead.
 */
function fakeJava(answer: string, exitCode?: number): string {
  const dir = mkdtempSync(join(tmpdir(), 'fake-java-'));
  const script = join(dir, 'fake.mjs');
  writeFileSync(script, `
    import { createInterface } from 'node:readline';
    const rl = createInterface({ input: process.stdin });
    let jobs = 0;
    rl.on('line', (line) => {
      const job = JSON.parse(line);
      jobs++;
      const answer = ${answer};
      for (const t of job.tasks) process.stdout.write(JSON.stringify({ task: t.task, table: t.table, durationMs: 1, pid: process.pid, jobs, ...answer(t, job) }) + '\\n');
      ${exitCode === undefined ? "process.stdout.write(JSON.stringify(job.fail ? { done: true, error: 'IOException: no catalog' } : { done: true }) + '\\n');" : `process.exit(${exitCode});`}
    });
    rl.on('close', () => process.exit(0));`);
  const java = join(dir, 'java');
  writeFileSync(java, `#!/bin/sh\nexec "${process.execPath}" "${script}"\n`);
  chmodSync(java, 0o755);
  return java;
}

const maintainer = (java: string, env: Record<string, string> = {}) =>
  new Maintainer(loadConfig({ MAINTAINER_JAVA: java, MAINTAINER_JAVA_OPTS: '', MAINTAINER_HOST: '127.0.0.1', MAINTAINER_HTTP_PORT: '0', ...env }), createLogger('silent', 'test'));

describe('Maintainer', () => {
  it('passes the job on stdin and counts what each task reports in its metrics', async () => {
    const m = maintainer(fakeJava(`(t) => t.task === 'compact' ? { ok: true, filesRewritten: 10, filesWritten: 1, bytesRewritten: 5000 } : t.task === 'expire' ? { ok: true, snapshotsExpired: 7, filesDeleted: 3, snapshots: 20 } : t.task === 'retention' ? { ok: true, filesDropped: 4, bytesDropped: 400 } : { ok: true }`), { RETENTION_DAYS: '30' });
    const run = await m.runOnce();
    expect(run.ok).toBe(true);
    expect(run.results.map((r) => `${r.table}:${r.task}`)).toContain('logs:retention');
    const text = await m.metrics.registry.metrics();
    expect(text).toMatch(/otel_lakehouse_maintenance_runs_total\{outcome="ok"\} 1/);
    expect(text).toMatch(/otel_lakehouse_maintenance_files_rewritten_total\{table="logs"\} 10/);
    expect(text).toMatch(/otel_lakehouse_maintenance_files_rewritten_total\{table="appender_offsets"\} 10/);
    expect(text).toMatch(/otel_lakehouse_maintenance_snapshots_expired_total\{table="logs"\} 7/);
    expect(text).toMatch(/otel_lakehouse_maintenance_files_removed_total\{table="logs",reason="retention"\} 4/);
    expect(text).toMatch(/otel_lakehouse_maintenance_files_removed_total\{table="logs",reason="expired"\} 3/);
    expect(text).toMatch(/otel_lakehouse_maintenance_snapshots\{table="logs"\} 20/);
    expect(text).toMatch(/otel_lakehouse_maintenance_last_success_timestamp_seconds \d/);
  });

  it('reports a failed task, counts it, and keeps the others', async () => {
    const m = maintainer(fakeJava(`(t) => t.task === 'compact' && t.table === 'logs' ? { ok: false, error: 'CommitFailedException: boom' } : { ok: true }`));
    const run = await m.runOnce();
    expect(run.ok).toBe(false);
    expect(run.results.filter((r) => r.ok).length).toBe(run.results.length - 1);
    const text = await m.metrics.registry.metrics();
    expect(text).toMatch(/otel_lakehouse_maintenance_runs_total\{outcome="failed"\} 1/);
    expect(text).toMatch(/otel_lakehouse_maintenance_task_failures_total\{task="compact",table="logs"\} 1/);
  });

  it('reports a run whose process died, with what it printed', async () => {
    const m = maintainer(fakeJava(`() => ({ ok: true })`, 3));
    const run = await m.runOnce();
    expect(run.ok).toBe(false);
    expect(run.error).toMatch(/exit code 3/);
  });

  it('keeps one Java process between runs, and a run after a dead one starts a new process', async () => {
    const m = maintainer(fakeJava(`() => ({ ok: true })`));
    const first = (await m.runOnce()).results[0] as unknown as { pid: number; jobs: number };
    const second = (await m.runOnce()).results[0] as unknown as { pid: number; jobs: number };
    expect(second.pid).toBe(first.pid);
    expect([first.jobs, second.jobs]).toEqual([1, 2]);
    await m.stop();
    const dying = maintainer(fakeJava(`() => ({ ok: true })`, 3));
    expect((await dying.runOnce()).error).toMatch(/exit code 3/);
    expect((await dying.runOnce()).error).toMatch(/exit code 3 after \d+ task/);
    await dying.stop();
  });

  it('replaces the Java process after its number of jobs, and reports a job that could not run', async () => {
    const cfg = loadConfig({ MAINTAINER_JAVA: fakeJava(`() => ({ ok: true })`), MAINTAINER_JAVA_OPTS: '' });
    const p = new IcebergProcess(cfg, createLogger('silent', 'test'), 2);
    const job = { tasks: [{ task: 'expire', table: 'logs' }] };
    const pids: number[] = [];
    for (let i = 0; i < 3; i++) pids.push(((await p.run(job))[0] as unknown as { pid: number }).pid);
    expect(pids[1]).toBe(pids[0]);
    expect(pids[2]).not.toBe(pids[0]);
    await expect(p.run({ ...job, fail: true })).rejects.toThrow(/could not run: IOException: no catalog/);
    // The failed job was the second of that process: the next one starts a new process.
    expect(((await p.run(job))[0] as unknown as { pid: number }).pid).not.toBe(pids[2]);
    await expect(Promise.all([p.run(job), p.run(job)])).rejects.toThrow(/already running/);
    p.close();
  });

  it('names the setting when the Java runtime cannot be started', async () => {
    const run = await maintainer('/nonexistent/java').runOnce();
    expect(run.ok).toBe(false);
    expect(run.error).toMatch(/MAINTAINER_JAVA/);
  });

  it('serves /healthz with the last run, /metrics, and stops cleanly', async () => {
    const m = maintainer(fakeJava(`() => ({ ok: true })`), { MAINTENANCE_INTERVAL_SECONDS: '3600' });
    await m.start();
    try {
      const base = `http://127.0.0.1:${m.http.boundPort}`;
      await new Promise((r) => setTimeout(r, 1500));
      const health = (await (await fetch(`${base}/healthz`)).json()) as { status: string; lastRun: { ok: boolean } | null };
      expect(health.status).toBe('ok');
      expect(health.lastRun?.ok).toBe(true);
      expect(await (await fetch(`${base}/metrics`)).text()).toMatch(/otel_lakehouse_maintenance_runs_total/);
    } finally {
      await m.stop();
    }
  });
});
