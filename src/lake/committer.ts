import { LAKE_TABLES, SHARED_SHARD_PREFIX, TENANT_SHARD_COLUMN } from '../schema/tables.js';
import { isCommitConflict, isOutOfMemory } from './duckdb-errors.js';
import type { DuckDBConnection } from '@duckdb/node-api';
import { LakehouseError } from '../core/errors.js';
import { bufferRows, LOG_COLUMN_NAMES, type BufferTables, type PartitionRange } from './buffer.js';
import type { CatalogClient, SnapshotInfo, TableSnapshots } from './catalog-client.js';
import type { OffsetsTable, PartitionOffsets } from './offsets-table.js';
import { sqlIdent, sqlString } from './session.js';
import { addedDataFiles } from './snapshot-files.js';
import { copiesCondition, copiesQuery, earliestQuery, insertDigestsSql } from './record-digests.js';

export interface CommitResult {
  /** rows written to the logs table */
  rows: number;
  /** partition -> next offset now recorded in the lake */
  committed: Map<number, bigint>;
  /** partitions whose buffered range the lake already held entirely (another owner wrote them) */
  alreadyCommitted: number[];
  /** Kafka records left out as copies of records the lake stored within LAKE_DEDUP_WINDOW (record-digests.ts) */
  copies?: number;
  /** ms the commit spent finding copies and writing digests (record-digests.ts), when deduplicating */
  dedupMs?: number;
}

/** Where the committer keeps records' digests, and for how long a copy is recognised (LAKE_DEDUP_WINDOW). */
export interface Dedup {
  /** the lake's digests table, qualified */
  table: string;
  windowMs: number;
}

const COLUMN_LIST = LOG_COLUMN_NAMES.map(sqlIdent).join(', ');

/**
 * How a commit's rows are laid out in files (see TENANT_SHARD_COLUMN): a tenant with at least
 * `ownFileMinRows` rows in the commit gets files of its own; the others, in tenant id order,
 * share files of about `sharedFileRows` rows (a range is closed before a tenant that would take
 * it past that). So a commit writes at most rows / ownFileMinRows files of its own tenants plus
 * about rows / sharedFileRows shared ones per day, however many tenants it holds, and a tenant
 * in a shared file shares it with at most `sharedFileRows` rows of others
 * (docs/benchmarks.md, bench:tenants).
 */
export interface FileLayout {
  ownFileMinRows: number;
  sharedFileRows: number;
}

export const DEFAULT_FILE_LAYOUT: FileLayout = { ownFileMinRows: 1000, sharedFileRows: 16_384 };

/** One value of tenant_shard in a commit: its tenants and the days they have rows on. */
export interface Shard {
  value: string;
  tenants: string[];
  days: Set<string>;
}

/**
 * The shards of a commit from its tenants' row counts and days, `tenants` in ascending tenant id
 * order: a shard per tenant of `ownFileMinRows` rows or more, then the others in ranges of
 * consecutive tenants (skipping the own ones), each named after its first tenant.
 */
export function planShards(tenants: readonly { tenant: string; rows: number; days: readonly string[] }[], layout: FileLayout = DEFAULT_FILE_LAYOUT): Shard[] {
  const own: Shard[] = [];
  const shared: Shard[] = [];
  let range: Shard | undefined;
  let rangeRows = 0;
  for (const t of tenants) {
    if (t.rows >= layout.ownFileMinRows) {
      own.push({ value: t.tenant, tenants: [t.tenant], days: new Set(t.days) });
      continue;
    }
    if (!range || rangeRows + t.rows > layout.sharedFileRows) {
      range = { value: SHARED_SHARD_PREFIX + t.tenant, tenants: [], days: new Set() };
      rangeRows = 0;
      shared.push(range);
    }
    range.tenants.push(t.tenant);
    for (const d of t.days) range.days.add(d);
    rangeRows += t.rows;
  }
  return [...own, ...shared];
}

/**
 * The SQL expression of a row's tenant_shard under `shards` (from planShards): its own tenant's
 * id, else the shared range it falls in (the last range whose first tenant it does not precede).
 * When every tenant has files of its own it is the tenant_id column itself, so that a commit of
 * large tenants costs what it did before shared files (a CASE there was measurably slower,
 * docs/benchmarks.md).
 */
