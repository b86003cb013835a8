import { readdir, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DuckDBConnection } from '@duckdb/node-api';
import { ByteSink, logsRequestToNdjson } from '../otlp/logs-ndjson.js';
import { ICEBERG_TYPE, LOG_COLUMNS, type LogColumn } from '../schema/logs.js';
import { isResourceError } from './duckdb-errors.js';
import { DIGEST_COLUMNS, digestLine, recordDigest } from './record-digests.js';
import { sqlIdent } from './session.js';

/** Columns of the Iceberg table `logs`, in order (src/schema/logs.ts). */
export const LOG_COLUMN_NAMES: readonly string[] = LOG_COLUMNS.map((c) => c.name);

/** Where each buffered row came from: a lake concern, so not a column of `logs`. */
const KAFKA_COLUMNS = [
  ['kafka_partition', 'INTEGER'],
  ['kafka_offset', 'BIGINT'],
] as const;

const columnType = (c: LogColumn) => (c.kind === 'map' ? 'JSON' : ICEBERG_TYPE[c.kind]);
/** Columns of `logs` the rows of one scope share: a buffer keeps them once per scope. */
const SCOPE_LEVEL = LOG_COLUMNS.filter((c: LogColumn) => c.perScope);
const ROW_LEVEL = LOG_COLUMNS.filter((c: LogColumn) => !c.perScope);

/**
 * A buffer is two tables: its rows (the columns of each record, the Kafka position, and the
 * scope_ref of the scope they came in) and its scopes (the columns every row of a scope shares,
 * `perScope` in src/schema/logs.ts, once per scope). A resource's attributes (a Kubernetes pod's
 * are often larger than the record itself) are then parsed and held once per scope rather than
 * once per row; the commit joins them back (`bufferRows`).
 *
 * The attribute maps are kept as their JSON text and become MAPs only as the commit reads them:
 * DuckDB stores a MAP(VARCHAR, VARCHAR) value entry by entry, which made each load dearer
 * (bench/stages.mjs), while the cast at commit time costs next to nothing beside the Parquet
 * write. read_json has parsed the text already, so it is valid JSON, and the writer
 * (logs-ndjson.ts) writes each map as an object of string values with unique keys, the shape the
 * cast takes.
 */
const ROW_COLUMNS = [
  ...ROW_LEVEL.map((c) => [c.name, columnType(c)] as const),
  ['scope_ref', 'INTEGER'] as const,
  ...KAFKA_COLUMNS,
];
const SCOPE_COLUMNS = [['scope_ref', 'INTEGER'] as const, ...SCOPE_LEVEL.map((c) => [c.name, columnType(c)] as const)];

const tableColumns = (columns: readonly (readonly [string, string])[]) => `(${columns.map(([n, t]) => `${sqlIdent(n)} ${t}`).join(', ')})`;

/** The tables of one buffer: its rows, the scopes they name by `scope_ref`, and the digest of each record (when deduplicating). */
export interface BufferTables {
  rows: string;
  scopes: string;
  /** one row per Kafka record with rows: its digest (record-digests.ts), tenant, received_at, partition and offset */
  digests?: string;
}

/**
 * Where the buffer tables live: an in-memory database of the appender's own, uncompressed.
 * DuckDB compresses an in-memory database's rows only when it checkpoints it, and it
 * checkpointed every few loads, compressing the whole growing table again each time: that was
 * most of the load's cost. Compressing each part once (a table per part, checkpointed when
 * full) cost more CPU than it saved, since the memory limit bounds the process either way
 * (docs/benchmarks.md). So the session never checkpoints (`checkpoint_threshold`), and what is
 * over the memory limit spills to the temporary directory.
 */
export const BUFFER_DATABASE = 'appender_buffer';

/**
 * The rows of a buffer as the Iceberg table `logs` types them, each with
 * its scope's columns, its Kafka partition and offset. The NDJSON rows leave empty maps out
 * (logs-ndjson.ts), so a NULL map here is an empty one: the table's NULL means "written before
 * the column existed". A row always finds its scope (a load writes both or neither); the join is
 * an outer one all the same, so that no row could ever be left out by it.
 */
