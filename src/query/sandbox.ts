import { randomUUID } from 'node:crypto';
import { mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { QUERY_SANDBOX_IDLE_MS, QUERY_SPILL_WATCH_MS, type Config } from '../config/schema.js';

/**
 * The second wall of a tenant's query: the DuckDB that runs the tenant's SQL has nothing but the
 * tenant's rows. It is an in-memory instance with no S3 secret, no catalog attached, no
 * extension beyond those built in (httpfs and iceberg are never loaded, and cannot be: loading
 * is off), no file or network access at all (`enable_external_access = false` with no allowed
 * path), spill to a directory of its own within QUERY_SPILL_LIMIT_MB, and its settings locked.
 * The tenant's rows are handed to it by a trusted scan under the tenant's filter
 * (tenant-query.ts), into a temporary table of the query's own connection. Whatever SQL reaches
 * it, even past the first wall, finds no other tenant's row, no file, no secret and no location.
 */
export const SANDBOX_DISABLED_OPTIMIZERS = 'statistics_propagation,late_materialization';

export interface SandboxInstance {
  instance: DuckDBInstance;
  /** where it spills, for the spill watch; undefined when it is not the product's sandbox */
  tempDirectory?: string;
  close(): void;
}

export async function openSandbox(cfg: Config): Promise<SandboxInstance> {
  const tempDirectory = join(cfg.LAKE_SPOOL_DIR ?? tmpdir(), `otel-lakehouse-sandbox-${process.pid}-${randomUUID().slice(0, 8)}`);
  mkdirSync(tempDirectory, { recursive: true, mode: 0o700 });
  // In this order: with external access off, DuckDB refuses to be given a temp directory.
  // max_temp_directory_size is set as DuckDB documents it, but DuckDB 1.5 spills past it (a unit
  // test pins that): the quota is held by the SpillWatch.
  const options: Record<string, string> = {
    temp_directory: tempDirectory,
    max_temp_directory_size: `${cfg.QUERY_SPILL_LIMIT_MB}MB`,
    memory_limit: `${cfg.QUERY_MEMORY_LIMIT_MB}MB`,
    allocator_flush_threshold: '0MB',
    // The plan check plans the statement over an empty `logs` before the rows are handed over;
    // statistics propagation would take the empty table's statistics at their word and plan
    // an empty result, so it is off in the sandbox for the plan checked and the plan run alike.
    // DuckDB 1.5 cannot serialize the optimized plan of `… ORDER BY … LIMIT` with late
    // materialization on (a column binding error); over rows in memory it saves little.
    disabled_optimizers: SANDBOX_DISABLED_OPTIMIZERS,
    autoinstall_known_extensions: 'false',
    autoload_known_extensions: 'false',
    allow_community_extensions: 'false',
    allow_unsigned_extensions: 'false',
  };
  if (cfg.DUCKDB_THREADS) options.threads = String(cfg.DUCKDB_THREADS);
  options.enable_external_access = 'false';
  let instance: DuckDBInstance | undefined;
  try {
    instance = await DuckDBInstance.create(':memory:', options);
    const connection = await instance.connect();
    try {
      await connection.run(`SET GLOBAL TimeZone = 'UTC'`);
      await connection.run('SET GLOBAL lock_configuration = true');
    } finally {
      connection.closeSync();
    }
  } catch (e) {
    instance?.closeSync();
    rmSync(tempDirectory, { recursive: true, force: true });
    throw e;
  }
  const inst = instance;
  let closed = false;
  return {
    instance: inst,
    tempDirectory,
    close() {
      if (closed) return;
      closed = true;
      inst.closeSync();
      rmSync(tempDirectory, { recursive: true, force: true });
    },
  };
}

/** Where a query gets its sandbox instance and gives it back. */
export interface SandboxSource {
  acquire(tenant: string): Promise<SandboxInstance>;
  /** `reuse` false: the query failed in a way not understood, and the instance is closed */
  release(tenant: string, sandbox: SandboxInstance, reuse: boolean): void;
}

/**
 * Sandbox instances kept between queries, each for one tenant only: opening one costs 25–30 ms,
 * most of a tenant + day query. An instance is never handed to another tenant, so whatever a
 * query could leave in it (nothing, behind the plan check) stays with its tenant. At most
 * `maxIdle` are kept, the least recently used closed first, none longer than QUERY_SANDBOX_IDLE_MS.
 */
export class SandboxPool implements SandboxSource {
  private readonly idle: { tenant: string; sandbox: SandboxInstance; since: number }[] = [];
  private readonly sweeper: NodeJS.Timeout;
  private closed = false;

  constructor(
    private readonly cfg: Config,
    private readonly maxIdle: number,
    private readonly open: (cfg: Config) => Promise<SandboxInstance> = openSandbox,
  ) {
    this.sweeper = setInterval(() => this.sweep(Date.now() - QUERY_SANDBOX_IDLE_MS), 30_000);
    this.sweeper.unref();
  }

  async acquire(tenant: string): Promise<SandboxInstance> {
    if (this.closed) throw new Error('the query sandboxes are closed');
    // the most recently used of this tenant's
    for (let i = this.idle.length - 1; i >= 0; i--) {
      if (this.idle[i]!.tenant === tenant) return this.idle.splice(i, 1)[0]!.sandbox;
    }
    return this.open(this.cfg);
  }

  release(tenant: string, sandbox: SandboxInstance, reuse: boolean): void {
    if (!reuse || this.closed || this.maxIdle === 0) {
      sandbox.close();
      return;
    }
    this.idle.push({ tenant, sandbox, since: Date.now() });
    while (this.idle.length > this.maxIdle) this.idle.shift()!.sandbox.close();
  }

  /** Closes the instances idle since before `cutOff` (ms since the epoch). */
  sweep(cutOff: number): void {
    while (this.idle.length > 0 && this.idle[0]!.since < cutOff) this.idle.shift()!.sandbox.close();
  }

  get size(): number {
    return this.idle.length;
  }

  close(): void {
    this.closed = true;
    clearInterval(this.sweeper);
    for (const e of this.idle.splice(0)) e.sandbox.close();
  }
}

/**
 * The spill quota of one query, held outside DuckDB: the bytes on disk of the query's temp
 * directories are read every QUERY_SPILL_WATCH_MS while the query runs, and past `limitBytes` the
 * query is stopped (`onExceeded`). DuckDB 1.5 does not hold its own max_temp_directory_size.
 */
export class SpillWatch {
  private readonly dirs = new Set<string>();
  private readonly timer: NodeJS.Timeout;
  private exceeded = false;
  peakBytes = 0;

  constructor(
    readonly limitBytes: number,
    private readonly onExceeded: (bytes: number) => void,
  ) {
    this.timer = setInterval(() => this.check(), QUERY_SPILL_WATCH_MS);
    this.timer.unref();
  }

  add(dir: string | undefined): void {
    if (dir) this.dirs.add(dir);
  }

  /** Reads the directories now; stops the query if they hold more than the limit. */
  check(): void {
    if (this.exceeded) return;
    let bytes = 0;
    for (const dir of this.dirs) bytes += diskBytes(dir);
    this.peakBytes = Math.max(this.peakBytes, bytes);
    if (bytes > this.limitBytes) {
      this.exceeded = true;
      this.onExceeded(bytes);
    }
  }

  get hasExceeded(): boolean {
    return this.exceeded;
  }

  stop(): void {
    clearInterval(this.timer);
  }
}

/** Bytes a directory's files take on disk (DuckDB's temp files, which it may leave sparse). */
export function diskBytes(dir: string): number {
  let total = 0;
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return 0;
  }
  for (const name of names) {
    try {
      const st = statSync(join(dir, name));
      total += st.blocks * 512;
    } catch {
      // removed while being read
    }
  }
  return total;
}