export function shardExpression(shards: readonly Shard[]): string {
  const own = shards.filter((s) => !s.value.startsWith(SHARED_SHARD_PREFIX)).map((s) => s.value);
  const ranges = shards.filter((s) => s.value.startsWith(SHARED_SHARD_PREFIX)).reverse();
  if (ranges.length === 0) return 'tenant_id';
  const whens: string[] = [];
  if (own.length > 0) whens.push(`WHEN tenant_id IN (${own.map(sqlString).join(', ')}) THEN tenant_id`);
  for (const r of ranges) whens.push(`WHEN tenant_id >= ${sqlString(r.tenants[0]!)} THEN ${sqlString(r.value)}`);
  return whens.length === 0 ? 'NULL' : `CASE ${whens.join(' ')} END`;
}

/**
 * Most (tenant_shard, day) partitions one INSERT writes. A partitioned write holds a buffer of
 * its own (blocks of 256 KiB) for every partition it has open, so a commit of thousands of
 * partitions ran out of memory whatever the memory limit (docs/benchmarks.md, bench:tenants). A
 * commit with more partitions than this (many days, or many tenants large enough for files of
 * their own) writes them in several INSERTs of one transaction: one catalog commit still, with
 * the same files.
 */
export const MAX_PARTITIONS_PER_WRITE = 64;

/**
 * Commits that must land, after a commit ran out of memory, before the committer writes twice as
 * many partitions per INSERT again.
 */
export const WRITE_LIMIT_RECOVERY_COMMITS = 16;

/**
 * The shards in groups of at most `limit` (shard, day) partitions each, one INSERT per group (a
 * shard with more days than that is a group of its own).
 */
export function writeGroups(shards: readonly Shard[], limit = MAX_PARTITIONS_PER_WRITE): Shard[][] {
  const groups: Shard[][] = [];
  let current: Shard[] = [];
  let partitions = 0;
  for (const shard of shards) {
    if (current.length > 0 && partitions + shard.days.size > limit) {
      groups.push(current);
      current = [];
      partitions = 0;
    }
    current.push(shard);
    partitions += shard.days.size;
  }
  if (current.length > 0) groups.push(current);
  return groups;
}

/** Classifies a failed commit: a conflict is retried after reload; anything else may have landed. */
function classify(e: unknown): LakehouseError {
  const msg = (e as Error)?.message ?? String(e);
  if (isCommitConflict(e)) {
    return new LakehouseError('COMMIT_CONFLICT', `Iceberg commit conflicted: ${msg}`, { cause: e });
  }
  return new LakehouseError('COMMIT_UNKNOWN', `Iceberg commit failed: ${msg}`, { cause: e });
}

/**
 * Writes the buffer to the Iceberg table `logs` and the covered offsets to `appender_offsets`
 * in one DuckDB transaction, which the iceberg extension commits to the catalog as one
 * multi-table commit: both land or neither does. Rows at offsets the lake already holds
 * (below its next_offset for their partition) are left out, so a batch read twice — after a
 * crash, or by a zombie owner after a rebalance — is still written once.
 *
 * What the lake holds is known without reading the offsets table's history on every commit:
 * the committer remembers the offsets snapshot its own last commit produced and the offsets it
 * recorded. Within the transaction it first has DuckDB load the offsets table (the snapshot
 * DuckDB's commit will require to be still current), then asks the catalog for the table's
 * snapshots. When the current one is its own, or follows it only through `replace` snapshots
 * (compaction and manifest rewrites by the maintainer, which change files but no rows), what
 * it remembers is what the table holds; otherwise another writer has committed since, and it
 * reads the table. Either way the catalog refuses the commit if the offsets table moved after
 * DuckDB loaded it, so a zombie is still refused. The read-back looks at the one snapshot the
 * commit made (the child of the snapshot it was based on) and the data file it added.
 */
export class IcebergCommitter {
  /** The offsets snapshot of this committer's last commit, and the offsets the table held then. */
  private known: { snapshot: string; offsets: PartitionOffsets } | undefined;
  /** Commits that needed the offsets table read (another writer had committed), and those that did not. */
  readonly stats = { offsetReads: 0, offsetCacheHits: 0 };
  /**
   * Most partitions one INSERT writes now. Each open file holds a row group of rows until it is
   * full, so the commit's memory grows with the partitions written at once times the width of a
   * row, and wide rows (a Kubernetes resource's attributes on every row) need more than the
   * memory limit has with four open at once (docs/benchmarks.md). A commit that runs out of
   * memory halves this, down to one; WRITE_LIMIT_RECOVERY_COMMITS landed commits double it back.
   */
  private writeLimit = MAX_PARTITIONS_PER_WRITE;
  private landedAtLimit = 0;