export function bufferRows(tables: BufferTables): string {
  return `(SELECT * EXCLUDE (scope_ref) REPLACE (${LOG_COLUMNS.filter((c) => c.kind === 'map')
    .map((c) => `coalesce(${sqlIdent(c.name)}, '{}'::JSON)::${ICEBERG_TYPE.map} AS ${sqlIdent(c.name)}`)
    .join(', ')}) FROM ${tables.rows} LEFT JOIN ${tables.scopes} USING (scope_ref))`;
}

/**
 * A buffer handed over to a commit: its rows stay in their tables, and its offsets count as
 * buffered, until the commit has landed and the pipeline releases it; loading goes on into
 * fresh tables meanwhile.
 */
export interface SealedBuffer {
  readonly tables: BufferTables;
  readonly ranges: ReadonlyMap<number, PartitionRange>;
  readonly records: number;
  readonly bytes: number;
}

/** How read_json reads NDJSON lines of `columns` (timestamps as epoch microseconds), and the SELECT that types them. */
function jsonLoad(columns: readonly (readonly [string, string])[]): { columns: string; select: string } {
  const timestamp = ICEBERG_TYPE.timestamp;
  return {
    columns: `{${columns.map(([n, t]) => `'${n}': '${t === timestamp ? 'BIGINT' : t}'`).join(', ')}}`,
    select: columns.map(([n, t]) => (t === timestamp ? `make_timestamptz(${sqlIdent(n)})` : sqlIdent(n))).join(', '),
  };
}

const ROW_LOAD = jsonLoad(ROW_COLUMNS);
const SCOPE_LOAD = jsonLoad(SCOPE_COLUMNS);
const DIGEST_LOAD = jsonLoad(DIGEST_COLUMNS);

/** One Kafka record being staged: its tenant, the fallback timestamp of its rows, where it was read. */
export interface StageContext {
  tenant: string;
  /** microseconds; when the ingester received the request: the timestamp of records that carry neither time field */
  fallbackMicros: bigint;
  partition: number;
  offset: bigint;
}

/** What the buffer holds of one Kafka partition: offsets [first, last] inclusive. */
export interface PartitionRange {
  first: bigint;
  last: bigint;
}

/** A Kafka record whose rows could not be loaded (none of them stayed in the buffer). */
export interface RejectedRecord {
  partition: number;
  offset: bigint;
  error: Error;
}

/** A Kafka record taken in since the last load: its rows are bytes [start, end) of the sink, its scopes [scopeStart, scopeEnd) of the scope sink. */
interface Staged {
  partition: number;
  offset: bigint;
  size: number;
  rows: number;
  start: number;
  end: number;
  scopeStart: number;
  scopeEnd: number;
  /** its line in the digests table, when the buffer keeps digests and it has rows */
  digest?: string;
}

let spoolSeq = 0;

function isAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The digests table's lines of the staged records that have one. */
function digestsOf(staged: Staged[]): Uint8Array | undefined {
  const lines = staged.filter((s) => s.digest !== undefined && s.rows > 0).map((s) => s.digest!);
  return lines.length === 0 ? undefined : Buffer.from(lines.join(''));
}

/** The NDJSON size of the largest staged record's rows and scopes: no line of the load is longer. */
function maxRecordBytes(staged: Staged[]): number {
  let max = 0;
  for (const s of staged) max = Math.max(max, s.end - s.start, s.scopeEnd - s.scopeStart);
  return max;
}

/**
 * Log rows waiting for the next Iceberg commit, in a DuckDB table of the appender's own
 * in-memory database. Each row keeps the Kafka partition and offset it came from, so a commit
 * can leave out rows that the lake already holds.
 *
 * Records are taken in as their OTLP bytes (`stage`), turned straight into NDJSON rows and scope
 * rows, and each fetched batch is loaded with one `read_json` of a spool file per table, in one
 * transaction (`load`): DuckDB parses the rows in its own threads, many times cheaper than
 * appending them value by value.
 */
