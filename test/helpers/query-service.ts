import { Writable } from 'node:stream';
import { pino } from 'pino';
import { request } from 'undici';
import type { Config } from '../../src/config/schema.js';
import { ensureLakeTables, openLakeSession, qualifiedNamespace } from '../../src/lake/session.js';
import { QueryService } from '../../src/query/query-service.js';

/** Marks every row of a tenant: its service name and body carry the tenant id. */
export const serviceOf = (tenant: string) => `${tenant}-checkout`;

/**
 * Writes `perTenant` rows for each tenant straight through the catalog, shaped so that every
 * example of sql/examples finds some of them: recent errors on /checkout in one trace, events
 * with a sampled trace context, and a scope attribute.
 */
export async function seedTenants(cfg: Config, tenants: string[], perTenant = 5): Promise<void> {
  const session = await openLakeSession(cfg);
  try {
    await ensureLakeTables(session.connection, cfg);
    const values = tenants.map((t) => `('${t}')`).join(', ');
    await session.connection.run(
      `INSERT INTO ${qualifiedNamespace(cfg)}.logs ("timestamp", tenant_id, severity, severity_number, event_name, body, trace_id, span_id, trace_flags, ` +
        `service_name, scope_name, scope_version, attributes, resource_attributes, scope_attributes) ` +
        `SELECT now() - INTERVAL (i) MINUTE, t, 'ERROR', 17, 'checkout.failed', t || '-secret-' || i, '5b8efff798038103d269b633813fc60c', ` +
        `printf('%016x', i), 1, t || '-checkout', 'shop', '1.0', MAP {'http.route': '/checkout', 'http.status_code': '500', 'tenant': t}, ` +
        `MAP {'service.name': t || '-checkout'}, MAP {'otel.library.feature': 'enabled'} ` +
        `FROM range(${perTenant}) r(i), (VALUES ${values}) v(t)`,
    );
  } finally {
    session.close();
  }
}

/** A query service on a free loopback port, with every log line it writes kept. */
export async function startQueryService(cfg: Config): Promise<{ service: QueryService; url: string; logLines: () => Record<string, unknown>[] }> {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const l of chunk.toString('utf8').split('\n')) if (l.trim()) lines.push(JSON.parse(l) as Record<string, unknown>);
      done();
    },
  });
  const logger = pino({ level: cfg.LOG_LEVEL, base: { service: 'query-server' } }, sink);
  const service = new QueryService(cfg, logger);
  await service.start();
  return { service, url: `http://127.0.0.1:${service.http.boundPort}`, logLines: () => lines };
}

export interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  trailers: Record<string, string | string[] | undefined>;
  text: string;
  json: () => any;
}

/** POSTs `sql` to /v1/query with `token`, reading the whole answer and its trailers. */
export async function postQuery(url: string, token: string | undefined, sql: string, headers: Record<string, string> = {}): Promise<Answer> {
  const res = await request(`${url}/v1/query`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token === undefined ? {} : { authorization: `Bearer ${token}` }), ...headers },
    body: JSON.stringify({ sql }),
  });
  const text = await res.body.text();
  return { status: res.statusCode, headers: res.headers, trailers: res.trailers, text, json: () => JSON.parse(text) };
}