  constructor(
    private readonly connection: DuckDBConnection,
    private readonly logsTable: string,
    private readonly offsets: OffsetsTable,
    private readonly catalog: CatalogClient,
    private readonly namespace: string,
    private readonly offsetsTableName: string = LAKE_TABLES.offsets.name,
    private readonly layout: FileLayout = DEFAULT_FILE_LAYOUT,
    private readonly logsTableName: string = LAKE_TABLES.logs.name,
    private readonly dedup?: Dedup,
  ) {}

  /** The last commit tried: what its read-back checks in the logs table. */
  private attempt: { batchId: string; tables: BufferTables; where: string; rows: number; logsBase: string | undefined; result: CommitResult } | undefined;

  /**
   * Commits the rows of the buffer in `tables` (as `bufferRows` reads them) at the offsets
   * `ranges` covers, per Kafka partition, with those offsets.
   */
  async commit(tables: BufferTables, ranges: ReadonlyMap<number, PartitionRange>, batchId: string): Promise<CommitResult> {
    const c = this.connection;
    // The same batch again after an unknown outcome: if its offsets landed, its rows must too,
    // or a commit of it now would find the offsets past and write nothing.
    const tried = this.attempt;
    if (tried?.batchId === batchId && (await this.offsets.hasBatch(c, batchId))) {
      await this.confirmRows(batchId);
      return tried.result;
    }
    const committed = new Map<number, bigint>();
    const alreadyCommitted: number[] = [];
    let rows: number;
    let copies = 0;
    let dedupMs: number | undefined;
    let base: string | undefined;
    let lake: PartitionOffsets;
    let widest = 0;
    await c.run('BEGIN TRANSACTION');
    try {
      // Binding a table makes DuckDB load its metadata now: the snapshot its commit requires.
      await c.run(`SELECT 1 FROM ${this.offsets.table} LIMIT 0`);
      await c.run(`SELECT 1 FROM ${this.logsTable} LIMIT 0`);
      const snapshots = await this.catalog.snapshots(this.namespace, this.offsetsTableName);
      base = snapshots.current;
      const logsBase = (await this.catalog.snapshots(this.namespace, this.logsTableName)).current;
      const cached = this.cachedOffsets(snapshots);
      if (cached) {
        this.stats.offsetCacheHits++;
        lake = cached;
      } else {
        this.stats.offsetReads++;
        lake = await this.offsets.load(c);
      }
      const conditions: string[] = [];
      for (const [partition, range] of ranges) {
        const lakeNext = lake.get(partition) ?? 0n;
        if (range.last < lakeNext) {
          alreadyCommitted.push(partition);
          continue;
        }
        const from = range.first > lakeNext ? range.first : lakeNext;
        conditions.push(`(kafka_partition = ${partition} AND kafka_offset BETWEEN ${from} AND ${range.last})`);
        committed.set(partition, range.last + 1n);
      }
      if (committed.size === 0) {
        await c.run('ROLLBACK');
        return { rows: 0, committed, alreadyCommitted };
      }
      let where = conditions.join(' OR ');
      if (this.dedup && tables.digests) {
        const started = performance.now();
        const found = await this.copies(tables.digests, where, this.dedup, lake);
        copies = found.copies.length;
        if (copies > 0) where = `(${where}) AND NOT (${copiesCondition(found.copies)})`;
        if (found.records > copies) await c.run(insertDigestsSql(this.dedup.table, tables.digests, where));
        dedupMs = Math.round(performance.now() - started);
      }
      rows = await this.insertRows(tables, where, (w) => (widest = w));
      this.attempt = { batchId, tables, where, rows, logsBase, result: { rows, committed, alreadyCommitted, ...(copies > 0 ? { copies } : {}) } };
      await c.run(
        this.offsets.insertSql([...committed].map(([partition, nextOffset]) => ({ partition, nextOffset })), batchId),
      );
      await c.run('COMMIT');
    } catch (e) {
      await c.run('ROLLBACK').catch(() => {});
      if (isOutOfMemory(e) && widest > 0) {
        this.writeLimit = Math.max(1, Math.floor(widest / 2));
        this.landedAtLimit = 0;
      }
      throw classify(e);
    }
    if (this.writeLimit < MAX_PARTITIONS_PER_WRITE && ++this.landedAtLimit >= WRITE_LIMIT_RECOVERY_COMMITS) {
      this.writeLimit = Math.min(MAX_PARTITIONS_PER_WRITE, this.writeLimit * 2);
      this.landedAtLimit = 0;
    }
    const snapshot = await this.confirm(batchId, base);
    await this.confirmRows(batchId);
    const offsets = new Map(lake);
    for (const [p, next] of committed) offsets.set(p, next);
    this.known = { snapshot, offsets };
    return { rows, committed, alreadyCommitted, ...(copies > 0 ? { copies } : {}), ...(dedupMs === undefined ? {} : { dedupMs }) };
  }