export class LogBuffer {
  private readonly sink = new ByteSink();
  /** The scope rows of the staged records; scope_ref numbers the scopes of one buffer table. */
  private readonly scopes = { sink: new ByteSink(1 << 16), next: 0 };
  private staged: Staged[] = [];
  private ranges = new Map<number, PartitionRange>();
  private readonly spoolDir: string;
  private tableSeq = 0;
  /** The tables of the buffer being loaded. */
  private current: BufferTables = { rows: '', scopes: '' };
  /** Tables of released buffers, dropped on this buffer's connection at its next load or seal. */
  private released: BufferTables[] = [];
  /** The buffer being committed, if any: its offsets still count as buffered. */
  private sealed: SealedBuffer | undefined;
  private bytes = 0;
  private records = 0;
  private oldestAt: number | undefined;

  constructor(
    private readonly connection: DuckDBConnection,
    spoolDir?: string,
    /** deepest AnyValue nesting read (MAX_MESSAGE_DEPTH) */
    private readonly maxDepth?: number,
    /** keep each record's digest, for the commit's deduplication (LAKE_DEDUP_WINDOW is not 0) */
    private readonly digests = false,
  ) {
    this.spoolDir = spoolDir ?? tmpdir();
  }

  async init(): Promise<void> {
    await this.connection.run(`ATTACH IF NOT EXISTS ':memory:' AS ${BUFFER_DATABASE}`);
    await this.connection.run(`SET checkpoint_threshold = '1000TB'`);
    await this.newTable();
    await this.removeStaleSpoolFiles();
  }

  private async newTable(): Promise<void> {
    const seq = ++this.tableSeq;
    const tables: BufferTables = { rows: `${BUFFER_DATABASE}.buffer_logs_${seq}`, scopes: `${BUFFER_DATABASE}.buffer_scopes_${seq}` };
    await this.connection.run(`CREATE OR REPLACE TABLE ${tables.rows} ${tableColumns(ROW_COLUMNS)}`);
    await this.connection.run(`CREATE OR REPLACE TABLE ${tables.scopes} ${tableColumns(SCOPE_COLUMNS)}`);
    if (this.digests) {
      tables.digests = `${BUFFER_DATABASE}.buffer_digests_${seq}`;
      await this.connection.run(`CREATE OR REPLACE TABLE ${tables.digests} ${tableColumns(DIGEST_COLUMNS)}`);
    }
    this.current = tables;
  }

  /** The tables of the buffer being loaded. */
  get tables(): BufferTables {
    return this.current;
  }

  /** Drops the tables of released buffers (an idle buffer would keep them until its next load). */
  async collect(): Promise<void> {
    while (this.released.length > 0) {
      const tables = this.released[0]!;
      for (const table of [tables.rows, tables.scopes, tables.digests]) if (table) await this.connection.run(`DROP TABLE IF EXISTS ${table}`);
      this.released.shift();
    }
  }

  /** Spool files and DuckDB spill directories left behind by an appender that was killed. */
  private async removeStaleSpoolFiles(): Promise<void> {
    let names: string[];
    try {
      names = await readdir(this.spoolDir);
    } catch {
      return;
    }
    for (const name of names) {
      const file = /^otel-lakehouse-(\d+)-\d+\.ndjson$/.exec(name);
      if (file && !isAlive(Number(file[1]))) await unlink(join(this.spoolDir, name)).catch(() => {});
      const spill = /^otel-lakehouse-duckdb-(\d+)-[0-9a-f]+$/.exec(name);
      if (spill && !isAlive(Number(spill[1]))) await rm(join(this.spoolDir, name), { recursive: true, force: true }).catch(() => {});
    }
  }

  /**
   * Takes in the log records of one Kafka record (an ExportLogsServiceRequest of `value.length`
   * bytes) and returns how many rows it holds. Throws OtlpDecodeError, having taken in nothing,
   * when the request cannot be decoded. The rows reach DuckDB at the next `load`.
   */
  stage(value: Uint8Array, ctx: StageContext): number {
    const start = this.sink.len;
    const scopeStart = this.scopes.sink.len;
    const extraJson = `,"kafka_partition":${ctx.partition},"kafka_offset":${ctx.offset}`;
    const rows = logsRequestToNdjson(value, { tenant: ctx.tenant, fallbackMicros: ctx.fallbackMicros, extraJson, maxDepth: this.maxDepth, scopes: this.scopes }, this.sink);
    const staged: Staged = { partition: ctx.partition, offset: ctx.offset, size: value.length, rows, start, end: this.sink.len, scopeStart, scopeEnd: this.scopes.sink.len };
    if (this.digests && rows > 0) staged.digest = digestLine(recordDigest(ctx.tenant, value), ctx.tenant, ctx.fallbackMicros, ctx.partition, ctx.offset);
    this.staged.push(staged);
    return rows;
  }

