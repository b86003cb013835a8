import { fork, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import type { ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { QUERY_SPILL_WATCH_MS, type Config } from '../config/schema.js';
import { compiledBeside } from '../core/compiled.js';
import { LakehouseError } from '../core/errors.js';
import type { Logger } from '../telemetry/logger.js';
import type { AnswerFormat } from './answer.js';
import type { FromQueryProcess, ToQueryProcess } from './query-process.js';
import type { Outcome, StopReason } from './query-runner.js';
import type { Walls } from './tenant-query.js';

const MiB = 1024 * 1024;

/** A query process at rest: Node, DuckDB with its extensions, a trusted engine and a sandbox. */
export const QUERY_PROCESS_BASE_BYTES = 320 * MiB;

/**
 * The most a query process may hold while it runs one query: its base, and the memory of the
 * query's two DuckDB instances. Past it the process is ended and the query answered 422.
 */
export function queryProcessLimitBytes(cfg: Pick<Config, 'QUERY_MEMORY_LIMIT_MB'>): number {
  return QUERY_PROCESS_BASE_BYTES + 2 * cfg.QUERY_MEMORY_LIMIT_MB * MiB;
}

/**
 * The query service's documented memory bound (docs/querying.md): its own process, a query
 * process for each query it admits at once, and one idle spare at rest.
 */
export const QUERY_SERVICE_BASE_BYTES = 160 * MiB;
export function queryServiceMemoryBoundBytes(cfg: Pick<Config, 'QUERY_MEMORY_LIMIT_MB' | 'QUERY_MAX_INFLIGHT'>): number {
  return QUERY_SERVICE_BASE_BYTES + cfg.QUERY_MAX_INFLIGHT * queryProcessLimitBytes(cfg) + QUERY_PROCESS_BASE_BYTES;
}

/**
 * A query process that has grown past this share of what it held when it was first warm is
 * replaced after its query, so that what a large query took (DuckDB's caches, a large answer's
 * heap) is given back to the system rather than kept by an idle process.
 */
export const QUERY_PROCESS_REGROWTH = 1.2;

/** Resident bytes of a process, from /proc (Linux); undefined where there is none. */
export function residentBytes(pid: number): number | undefined {
  try {
    const pages = Number(readFileSync(`/proc/${pid}/statm`, 'utf8').split(' ')[1]);
    return pages * 4096;
  } catch {
    return undefined;
  }
}

/**
 * One query process (query-process.ts) and the query it runs: the answer it streams is written
 * to the client as the client takes it, and its resident memory is read every
 * QUERY_SPILL_WATCH_MS while the query runs.
 */
export class QueryProcess {
  readonly child: ChildProcess;
  readonly ready: Promise<void>;
  /** resident bytes once warm (or after its first query, when it could not warm up) */
  private baseline: number | undefined;
  private nextId = 1;
  private current: { id: number; onMessage: (m: FromQueryProcess) => void; onExit: () => void } | undefined;
  private exited = false;

  constructor(
    file: string,
    cfg: Config,
    walls: Walls,
    private readonly log: Logger,
  ) {
    // the process's own heap holds an answer's pieces only: DuckDB's memory is outside it
    this.child = fork(file, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], serialization: 'advanced' });
    this.ready = new Promise<void>((resolve, reject) => {
      const onReady = (m: FromQueryProcess) => {
        if (m.type !== 'ready') return;
        this.child.off('message', onReady);
        // what it holds warm, with a trusted engine open: what it should come back to
        if (m.warm && this.child.pid !== undefined) this.baseline = residentBytes(this.child.pid);
        resolve();
      };
      this.child.on('message', onReady);
      this.child.once('exit', (code, signal) => reject(new LakehouseError('INTERNAL', `a query process ended before it was ready (${signal ?? code})`)));
    });
    this.ready.catch(() => {});
    this.child.on('message', (m: FromQueryProcess) => this.current?.onMessage(m));
    this.child.once('exit', () => {
      this.exited = true;
      this.current?.onExit();
      removeTempDirectories(cfg, this.child.pid);
    });
    this.child.send({ type: 'init', config: cfg, walls } satisfies ToQueryProcess);
  }

  get alive(): boolean {
    return !this.exited;
  }

  /** Whether it holds more than it should at rest (see QUERY_PROCESS_REGROWTH). */
  grown(): boolean {
    const rss = this.child.pid === undefined ? undefined : residentBytes(this.child.pid);
    if (rss === undefined) return false;
    if (this.baseline === undefined) {
      this.baseline = rss;
      return false;
    }
    return rss > this.baseline * QUERY_PROCESS_REGROWTH;
  }

  /**
   * Runs one query, its answer written to `res`. `onStop` is given the function that stops it
   * (a client gone, a shutdown). Resolves with its outcome once the answer has ended.
   */
  query(tenant: string, sql: string, format: AnswerFormat, res: ServerResponse, limitBytes: number, onStop: (stop: (why: StopReason) => void) => void): Promise<Outcome> {
    const id = this.nextId++;
    const send = (m: ToQueryProcess) => {
      if (!this.exited) this.child.send(m);
    };
    return new Promise<Outcome>((resolve, reject) => {
      let overLimit: number | undefined;
      const pid = this.child.pid!;
      const watch = setInterval(() => {
        const rss = residentBytes(pid);
        if (rss !== undefined && rss > limitBytes) {
          overLimit = rss;
          clearInterval(watch);
          this.log.warn({ tenant, residentMb: Math.round(rss / MiB), limitMb: Math.round(limitBytes / MiB) }, 'a query took its process past its memory bound; ending it');
          this.child.kill('SIGKILL');
        }
      }, QUERY_SPILL_WATCH_MS);
      const done = () => {
        clearInterval(watch);
        this.current = undefined;
      };
      onStop((why) => send({ type: 'stop', id, why }));
      this.current = {
        id,
        onMessage: (m) => {
          if (!('id' in m) || m.id !== id) return;
          if (m.type === 'head') {
            res.writeHead(200, m.headers);
          } else if (m.type === 'data') {
            if (res.write(m.text)) send({ type: 'ack', id });
            else res.once('drain', () => send({ type: 'ack', id }));
          } else if (m.type === 'end') {
            done();
            res.write(m.text);
            if (m.trailers) res.addTrailers(m.trailers);
            res.end();
            resolve(m.outcome);
          } else if (m.type === 'error') {
            done();
            reject(new LakehouseError(m.error.code, m.error.message, m.error.retryAfterSeconds === undefined ? undefined : { retryAfterSeconds: m.error.retryAfterSeconds }));
          }
        },
        onExit: () => {
          done();
          if (overLimit !== undefined) {
            reject(
              new LakehouseError(
                'QUERY_OUT_OF_MEMORY',
                `the query took more memory than one query may have (${Math.round(limitBytes / MiB)} MB: QUERY_MEMORY_LIMIT_MB twice, and the query process itself) and was stopped; narrow the rows it reads, aggregate, or build smaller values`,
              ),
            );
          } else {
            reject(new LakehouseError('INTERNAL', 'the query process ended while it ran the query'));
          }
        },
      };
      send({ type: 'query', id, tenant, sql, format });
    });
  }

  /** Asks it to close its engines and exit; ends it if it has not within `graceMs`. */
  async close(graceMs = 5000): Promise<void> {
    if (this.exited) return;
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    this.child.send({ type: 'close' } satisfies ToQueryProcess);
    const timer = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
    await exited;
    clearTimeout(timer);
  }
}

