import type { Config } from '../config/schema.js';
import { appenderDuckdbMemoryLimitMb } from '../lake/lake-pipeline.js';

const MiB = 1024 * 1024;

/**
 * The appender's memory bound, as a function of its settings (docs/limits.md), and what makes it
 * hold: DuckDB's memory limit for the lake's buffer and commit, small fetches for the lake, and
 * for each hot-path sink its decoded budget (`SINK_MAX_DECODED_BYTES`, taken before a record is
 * decoded, see HotPathPipeline) beside what it fetches.
 */

/** Node, DuckDB and its extensions, the Kafka clients: an idle appender is about 180 MB. */
export const APPENDER_BASE_BYTES = 256 * MiB;

/** Resident bytes per byte of DuckDB's memory limit: the limit, and the freed pages its allocator keeps for a while. */
export const DUCKDB_BYTES_PER_LIMIT_BYTE = 2;

/**
 * The lake's batch in hand: fetches of at most 4 MiB (a larger record is fetched whole, up to the
 * broker's `message.max.bytes`), turned into the NDJSON DuckDB loads, and the next fetch beside it.
 */
export const LAKE_BATCH_BYTES = 64 * MiB;

/** Resident bytes per byte of a sink's decoded budget: the decoded records, the backend's request made of them, and the garbage of both until the heap is collected (measured: bench:hostile). */
export const SINK_BYTES_PER_DECODED_BYTE = 2;

/** The appender's documented memory bound for its settings. */
export function appenderMemoryBoundBytes(
  cfg: Pick<Config, 'PIPELINES' | 'DUCKDB_MEMORY_LIMIT_MB' | 'BUFFER_SIZE_MB' | 'SINK_MAX_DECODED_BYTES' | 'SINK_MAX_BATCH_BYTES' | 'TOPIC_PARTITIONS'>,
): number {
  const lake = cfg.PIPELINES.includes('lake') ? DUCKDB_BYTES_PER_LIMIT_BYTE * appenderDuckdbMemoryLimitMb(cfg) * MiB + LAKE_BATCH_BYTES : 0;
  // each partition's fetched batch, raw, while it is decoded and delivered
  const perSink = SINK_BYTES_PER_DECODED_BYTE * cfg.SINK_MAX_DECODED_BYTES + cfg.TOPIC_PARTITIONS * cfg.SINK_MAX_BATCH_BYTES;
  return APPENDER_BASE_BYTES + lake + cfg.PIPELINES.filter((p) => p !== 'lake').length * perSink;
}