  /** Records that `partition`/`offset` was consumed without producing rows (e.g. sent to the DLQ). */
  skip(partition: number, offset: bigint): void {
    this.staged.push({ partition, offset, size: 0, rows: 0, start: 0, end: 0, scopeStart: 0, scopeEnd: 0 });
  }

  /**
   * Loads the staged rows into the buffer table. A record whose rows DuckDB refuses is left out
   * whole and returned, the others are loaded. Errors of the machine (memory, disk) are thrown
   * with nothing loaded, so the caller can fetch the batch again.
   */
  async load(): Promise<RejectedRecord[]> {
    const staged = this.staged;
    const rejected: RejectedRecord[] = [];
    try {
      await this.collect();
      if (this.sink.len > 0) {
        try {
          await this.loadBytes(this.sink.view(), this.scopes.sink.view(), maxRecordBytes(staged), this.current, digestsOf(staged));
        } catch (e) {
          if (isResourceError(e)) throw e;
          await this.loadAllBut(staged, rejected);
        }
      }
      for (const s of staged) this.track(s.partition, s.offset, s.size, s.rows);
      return rejected;
    } finally {
      this.staged = [];
      this.sink.reset();
      this.scopes.sink.reset();
    }
  }

  /**
   * The staged records but those DuckDB refuses, loaded; those refused added to `rejected`. Each
   * record is first tried alone in tables of its own, then all that passed are loaded in one
   * transaction: an error of the machine on the way (thrown) leaves the buffer as it was, so
   * the batch fetched again lands once.
   */
  private async loadAllBut(staged: Staged[], rejected: RejectedRecord[]): Promise<void> {
    const c = this.connection;
    const trial = { rows: `${this.current.rows}_trial`, scopes: `${this.current.scopes}_trial` };
    await c.run(`CREATE OR REPLACE TABLE ${trial.rows} AS SELECT * FROM ${this.current.rows} LIMIT 0`);
    await c.run(`CREATE OR REPLACE TABLE ${trial.scopes} AS SELECT * FROM ${this.current.scopes} LIMIT 0`);
    const loadable: Staged[] = [];
    try {
      for (const s of staged) {
        if (s.rows === 0) continue;
        try {
          await this.loadBytes(this.sink.view(s.start, s.end), this.scopes.sink.view(s.scopeStart, s.scopeEnd), maxRecordBytes([s]), trial);
          loadable.push(s);
        } catch (err) {
          if (isResourceError(err)) throw err;
          rejected.push({ partition: s.partition, offset: s.offset, error: err as Error });
          s.rows = 0;
        } finally {
          await c.run(`DELETE FROM ${trial.rows}`);
          await c.run(`DELETE FROM ${trial.scopes}`);
        }
      }
    } finally {
      await c.run(`DROP TABLE IF EXISTS ${trial.rows}`).catch(() => {});
      await c.run(`DROP TABLE IF EXISTS ${trial.scopes}`).catch(() => {});
    }
    if (loadable.length > 0) {
      const rows = Buffer.concat(loadable.map((s) => this.sink.view(s.start, s.end)));
      const scopes = Buffer.concat(loadable.map((s) => this.scopes.sink.view(s.scopeStart, s.scopeEnd)));
      await this.loadBytes(rows, scopes, maxRecordBytes(loadable), this.current, digestsOf(loadable));
    }
  }