/** The spill directories of a query process that ended without removing them (engines.ts, sandbox.ts name them by pid). */
function removeTempDirectories(cfg: Config, pid: number | undefined): void {
  if (pid === undefined) return;
  const dir = cfg.LAKE_SPOOL_DIR ?? tmpdir();
  try {
    for (const name of readdirSync(dir)) {
      if (name.startsWith(`otel-lakehouse-query-${pid}-`) || name.startsWith(`otel-lakehouse-sandbox-${pid}-`)) rmSync(join(dir, name), { recursive: true, force: true });
    }
  } catch {
    // nothing to remove
  }
}

/**
 * The query processes of the service: at most QUERY_MAX_INFLIGHT, one query each at a time.
 * One is started with the service and kept; the others are started as queries need them and
 * end after QUERY_PROCESS_IDLE_MS idle. A process that grew past its memory at rest is replaced
 * after its query, one that was ended (past its bound, or by a crash) as the next query needs it.
 */
export class QueryProcessPool {
  private readonly idle: QueryProcess[] = [];
  private readonly all = new Set<QueryProcess>();
  private readonly idleTimers = new Map<QueryProcess, NodeJS.Timeout>();
  private closed = false;
  private readonly file: string;

  constructor(
    private readonly cfg: Config,
    private readonly walls: Walls,
    private readonly log: Logger,
    private readonly idleMs = 5 * 60_000,
  ) {
    this.file = compiledBeside(import.meta.url, 'query-process.js');
  }

