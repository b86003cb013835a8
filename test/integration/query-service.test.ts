import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { readExamples } from '../../src/query/query-service.js';
import { QUERY_PROCESS_REGROWTH, residentBytes, type QueryProcessPool } from '../../src/query/query-processes.js';
import { openLakeSession, qualifiedNamespace } from '../../src/lake/session.js';
import { hostileQueries } from '../helpers/hostile-queries.js';
import { postQuery, seedTenants, serviceOf, startQueryService } from '../helpers/query-service.js';
import { runId, testConfig, waitFor } from '../helpers/stack.js';

// Two tenants' rows in the lake; a query service on the real catalog, MinIO and DuckDB.
const tenants = ['acme', 'beta'];
const tokens: Record<string, string> = { acme: 'acme-token', beta: 'beta-token', gamma: 'gamma-token' };
const id = runId();
const base = {
  QUERY_HOST: '127.0.0.1',
  QUERY_HTTP_PORT: '0',
  TENANT_TOKENS: Object.entries(tokens).map(([t, k]) => `${t}=${k}`).join(','),
};
const cfg = testConfig(id, { ...base, LOG_LEVEL: 'debug' });
// A second service on the same lake with small limits, to reach each of them.
const limited = testConfig(id, {
  ...base,
  QUERY_TIMEOUT: '1s',
  QUERY_MAX_ROWS: '1000',
  QUERY_MAX_BYTES: '65536',
  QUERY_MEMORY_LIMIT_MB: '64',
  QUERY_MAX_INFLIGHT: '2',
  QUERY_MAX_INFLIGHT_PER_TENANT: '1',
  QUERY_MAX_SQL_BYTES: '4096',
  LOG_LEVEL: 'info',
});
let main: Awaited<ReturnType<typeof startQueryService>>;
let small: Awaited<ReturnType<typeof startQueryService>>;

/** A query long enough to outlast QUERY_TIMEOUT=1s (DuckDB stops it when interrupted). */
const SLOW = 'SELECT count(*) FROM range(100000000000) r(i) WHERE i % 7 = 3';

beforeAll(async () => {
  await seedTenants(cfg, tenants);
  main = await startQueryService(cfg);
  small = await startQueryService(limited);
}, 120_000);

afterAll(async () => {
  await main?.service.stop();
  await small?.service.stop();
});

/** The service still answers an ordinary query of `tenant` with that tenant's rows. */
async function stillServes(url: string, tenant = 'acme'): Promise<void> {
  const r = await postQuery(url, tokens[tenant], 'SELECT DISTINCT tenant_id FROM logs');
  expect(r.status, r.text).toBe(200);
  expect(r.json().rows).toEqual([[tenant]]);
}