  /**
   * The records among those `where` selects in the buffer's digests table that are copies
   * (record-digests.ts), read in the commit's transaction, and how many records it selects.
   */
  private async copies(digests: string, where: string, dedup: Dedup, lake: PartitionOffsets): Promise<{ copies: [number, bigint][]; records: number }> {
    const c = this.connection;
    const [earliest, records] = (await c.runAndReadAll(earliestQuery(digests, where))).getRows()[0] ?? [];
    if (earliest === null || earliest === undefined) return { copies: [], records: 0 };
    const found = await c.runAndReadAll(copiesQuery(digests, dedup.table, where, dedup.windowMs, BigInt(earliest as bigint), lake));
    return { copies: found.getRows().map(([p, o]) => [Number(p), BigInt(o as bigint)]), records: Number(records) };
  }

  /** Most partitions one INSERT writes now (see `writeLimit`). */
  get partitionsPerWrite(): number {
    return this.writeLimit;
  }

  /**
   * INSERTs the buffer's rows that `where` selects into the logs table, in the transaction the
   * caller has begun: a group of shards each (see writeGroups), the most partitions one INSERT
   * writes told to `planned` before the first. Returns the rows written.
   */
  private async insertRows(tables: BufferTables, where: string, planned: (widest: number) => void = () => {}): Promise<number> {
    const shards = await this.shards(tables.rows, where);
    const shardOf = shardExpression(shards);
    const groups = writeGroups(shards, this.writeLimit);
    planned(Math.max(...groups.map((g) => g.reduce((n, shard) => n + shard.days.size, 0))));
    let rows = 0;
    for (const group of groups) {
      const rowsOf = `SELECT ${COLUMN_LIST}, ${shardOf} AS ${sqlIdent(TENANT_SHARD_COLUMN)} FROM ${bufferRows(tables)} WHERE (${where})`;
      const only = `SELECT * FROM (${rowsOf}) WHERE ${sqlIdent(TENANT_SHARD_COLUMN)} IN (${group.map((g) => sqlString(g.value)).join(', ')})`;
      const inserted = await this.connection.runAndReadAll(
        `INSERT INTO ${this.logsTable} (${COLUMN_LIST}, ${sqlIdent(TENANT_SHARD_COLUMN)}) ${groups.length === 1 ? rowsOf : only}`,
      );
      rows += Number(inserted.getRows()[0]?.[0] ?? 0);
    }
    return rows;
  }

  /**
   * Whether batch `batchId`, whose commit's outcome is unknown, landed: its offsets are in the
   * offsets table, and (when it was the last commit tried) its rows in the logs table, committed
   * again by themselves if the catalog kept only the offsets (see confirmRows).
   */
  async landed(batchId: string): Promise<boolean> {
    if (!(await this.offsets.hasBatch(this.connection, batchId))) return false;
    await this.confirmRows(batchId);
    return true;
  }

  /**
   * The second half of the read-back: the appends that follow, in the logs table, the snapshot
   * the commit was based on must add up (their summaries' `added-records`) to the rows the
   * commit wrote. A catalog that applies only part of a multi-table commit keeps the
   * offsets without the rows; the offsets then say the records landed, so a commit of them
   * again would write nothing. The catalog's own metadata is the evidence: the rows are
   * committed again by themselves, and read back the same way, until they are there.
   */
  private async confirmRows(batchId: string): Promise<void> {
    const attempt = this.attempt;
    if (!attempt || attempt.batchId !== batchId || attempt.rows === 0) return;
    for (let tries = 0; ; tries++) {
      let after: SnapshotInfo[];
      try {
        after = descendants(await this.catalog.snapshots(this.namespace, this.logsTableName), attempt.logsBase);
      } catch (e) {
        throw new LakehouseError('COMMIT_UNKNOWN', `reading the logs table back after batch ${batchId} failed: ${(e as Error).message}`, { cause: e });
      }
      // One transaction may make several appends in a row (the iceberg extension makes one per
      // INSERT of a partitioned write, sometimes); the transaction's are the first after its base.
      let added = 0;
      for (const s of after) {
        if (s.operation !== 'append') continue;
        added += Number(s.summary['added-records'] ?? NaN);
        if (!(added < attempt.rows)) break;
      }
      if (added === attempt.rows) {
        this.attempt = undefined;
        return;
      }
      if (after.length > 0) {
        throw new LakehouseError('INTERNAL', `batch ${batchId}: the logs table's appends after ${attempt.logsBase ?? 'its start'} added ${added} records where the commit wrote ${attempt.rows}`);
      }
      if (tries >= 5) throw new LakehouseError('COMMIT_UNKNOWN', `batch ${batchId}: its offsets landed and its rows did not, after ${tries} commits of the rows alone`);
      attempt.logsBase = await this.commitRowsAlone(attempt.tables, attempt.where, batchId);
    }
  }

