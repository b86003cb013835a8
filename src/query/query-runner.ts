import { tmpdir } from 'node:os';
import { JsonDuckDBValueConverter, type DuckDBConnection } from '@duckdb/node-api';
import type { Config } from '../config/schema.js';
import { asLakehouseError, LakehouseError } from '../core/errors.js';
import { httpStatusOf, isOutOfMemory, isQueryMistake, isTransientLakeError } from '../lake/duckdb-errors.js';
import type { Logger } from '../telemetry/logger.js';
import { ANSWER_FORMATS, encoderFor, type AnswerFormat, type Column, type Truncation } from './answer.js';
import { EnginePool, type Engine } from './engines.js';
import { plain, QueryError, spillMessage } from './query.js';
import { SpillWatch, type SandboxPool } from './sandbox.js';
import type { ViewColumn } from './scan.js';
import { confine, sandboxSource, viewColumns, type Confined, type Walls } from './tenant-query.js';

/** Removes what a tenant must never be told from a DuckDB message: URLs (S3 keys, the catalog) and local paths. */
export function scrubMessage(message: string, localDirs: string[]): string {
  let out = message.replace(/\b[a-z][a-z0-9+.-]*:\/\/[^\s'"]+/gi, '<lake file>');
  for (const dir of localDirs) if (dir.length > 1) out = out.replaceAll(dir, '<local file>');
  return out;
}

export interface Outcome {
  /** rows of the tenant's logs handed to the sandbox */
  rowsRead?: number;
  rows: number;
  bytes: number;
  truncated: Truncation | undefined;
}

/** Why a running query was stopped from outside it. */
export type StopReason = 'shutdown' | 'client';

/** Where an answer goes: its headers with its first rows, then rows as the sink can take them. */
export interface AnswerSink {
  head(headers: Record<string, string>): void;
  /** resolves when the sink can take more */
  write(text: string): Promise<void>;
  end(text: string, trailers: Record<string, string> | undefined): void;
}

/**
 * One tenant query, start to end: the engines it runs on (a trusted one for the scan, a sandbox
 * for the tenant's SQL), its limits (QUERY_TIMEOUT, the spill quota, the answer's rows and
 * bytes), and what the tenant is told when it fails. The query service runs it in a query
 * process of its own (query-process.ts), where the process's memory is watched from outside.
 */
export class QueryRunner {
  private readonly engines: EnginePool;
  private readonly sandboxes: SandboxPool;
  private readonly localDirs: string[];
  /** The logs view's columns, described on a trusted engine and kept a short while. */
  private columns: { at: number; value: Promise<ViewColumn[]> } | undefined;

  constructor(
    private readonly cfg: Config,
    private readonly log: Logger,
    private readonly walls: Walls,
  ) {
    this.engines = new EnginePool(cfg);
    this.sandboxes = sandboxSource(cfg, walls, cfg.QUERY_IDLE_SANDBOXES);
    this.localDirs = [cfg.LAKE_SPOOL_DIR, tmpdir(), cfg.DUCKDB_EXTENSION_DIRECTORY, process.cwd()].filter((d): d is string => !!d);
  }

  /** Opens a trusted engine and a sandbox ahead of the first query (best effort). */
  async warm(): Promise<void> {
    const engine = await this.engines.acquire();
    this.engines.release(engine, true);
  }

  close(): void {
    this.engines.close();
    this.sandboxes.close();
  }

  /**
   * Runs one query on an engine of its own and streams its answer to `sink`. `onStop` is given
   * the function that stops it from outside (a client gone, a shutdown).
   */
  async run(tenant: string, sql: string, format: AnswerFormat, sink: AnswerSink, onStop: (stop: (why: StopReason) => void) => void): Promise<Outcome> {
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
    let stoppedBy: 'timeout' | 'spill' | StopReason | undefined;
    let wake!: () => void;
    const stoppedSignal = new Promise<void>((resolve) => (wake = resolve));
    const stop = (why: 'timeout' | 'spill' | StopReason) => {
      stoppedBy ??= why;
      connection.interrupt();
      confined?.interrupt();
      wake();
    };
    onStop(stop);
    const timer = setTimeout(() => stop('timeout'), this.cfg.QUERY_TIMEOUT);
    // the query's spill, in both its instances, within QUERY_SPILL_LIMIT_MB
    const spill = new SpillWatch(this.cfg.QUERY_SPILL_LIMIT_MB * 1024 * 1024, () => stop('spill'));
    spill.add(engine.tempDirectory);
    const stopped = () => stoppedBy !== undefined;
    try {
      confined = await confine(connection, this.cfg, tenant, sql, this.walls, await this.viewColumns(connection), this.sandboxes, stopped, spill);
      if (stopped()) throw new Error('stopped');
      const outcome = await this.stream(confined.connection, sql, format, sink, { stopped, signal: stoppedSignal });
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
        this.log.error({ err: e, tenant }, 'query failed');
      }
      throw err;
    } finally {
      clearTimeout(timer);
      spill.stop();
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

  private async stream(connection: DuckDBConnection, sql: string, format: AnswerFormat, sink: AnswerSink, stop: { stopped: () => boolean; signal: Promise<void> }): Promise<Outcome> {
    const result = await connection.stream(sql);
    const typeIds = result.columnTypes().map((t) => t.typeId);
    const columns: Column[] = result.columnNames().map((name, i) => ({ name, type: result.columnType(i).toString() }));
    const encoder = encoderFor(format);
    const maxRows = this.cfg.QUERY_MAX_ROWS;
    const maxBytes = this.cfg.QUERY_MAX_BYTES;
    // The headers go out with the first piece of rows, once it is encoded: a failure on the way
    // (a value too large for the process among them) is still answered with its status.
    let chunk = await result.fetchChunk();
    const head = encoder.head(columns);
    let bytes = Buffer.byteLength(head);
    let headed = false;
    const sendHead = () => {
      if (headed) return;
      headed = true;
      sink.head({
        'content-type': ANSWER_FORMATS[format],
        'cache-control': 'no-store',
        'x-content-type-options': 'nosniff',
        ...(format === 'json' ? {} : { trailer: 'X-Result-Rows, X-Result-Truncated' }),
      });
    };
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
      sendHead();
      await Promise.race([sink.write(pending), stop.signal]);
      pending = '';
      if (stop.stopped()) throw new Error('stopped');
      chunk = await result.fetchChunk();
    }
    const tail = encoder.tail(rows, truncated);
    bytes += Buffer.byteLength(tail);
    sendHead();
    sink.end(pending + tail, format === 'json' ? undefined : { 'X-Result-Rows': String(rows), 'X-Result-Truncated': truncated ?? 'false' });
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
