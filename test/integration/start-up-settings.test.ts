import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { runId, stackEnv } from '../helpers/stack.js';

const root = fileURLToPath(new URL('../../', import.meta.url));

/** Starts one of the built processes with only `env` (plus PATH) and returns how it ended. */
function start(cli: string, env: Record<string, string>, args: string[] = []) {
  const r = spawnSync(process.execPath, [`dist/cli/${cli}.js`, ...args], {
    cwd: root,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env },
    encoding: 'utf8',
    timeout: 30_000,
  });
  return { status: r.status, stderr: r.stderr, stdout: r.stdout };
}

const processes: [string, string[]][] = [
  ['ingester', []],
  ['appender', []],
  ['maintain', ['--once']],
  ['query', ['SELECT 1']],
  ['query-server', []],
];

describe('a bad setting stops start-up with exit 2, naming the variable', () => {
  it.each(processes)('%s: a misspelt setting names the closest one', (cli, args) => {
    const r = start(cli, { BUFFER_SIZE_MBS: '50', TENANT_TOKENS: 'acme=t' }, args);
    expect(r.status, r.stderr).toBe(2);
    expect(r.stderr).toContain('BUFFER_SIZE_MBS: not a setting of this service; did you mean BUFFER_SIZE_MB?');
  });

  it.each(processes)('%s: a value of the wrong shape names the variable', (cli, args) => {
    const r = start(cli, { INGESTER_HTTP_PORT: '70000', APPENDER_HTTP_PORT: 'x', TENANT_TOKENS: 'acme=t' }, args);
    expect(r.status, r.stderr).toBe(2);
    expect(r.stderr).toMatch(/INGESTER_HTTP_PORT: .*65535/);
    expect(r.stderr).toMatch(/APPENDER_HTTP_PORT: /);
  });

  it('the ingester: a malformed TENANT_TOKENS or TENANTS_FILE, without echoing a token', () => {
    const tokens = start('ingester', { TENANT_TOKENS: 'acme=secret-token,secret-without-tenant' });
    expect(tokens.status, tokens.stderr).toBe(2);
    expect(tokens.stderr).toContain('TENANT_TOKENS: entry 2 is not tenant=token');
    expect(tokens.stderr).not.toContain('secret');

    const file = start('ingester', { TENANTS_FILE: '/nonexistent/tenants.yaml' });
    expect(file.status, file.stderr).toBe(2);
    expect(file.stderr).toContain('TENANTS_FILE /nonexistent/tenants.yaml');

    const none = start('ingester', {});
    expect(none.status, none.stderr).toBe(2);
    expect(none.stderr).toContain('AUTH_MODE=token needs TENANTS_FILE or TENANT_TOKENS');
  });

  it('the query service: no tokens, or a limit of the wrong shape, names the setting', () => {
    const none = start('query-server', {});
    expect(none.status, none.stderr).toBe(2);
    expect(none.stderr).toContain('AUTH_MODE=token needs TENANTS_FILE or TENANT_TOKENS');

    const limit = start('query-server', { TENANT_TOKENS: 'acme=t', QUERY_TIMEOUT: 'soon', QUERY_MAX_INFLIGHT: '0' });
    expect(limit.status, limit.stderr).toBe(2);
    expect(limit.stderr).toMatch(/QUERY_TIMEOUT: 'soon' is not a duration/);
    expect(limit.stderr).toMatch(/QUERY_MAX_INFLIGHT: /);
  });

  it('the appender: a catalog that answers no (here MinIO at ICEBERG_CATALOG_URI) stops start-up, naming the setting', () => {
    const env = stackEnv();
    const id = runId();
    const r = start('appender', {
      ...env,
      ICEBERG_CATALOG_URI: env.S3_ENDPOINT!,
      PIPELINES: 'lake',
      REDPANDA_TOPIC: `it-logs-${id}`,
      APPENDER_GROUP_ID: `it-lake-${id}`,
      ICEBERG_NAMESPACE: `it_${id}`,
      APPENDER_HTTP_PORT: '0',
    });
    expect(r.status, r.stderr).toBe(2);
    expect(r.stderr).toContain(`ICEBERG_CATALOG_URI=${env.S3_ENDPOINT}: the Iceberg catalog answered 400`);
  });
});
