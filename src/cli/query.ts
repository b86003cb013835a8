#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { ConfigError, loadConfig } from '../config/load.js';
import { formatResult, QueryError, runQuery, type OutputFormat } from '../query/query.js';

const USAGE = `usage: npm run query -- [--tenant T] [--format table|json|csv] "<SQL>" | --file query.sql

Runs DuckDB SQL over the Iceberg tables. The view \`logs\` is otel.logs (one tenant's rows with
--tenant); the catalog is attached as \`lake\`, so lake.otel.logs names the table itself.`;

async function main(): Promise<number> {
  let args;
  try {
    args = parseArgs({
      allowPositionals: true,
      options: {
        tenant: { type: 'string' },
        format: { type: 'string', default: 'table' },
        file: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (e) {
    process.stderr.write(`query: ${(e as Error).message}\n${USAGE}\n`);
    return 2;
  }
  const { values, positionals } = args;
  if (values.help) {
    process.stdout.write(USAGE + '\n');
    return 0;
  }
  const format = values.format as OutputFormat;
  if (!['table', 'json', 'csv'].includes(format)) {
    process.stderr.write(`query: --format must be table, json or csv (got '${format}')\n`);
    return 2;
  }
  const sql = values.file ? readFileSync(values.file, 'utf8') : positionals.join(' ');
  if (!sql.trim()) {
    process.stderr.write(`query: no SQL given\n${USAGE}\n`);
    return 2;
  }
  let cfg;
  try {
    cfg = loadConfig();
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    process.stderr.write(`query: ${e.message}\n`);
    return 2;
  }
  try {
    const result = await runQuery(cfg, sql, values.tenant);
    process.stdout.write(formatResult(result, format));
    return 0;
  } catch (e) {
    if (e instanceof QueryError) {
      process.stderr.write(`query: ${e.message}\n`);
      return 1;
    }
    process.stderr.write(`query: could not run the query: ${(e as Error).message}\n`);
    return 1;
  }
}

process.exitCode = await main();
