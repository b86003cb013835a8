import { isMissingObject } from './duckdb-errors.js';
import type { DuckDBConnection } from '@duckdb/node-api';
import type { Logger } from '../telemetry/logger.js';
import type { CatalogClient } from './catalog-client.js';
import { sqlString } from './session.js';
import { addedDataFiles } from './snapshot-files.js';

/**
 * Repairs a snapshot whose data files were deleted after it was committed.
 *
 * When a commit answers with an error, DuckDB's iceberg extension rolls its transaction back by
 * deleting the data files it wrote, whatever the error was. But an error is not always a
 * refusal: the REST catalog can commit and then fail (for example, it commits the new
 * metadata and cannot read it back while object storage is down, and answers 500). The table's
 * current snapshot then names Parquet files that no longer exist, and every later read or
 * commit of the table fails. This finds that state — the current snapshot's own data files
 * missing from storage — and points the tables' main branch back at the parent snapshot, so
 * the records, still unacknowledged in Kafka, are committed again. Both tables are checked and
 * rolled back together, as they were committed together.
 */
export class SnapshotRepair {
  constructor(
    private readonly connection: DuckDBConnection,
    private readonly catalog: CatalogClient,
    private readonly namespace: string,
    private readonly tables: string[],
    private readonly log: Logger,
  ) {}

  /** Rolls back every table whose current snapshot lost data files; returns the tables rolled back. */
  async run(): Promise<string[]> {
    const broken: { table: string; from: string; to: string | undefined; missing: string[] }[] = [];
    for (const table of this.tables) {
      const snap = await this.catalog.currentSnapshot(this.namespace, table);
      if (!snap) continue;
      const missing = await this.missingFiles(snap.manifestList, snap.id);
      if (missing.length > 0) broken.push({ table, from: snap.id, to: snap.parentId, missing });
    }
    if (broken.length === 0) return [];
    this.log.warn({ tables: broken.map((b) => ({ table: b.table, snapshot: b.from, parent: b.to ?? null, missingFiles: b.missing.length, example: b.missing[0] })) }, 'the current snapshot names deleted data files; rolling back to its parent');
    await this.catalog.rollBack(this.namespace, broken.map(({ table, from, to }) => ({ table, from, to })));
    return broken.map((b) => b.table);
  }

  /** The data files added by snapshot `snapshotId` (from its manifests) that storage no longer has. */
  private async missingFiles(manifestList: string, snapshotId: string): Promise<string[]> {
    const c = this.connection;
    const files = await addedDataFiles(c, manifestList, snapshotId);
    const missing: string[] = [];
    for (const file of files) {
      // Only the size is asked for, so the object is looked up, not downloaded.
      try {
        await c.runAndReadAll(`SELECT size FROM read_blob(${sqlString(file)})`);
      } catch (e) {
        if (!isMissingObject(e)) throw e;
        missing.push(file);
      }
    }
    return missing;
  }
}
