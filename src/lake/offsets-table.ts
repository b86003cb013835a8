import type { DuckDBConnection } from '@duckdb/node-api';
import { sqlString } from './session.js';

/** Where the lake pipeline stands per partition: the first offset not yet in the lake. */
export type PartitionOffsets = Map<number, bigint>;

export interface OffsetRow {
  partition: number;
  nextOffset: bigint;
}

/** The table `appender_offsets`: Kafka positions committed with the rows they cover. */
export class OffsetsTable {
  constructor(
    readonly table: string,
    private readonly group: string,
    private readonly topic: string,
  ) {}

  /** max(next_offset) per partition for this consumer group and topic. */
  async load(connection: DuckDBConnection): Promise<PartitionOffsets> {
    const reader = await connection.runAndReadAll(
      `SELECT "partition", max(next_offset) AS next_offset FROM ${this.table} ` +
        `WHERE consumer_group = ${sqlString(this.group)} AND topic = ${sqlString(this.topic)} GROUP BY "partition"`,
    );
    const out: PartitionOffsets = new Map();
    for (const [p, n] of reader.getRows()) out.set(Number(p), BigInt(n as bigint));
    return out;
  }

  /** The other consumer groups that hold offsets of this topic in the table. */
  async otherGroups(connection: DuckDBConnection): Promise<string[]> {
    const reader = await connection.runAndReadAll(
      `SELECT DISTINCT consumer_group FROM ${this.table} WHERE topic = ${sqlString(this.topic)} AND consumer_group <> ${sqlString(this.group)} ORDER BY 1`,
    );
    return reader.getRows().map(([g]) => String(g));
  }

  /** Whether a commit with `batchId` is in the table (decides an unknown commit outcome). */
  async hasBatch(connection: DuckDBConnection, batchId: string): Promise<boolean> {
    const reader = await connection.runAndReadAll(
      `SELECT count(*) FROM ${this.table} WHERE batch_id = ${sqlString(batchId)}`,
    );
    return Number(reader.getRows()[0]?.[0] ?? 0) > 0;
  }

  /** The INSERT that records `rows` as committed by `batchId`. */
  insertSql(rows: OffsetRow[], batchId: string): string {
    const values = rows
      .map(
        (r) =>
          `(${sqlString(this.group)}, ${sqlString(this.topic)}, ${r.partition}, ${r.nextOffset}, now(), ${sqlString(batchId)})`,
      )
      .join(', ');
    return `INSERT INTO ${this.table} (consumer_group, topic, "partition", next_offset, committed_at, batch_id) VALUES ${values}`;
  }
}
