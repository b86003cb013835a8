import { readdirSync, readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { fileURLToPath } from 'node:url';
import type { Config } from '../config/schema.js';
import { asLakehouseError, LakehouseError } from '../core/errors.js';
import { HttpServer, sendError, sendJson, sendMetrics } from '../core/http-server.js';
import type { Component } from '../core/lifecycle.js';
import { authenticate, tenantResolverFromConfig, type TenantResolver } from '../core/auth.js';
import { readBody, refuseUnread } from '../core/body.js';
import { RefusalPause } from '../core/refusal-pause.js';
import { tenantLimitsFromConfig } from '../config/tenants.js';
import { catalogReachable } from '../lake/catalog-client.js';
import { BOTH_WALLS, type Walls } from './tenant-query.js';
import type { Logger } from '../telemetry/logger.js';
import { createMetrics, type Metrics } from '../telemetry/metrics.js';
import { negotiateFormat, type AnswerFormat } from './answer.js';
import { QueryProcessPool } from './query-processes.js';
import type { Outcome, StopReason } from './query-runner.js';
import { QUERY_PAGE } from './page.js';

const examplesDir = fileURLToPath(new URL('../../sql/examples/', import.meta.url));

/** The example queries of sql/examples: name, the comment that opens the file, and the SQL. */
export function readExamples(): { name: string; description: string; sql: string }[] {
  return readdirSync(examplesDir)
    .filter((f) => f.endsWith('.sql'))
    .sort()
    .map((f) => {
      const sql = readFileSync(examplesDir + f, 'utf8').trim();
      const description = sql
        .split('\n')
        .filter((l) => l.startsWith('--'))
        .map((l) => l.replace(/^--\s?/, ''))
        .join(' ');
      return { name: f.replace(/\.sql$/, ''), description, sql };
    });
}

/** Queries in flight, in total and per tenant; beyond either limit a query gets 429. */
class QueryAdmission {
  private total = 0;
  private readonly byTenant = new Map<string, number>();
  constructor(
    private readonly maxTotal: number,
    /** QUERY_MAX_INFLIGHT_PER_TENANT, or the tenant's `query_max_inflight` in TENANTS_FILE */
    private readonly maxPerTenant: (tenant: string) => number,
  ) {}

  enter(tenant: string): () => void {
    const mine = this.byTenant.get(tenant) ?? 0;
    if (mine >= this.maxPerTenant(tenant)) {
      throw new LakehouseError('TENANT_LIMITED', `tenant ${tenant} has ${mine} queries running, the most its limit allows (query_max_inflight, QUERY_MAX_INFLIGHT_PER_TENANT); retry later`, { retryAfterSeconds: 1 });
    }
    // the last free place is kept for a tenant with no query running, so that tenants with
    // queries running cannot between them keep everyone else out
    if (mine > 0 && this.total >= this.maxTotal - 1 && this.maxTotal > 1) {
      throw new LakehouseError('TENANT_LIMITED', `tenant ${tenant} has ${mine} queries running, and the service's last free place is kept for a tenant with none; retry later`, { retryAfterSeconds: 1 });
    }
    if (this.total >= this.maxTotal) {
      throw new LakehouseError('OVERLOADED', `the service is running ${this.total} queries, the most QUERY_MAX_INFLIGHT allows; retry later`, { retryAfterSeconds: 1 });
    }
    this.total++;
    this.byTenant.set(tenant, mine + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.total--;
      const n = (this.byTenant.get(tenant) ?? 1) - 1;
      if (n === 0) this.byTenant.delete(tenant);
      else this.byTenant.set(tenant, n);
    };
  }

  get inflight(): number {
    return this.total;
  }
}

/**
 * The query service: a tenant's SQL over its own logs, by its bearer token. The token resolves
 * to a tenant exactly as at the ingester (same settings, same tenants file); the SQL runs on a
 * `logs` view holding that tenant's rows, after the parse-tree check of the query CLI's
 * --tenant, in a DuckDB that reads only the table's files and whose settings are locked.
 */
export class QueryService implements Component {
  readonly name = 'query-service';
  readonly http: HttpServer;
  readonly metrics: Metrics;
  private readonly tenants: TenantResolver;
  private readonly admission: QueryAdmission;
  private readonly processes: QueryProcessPool;
  private readonly pause = new RefusalPause();
  private readonly log: Logger;
  /** The running queries' interrupts, for a shutdown that cannot wait for them. */
  private readonly running = new Set<() => void>();
  private draining = false;

  constructor(
    private readonly cfg: Config,
    logger: Logger,
    metrics: Metrics = createMetrics(),
    /** both walls, always, but in the tests that take one away to show the other holds */
    walls: Walls = BOTH_WALLS,
  ) {
    this.log = logger.child({ component: 'query-service' });
    this.metrics = metrics;
    this.tenants = tenantResolverFromConfig(cfg, this.log);
    const limits = tenantLimitsFromConfig(cfg);
    this.admission = new QueryAdmission(cfg.QUERY_MAX_INFLIGHT, (tenant) => limits(tenant).query_max_inflight);
    this.processes = new QueryProcessPool(cfg, walls, this.log);
    const examples = JSON.stringify(readExamples());
    this.http = new HttpServer('query.http', cfg.QUERY_HOST, cfg.QUERY_HTTP_PORT, logger)
      .route('POST', '/v1/query', (req, res) => this.handleQuery(req, res))
      .route('GET', '/v1/examples', async (_req, res) => {
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(examples) });
        res.end(examples);
      })
      .route('GET', '/', async (_req, res) => {
        res.writeHead(200, {
          'content-type': 'text/html; charset=utf-8',
          'content-length': Buffer.byteLength(QUERY_PAGE),
          // the page runs its own script only and talks to this service only
          'content-security-policy': "default-src 'none'; script-src 'self' 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; form-action 'none'; frame-ancestors 'none'",
          'x-content-type-options': 'nosniff',
          'referrer-policy': 'no-referrer',
        });
        res.end(QUERY_PAGE);
      })
      .route('GET', '/healthz', async (_req, res) => sendJson(res, 200, { status: 'ok' }))
      .route('GET', '/readyz', (_req, res) => this.handleReady(res))
      .route('GET', '/metrics', (_req, res) => sendMetrics(res, metrics.registry));
  }

  async start(): Promise<void> {
    await this.processes.start();
    await this.http.start();
  }

  /**
   * Stops taking queries and lets running ones finish; those still running 2 s before
   * SHUTDOWN_TIMEOUT_MS are stopped and answered 503, so that a client retries them elsewhere
   * instead of losing its connection. Then closes the DuckDB instances.
   */
  async stop(): Promise<void> {
    this.draining = true;
    const cutOff = setTimeout(() => {
      for (const interrupt of this.running) interrupt();
    }, Math.max(0, this.cfg.SHUTDOWN_TIMEOUT_MS - 2000));
    try {
      await this.http.stop();
    } finally {
      clearTimeout(cutOff);
      await this.processes.close();
    }
  }

  private async handleReady(res: ServerResponse): Promise<void> {
    if (this.draining) return sendJson(res, 503, { status: 'not ready', reason: 'shutting down' }, { 'retry-after': '5' });
    const catalog = await catalogReachable(this.cfg.ICEBERG_CATALOG_URI);
    if (!catalog.ok) return sendJson(res, 503, { status: 'not ready', reason: catalog.reason }, { 'retry-after': '5' });
    sendJson(res, 200, { status: 'ready' });
  }

  /** The SQL of a request: `{"sql": "…"}` as JSON, or the body itself as text/plain or application/sql. */
  private async readSql(req: IncomingMessage): Promise<string> {
    const type = (req.headers['content-type'] ?? '').split(';', 1)[0]!.trim().toLowerCase();
    if (!['application/json', 'text/plain', 'application/sql'].includes(type)) {
      throw new LakehouseError('UNSUPPORTED_MEDIA_TYPE', `Content-Type '${type || '(none)'}' is not supported on /v1/query; send application/json ({"sql": "…"}), text/plain or application/sql`);
    }
    const text = (await readBody(req, this.cfg.QUERY_MAX_SQL_BYTES)).toString('utf8');
    let sql: unknown = text;
    if (type === 'application/json') {
      try {
        sql = (JSON.parse(text) as { sql?: unknown } | null)?.sql;
      } catch (e) {
        throw new LakehouseError('BAD_REQUEST', `the body is not JSON: ${(e as Error).message}`);
      }
      if (typeof sql !== 'string') throw new LakehouseError('BAD_REQUEST', 'the JSON body needs a string field "sql"');
    }
    if (!(sql as string).trim()) throw new LakehouseError('BAD_REQUEST', 'no SQL given');
    return sql as string;
  }

  private async handleQuery(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const started = process.hrtime.bigint();
    let tenant = 'unknown';
    let outcome = 'ok';
    let result: Outcome = { rows: 0, bytes: 0, truncated: undefined };
    let sql: string | undefined;
    let release: (() => void) | undefined;
    try {
      if (this.draining) throw new LakehouseError('SHUTTING_DOWN', 'the query service is shutting down; retry on another replica', { retryAfterSeconds: 5 });
      tenant = authenticate(this.tenants, req.headers.authorization);
      const format = negotiateFormat(req.headers.accept, new URL(req.url ?? '/', 'http://query').searchParams.get('format'));
      sql = await this.readSql(req);
      release = this.admission.enter(tenant);
      this.metrics.queryInflight.set(this.admission.inflight);
      result = await this.run(tenant, sql, format, res);
      if (result.truncated) outcome = 'truncated';
    } catch (e) {
      refuseUnread(req, res);
      const err = asLakehouseError(e);
      outcome = err.outcome;
      if (err.code === 'INTERNAL' && !(e instanceof LakehouseError)) this.log.error({ err: e, tenant }, 'query failed');
      release?.();
      await this.pause.before(err);
      sendError(res, err, this.log);
    } finally {
      release?.();
      this.metrics.queryInflight.set(this.admission.inflight);
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      this.metrics.queryRequests.inc({ tenant, outcome });
      if (tenant !== 'unknown') {
        this.metrics.queryDuration.observe({ tenant }, seconds);
        this.metrics.queryRows.inc({ tenant }, result.rows);
        if (result.rowsRead !== undefined) this.metrics.queryRowsRead.inc({ tenant }, result.rowsRead);
        this.metrics.queryBytes.inc({ tenant }, result.bytes);
      }
      this.log.info(
        { tenant, outcome, durationMs: Math.round(seconds * 1000), rowsRead: result.rowsRead, rows: result.rows, bytes: result.bytes, ...(result.truncated ? { truncatedBy: result.truncated } : {}), ...(this.log.isLevelEnabled('debug') ? { sql } : {}) },
        'query',
      );
    }
  }

  /** Runs one admitted query in a query process of its own and streams its answer. */
  private async run(tenant: string, sql: string, format: AnswerFormat, res: ServerResponse): Promise<Outcome> {
    const proc = await this.processes.acquire();
    let stop: ((why: StopReason) => void) | undefined;
    const shutdown = () => stop?.('shutdown');
    this.running.add(shutdown);
    // a client that goes away stops its query
    const onClose = () => {
      if (!res.writableFinished) stop?.('client');
    };
    res.on('close', onClose);
    try {
      return await proc.query(tenant, sql, format, res, this.processes.limitBytes, (s) => (stop = s));
    } catch (e) {
      const err = asLakehouseError(e);
      if (err.code === 'INTERNAL') this.log.error({ err: e, tenant }, 'query failed');
      throw err;
    } finally {
      this.running.delete(shutdown);
      res.off('close', onClose);
      this.processes.release(proc);
    }
  }
}