  /** One commit of the rows `where` selects, without offsets; returns the logs snapshot it was based on. */
  private async commitRowsAlone(tables: BufferTables, where: string, batchId: string): Promise<string | undefined> {
    const c = this.connection;
    await c.run('BEGIN TRANSACTION');
    try {
      await c.run(`SELECT 1 FROM ${this.logsTable} LIMIT 0`);
      const logsBase = (await this.catalog.snapshots(this.namespace, this.logsTableName)).current;
      await this.insertRows(tables, where);
      await c.run('COMMIT');
      return logsBase;
    } catch (e) {
      await c.run('ROLLBACK').catch(() => {});
      throw new LakehouseError('COMMIT_UNKNOWN', `batch ${batchId}: committing its rows again failed: ${(e as Error).message}`, { cause: e });
    }
  }

  /** The shards (see planShards) of the rows to commit: one query over the buffer. */
  private async shards(table: string, where: string): Promise<Shard[]> {
    const reader = await this.connection.runAndReadAll(
      // days as whole days since the epoch (UTC): integer arithmetic, where a cast to DATE costs four times as much
      `SELECT tenant_id, count(*), list(DISTINCT epoch_us("timestamp") // 86400000000) FROM ${table} WHERE ${where} GROUP BY tenant_id ORDER BY tenant_id`,
    );
    const tenants = reader.getRowsJson().map(([tenant, rows, days]) => ({ tenant: String(tenant), rows: Number(rows), days: (days as unknown[]).map(String) }));
    return planShards(tenants, this.layout);
  }

  /** The remembered offsets, when the table's current snapshot is ours or follows it only through `replace` snapshots. */
  private cachedOffsets(snapshots: TableSnapshots): PartitionOffsets | undefined {
    const known = this.known;
    if (!known) return undefined;
    let id = snapshots.current;
    // Bounded: the maintainer adds a few replace snapshots per run.
    for (let step = 0; id !== undefined && step < 1000; step++) {
      if (id === known.snapshot) return known.offsets;
      const s = snapshots.byId.get(id);
      if (!s || s.operation !== 'replace') return undefined;
      id = s.parentId;
    }
    return undefined;
  }

  /**
   * Reads the commit back: the offsets table must have a snapshot whose parent is the one the
   * commit was based on, and the data file it added must hold the batch. A catalog may
   * acknowledge a commit it did not keep (Apache's REST fixture does, when another commit races
   * it): treated as a conflict, so the batch is committed again. An error of the read itself
   * leaves the outcome unknown. Returns the commit's snapshot id.
   */
  private async confirm(batchId: string, base: string | undefined): Promise<string> {
    let ours: SnapshotInfo | undefined;
    let landed = false;
    try {
      ours = descendants(await this.catalog.snapshots(this.namespace, this.offsetsTableName), base)[0];
      if (ours) {
        const files = await addedDataFiles(this.connection, ours.manifestList, ours.id);
        if (files.length > 0) {
          const found = await this.connection.runAndReadAll(
            `SELECT count(*) FROM read_parquet([${files.map(sqlString).join(', ')}]) WHERE batch_id = ${sqlString(batchId)}`,
          );
          landed = Number(found.getRows()[0]?.[0] ?? 0) > 0;
        }
      }
    } catch (e) {
      throw new LakehouseError('COMMIT_UNKNOWN', `Iceberg commit acknowledged, but reading it back failed: ${(e as Error).message}`, { cause: e });
    }
    if (!ours || !landed) {
      throw new LakehouseError('COMMIT_CONFLICT', `Iceberg commit acknowledged by the catalog but batch ${batchId} is not in the offsets table's new snapshot: committing it again`);
    }
    return ours.id;
  }
}

/** The snapshots of the main branch after `base`, oldest first. */
function descendants(after: TableSnapshots, base: string | undefined): SnapshotInfo[] {
  const out: SnapshotInfo[] = [];
  let id = after.current;
  for (let step = 0; id !== undefined && id !== base && step < 10_000; step++) {
    const s = after.byId.get(id);
    if (!s) return [];
    out.push(s);
    id = s.parentId;
  }
  // `base` is not on the branch (it was rolled back): nothing after it
  return id === base ? out.reverse() : [];
}
