import { LOG_COLUMNS, type LogColumnKind } from './logs.js';

/**
 * The column of `logs` that decides which data files a row goes into, written by the appender
 * and by no one else (it is not a field of an OTLP record, so it is not in LOG_COLUMNS, and the
 * query view leaves it out). The table is partitioned by it and by the day: a tenant with many
 * rows in a commit gets files of its own (the value is its id), and the tenants with few rows
 * share files, each holding a contiguous range of tenant ids (the value is `~` and the range's
 * first tenant id; a tenant id never starts with `~`). A flush then writes a number of files
 * that does not grow with the tenants in it, and a query filtered by `tenant_id` still skips the
 * other tenants' files by their column bounds (src/lake/committer.ts, docs/operating-the-lake.md).
 */
export const TENANT_SHARD_COLUMN = 'tenant_shard';

/** The marker that starts the value of a shared range: never the first character of a tenant id. */
export const SHARED_SHARD_PREFIX = '~';

/** Every column of the Iceberg table `logs`, in order: the record's columns, then the layout column. */
export const LAKE_LOG_COLUMNS: readonly { readonly name: string; readonly kind: LogColumnKind }[] = [
  ...LOG_COLUMNS,
  { name: TENANT_SHARD_COLUMN, kind: 'string' },
];

/**
 * The lake's Iceberg tables in a namespace, with the DDL file that creates each (sql/ddl/,
 * `{{ns}}` standing for the namespace). A unit test checks that each file creates its table.
 */
export const LAKE_TABLES = {
  logs: {
    name: 'logs',
    ddl: 'ddl/001_logs.sql',
    /**
     * Table properties of `logs`: set where missing as the appender starts (schema-evolution.ts),
     * so existing tables gain them without a rewrite; a value an operator set is left alone.
     * `write.parquet.row-group-size` is the row group, in rows, of the files DuckDB's iceberg
     * extension writes: a commit holds every row of each open file until its row group is full,
     * and at DuckDB's own 122,880 a commit of a full buffer held more than the buffer itself and
     * spilled past the appender's memory limit (docs/benchmarks.md). Iceberg Java (the
     * maintainer's compaction) does not read this key. `write.metadata.metrics.column.tenant_id`
     * has Iceberg Java keep tenant_id's bounds whole in the files the maintainer writes (it
     * truncates strings to 16 characters by default): a query skips other tenants' files by
     * these bounds, and ids that share a long prefix would otherwise all look alike.
     */
    properties: { 'write.parquet.row-group-size': '16384', 'write.metadata.metrics.column.tenant_id': 'full' } as Readonly<Record<string, string>>,
  },
  offsets: { name: 'appender_offsets', ddl: 'ddl/002_appender_offsets.sql' },
  /** what the lake stored recently, for LAKE_DEDUP_WINDOW (src/lake/record-digests.ts) */
  digests: { name: 'appender_digests', ddl: 'ddl/003_appender_digests.sql' },
} as const;
