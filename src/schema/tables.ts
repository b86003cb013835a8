/**
 * The lake's Iceberg tables in a namespace, with the DDL file that creates each (sql/ddl/,
 * `{{ns}}` standing for the namespace). A unit test checks that each file creates its table.
 */
export const LAKE_TABLES = {
  logs: { name: 'logs', ddl: 'ddl/001_logs.sql' },
  offsets: { name: 'appender_offsets', ddl: 'ddl/002_appender_offsets.sql' },
} as const;
