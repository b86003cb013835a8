import type { DuckDBConnection } from '@duckdb/node-api';
import { LakehouseError } from '../core/errors.js';
import type { Logger } from '../telemetry/logger.js';
import type { CatalogClient, SnapshotInfo } from './catalog-client.js';
import type { ObjectStore } from './object-store.js';
import { addedDataFiles } from './snapshot-files.js';

/** How far back under maintenance snapshots the repair looks for the last append. */
const MAX_SNAPSHOTS_WALKED = 64;

interface Checked {
  table: string;
  /** the table's current snapshot: the branch must still point there to be moved */
  current: string;
  /** the last append on the main branch (the appender's commit), at or under the current snapshot */
  append: SnapshotInfo;
  missing: string[];
}

/**
 * Repairs the tables when the appender's last commit names data files that were deleted after
 * it was committed.
 *
 * When a commit answers with an error, DuckDB's iceberg extension rolls its transaction back by
 * deleting the data files it wrote, whatever the error was. But an error is not always a
 * refusal: the REST catalog can commit and then fail (for example, it commits the new
 * metadata and cannot read it back while object storage is down, and answers 500). The table
 * then names Parquet files that no longer exist, and every later read or commit of it fails.
 *
 * For each table this finds the last `append` on the main branch, under any maintenance
 * snapshots (manifest rewrites, compaction, retention) committed on top of it, and asks the
 * object store (ObjectStore: HeadObject answered 404, never an error's wording) for each data
 * file it added. When every table's last append lost files, the commit that made them all is
 * undone in one multi-table commit: each branch goes back to the snapshot before that append,
 * and the records, whose offsets went back with it, are committed again. When only some did,
 * nothing is rolled back: rolling back one table alone would part the rows from the offsets
 * that cover them, so the repair stops with an error naming the snapshots for an operator.
 *
 * `auxiliary` tables (the records' digests) are judged on their own: one whose last append
 * lost files is rolled back with the others, or alone. Nothing is lost by rolling one back
 * alone: a digest only ever counts for a record the offsets table covers (record-digests.ts).
 */
export class SnapshotRepair {
  constructor(
    private readonly connection: DuckDBConnection,
    private readonly catalog: CatalogClient,
    private readonly store: ObjectStore,
    private readonly namespace: string,
    private readonly tables: string[],
    private readonly log: Logger,
    private readonly auxiliary: string[] = [],
  ) {}

  /** Rolls back the tables' last commit when all of them lost data files; returns the tables rolled back. */
  async run(): Promise<string[]> {
    const checked: Checked[] = [];
    for (const table of this.tables) {
      const c = await this.check(table);
      if (c) checked.push(c);
    }
    const aux: Checked[] = [];
    for (const table of this.auxiliary) {
      const c = await this.check(table);
      if (c && c.missing.length > 0) aux.push(c);
    }
    const broken = checked.filter((c) => c.missing.length > 0);
    if (broken.length === 0) {
      if (aux.length === 0) return [];
      this.log.warn({ tables: aux.map((c) => ({ table: c.table, current: c.current, append: c.append.id, missingFiles: c.missing.length, example: c.missing[0] })) }, 'the last commit of a digests table names deleted data files; rolling it back alone');
      await this.catalog.rollBack(this.namespace, aux.map((b) => ({ table: b.table, from: b.current, to: b.append.parentId })));
      return aux.map((b) => b.table);
    }
    const described = checked.map((c) => ({ table: c.table, current: c.current, append: c.append.id, parent: c.append.parentId ?? null, missingFiles: c.missing.length, example: c.missing[0] }));
    if (broken.length < this.tables.length) {
      this.log.error({ tables: described }, 'the last commit lost data files in some tables only: nothing rolled back');
      throw new LakehouseError(
        'INTERNAL',
        `the last commit of ${broken.map((b) => b.table).join(', ')} names data files the object store does not have (${broken[0]!.missing[0]}), ` +
          `while ${checked.filter((c) => c.missing.length === 0).map((c) => c.table).join(', ')} lost none: rolling back some tables alone would part the rows from their offsets. ` +
          `Restore the files, or roll back every table to the parent of its last append (docs/operating-the-lake.md, "A commit that lost its files"): ${JSON.stringify(described)}`,
      );
    }
    this.log.warn({ tables: described }, 'the last commit names deleted data files; rolling every table back to the snapshot before it');
    const all = [...broken, ...aux];
    await this.catalog.rollBack(this.namespace, all.map((b) => ({ table: b.table, from: b.current, to: b.append.parentId })));
    return all.map((b) => b.table);
  }

  /** The table's last append and the data files it added that the object store does not have. */
  private async check(table: string): Promise<Checked | undefined> {
    const { current, byId } = await this.catalog.snapshots(this.namespace, table);
    let snap = current === undefined ? undefined : byId.get(current);
    for (let i = 0; snap && snap.operation !== 'append' && i < MAX_SNAPSHOTS_WALKED; i++) snap = snap.parentId === undefined ? undefined : byId.get(snap.parentId);
    if (!snap || snap.operation !== 'append') return undefined;
    const files = await addedDataFiles(this.connection, snap.manifestList, snap.id);
    const states = await this.store.states(files);
    return { table, current: current!, append: snap, missing: files.filter((f) => states.get(f) === 'missing') };
  }
}
