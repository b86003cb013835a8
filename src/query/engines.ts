import { randomUUID } from 'node:crypto';
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Config } from '../config/schema.js';
import { lockDown } from './lake-view.js';
import { openLakeSession, type LakeSession } from '../lake/session.js';

export interface Engine {
  session: LakeSession;
  tempDirectory: string;
}

/**
 * DuckDB instances for tenants' queries, each running one query at a time, so that its memory
 * limit (QUERY_MEMORY_LIMIT_MB) is that query's. An instance is locked down once, when opened:
 * it reads only the logs table's files and its settings cannot change (lockDown); every query
 * then gets a connection of its own with its tenant's `logs` view, which no other connection
 * sees. Instances are kept for the next query, because opening one (extensions, secret, catalog)
 * costs more than most tenant + day queries.
 */
export class EnginePool {
  private readonly idle: Engine[] = [];
  private readonly busy = new Set<Engine>();
  private closed = false;

  constructor(private readonly cfg: Config) {}

  /** An idle instance, or a new one. The caller bounds how many are busy at once. */
  async acquire(): Promise<Engine> {
    if (this.closed) throw new Error('the query engines are closed');
    let engine = this.idle.pop();
    if (!engine) {
      const tempDirectory = join(this.cfg.LAKE_SPOOL_DIR ?? tmpdir(), `otel-lakehouse-query-${process.pid}-${randomUUID().slice(0, 8)}`);
      const session = await openLakeSession(this.cfg, {
        memoryLimitMb: this.cfg.QUERY_MEMORY_LIMIT_MB,
        tempDirectory,
        spillLimitMb: this.cfg.QUERY_SPILL_LIMIT_MB,
        threads: this.cfg.DUCKDB_THREADS,
      });
      try {
        await lockDown(session.connection, this.cfg);
      } catch (e) {
        session.close();
        throw e;
      }
      engine = { session, tempDirectory };
    }
    this.busy.add(engine);
    return engine;
  }

  /** Gives an instance back; one that failed in a way not understood is closed instead. */
  release(engine: Engine, reuse: boolean): void {
    this.busy.delete(engine);
    if (reuse && !this.closed) this.idle.push(engine);
    else close(engine);
  }

  get size(): number {
    return this.idle.length + this.busy.size;
  }

  /** Closes the idle instances now and the busy ones as they are released. */
  close(): void {
    this.closed = true;
    for (const e of this.idle.splice(0)) close(e);
  }
}

function close(engine: Engine): void {
  engine.session.close();
  rmSync(engine.tempDirectory, { recursive: true, force: true });
}

