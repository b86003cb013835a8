import type { Config } from '../../src/config/schema.js';

/**
 * Queries that each try to read another tenant's rows, the warehouse's files, the settings or
 * the secrets, or to lift the restriction, written by hand: a tenant's query must be refused,
 * with a message, or answered with the tenant's own rows alone (the query CLI's --tenant and
 * the query service alike). The generated corpus (confinement-corpus.ts) tries thousands more.
 */
export function hostileQueries(cfg: Config): string[] {
  const bare = cfg.ICEBERG_NAMESPACE;
  return [
    `SELECT * FROM lake.${bare}.logs`,
    `SELECT * FROM "lake"."${bare}"."logs"`,
    `SELECT * FROM ${bare}.logs`,
    'SELECT * FROM temp.main.logs',
    `SELECT * FROM logs UNION ALL SELECT * FROM lake.${bare}.logs`,
    `SELECT (SELECT count(*) FROM lake.${bare}.logs)`,
    `SELECT * FROM logs WHERE body IN (SELECT body FROM lake.${bare}.logs)`,
    `WITH logs AS (SELECT * FROM lake.${bare}.logs) SELECT * FROM logs`,
    `SELECT * FROM iceberg_scan('s3://${cfg.S3_BUCKET}/${bare}/logs')`,
    `SELECT * FROM read_parquet('s3://${cfg.S3_BUCKET}/${bare}/logs/data/**/*.parquet')`,
    `SELECT * FROM parquet_scan('s3://${cfg.S3_BUCKET}/**/*.parquet')`,
    `SELECT * FROM glob('s3://${cfg.S3_BUCKET}/**')`,
    `SELECT * FROM read_text('/etc/passwd')`,
    `SELECT * FROM read_blob('s3://${cfg.S3_BUCKET}/${bare}/logs/metadata/*')`,
    `SELECT * FROM query('SELECT * FROM lake.${bare}.logs')`,
    `SELECT * FROM query_table('lake.${bare}.logs')`,
    `SELECT * FROM iceberg_snapshots(lake.${bare}.logs)`,
    'SELECT * FROM duckdb_secrets()',
    'SELECT * FROM duckdb_settings()',
    'SELECT * FROM duckdb_tables()',
    'SELECT * FROM information_schema.tables',
    `SELECT current_setting('s3_access_key_id')`,
    'SELECT 1; SET lock_configuration = false',
    `SELECT 1; SELECT * FROM lake.${bare}.logs`,
    `ATTACH '${cfg.ICEBERG_WAREHOUSE}' AS other (TYPE iceberg, ENDPOINT '${cfg.ICEBERG_CATALOG_URI}')`,
    `COPY (SELECT * FROM lake.${bare}.logs) TO '/tmp/leak.csv'`,
    `CREATE OR REPLACE TEMP VIEW logs AS SELECT * FROM lake.${bare}.logs`,
    'DROP VIEW logs',
    'SET enable_external_access = true',
    `PRAGMA table_info('lake.${bare}.logs')`,
    `DESCRIBE lake.${bare}.logs`,
    `SUMMARIZE lake.${bare}.logs`,
    'INSTALL httpfs',
    `LOAD '/tmp/evil.duckdb_extension'`,
    `EXPORT DATABASE '/tmp/leak'`,
    // a CTE of the same name in an inner scope does not make the outer name a CTE
    `SELECT (WITH "s3://${cfg.S3_BUCKET}/${bare}/logs/data/**/*.parquet" AS (SELECT 1) SELECT 1) x, tenant_id, count(*) FROM "s3://${cfg.S3_BUCKET}/${bare}/logs/data/**/*.parquet" GROUP BY ALL`,
    `SELECT (WITH pg_settings AS (SELECT 1) SELECT 1) x, setting FROM pg_settings WHERE name = 'allowed_directories'`,
  ];
}
