import { createHash } from 'node:crypto';
import { ICEBERG_TYPE } from '../schema/logs.js';
import { sqlIdent } from './session.js';

/**
 * The lake's deduplication of client retries (LAKE_DEDUP_WINDOW). A client that was answered 503,
 * or timed out, sends the same request again, perhaps through another ingester replica; the
 * ingester cuts a request into Kafka records the same way every time, so each record of the
 * retry has the same tenant and the same bytes as the record of the first try. The appender
 * keeps a digest of each record it stores in the Iceberg table `appender_digests`, committed in
 * the same transaction as the record's rows, and a commit leaves out a record whose digest the
 * table holds from within the window, and each record of its own batch that an earlier one of
 * the batch, received within the window before it, has the same digest as.
 *
 * Copies of a tenant's records share a Kafka partition (the tenant is the record key), whose
 * commits are ordered by the offsets table, so the digests a commit reads are those of every
 * earlier commit of that partition. A stored digest counts only when the offsets table covers
 * its record (`covered`): a digest whose commit was rolled back with its rows (snapshot-repair.ts
 * rolls the digests table back on its own evidence, which may come later) never stands for rows
 * the lake does not hold.
 */

/** The digest of one Kafka record: hex of the first 128 bits of SHA-256 over tenant, NUL, value. */
export function recordDigest(tenant: string, value: Uint8Array): string {
  return createHash('sha256').update(tenant).update('\0').update(value).digest('hex').slice(0, 32);
}

/** The columns of a buffer's digests table (and of `appender_digests`, sql/ddl/003_appender_digests.sql), in order. */
export const DIGEST_COLUMNS = [
  ['record_digest', 'VARCHAR'],
  ['tenant_id', 'VARCHAR'],
  ['received_at', ICEBERG_TYPE.timestamp],
  ['kafka_partition', 'INTEGER'],
  ['kafka_offset', 'BIGINT'],
] as const;

/** One stored record's NDJSON line for the buffer's digests table (received_at in microseconds). */
export function digestLine(digest: string, tenant: string, receivedMicros: bigint, partition: number, offset: bigint): string {
  // the digest is hex and a tenant id matches TENANT_ID_PATTERN: neither needs escaping
  return `{"record_digest":"${digest}","tenant_id":"${tenant}","received_at":${receivedMicros},"kafka_partition":${partition},"kafka_offset":${offset}}\n`;
}

/**
 * The query over a buffer's digests table (`digests`) that lists the records among those
 * `where` selects that are copies: of a record the lake table (`lakeTable`) holds received at
 * most `windowMs` before it and at a Kafka position the offsets table covers (`covered`: the
 * first offset not in the lake, per partition), or of an earlier record of the same batch (by
 * received_at, partition and offset) received at most `windowMs` before it.
 * Returns kafka_partition, kafka_offset. The lake table is read only from `windowMs` before the
 * batch's first record, so its files older than that are skipped by their bounds.
 */
export function copiesQuery(digests: string, lakeTable: string, where: string, windowMs: number, sinceMicros: bigint, covered: ReadonlyMap<number, bigint>): string {
  const window = `INTERVAL ${Math.trunc(windowMs)} MILLISECOND`;
  const since = `make_timestamptz(${sinceMicros}::BIGINT) - ${window}`;
  const inLake = [...covered].map(([p, next]) => `(kafka_partition = ${p} AND kafka_offset < ${next})`).join(' OR ') || 'false';
  return (
    `WITH batch AS (SELECT record_digest, received_at, kafka_partition, kafka_offset FROM ${digests} WHERE (${where})), ` +
    `stored AS (SELECT record_digest, received_at FROM ${lakeTable} WHERE received_at >= ${since} AND (${inLake}) AND record_digest IN (SELECT record_digest FROM batch)) ` +
    `SELECT kafka_partition, kafka_offset FROM batch b WHERE EXISTS (SELECT 1 FROM batch o WHERE o.record_digest = b.record_digest AND o.received_at >= b.received_at - ${window} AND ` +
    `(o.received_at < b.received_at OR o.received_at = b.received_at AND (o.kafka_partition < b.kafka_partition OR o.kafka_partition = b.kafka_partition AND o.kafka_offset < b.kafka_offset))) ` +
    `OR EXISTS (SELECT 1 FROM stored s WHERE s.record_digest = b.record_digest AND s.received_at >= b.received_at - ${window}) ORDER BY 1, 2`
  );
}

/** A SQL condition true for the rows of the records `copies` lists (kafka_partition, kafka_offset), false when it lists none. */
export function copiesCondition(copies: readonly (readonly [number, bigint])[]): string {
  if (copies.length === 0) return 'false';
  const byPartition = new Map<number, bigint[]>();
  for (const [p, o] of copies) {
    const list = byPartition.get(p);
    if (list) list.push(o);
    else byPartition.set(p, [o]);
  }
  return [...byPartition].map(([p, offsets]) => `(kafka_partition = ${p} AND kafka_offset IN (${offsets.join(', ')}))`).join(' OR ');
}

/** The INSERT that records the digests of the records `where` selects, from a buffer's digests table into the lake's. */
export function insertDigestsSql(lakeTable: string, digests: string, where: string): string {
  const cols = DIGEST_COLUMNS.map(([n]) => sqlIdent(n)).join(', ');
  return `INSERT INTO ${lakeTable} (${cols}) SELECT ${cols} FROM ${digests} WHERE (${where})`;
}

/** The earliest received_at (microseconds) among the records `where` selects, and how many they are, as a query. */
export function earliestQuery(digests: string, where: string): string {
  return `SELECT epoch_us(min(received_at)), count(*) FROM ${digests} WHERE (${where})`;
}