  /**
   * Loads NDJSON rows and the scope rows they name, none of them longer than `longest` bytes, and
   * their records' digests, in one transaction: a row never lands without its scope or its
   * digest, nor a scope twice.
   */
  private async loadBytes(rows: Uint8Array, scopes: Uint8Array, longest: number, into: BufferTables = this.current, digests?: Uint8Array): Promise<void> {
    const c = this.connection;
    const files: string[] = [];
    try {
      await c.run('BEGIN TRANSACTION');
      try {
        await this.insertJson(into.scopes, SCOPE_LOAD, scopes, longest, files);
        await this.insertJson(into.rows, ROW_LOAD, rows, longest, files);
        if (into.digests && digests) await this.insertJson(into.digests, DIGEST_LOAD, digests, 0, files);
        await c.run('COMMIT');
      } catch (e) {
        await c.run('ROLLBACK').catch(() => {});
        throw e;
      }
    } finally {
      for (const f of files) await unlink(f).catch(() => {});
    }
  }

  private async insertJson(table: string, load: { columns: string; select: string }, bytes: Uint8Array, longest: number, files: string[]): Promise<void> {
    if (bytes.length === 0) return;
    // read_json's buffers are twice its largest object: keep it near what this load needs.
    const maxObject = Math.max(2 << 20, longest + 1);
    const file = join(this.spoolDir, `otel-lakehouse-${process.pid}-${++spoolSeq}.ndjson`);
    files.push(file);
    await writeFile(file, bytes);
    await this.connection.run(
      `INSERT INTO ${table} SELECT ${load.select} FROM read_json('${file.replaceAll("'", "''")}', ` +
        `format = 'newline_delimited', auto_detect = false, maximum_object_size = ${maxObject}, columns = ${load.columns})`,
    );
  }

  private track(partition: number, offset: bigint, size: number, rows: number): void {
    const r = this.ranges.get(partition);
    if (r) r.last = offset;
    else this.ranges.set(partition, { first: offset, last: offset });
    this.bytes += size;
    this.records += rows;
    this.oldestAt ??= Date.now();
  }

  /**
   * Hands the loaded rows over to a commit (nothing may be staged) and goes on in a fresh table.
   * One buffer is sealed at a time: the previous one must have been released.
   */
  async seal(): Promise<SealedBuffer> {
    if (this.staged.length > 0) throw new Error('LogBuffer.seal: rows are staged but not loaded');
    if (this.sealed) throw new Error('LogBuffer.seal: the previous sealed buffer was not released');
    await this.collect();
    const tables = this.current;
    // A new table rather than DELETE: the deleted rows' storage stays behind in DuckDB and made
    // the next loads slower (bench/stages.mjs over several flushes).
    await this.newTable();
    const sealed: SealedBuffer = { tables, ranges: this.ranges, records: this.records, bytes: this.bytes };
    this.sealed = sealed;
    this.scopes.next = 0;
    this.ranges = new Map();
    this.bytes = 0;
    this.records = 0;
    this.oldestAt = undefined;
    return sealed;
  }

  /**
   * The sealed buffer's commit has landed: its offsets no longer count as buffered, and its
   * table is dropped at this buffer's next load or seal (or `collect`), on the buffer's own
   * connection, so that the database's catalog is only ever changed from one connection.
   */
  release(sealed: SealedBuffer): void {
    if (this.sealed !== sealed) throw new Error('LogBuffer.release: not the sealed buffer');
    this.sealed = undefined;
    this.released.push(sealed.tables);
  }

  /** The buffer being committed, if any. */
  get pending(): SealedBuffer | undefined {
    return this.sealed;
  }

  get isEmpty(): boolean {
    return this.ranges.size === 0;
  }
  get byteSize(): number {
    return this.bytes;
  }
  get recordCount(): number {
    return this.records;
  }
  /** ms since the first record now buffered was loaded; 0 when empty */
  ageMs(now = Date.now()): number {
    return this.oldestAt === undefined ? 0 : now - this.oldestAt;
  }
  /** The last offset buffered (staged, loaded, or sealed and not yet released) for `partition`, if any. */
  lastOffset(partition: number): bigint | undefined {
    for (let i = this.staged.length - 1; i >= 0; i--) if (this.staged[i]!.partition === partition) return this.staged[i]!.offset;
    return this.ranges.get(partition)?.last ?? this.sealed?.ranges.get(partition)?.last;
  }
  get partitionRanges(): ReadonlyMap<number, PartitionRange> {
    return this.ranges;
  }
}
