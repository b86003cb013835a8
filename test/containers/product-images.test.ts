import { execFile, execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { GenericContainer, getContainerRuntimeClient, Wait, type StartedTestContainer } from 'testcontainers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeLogsRequest } from '../../src/otlp/codec.js';
import { logsRequest, type SampleLog } from '../helpers/otlp.js';
import { runId, stackEnv, waitFor } from '../helpers/stack.js';

/**
 * The product as its users run it: the images built from this repository (by
 * `stack/containers/containers.sh build`, which scripts/test.sh runs first) started as
 * containers against the local stack, on the host's network. The services are started and
 * stopped through testcontainers (scripts/test.sh points DOCKER_HOST at the engine's API); the
 * one-shot runs (query, the extension check) through the engine's command line.
 */
const root = fileURLToPath(new URL('../../', import.meta.url));
const IMAGE = 'otel-lakehouse:local';
const run = promisify(execFile);
const engine = async (...args: string[]) => (await run('bash', ['stack/containers/containers.sh', 'run', ...args], { cwd: root, encoding: 'utf8', maxBuffer: 64 << 20 })).stdout;

const id = runId();
const base = 20_000 + (parseInt(id.slice(0, 4), 16) % 20_000);
const ports = { http: base, grpc: base + 1, appender: base + 2, query: base + 3 };
const names = { ingester: `it-ingester-${id}`, appender: `it-appender-${id}`, query: `it-query-${id}` };
const tenants = { acme: `acme-token-${id}`, beta: `beta-token-${id}` };

function productEnvVars(): Record<string, string> {
  const env = stackEnv();
  return {
    REDPANDA_BROKERS: env.REDPANDA_BROKERS!,
    REDPANDA_TOPIC: `it-containers-${id}`,
    TOPIC_PARTITIONS: '3',
    APPENDER_GROUP_ID: `it-containers-${id}`,
    ICEBERG_CATALOG_URI: env.ICEBERG_CATALOG_URI!,
    ICEBERG_WAREHOUSE: env.ICEBERG_WAREHOUSE!,
    ICEBERG_NAMESPACE: `it_containers_${id}`,
    S3_ENDPOINT: env.S3_ENDPOINT!,
    S3_ACCESS_KEY: env.S3_ACCESS_KEY!,
    S3_SECRET_KEY: env.S3_SECRET_KEY!,
    S3_BUCKET: env.S3_BUCKET!,
    S3_REGION: env.S3_REGION!,
    TENANT_TOKENS: Object.entries(tenants).map(([t, token]) => `${t}=${token}`).join(','),
    INGESTER_HOST: '127.0.0.1',
    INGESTER_HTTP_PORT: String(ports.http),
    INGESTER_GRPC_PORT: String(ports.grpc),
    APPENDER_HOST: '127.0.0.1',
    APPENDER_HTTP_PORT: String(ports.appender),
    QUERY_HOST: '127.0.0.1',
    QUERY_HTTP_PORT: String(ports.query),
    PIPELINES: 'lake',
    BUFFER_TIME_SECONDS: '300',
    LOG_LEVEL: 'info',
  };
}

const productEnv = () => Object.entries(productEnvVars()).flatMap(([k, v]) => ['-e', `${k}=${v}`]);

/**
 * Starts a service container through testcontainers (the engine's Docker-compatible API; on the
 * host's network, so it reaches the stack on loopback) and returns it with how long it took to
 * answer 200 on /readyz.
 */
async function startReady(name: string, port: number, command: string[]): Promise<{ container: StartedTestContainer; readyMs: number }> {
  const started = Date.now();
  let image = new GenericContainer(IMAGE)
    .withName(name)
    .withNetworkMode('host')
    .withEnvironment(productEnvVars())
    .withWaitStrategy(Wait.forLogMessage(/"msg":"started"/))
    .withStartupTimeout(60_000);
  if (command.length > 0) image = image.withCommand(command);
  const container = await image.start();
  await waitFor(async () => (await fetch(`http://127.0.0.1:${port}/readyz`)).status, (s) => s === 200, 60_000, `${name} ready`);
  return { container, readyMs: Date.now() - started };
}

/** SIGTERM (then SIGKILL after 60 s), and the exit code the process chose. */
async function stop(container: StartedTestContainer): Promise<number> {
  await container.stop({ timeout: 60_000, remove: false });
  const client = await getContainerRuntimeClient();
  const info = await client.container.getById(container.getId()).inspect();
  return info.State.ExitCode;
}

async function query(sql: string, tenant?: string): Promise<Record<string, unknown>[]> {
  const args = ['run', '--rm', '--network', 'host', ...productEnv(), IMAGE, 'dist/cli/query.js', '--format', 'json', ...(tenant ? ['--tenant', tenant] : []), sql];
  return JSON.parse(await engine(...args)) as Record<string, unknown>[];
}

describe('the product image', () => {
  beforeAll(() => {
    stackEnv();
  });

  afterAll(() => {
    for (const n of Object.values(names)) {
      try {
        execFileSync('bash', ['stack/containers/containers.sh', 'run', 'rm', '-f', n], { cwd: root, stdio: 'ignore' });
      } catch {
        // never started
      }
    }
  });

  it('runs as a non-root user and loads DuckDB extensions with no network', async () => {
    const script = `
      import { DuckDBInstance } from '@duckdb/node-api';
      const db = await DuckDBInstance.create(':memory:', { extension_directory: process.env.DUCKDB_EXTENSION_DIRECTORY, autoinstall_known_extensions: 'false', autoload_known_extensions: 'false' });
      const c = await db.connect();
      for (const e of ['httpfs', 'avro', 'iceberg']) await c.run('LOAD ' + e);
      const rows = (await c.runAndReadAll("SELECT extension_name FROM duckdb_extensions() WHERE loaded AND extension_name IN ('httpfs', 'avro', 'iceberg') ORDER BY 1")).getRows();
      console.log(JSON.stringify({ uid: process.getuid(), loaded: rows.map((r) => r[0]) }));`;
    const out = await engine('run', '--rm', '--network', 'none', IMAGE, '--input-type=module', '-e', script);
    const answer = JSON.parse(out.trim().split('\n').at(-1)!) as { uid: number; loaded: string[] };
    expect(answer.uid).not.toBe(0);
    expect(answer.loaded).toEqual(['avro', 'httpfs', 'iceberg']);
    expect((await engine('image', 'inspect', '--format', '{{.Config.User}}', IMAGE)).trim()).toBe('node');
  });

  it('ingester and appender containers: two tenants, every row once, SIGTERM stops both cleanly', async () => {
    const ingester = await startReady(names.ingester, ports.http, []);
    const appender = await startReady(names.appender, ports.appender, ['dist/cli/appender.js']);
    console.log(`containers ready in ${ingester.readyMs} ms (ingester) and ${appender.readyMs} ms (appender)`);
    expect(ingester.readyMs).toBeLessThan(10_000);
    expect(appender.readyMs).toBeLessThan(10_000);

    const perTenant = 3 * 40;
    const now = BigInt(Date.now()) * 1_000_000n;
    for (const [tenant, token] of Object.entries(tenants)) {
      for (let r = 0; r < 3; r++) {
        const logs: SampleLog[] = Array.from({ length: 40 }, (_, i) => {
          const seq = r * 40 + i;
          return { tenant, service: 'svc', seq, body: `${tenant}-${seq}`, severityNumber: 9, timeUnixNano: now + BigInt(seq), attrs: {} };
        });
        const res = await fetch(`http://127.0.0.1:${ports.http}/v1/logs`, {
          method: 'POST',
          headers: { 'content-type': 'application/x-protobuf', authorization: `Bearer ${token}` },
          body: Buffer.from(encodeLogsRequest(logsRequest(logs))),
        });
        expect(res.status).toBe(200);
      }
    }
    // Acknowledged by the ingester: durable in Kafka. SIGTERM to both; the appender commits what
    // it has buffered (a 300 s buffer: nothing was committed before) before it exits.
    expect(await stop(ingester.container)).toBe(0);
    await waitFor(async () => (await (await fetch(`http://127.0.0.1:${ports.appender}/metrics`)).text()).match(/otel_lakehouse_lake_buffered_records (\d+)/)?.[1], (n) => Number(n) === 2 * perTenant, 60_000, 'every record buffered');
    expect(await stop(appender.container)).toBe(0);

    const rows = (await query(`SELECT tenant_id, count(*) AS n, count(DISTINCT body) AS distinct_bodies FROM logs GROUP BY 1 ORDER BY 1`))
      .map((r) => ({ tenant_id: r.tenant_id, n: Number(r.n), distinct_bodies: Number(r.distinct_bodies) }));
    expect(rows).toEqual([
      { tenant_id: 'acme', n: perTenant, distinct_bodies: perTenant },
      { tenant_id: 'beta', n: perTenant, distinct_bodies: perTenant },
    ]);
    const beta = (await query(`SELECT count(*) AS n, min(body) AS first FROM logs`, 'beta')).map((r) => ({ n: Number(r.n), first: r.first }));
    expect(beta).toEqual([{ n: perTenant, first: 'beta-0' }]);

    // the query service's container: each token sees its own tenant's rows only
    const service = await startReady(names.query, ports.query, ['dist/cli/query-server.js']);
    for (const [tenant, token] of Object.entries(tenants)) {
      const res = await fetch(`http://127.0.0.1:${ports.query}/v1/query`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ sql: 'SELECT tenant_id, count(*) AS n FROM logs GROUP BY 1' }),
      });
      expect(res.status).toBe(200);
      expect(((await res.json()) as { rows: unknown[][] }).rows).toEqual([[tenant, String(perTenant)]]);
    }
    expect(await stop(service.container)).toBe(0);
  });
});
