import { CatalogClient } from './catalog-client.js';
import { evolveLogsTable, type Evolution } from './schema-evolution.js';
import { LAKE_TABLES } from '../schema/tables.js';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import type { Config } from '../config/schema.js';
import { registerUtcTransforms } from './utc-transforms.js';

/** Rows a partitioned write (an Iceberg commit) holds per open file before writing them out. */
export const PARTITIONED_WRITE_FLUSH_ROWS = 32_768;

/** The alias the Iceberg REST catalog is attached under in every DuckDB session. */
export const CATALOG = 'lake';

const sqlDir = fileURLToPath(new URL('../../sql/', import.meta.url));

/** Single-quoted SQL string literal. */
export function sqlString(s: string): string {
  return `'${s.replaceAll("'", "''")}'`;
}

/** Double-quoted SQL identifier. */
export function sqlIdent(s: string): string {
  return `"${s.replaceAll('"', '""')}"`;
}

/** `lake.<namespace>`: where the service's tables live. */
export function qualifiedNamespace(cfg: Pick<Config, 'ICEBERG_NAMESPACE'>): string {
  return `${CATALOG}.${sqlIdent(cfg.ICEBERG_NAMESPACE)}`;
}

/** The statements of a file under sql/, with {{ns}} replaced. */
export function readSqlFile(relPath: string, ns: string): string[] {
  return readFileSync(sqlDir + relPath, 'utf8')
    .replaceAll('{{ns}}', ns)
    .split(/;\s*(?:\n|$)/)
    .map((s) => s.replace(/^\s*--.*$/gm, '').trim())
    .filter(Boolean);
}

export interface LakeSession {
  instance: DuckDBInstance;
  connection: DuckDBConnection;
  close(): void;
}

export interface SessionOptions {
  /** DuckDB memory_limit in MB; unset leaves DuckDB's default */
  memoryLimitMb?: number | undefined;
  /** where DuckDB spills when over its memory limit (its default is `.tmp` in the working directory) */
  tempDirectory?: string | undefined;
  /** most DuckDB may spill to tempDirectory (max_temp_directory_size); unset leaves DuckDB's default */
  spillLimitMb?: number | undefined;
  threads?: number | undefined;
  /** compute Iceberg's day/month/year partition values by arithmetic in UTC (see utc-transforms.ts): for writers */
  utcPartitionTransforms?: boolean | undefined;
}

/**
 * An in-memory DuckDB with the httpfs, avro and iceberg extensions loaded from the local
 * extension directory (never downloaded unless DUCKDB_ALLOW_EXTENSION_DOWNLOAD), an S3
 * secret for the warehouse, and the REST catalog attached as `lake`.
 */
