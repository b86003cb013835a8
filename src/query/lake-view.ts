import type { DuckDBConnection } from '@duckdb/node-api';
import { TENANT_ID_PATTERN, type Config } from '../config/schema.js';
import { CatalogClient } from '../lake/catalog-client.js';
import { qualifiedNamespace, sqlString } from '../lake/session.js';
import { LAKE_TABLES, TENANT_SHARD_COLUMN } from '../schema/tables.js';
import { QueryError } from './query-error.js';

/**
 * Creates the `logs` view: every row, or one tenant's rows when `tenant` is given. The layout
 * column is left out: it says which files a row went into, and in a shared file it names
 * another tenant (TENANT_SHARD_COLUMN).
 */
export async function createLogsView(connection: DuckDBConnection, cfg: Config, tenant?: string): Promise<void> {
  let where = '';
  if (tenant !== undefined) {
    if (!TENANT_ID_PATTERN.test(tenant)) throw new QueryError(`tenant '${tenant}' does not match ${TENANT_ID_PATTERN}`);
    where = ` WHERE tenant_id = ${sqlString(tenant)}`;
  }
  await connection.run(`CREATE OR REPLACE TEMP VIEW logs AS SELECT COLUMNS(c -> c <> ${sqlString(TENANT_SHARD_COLUMN)}) FROM ${qualifiedNamespace(cfg)}.${LAKE_TABLES.logs.name}${where}`);
}

/**
 * After the view is built: no file or network access outside the logs table's own files, and
 * no way to change that (the trusted engine of a tenant's query runs only the service's own SQL; this keeps it to the table even so).
 */
export async function lockDown(connection: DuckDBConnection, cfg: Config): Promise<void> {
  const location = await new CatalogClient(cfg).tableLocation(cfg.ICEBERG_NAMESPACE, LAKE_TABLES.logs.name);
  await connection.run(`SET allowed_directories = [${sqlString(location.replace(/\/?$/, '/'))}]`);
  await connection.run('SET enable_external_access = false');
  await connection.run('SET lock_configuration = true');
}