describe('the query service', () => {
  it('answers each token with its own tenant\'s rows through every example query, and none of another\'s', async () => {
    const examples = readExamples();
    expect(examples.length).toBeGreaterThanOrEqual(6);
    for (const tenant of tenants) {
      const other = tenants.find((t) => t !== tenant)!;
      for (const example of examples) {
        const r = await postQuery(main.url, tokens[tenant], example.sql);
        expect(r.status, `${tenant} ${example.name}: ${r.text}`).toBe(200);
        const body = r.json();
        expect(body.rows.length, `${tenant} ${example.name}`).toBeGreaterThan(0);
        expect(body.truncated).toBe(false);
        expect(body.row_count).toBe(body.rows.length);
        expect(r.text, `${tenant} ${example.name}`).toContain(tenant);
        expect(r.text, `${tenant} ${example.name}`).not.toContain(other);
      }
    }
  });

  it('refuses every hostile query of the CLI\'s confinement test with 400 naming why and no location, or answers it with the tenant\'s rows alone', async () => {
    const hostile = hostileQueries(cfg);
    expect(hostile.length).toBeGreaterThanOrEqual(37);
    let refused = 0;
    for (const sql of hostile) {
      const r = await postQuery(main.url, tokens.acme, sql);
      expect(r.text, sql).not.toContain('beta');
      expect(r.text, sql).not.toContain(cfg.S3_SECRET_KEY);
      if (r.status === 200) {
        // temp.main.logs is the tenant's own view: its rows, nothing else
        expect(r.json().rows.length, sql).toBeGreaterThan(0);
        continue;
      }
      refused++;
      expect(r.status, `${sql}: ${r.text}`).toBe(400);
      const body = r.json();
      expect(['QUERY_REFUSED', 'QUERY_INVALID'], sql).toContain(body.error);
      expect(body.message.length, sql).toBeGreaterThan(10);
      expect(r.text, sql).not.toMatch(/s3:\/\/|\.parquet|metadata\.json|\/tmp\/|\/root\/|127\.0\.0\.1/);
    }
    expect(refused).toBeGreaterThanOrEqual(hostile.length - 1);
    await stillServes(main.url);
  });

  it('answers 401 without a token or with a wrong one, and runs nothing', async () => {
    for (const token of [undefined, 'not-a-token']) {
      const r = await postQuery(main.url, token, 'SELECT count(*) FROM logs');
      expect(r.status).toBe(401);
      expect(r.json()).toMatchObject({ error: 'UNAUTHORIZED' });
    }
  });

  it('answers JSON, CSV or NDJSON by Accept (or ?format=), with the row count and truncation in trailers for the streamed text formats', async () => {
    const sql = 'SELECT body, attributes FROM logs ORDER BY body';
    const json = await postQuery(main.url, tokens.acme, sql);
    expect(json.headers['content-type']).toBe('application/json');
    expect(json.json()).toEqual({
      columns: [{ name: 'body', type: 'VARCHAR' }, { name: 'attributes', type: 'MAP(VARCHAR, VARCHAR)' }],
      rows: [0, 1, 2, 3, 4].map((i) => [`acme-secret-${i}`, { 'http.route': '/checkout', 'http.status_code': '500', tenant: 'acme' }]),
      row_count: 5,
      truncated: false,
    });

    const csv = await postQuery(main.url, tokens.acme, sql, { accept: 'text/csv' });
    expect(csv.headers['content-type']).toBe('text/csv; charset=utf-8');
    const lines = csv.text.trimEnd().split('\r\n');
    expect(lines[0]).toBe('body,attributes');
    expect(lines[1]).toBe('acme-secret-0,"{""http.route"":""/checkout"",""http.status_code"":""500"",""tenant"":""acme""}"');
    expect(lines).toHaveLength(6);
    expect(csv.trailers).toMatchObject({ 'x-result-rows': '5', 'x-result-truncated': 'false' });

    const ndjson = await postQuery(main.url, tokens.acme, sql, { accept: 'application/x-ndjson' });
    expect(ndjson.headers['content-type']).toBe('application/x-ndjson');
    const objects = ndjson.text.trimEnd().split('\n').map((l) => JSON.parse(l));
    expect(objects).toHaveLength(5);
    expect(objects[0]).toEqual({ body: 'acme-secret-0', attributes: { 'http.route': '/checkout', 'http.status_code': '500', tenant: 'acme' } });

    const res = await request(`${main.url}/v1/query?format=csv`, {
      method: 'POST',
      headers: { authorization: `Bearer ${tokens.acme}`, 'content-type': 'application/sql' },
      body: sql,
    });
    expect(res.statusCode).toBe(200);
    expect((await res.body.text()).split('\r\n')[0]).toBe('body,attributes');

    const refused = await postQuery(main.url, tokens.acme, sql, { accept: 'application/xml' });
    expect(refused.status).toBe(406);
    expect(refused.json().message).toMatch(/application\/json, text\/csv or application\/x-ndjson/);
  });

  it('sees rows committed after its DuckDB instances were opened', async () => {
    const before = (await postQuery(main.url, tokens.beta, 'SELECT count(*) AS n FROM logs')).json().rows[0][0];
    const session = await openLakeSession(cfg);
    try {
      await session.connection.run(
        `INSERT INTO ${qualifiedNamespace(cfg)}.logs ("timestamp", tenant_id, body, service_name, attributes, resource_attributes) ` +
          `VALUES (now(), 'beta', 'beta-late', '${serviceOf('beta')}', MAP {}, MAP {})`,
      );
    } finally {
      session.close();
    }
    const after = (await postQuery(main.url, tokens.beta, 'SELECT count(*) AS n FROM logs')).json().rows[0][0];
    expect(Number(after)).toBe(Number(before) + 1);
  });

  it('stops a query at QUERY_TIMEOUT with 504 naming the limit, and keeps serving', async () => {
    const started = Date.now();
    const r = await postQuery(small.url, tokens.acme, SLOW);
    expect(r.status, r.text).toBe(504);
    expect(r.json()).toMatchObject({ error: 'QUERY_TIMEOUT' });
    expect(r.json().message).toMatch(/QUERY_TIMEOUT \(1 s\)/);
    expect(Date.now() - started).toBeLessThan(10_000);
    await stillServes(small.url);
  });

  it('cuts a large answer at QUERY_MAX_ROWS or QUERY_MAX_BYTES and says so, and keeps serving', async () => {
    const byRows = await postQuery(small.url, tokens.acme, 'SELECT i FROM range(1000000) r(i)');
    expect(byRows.status).toBe(200);
    const rows = byRows.json();
    expect(rows).toMatchObject({ row_count: 1000, truncated: true, truncated_by: 'rows' });
    expect(rows.rows).toHaveLength(1000);

    const byBytes = await postQuery(small.url, tokens.acme, "SELECT i, repeat('x', 1000) AS pad FROM range(1000) r(i)", { accept: 'application/x-ndjson' });
    expect(byBytes.status).toBe(200);
    expect(byBytes.text.length).toBeLessThanOrEqual(65536);
    const lines = byBytes.text.trimEnd().split('\n');
    expect(lines.length).toBeGreaterThan(30);
    expect(lines.length).toBeLessThan(1000);
    expect(byBytes.trailers).toMatchObject({ 'x-result-rows': String(lines.length), 'x-result-truncated': 'bytes' });

    const exact = await postQuery(small.url, tokens.acme, 'SELECT i FROM range(1000) r(i)');
    expect(exact.json()).toMatchObject({ row_count: 1000, truncated: false });
    await stillServes(small.url);
  });

  it('refuses a query that needs more than QUERY_MEMORY_LIMIT_MB with 422, and keeps serving', async () => {
    const r = await postQuery(small.url, tokens.acme, 'SELECT list(i) FROM range(200000000) r(i)');
    expect(r.status, r.text).toBe(422);
    expect(r.json()).toMatchObject({ error: 'QUERY_OUT_OF_MEMORY' });
    expect(r.json().message).toMatch(/QUERY_MEMORY_LIMIT_MB \(64 MB\)/);
    await stillServes(small.url);
  });

  it('answers a burst beyond the in-flight limits, per tenant and in total, with 429 and Retry-After, and keeps serving', async () => {
    const slowAcme = postQuery(small.url, tokens.acme, SLOW);
    await new Promise((r) => setTimeout(r, 200));
    // refusals are answered after a pause (a client that ignores Retry-After is slowed): the
    // other queries are sent while they wait
    const secondAnswer = postQuery(small.url, tokens.acme, 'SELECT 1');
    await new Promise((r) => setTimeout(r, 50));
    const slowBeta = postQuery(small.url, tokens.beta, SLOW);
    await new Promise((r) => setTimeout(r, 200));
    const third = await postQuery(small.url, tokens.gamma, 'SELECT 1');
    expect(third.status).toBe(429);
    expect(third.json().message).toMatch(/QUERY_MAX_INFLIGHT\b/);
    const second = await secondAnswer;
    expect(second.status).toBe(429);
    expect(second.headers['retry-after']).toBe('1');
    expect(second.json().message).toMatch(/QUERY_MAX_INFLIGHT_PER_TENANT/);

    expect((await slowAcme).status).toBe(504);
    expect((await slowBeta).status).toBe(504);
    await stillServes(small.url, 'acme');
    await stillServes(small.url, 'beta');
  });

  it('ends a query process that a query takes past its memory bound (a value DuckDB builds outside its memory limit): 422, the memory given back, and keeps serving', async () => {
    const pool = (small.service as unknown as { processes: QueryProcessPool }).processes;
    await stillServes(small.url, 'acme');
    const resident = () => pool.pids().reduce((n, pid) => n + (residentBytes(pid) ?? 0), 0);
    const before = resident();
    const pidsBefore = pool.pids();
    const r = await postQuery(small.url, tokens.acme, "SELECT repeat('x', 900000000) AS s");
    expect(r.status).toBe(422);
    expect(r.json().message).toMatch(/more memory than one query may have \(\d+ MB: QUERY_MEMORY_LIMIT_MB twice/);
    await stillServes(small.url, 'acme');
    // the process that held it is gone; what is left holds about what it held before
    await waitFor(async () => pool.pids(), (pids) => !pidsBefore.every((p) => pids.includes(p)), 10_000, 'the process to be replaced');
    expect(resident()).toBeLessThanOrEqual(before * QUERY_PROCESS_REGROWTH + 64 * 1024 * 1024);
  });

  it('refuses a body larger than QUERY_MAX_SQL_BYTES with 413', async () => {
    const r = await postQuery(small.url, tokens.acme, `SELECT 1 -- ${'x'.repeat(5000)}`);
    expect(r.status).toBe(413);
    expect(r.json()).toMatchObject({ error: 'PAYLOAD_TOO_LARGE' });
    expect(r.json().message).toMatch(/4096/);
    await stillServes(small.url);
  });

  it('stops the query of a client that went away, long before QUERY_TIMEOUT', async () => {
    const abort = new AbortController();
    const gone = request(`${main.url}/v1/query`, {
      method: 'POST',
      headers: { authorization: `Bearer ${tokens.beta}`, 'content-type': 'application/sql' },
      body: SLOW,
      signal: abort.signal,
    }).catch((e: Error) => e);
    await new Promise((r) => setTimeout(r, 300));
    abort.abort();
    expect(await gone).toBeInstanceOf(Error);
    const metrics = await waitFor(
      async () => (await fetch(`${main.url}/metrics`)).text(),
      (m) => /otel_lakehouse_query_requests_total\{tenant="beta",outcome="cancelled"\} 1/.test(m),
      5_000,
      'the abandoned query stopped',
    );
    expect(metrics).toMatch(/otel_lakehouse_query_inflight 0/);
    await stillServes(main.url, 'beta');
  });

  it('on shutdown, answers a query still running near SHUTDOWN_TIMEOUT_MS with 503 and Retry-After, then stops', async () => {
    const leaving = await startQueryService(testConfig(id, { ...base, QUERY_TIMEOUT: '60s', SHUTDOWN_TIMEOUT_MS: '3000' }));
    const running = postQuery(leaving.url, tokens.acme, SLOW);
    await new Promise((r) => setTimeout(r, 300));
    const started = Date.now();
    await leaving.service.stop();
    expect(Date.now() - started).toBeLessThan(3_000);
    const r = await running;
    expect(r.status, r.text).toBe(503);
    expect(r.json()).toMatchObject({ error: 'SHUTTING_DOWN' });
    expect(r.headers['retry-after']).toBe('1');
  });

  it('counts queries per tenant and outcome, logs one line per query without its SQL, and answers /healthz and /readyz', async () => {
    const metrics = await (await fetch(`${small.url}/metrics`)).text();
    expect(metrics).toMatch(/otel_lakehouse_query_requests_total\{tenant="acme",outcome="ok"\} [1-9]/);
    expect(metrics).toMatch(/otel_lakehouse_query_requests_total\{tenant="acme",outcome="timeout"\} [1-9]/);
    expect(metrics).toMatch(/otel_lakehouse_query_requests_total\{tenant="acme",outcome="limited"\} [1-9]/);
    expect(metrics).toMatch(/otel_lakehouse_query_requests_total\{tenant="acme",outcome="truncated"\} [1-9]/);
    expect(metrics).toMatch(/otel_lakehouse_query_duration_seconds_count\{tenant="acme"\} [1-9]/);
    expect(metrics).toMatch(/otel_lakehouse_query_rows_returned_total\{tenant="acme"\} [1-9]/);
    expect(metrics).toMatch(/otel_lakehouse_query_bytes_returned_total\{tenant="acme"\} [1-9]/);
    expect(metrics).toMatch(/otel_lakehouse_query_rows_read_total\{tenant="acme"\} [1-9]/);

    const queryLines = small.logLines().filter((l) => l.msg === 'query');
    expect(queryLines.length).toBeGreaterThan(10);
    expect(queryLines.some((l) => l.outcome === 'ok' && typeof l.rowsRead === 'number' && l.rowsRead > 0)).toBe(true);
    for (const l of queryLines) {
      expect(l).toHaveProperty('tenant');
      expect(l).toHaveProperty('outcome');
      expect(typeof l.durationMs).toBe('number');
      expect(typeof l.rows).toBe('number');
      expect(l).not.toHaveProperty('sql');
    }
    // at LOG_LEVEL=debug the line carries the SQL too
    expect(main.logLines().filter((l) => l.msg === 'query' && typeof l.sql === 'string').length).toBeGreaterThan(10);
    expect((await fetch(`${small.url}/healthz`)).status).toBe(200);
    const ready = await fetch(`${small.url}/readyz`);
    expect(ready.status).toBe(200);
  });
});
