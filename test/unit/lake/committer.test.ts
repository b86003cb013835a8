import type { DuckDBConnection } from '@duckdb/node-api';
import { describe, expect, it } from 'vitest';
import { LakehouseError } from '../../../src/core/errors.js';
import { IcebergCommitter } from '../../../src/lake/committer.js';
import { OffsetsTable } from '../../../src/lake/offsets-table.js';

/**
 * A stand-in for the DuckDB connection: answers the committer's statements from a small
 * model of the offsets table. `keep` decides whether a COMMIT the catalog acknowledged is kept.
 */
function fakeLake(keep: (batchId: string) => boolean, readBack: 'ok' | 'fails' = 'ok') {
  const batches = new Set<string>();
  let pending: string | undefined;
  const statements: string[] = [];
  const reader = (rows: unknown[][]) => ({ getRows: () => rows });
  const connection = {
    async run(sql: string) {
      statements.push(sql.split(' ')[0]!);
      const insert = /batch_id\) VALUES .*'([^']+)'\)$/.exec(sql);
      if (insert) pending = insert[1];
      if (sql === 'COMMIT' && pending) {
        if (keep(pending)) batches.add(pending);
        pending = undefined;
      }
      if (sql === 'ROLLBACK') pending = undefined;
    },
    async runAndReadAll(sql: string) {
      statements.push(sql.split(' ')[0]!);
      if (sql.includes('max(next_offset)')) return reader([]);
      if (sql.startsWith('INSERT')) return reader([[40n]]);
      const batch = /batch_id = '([^']+)'/.exec(sql);
      if (batch) {
        if (readBack === 'fails') throw new Error('IO Error: connection refused');
        return reader([[batches.has(batch[1]!) ? 1n : 0n]]);
      }
      throw new Error(`unexpected SQL: ${sql}`);
    },
  };
  return { connection: connection as unknown as DuckDBConnection, batches, statements };
}

const ranges = new Map([[0, { first: 0n, last: 39n }]]);
const committer = (c: DuckDBConnection) => new IcebergCommitter(c, 'lake.ns.logs', new OffsetsTable('lake.ns.appender_offsets', 'g', 't'));

describe('IcebergCommitter', () => {
  it('reads a commit back and returns the rows and offsets it recorded', async () => {
    const lake = fakeLake(() => true);
    const result = await committer(lake.connection).commit(ranges, 'batch-1');
    expect(result).toEqual({ rows: 40, committed: new Map([[0, 40n]]), alreadyCommitted: [] });
    expect(lake.batches.has('batch-1')).toBe(true);
  });

  it('treats a commit the catalog acknowledged but did not keep as a conflict, to be committed again', async () => {
    const lake = fakeLake(() => false);
    const err = await committer(lake.connection).commit(ranges, 'batch-2').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LakehouseError);
    expect((err as LakehouseError).code).toBe('COMMIT_CONFLICT');
    expect((err as Error).message).toMatch(/acknowledged by the catalog but batch batch-2 is not in the offsets table/);
  });

  it('leaves the outcome unknown when the read-back itself fails', async () => {
    const lake = fakeLake(() => true, 'fails');
    const err = await committer(lake.connection).commit(ranges, 'batch-3').catch((e: unknown) => e);
    expect((err as LakehouseError).code).toBe('COMMIT_UNKNOWN');
    expect((err as LakehouseError).kind).toBe('unknown-outcome');
  });
});
