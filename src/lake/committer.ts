import type { DuckDBConnection } from '@duckdb/node-api';
import { LakehouseError } from '../core/errors.js';
import { BUFFER_ROWS, LOG_COLUMNS, type PartitionRange } from './buffer.js';
import type { OffsetsTable } from './offsets-table.js';
import { sqlIdent } from './session.js';

export interface CommitResult {
  /** rows written to the logs table */
  rows: number;
  /** partition -> next offset now recorded in the lake */
  committed: Map<number, bigint>;
  /** partitions whose buffered range the lake already held entirely (another owner wrote them) */
  alreadyCommitted: number[];
}

const COLUMN_LIST = LOG_COLUMNS.map(sqlIdent).join(', ');

/** Classifies a failed commit: a conflict is retried after reload; anything else may have landed. */
function classify(e: unknown): LakehouseError {
  const msg = (e as Error)?.message ?? String(e);
  if (/409|conflict|CommitFailed|requirement failed/i.test(msg)) {
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
 */
export class IcebergCommitter {
  constructor(
    private readonly connection: DuckDBConnection,
    private readonly logsTable: string,
    private readonly offsets: OffsetsTable,
  ) {}

  async commit(ranges: ReadonlyMap<number, PartitionRange>, batchId: string): Promise<CommitResult> {
    const c = this.connection;
    const committed = new Map<number, bigint>();
    const alreadyCommitted: number[] = [];
    let rows: number;
    await c.run('BEGIN TRANSACTION');
    try {
      const lake = await this.offsets.load(c);
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
      const inserted = await c.runAndReadAll(
        `INSERT INTO ${this.logsTable} (${COLUMN_LIST}) SELECT ${COLUMN_LIST} FROM ${BUFFER_ROWS} WHERE ${conditions.join(' OR ')}`,
      );
      rows = Number(inserted.getRows()[0]?.[0] ?? 0);
      await c.run(
        this.offsets.insertSql([...committed].map(([partition, nextOffset]) => ({ partition, nextOffset })), batchId),
      );
      await c.run('COMMIT');
    } catch (e) {
      await c.run('ROLLBACK').catch(() => {});
      throw classify(e);
    }
    await this.confirm(batchId);
    return { rows, committed, alreadyCommitted };
  }

  /**
   * Reads the batch back from the offsets table. A catalog may acknowledge a commit it did not
   * keep (Apache's REST fixture does, when another commit races it): treated as a conflict, so
   * the batch is committed again. An error of the read itself leaves the outcome unknown.
   */
  private async confirm(batchId: string): Promise<void> {
    let landed: boolean;
    try {
      landed = await this.offsets.hasBatch(this.connection, batchId);
    } catch (e) {
      throw new LakehouseError('COMMIT_UNKNOWN', `Iceberg commit acknowledged, but reading it back failed: ${(e as Error).message}`, { cause: e });
    }
    if (!landed) {
      throw new LakehouseError('COMMIT_CONFLICT', `Iceberg commit acknowledged by the catalog but batch ${batchId} is not in the offsets table: committing it again`);
    }
  }
}
