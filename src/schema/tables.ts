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
     * maintainer's compaction) does not read this key.
     */
    properties: { 'write.parquet.row-group-size': '16384' } as Readonly<Record<string, string>>,
  },
  offsets: { name: 'appender_offsets', ddl: 'ddl/002_appender_offsets.sql' },
} as const;
