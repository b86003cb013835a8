import { readdirSync, readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { JsonDuckDBValueConverter, type DuckDBConnection } from '@duckdb/node-api';
import type { Config } from '../config/schema.js';
import { asLakehouseError, LakehouseError } from '../core/errors.js';
import { HttpServer, sendError, sendJson, sendMetrics } from '../core/http-server.js';
import type { Component } from '../core/lifecycle.js';
import { authenticate, tenantResolverFromConfig, type TenantResolver } from '../core/auth.js';
import { readBody, refuseUnread } from '../core/body.js';
import { tenantLimitsFromConfig } from '../config/tenants.js';
import { catalogReachable } from '../lake/catalog-client.js';
import { httpStatusOf, isOutOfMemory, isQueryMistake, isTransientLakeError } from '../lake/duckdb-errors.js';
import { plain, QueryError, spillMessage } from './query.js';
import { BOTH_WALLS, confine, sandboxSource, viewColumns, type Confined, type Walls } from './tenant-query.js';
import type { ViewColumn } from './scan.js';
import type { Logger } from '../telemetry/logger.js';
import { createMetrics, type Metrics } from '../telemetry/metrics.js';
import { ANSWER_FORMATS, encoderFor, negotiateFormat, type AnswerFormat, type Column, type Truncation } from './answer.js';
import { EnginePool, type Engine } from './engines.js';
import { SpillWatch, type SandboxPool } from './sandbox.js';
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

/** Removes what a tenant must never be told from a DuckDB message: URLs (S3 keys, the catalog) and local paths. */
export function scrubMessage(message: string, localDirs: string[]): string {
  let out = message.replace(/\b[a-z][a-z0-9+.-]*:\/\/[^\s'"]+/gi, '<lake file>');
  for (const dir of localDirs) if (dir.length > 1) out = out.replaceAll(dir, '<local file>');
  return out;
}

interface Outcome {
  /** rows of the tenant's logs handed to the sandbox */
  rowsRead?: number;
  rows: number;
  bytes: number;
  truncated: Truncation | undefined;
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
  private readonly engines: EnginePool;
  private readonly sandboxes: SandboxPool;
  private readonly log: Logger;
  private readonly localDirs: string[];
  /** The running queries' interrupts, for a shutdown that cannot wait for them. */
  private readonly running = new Set<() => void>();
  private draining = false;

  /** The logs view's columns, described on a trusted engine and kept a short while. */
  private columns: { at: number; value: Promise<ViewColumn[]> } | undefined;

  constructor(
    private readonly cfg: Config,
    logger: Logger,
    metrics: Metrics = createMetrics(),
    /** both walls, always, but in the tests that take one away to show the other holds */
    private readonly walls: Walls = BOTH_WALLS,
  ) {
    this.log = logger.child({ component: 'query-service' });
    this.metrics = metrics;
    this.tenants = tenantResolverFromConfig(cfg, this.log);
    const limits = tenantLimitsFromConfig(cfg);
    this.admission = new QueryAdmission(cfg.QUERY_MAX_INFLIGHT, (tenant) => limits(tenant).query_max_inflight);
    this.engines = new EnginePool(cfg);
    this.sandboxes = sandboxSource(cfg, walls, cfg.QUERY_IDLE_SANDBOXES);
    this.localDirs = [cfg.LAKE_SPOOL_DIR, tmpdir(), cfg.DUCKDB_EXTENSION_DIRECTORY, process.cwd()].filter((d): d is string => !!d);
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
      this.engines.close();
      this.sandboxes.close();
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
      if (err.code === 'INTERNAL') this.log.error({ err: e, tenant }, 'query failed');
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

  /** Runs one admitted query on an engine of its own and streams its answer. */
  private async run(tenant: string, sql: string, format: AnswerFormat, res: ServerResponse): Promise<Outcome> {
    let engine: Engine;
    try {
      engine = await this.engines.acquire();
    } catch (e) {
      throw this.lakeError(e);
    }
    let reuse = true;
    const connection = await engine.session.instance.connect();
    let confined: Confined | undefined;
    // Why the query was stopped, if it was: DuckDB is interrupted (the trusted scan and the
    // sandbox), and a wait for a slow client to read (see stream) ends too.
    let stoppedBy: 'timeout' | 'shutdown' | 'client' | 'spill' | undefined;
    let wake!: () => void;
    const stoppedSignal = new Promise<void>((resolve) => (wake = resolve));
    const stop = (why: 'timeout' | 'shutdown' | 'client' | 'spill') => {
      stoppedBy ??= why;
      connection.interrupt();
      confined?.interrupt();
      wake();
    };
    const timer = setTimeout(() => stop('timeout'), this.cfg.QUERY_TIMEOUT);
    // the query's spill, in both its instances, within QUERY_SPILL_LIMIT_MB
    const spill = new SpillWatch(this.cfg.QUERY_SPILL_LIMIT_MB * 1024 * 1024, () => stop('spill'));
    spill.add(engine.tempDirectory);
    const shutdown = () => stop('shutdown');
    this.running.add(shutdown);
    // a client that goes away stops its query
    const onClose = () => {
      if (!res.writableFinished) stop('client');
    };
    res.on('close', onClose);
    const stopped = () => stoppedBy !== undefined;
    try {
      confined = await confine(connection, this.cfg, tenant, sql, this.walls, await this.viewColumns(connection), this.sandboxes, stopped, spill);
      if (stopped()) throw new Error('stopped');
      const outcome = await this.stream(confined.connection, sql, format, res, { stopped, signal: stoppedSignal });
      return { ...outcome, rowsRead: confined.prepared?.rowsHandedOver };
    } catch (e) {
      if (stoppedBy === 'timeout') {
        throw new LakehouseError('QUERY_TIMEOUT', `the query ran longer than QUERY_TIMEOUT (${this.cfg.QUERY_TIMEOUT / 1000} s) and was stopped`);
      }
      if (stoppedBy === 'spill') throw new LakehouseError('QUERY_OUT_OF_MEMORY', spillMessage(this.cfg));
      if (stoppedBy === 'client') throw new LakehouseError('CLIENT_CLOSED', 'the client closed the connection before the answer was complete');
      if (stoppedBy === 'shutdown') {
        throw new LakehouseError('SHUTTING_DOWN', 'the query service is shutting down and stopped the query; retry it', { retryAfterSeconds: 1 });
      }
      const err = this.queryError(e);
      if (err.code === 'INTERNAL') {
        reuse = false;
        confined?.discard();
      }
      throw err;
    } finally {
      clearTimeout(timer);
      spill.stop();
      this.running.delete(shutdown);
      res.off('close', onClose);
      confined?.close();
      connection.closeSync();
      this.engines.release(engine, reuse);
    }
  }

  /** The view's columns, described again after a minute so that a column added by an upgrade shows. */
  private viewColumns(trusted: DuckDBConnection): Promise<ViewColumn[]> {
    const now = Date.now();
    if (!this.columns || now - this.columns.at > 60_000) {
      const value = viewColumns(trusted, this.cfg);
      this.columns = { at: now, value };
      value.catch(() => {
        if (this.columns?.value === value) this.columns = undefined;
      });
    }
    return this.columns.value;
  }

  private async stream(connection: DuckDBConnection, sql: string, format: AnswerFormat, res: ServerResponse, stop: { stopped: () => boolean; signal: Promise<void> }): Promise<Outcome> {
    const result = await connection.stream(sql);
    const typeIds = result.columnTypes().map((t) => t.typeId);
    const columns: Column[] = result.columnNames().map((name, i) => ({ name, type: result.columnType(i).toString() }));
    const encoder = encoderFor(format);
    const maxRows = this.cfg.QUERY_MAX_ROWS;
    const maxBytes = this.cfg.QUERY_MAX_BYTES;
    // Errors before the first chunk (most of a query's work) are answered with their status;
    // the headers go out with the first rows.
    let chunk = await result.fetchChunk();
    const head = encoder.head(columns);
    let bytes = Buffer.byteLength(head);
    res.writeHead(200, {
      'content-type': ANSWER_FORMATS[format],
      'cache-control': 'no-store',
      'x-content-type-options': 'nosniff',
      ...(format === 'json' ? {} : { trailer: 'X-Result-Rows, X-Result-Truncated' }),
    });
    let pending = head;
    let rows = 0;
    let truncated: Truncation | undefined;
    outer: while (chunk && chunk.rowCount > 0) {
      for (const values of chunk.convertRows(JsonDuckDBValueConverter)) {
        if (rows >= maxRows) {
          truncated = 'rows';
          break outer;
        }
        const text = encoder.row(values.map((v, i) => plain(v, typeIds[i])));
        const size = Buffer.byteLength(text);
        if (bytes + size > maxBytes) {
          truncated = 'bytes';
          break outer;
        }
        bytes += size;
        rows++;
        pending += text;
      }
      if (!res.write(pending)) {
        let done!: () => void;
        await Promise.race([new Promise<void>((resolve) => res.once('drain', (done = resolve))), stop.signal]);
        res.off('drain', done);
      }
      pending = '';
      if (stop.stopped()) throw new Error('stopped');
      chunk = await result.fetchChunk();
    }
    const tail = encoder.tail(rows, truncated);
    bytes += Buffer.byteLength(tail);
    res.write(pending + tail);
    if (format !== 'json') res.addTrailers({ 'X-Result-Rows': String(rows), 'X-Result-Truncated': truncated ?? 'false' });
    res.end();
    return { rows, bytes, truncated };
  }

  /** What a tenant is told about a failure to open the lake: never a location. */
  private lakeError(e: unknown): LakehouseError {
    if (httpStatusOf(e) === 404) return new LakehouseError('NOT_FOUND', 'the lake has no logs table yet: nothing has been committed to it');
    if (isTransientLakeError(e)) return new LakehouseError('STORAGE_UNAVAILABLE', 'the lake\'s catalog or storage cannot be reached; retry later', { cause: e, retryAfterSeconds: 5 });
    return asLakehouseError(e);
  }

  /** A failed query as the answer's error: DuckDB's message for a mistake in the query, scrubbed of locations. */
  private queryError(e: unknown): LakehouseError {
    if (e instanceof LakehouseError) return e;
    if (e instanceof QueryError) return new LakehouseError(e.reason === 'refused' ? 'QUERY_REFUSED' : 'QUERY_INVALID', scrubMessage(e.message, this.localDirs));
    const message = (e as Error)?.message ?? String(e);
    if (isOutOfMemory(e)) {
      return new LakehouseError('QUERY_OUT_OF_MEMORY', `the query needs more memory than QUERY_MEMORY_LIMIT_MB (${this.cfg.QUERY_MEMORY_LIMIT_MB} MB) and QUERY_SPILL_LIMIT_MB (${this.cfg.QUERY_SPILL_LIMIT_MB} MB) give one query; narrow the rows it reads (a day, a service) or aggregate`);
    }
    if (/^Permission Error:/i.test(message)) return new LakehouseError('QUERY_REFUSED', scrubMessage(message, this.localDirs));
    if (isQueryMistake(e)) return new LakehouseError('QUERY_INVALID', scrubMessage(message, this.localDirs));
    if (/^(IO|HTTP) Error:/i.test(message) || isTransientLakeError(e)) return this.lakeError(e);
    return asLakehouseError(e);
  }
}