  get limitBytes(): number {
    return queryProcessLimitBytes(this.cfg);
  }

  async start(): Promise<void> {
    const first = this.spawn();
    await first.ready;
    this.idle.push(first);
  }

  private spawn(): QueryProcess {
    const p = new QueryProcess(this.file, this.cfg, this.walls, this.log);
    this.all.add(p);
    p.child.once('exit', () => {
      this.all.delete(p);
      const at = this.idle.indexOf(p);
      if (at >= 0) this.idle.splice(at, 1);
      clearTimeout(this.idleTimers.get(p));
      this.idleTimers.delete(p);
    });
    return p;
  }

  /**
   * A ready process for one query (the service admits at most QUERY_MAX_INFLIGHT at once). One
   * more is started whenever none is left idle, so that the next query, or the one after a
   * process was ended, does not wait for a process to start.
   */
  async acquire(): Promise<QueryProcess> {
    if (this.closed) throw new LakehouseError('SHUTTING_DOWN', 'the query service is shutting down; retry on another replica', { retryAfterSeconds: 5 });
    const p = this.idle.pop() ?? this.takeSpare() ?? this.spawn();
    clearTimeout(this.idleTimers.get(p));
    this.idleTimers.delete(p);
    if (this.idle.length === 0 && this.spare === undefined && this.all.size < this.cfg.QUERY_MAX_INFLIGHT + 1) this.startSpare();
    await p.ready;
    return p;
  }

  /** A process being started as a spare, taken by the query that needs it. */
  private spare: QueryProcess | undefined;

  private takeSpare(): QueryProcess | undefined {
    const s = this.spare;
    this.spare = undefined;
    return s;
  }

  private startSpare(): void {
    const s = this.spawn();
    this.spare = s;
    s.ready.then(
      () => {
        if (this.spare !== s) return;
        this.spare = undefined;
        if (this.closed) void s.close();
        else this.release(s);
      },
      () => {
        if (this.spare === s) this.spare = undefined;
      },
    );
  }

  release(p: QueryProcess): void {
    if (!p.alive) return;
    if (this.closed || p.grown()) {
      void p.close();
      return;
    }
    this.idle.push(p);
    // the first process stays; others end when idle
    if (this.all.size > 1) {
      this.idleTimers.set(
        p,
        setTimeout(() => {
          const at = this.idle.indexOf(p);
          if (at >= 0 && this.all.size > 1) {
            this.idle.splice(at, 1);
            void p.close();
          }
        }, this.idleMs).unref(),
      );
    }
  }

  /** Closes the idle processes; a busy one is closed as it is released. */
  async close(): Promise<void> {
    this.closed = true;
    const spare = this.spare;
    this.spare = undefined;
    await Promise.all([...this.idle.splice(0), ...(spare ? [spare] : [])].map((p) => p.close()));
  }

  /** Pids of the running processes, busy and idle. */
  pids(): number[] {
    return [...this.all].map((p) => p.child.pid).filter((x): x is number => x !== undefined);
  }
}