export async function openLakeSession(cfg: Config, opts: SessionOptions = {}): Promise<LakeSession> {
  const options: Record<string, string> = {
    autoinstall_known_extensions: String(cfg.DUCKDB_ALLOW_EXTENSION_DOWNLOAD),
    autoload_known_extensions: String(cfg.DUCKDB_ALLOW_EXTENSION_DOWNLOAD),
  };
  if (cfg.DUCKDB_EXTENSION_DIRECTORY) options.extension_directory = cfg.DUCKDB_EXTENSION_DIRECTORY;
  const memoryLimit = opts.memoryLimitMb ?? cfg.DUCKDB_MEMORY_LIMIT_MB;
  if (memoryLimit) options.memory_limit = `${memoryLimit}MB`;
  if (opts.tempDirectory) options.temp_directory = opts.tempDirectory;
  if (opts.spillLimitMb !== undefined) options.max_temp_directory_size = `${opts.spillLimitMb}MB`;
  const threads = opts.threads ?? cfg.DUCKDB_THREADS;
  if (threads) options.threads = String(threads);
  // DuckDB's allocator keeps freed pages of a query for seconds: hand them back after each task,
  // in background threads, so the appender's peak RSS follows its buffer (docs/benchmarks.md).
  options.allocator_flush_threshold = '0MB';
  options.allocator_background_threads = 'true';

  const instance = await DuckDBInstance.create(':memory:', options);
  const connection = await instance.connect();
  try {
    for (const ext of ['httpfs', 'avro', 'iceberg']) {
      try {
        await connection.run(`LOAD ${ext}`);
      } catch (e) {
        if (!cfg.DUCKDB_ALLOW_EXTENSION_DOWNLOAD) {
          throw new Error(
            `DuckDB extension '${ext}' could not be loaded from ${cfg.DUCKDB_EXTENSION_DIRECTORY ?? 'the default extension directory'} ` +
              `(set DUCKDB_EXTENSION_DIRECTORY, run 'npm run stack:up' to install it, or set DUCKDB_ALLOW_EXTENSION_DOWNLOAD=true): ${(e as Error).message}`,
          );
        }
        await connection.run(`INSTALL ${ext}; LOAD ${ext}`);
      }
    }
    await connection.run(`SET TimeZone = 'UTC'`);
    if (opts.utcPartitionTransforms) registerUtcTransforms(connection);
    // Each file written to S3 holds one multipart-upload part in memory, of size
    // s3_uploader_max_filesize / s3_uploader_max_parts, for every file open at once (one per
    // tenant_shard and day in a commit). 50 GiB gives parts just over S3's 5 MiB minimum and is far
    // above any data file we write.
    await connection.run(`SET s3_uploader_max_filesize = '50GiB'`);
    // A partitioned write keeps each open file's rows in memory until it has this many, and
    // DuckDB's default (524,288) asked more of the appender's memory limit than a commit beside
    // the next buffer's loads has: a commit that could not get it failed again and again. Files
    // then hold row groups of up to this many rows (docs/benchmarks.md).
    await connection.run(`SET partitioned_write_flush_threshold = ${PARTITIONED_WRITE_FLUSH_ROWS}`);
    const endpoint = new URL(cfg.S3_ENDPOINT);
    await connection.run(
      `CREATE OR REPLACE SECRET lake_s3 (TYPE s3, KEY_ID ${sqlString(cfg.S3_ACCESS_KEY)}, SECRET ${sqlString(cfg.S3_SECRET_KEY)}, ` +
        `REGION ${sqlString(cfg.S3_REGION)}, ENDPOINT ${sqlString(endpoint.host)}, URL_STYLE ${sqlString(cfg.S3_URL_STYLE)}, ` +
        `USE_SSL ${endpoint.protocol === 'https:'}, SCOPE ${sqlString(`s3://${cfg.S3_BUCKET}`)})`,
    );
    let auth = `, AUTHORIZATION_TYPE 'none'`;
    if (cfg.ICEBERG_CATALOG_TOKEN) {
      await connection.run(`CREATE OR REPLACE SECRET lake_catalog (TYPE iceberg, TOKEN ${sqlString(cfg.ICEBERG_CATALOG_TOKEN)})`);
      auth = `, SECRET lake_catalog`;
    }
    await connection.run(
      `ATTACH ${sqlString(cfg.ICEBERG_WAREHOUSE)} AS ${CATALOG} (TYPE iceberg, ENDPOINT ${sqlString(cfg.ICEBERG_CATALOG_URI)}${auth})`,
    );
  } catch (e) {
    connection.closeSync();
    instance.closeSync();
    throw e;
  }
  return {
    instance,
    connection,
    close() {
      connection.closeSync();
      instance.closeSync();
    },
  };
}

/**
 * Creates the namespace and the service's tables when missing, adds to an existing `logs` table
 * the columns it lacks and names its partition fields conventionally (idempotent; see
 * schema-evolution.ts). Returns what it changed.
 */
export async function ensureLakeTables(connection: DuckDBConnection, cfg: Config, catalog = new CatalogClient(cfg)): Promise<Evolution> {
  const ns = qualifiedNamespace(cfg);
  // Two appenders starting on a new lake at once both find a table missing; the catalog lets one
  // create it and answers the other "already exists" (409), which is what IF NOT EXISTS means.
  const create = (stmt: string) => connection.run(stmt).then(() => undefined, (e: Error) => {
    if (!/already exists/i.test(e.message)) throw e;
  });
  await create(`CREATE SCHEMA IF NOT EXISTS ${ns}`);
  for (const file of [LAKE_TABLES.logs.ddl, LAKE_TABLES.offsets.ddl, LAKE_TABLES.digests.ddl]) {
    for (const stmt of readSqlFile(file, ns)) await create(stmt);
  }
  return evolveLogsTable(catalog, cfg.ICEBERG_NAMESPACE, LAKE_TABLES.logs.name);
}
