import { execFile, execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeLogsRequest } from '../../src/otlp/codec.js';
import { logsRequest, type SampleLog } from '../helpers/otlp.js';
import { waitFor, stack } from '../helpers/stack.js';

/**
 * docker-compose.yml itself, run by podman-compose with stack/containers/compose.local.yml
 * standing in for the images Docker Hub would give: the compose file's service names, ports,
 * environment, depends_on and volumes are what carries the logs. It publishes the same host
 * ports as the local stack, so the stack is stopped for this test and started again after it.
 */
const root = fileURLToPath(new URL('../../', import.meta.url));
const run = promisify(execFile);
const project = 'olh-it';
const files = ['-f', 'docker-compose.yml', '-f', 'stack/containers/compose.local.yml'];
const env = {
  ...process.env,
  CONTAINERS_CONF: `${process.env.OTEL_LAKEHOUSE_CACHE ?? `${process.env.HOME}/.cache/otel-lakehouse`}/containers/containers.conf`,
  TENANT_TOKENS: 'demo=demo-token,other=other-token',
  BUFFER_TIME_SECONDS: '2',
  MAINTENANCE_INTERVAL_SECONDS: '60',
};
const compose = async (...args: string[]) =>
  (await run('podman-compose', ['-p', project, ...files, ...args], { cwd: root, env, encoding: 'utf8', maxBuffer: 64 << 20, timeout: 600_000 })).stdout;
const hasPodmanCompose = (() => {
  try {
    execFileSync('podman-compose', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

describe.runIf(hasPodmanCompose)('docker-compose.yml', () => {
  let stackWasUp = false;
  beforeAll(async () => {
    try {
      execFileSync('bash', ['stack/stack.sh', 'status'], { cwd: root, stdio: 'ignore' });
      stackWasUp = true;
    } catch {
      stackWasUp = false;
    }
    if (stackWasUp) stack('down');
    // a run that was killed leaves its containers and volumes: its rows would count as this run's
    await compose('down', '-v').catch(() => {});
  });

  afterAll(async () => {
    await compose('down', '-v').catch(() => {});
    if (stackWasUp) stack('up');
  });

  it('is valid for docker-compose, alone and with the override', async () => {
    // podman-compose 1.0 has no `config`; it parses both files on `up` below.
    for (const f of [files.slice(0, 2), files]) {
      const config = execFileSync('docker-compose', [...f, 'config'], { cwd: root, env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
      for (const service of ['redpanda', 'minio', 'iceberg-rest', 'ingester', 'appender', 'maintainer', 'query-service']) expect(config).toContain(`  ${service}:`);
    }
  });

  it('brings the product up in containers; logs sent to the ingester are queried once each', async () => {
    await compose('up', '-d');
    await waitFor(async () => (await fetch('http://127.0.0.1:4318/readyz')).status, (s) => s === 200, 180_000, 'the compose ingester ready');

    const counts = { demo: 60, other: 25 };
    const now = BigInt(Date.now()) * 1_000_000n;
    for (const [tenant, n] of Object.entries(counts)) {
      const logs: SampleLog[] = Array.from({ length: n }, (_, seq) => ({ tenant, service: 'compose', seq, body: `${tenant}-${seq}`, severityNumber: 9, timeUnixNano: now + BigInt(seq), attrs: {} }));
      const res = await fetch('http://127.0.0.1:4318/v1/logs', {
        method: 'POST',
        headers: { 'content-type': 'application/x-protobuf', authorization: `Bearer ${tenant}-token` },
        body: Buffer.from(encodeLogsRequest(logsRequest(logs))),
      });
      expect(res.status).toBe(200);
    }

    const sql = `SELECT tenant_id, count(*) AS n, count(DISTINCT body) AS d FROM logs GROUP BY 1 ORDER BY 1`;
    const rows = await waitFor(
      async () => {
        const out = await compose('run', '--rm', 'query', '--format', 'json', sql);
        // podman-compose prints its own lines around the container's output: take the JSON array.
        // (with a terminal's line ends: it runs the container with --tty).
        const text = out.replace(/\r/g, '');
        const json = /^\[\]$|^\[\n[\s\S]*?^\]$/m.exec(text)?.[0] ?? text;
        return (JSON.parse(json) as Record<string, unknown>[]).map((r) => ({ tenant_id: r.tenant_id, n: Number(r.n), d: Number(r.d) }));
      },
      (r) => r.length === 2 && r.every((x) => x.n === counts[x.tenant_id as keyof typeof counts]),
      180_000,
      'every record in the lake',
    );
    expect(rows).toEqual([
      { tenant_id: 'demo', n: 60, d: 60 },
      { tenant_id: 'other', n: 25, d: 25 },
    ]);
    // The query service: each tenant's token sees its own rows only.
    for (const [tenant, n] of Object.entries(counts)) {
      const answer = await waitFor(
        async () => {
          const res = await fetch('http://127.0.0.1:8090/v1/query', {
            method: 'POST',
            headers: { authorization: `Bearer ${tenant}-token`, 'content-type': 'application/sql' },
            body: 'SELECT tenant_id, count(*) AS n FROM logs GROUP BY 1',
          });
          return { status: res.status, body: (await res.json()) as { rows?: unknown[][] } };
        },
        (a) => a.status === 200,
        60_000,
        'the compose query service answering',
      );
      expect(answer.body.rows).toEqual([[tenant, String(n)]]);
    }
    // The maintainer image's Java side ran a maintenance job against the compose lake.
    const health = await waitFor(
      async () => (await (await fetch('http://127.0.0.1:9466/healthz')).json()) as { status: string; lastRun: { ok: boolean; error?: string } | null },
      (h) => h.lastRun?.ok === true,
      150_000,
      'a successful maintenance run',
    );
    expect(health.status).toBe('ok');
  });
});
