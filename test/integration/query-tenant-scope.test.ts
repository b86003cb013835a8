import { beforeAll, describe, expect, it } from 'vitest';
import { QueryError, runQuery } from '../../src/query/query.js';
import { ensureLakeTables, openLakeSession, qualifiedNamespace } from '../../src/lake/session.js';
import { hostileQueries } from '../helpers/hostile-queries.js';
import { runId, testConfig } from '../helpers/stack.js';

// A table with rows of two tenants, written straight through the catalog.
const cfg = testConfig(runId());
const ns = qualifiedNamespace(cfg);

beforeAll(async () => {
  const session = await openLakeSession(cfg);
  try {
    await ensureLakeTables(session.connection, cfg);
    await session.connection.run(
      `INSERT INTO ${ns}.logs ("timestamp", tenant_id, body, attributes, resource_attributes) ` +
        `SELECT TIMESTAMPTZ '2026-11-22 10:00:00+00' + INTERVAL (i) SECOND, t, t || '-secret-' || i, MAP {'k': t}, MAP {} ` +
        `FROM range(5) r(i), (VALUES ('acme'), ('beta')) v(t)`,
    );
  } finally {
    session.close();
  }
});

/** Whatever a query returns, none of it may be beta's. */
function noBetaIn(rows: unknown[][]): void {
  expect(JSON.stringify(rows)).not.toMatch(/beta/);
}

describe('query --tenant', () => {
  it('runs ordinary queries over the tenant\'s rows only', async () => {
    const all = await runQuery(cfg, 'SELECT tenant_id, count(*) FROM logs GROUP BY ALL ORDER BY 1');
    expect(all.rows).toEqual([['acme', '5'], ['beta', '5']]);
    for (const sql of [
      'SELECT tenant_id, count(*) FROM logs GROUP BY ALL',
      `SELECT * FROM logs WHERE tenant_id = 'beta' OR true`,
      'WITH t AS (SELECT body FROM logs) SELECT * FROM t ORDER BY body',
      'SELECT k, count(*) FROM logs, unnest(map_keys(attributes)) u(k) GROUP BY k',
      'SELECT body FROM LOGS ORDER BY "timestamp" DESC LIMIT 2',
    ]) {
      const r = await runQuery(cfg, sql, 'acme');
      expect(r.rows.length, sql).toBeGreaterThan(0);
      noBetaIn(r.rows);
    }
  });

  const hostile = hostileQueries(cfg);

  it(`refuses ${hostile.length} attempts to read beyond the tenant's view, each with a message, or answers with the tenant's rows alone`, async () => {
    let refused = 0;
    for (const sql of hostile) {
      let error: unknown;
      try {
        const r = await runQuery(cfg, sql, 'acme');
        noBetaIn(r.rows);
        expect(r.rows.length, sql).toBeGreaterThan(0);
        continue;
      } catch (e) {
        error = e;
      }
      refused++;
      expect(error, sql).toBeInstanceOf(QueryError);
      const message = (error as Error).message;
      expect(message.length, sql).toBeGreaterThan(10);
      // no secret in what the user is told
      expect(message, sql).not.toContain(cfg.S3_SECRET_KEY);
      expect(message, sql).not.toContain(cfg.S3_ACCESS_KEY);
    }
    // only temp.main.logs, the tenant's own view by its full name, is answered
    expect(refused).toBeGreaterThanOrEqual(hostile.length - 1);
  });

  it('refuses a tenant id outside the allowed pattern before anything runs', async () => {
    await expect(runQuery(cfg, 'SELECT 1', "acme' OR '1'='1")).rejects.toThrow(/does not match/);
  });
});
