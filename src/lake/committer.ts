import { LAKE_TABLES } from '../schema/tables.js';
import { isCommitConflict } from './duckdb-errors.js';
import type { DuckDBConnection } from '@duckdb/node-api';
import { LakehouseError } from '../core/errors.js';
import { bufferRows, LOG_COLUMN_NAMES, type PartitionRange } from './buffer.js';
import type { CatalogClient, SnapshotInfo, TableSnapshots } from './catalog-client.js';
import type { OffsetsTable, PartitionOffsets } from './offsets-table.js';
import { sqlIdent, sqlString } from './session.js';
import { addedDataFiles } from './snapshot-files.js';

export interface CommitResult {
  /** rows written to the logs table */
  rows: number;
  /** partition -> next offset now recorded in the lake */
  committed: Map<number, bigint>;
  /** partitions whose buffered range the lake already held entirely (another owner wrote them) */
  alreadyCommitted: number[];
}

const COLUMN_LIST = LOG_COLUMN_NAMES.map(sqlIdent).join(', ');

/**
 * Most (tenant, day) partitions one INSERT writes. A partitioned write holds a buffer of its own
 * (blocks of 256 KiB) for every partition it has open, so a commit of a buffer from thousands of
 * tenants ran out of memory whatever the memory limit (docs/benchmarks.md, bench:tenants). A
 * commit with more partitions than this writes them in several INSERTs of one transaction: one
 * catalog commit still, with the same files.
 */
export const MAX_PARTITIONS_PER_WRITE = 64;

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

  constructor(
    private readonly connection: DuckDBConnection,
    private readonly logsTable: string,
    private readonly offsets: OffsetsTable,
    private readonly catalog: CatalogClient,
    private readonly namespace: string,
    private readonly offsetsTableName: string = LAKE_TABLES.offsets.name,
  ) {}

  /**
   * Commits the rows of buffer table `table` (as `bufferRows` reads it) at the offsets
   * `ranges` covers, per Kafka partition, with those offsets.
   */
  async commit(table: string, ranges: ReadonlyMap<number, PartitionRange>, batchId: string): Promise<CommitResult> {
    const c = this.connection;
    const committed = new Map<number, bigint>();
    const alreadyCommitted: number[] = [];
    let rows: number;
    let base: string | undefined;
    let lake: PartitionOffsets;
    await c.run('BEGIN TRANSACTION');
    try {
      // Binding the table makes DuckDB load its metadata now: the snapshot its commit requires.
      await c.run(`SELECT 1 FROM ${this.offsets.table} LIMIT 0`);
      const snapshots = await this.catalog.snapshots(this.namespace, this.offsetsTableName);
      base = snapshots.current;
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
        conditions.push(`(kafka_partition = ${partition} AND kafka_offset >= ${from})`);
        committed.set(partition, range.last + 1n);
      }
      if (committed.size === 0) {
        await c.run('ROLLBACK');
        return { rows: 0, committed, alreadyCommitted };
      }
      rows = 0;
      const where = conditions.join(' OR ');
      for (const tenants of await this.tenantGroups(table, where)) {
        const only = tenants === undefined ? '' : ` AND tenant_id IN (${tenants.map(sqlString).join(', ')})`;
        const inserted = await c.runAndReadAll(
          `INSERT INTO ${this.logsTable} (${COLUMN_LIST}) SELECT ${COLUMN_LIST} FROM ${bufferRows(table)} WHERE (${where})${only}`,
        );
        rows += Number(inserted.getRows()[0]?.[0] ?? 0);
      }
      await c.run(
        this.offsets.insertSql([...committed].map(([partition, nextOffset]) => ({ partition, nextOffset })), batchId),
      );
      await c.run('COMMIT');
    } catch (e) {
      await c.run('ROLLBACK').catch(() => {});
      throw classify(e);
    }
    const snapshot = await this.confirm(batchId, base);
    const offsets = new Map(lake);
    for (const [p, next] of committed) offsets.set(p, next);
    this.known = { snapshot, offsets };
    return { rows, committed, alreadyCommitted };
  }

  /**
   * The tenants of the rows to commit, in groups of at most MAX_PARTITIONS_PER_WRITE (tenant, day)
   * partitions each (a tenant with more days than that is a group of its own); one group of
   * `undefined` (every row) when they all fit in one write.
   */
  private async tenantGroups(table: string, where: string): Promise<(string[] | undefined)[]> {
    const reader = await this.connection.runAndReadAll(
      `SELECT tenant_id, count(DISTINCT CAST("timestamp" AS DATE)) FROM ${table} WHERE ${where} GROUP BY tenant_id ORDER BY tenant_id`,
    );
    const perTenant = reader.getRows().map(([tenant, days]) => ({ tenant: String(tenant), days: Number(days) }));
    if (perTenant.reduce((n, t) => n + t.days, 0) <= MAX_PARTITIONS_PER_WRITE) return [undefined];
    const groups: string[][] = [];
    let current: string[] = [];
    let partitions = 0;
    for (const { tenant, days } of perTenant) {
      if (current.length > 0 && partitions + days > MAX_PARTITIONS_PER_WRITE) {
        groups.push(current);
        current = [];
        partitions = 0;
      }
      current.push(tenant);
      partitions += days;
    }
    if (current.length > 0) groups.push(current);
    return groups;
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
      const after = await this.catalog.snapshots(this.namespace, this.offsetsTableName);
      for (let id = after.current, step = 0; id !== undefined && id !== base && step < 10_000; step++) {
        const s = after.byId.get(id);
        if (!s) break;
        if (s.parentId === base) {
          ours = s;
          break;
        }
        id = s.parentId;
      }
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
