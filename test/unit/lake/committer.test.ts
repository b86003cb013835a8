import type { DuckDBConnection } from '@duckdb/node-api';
import { describe, expect, it } from 'vitest';
import { LakehouseError } from '../../../src/core/errors.js';
import type { CatalogClient, SnapshotInfo } from '../../../src/lake/catalog-client.js';
import { IcebergCommitter, MAX_PARTITIONS_PER_WRITE } from '../../../src/lake/committer.js';
import { OffsetsTable } from '../../../src/lake/offsets-table.js';

/**
 * A stand-in for the DuckDB connection and the catalog: a small model of the offsets table as a
 * chain of snapshots, each with the batch its data file holds. `keep` decides whether a COMMIT
 * the catalog acknowledged is kept; `tenantDays` is what the buffer holds: days per tenant.
 */
function fakeLake(keep: (batchId: string) => boolean, readBack: 'ok' | 'fails' = 'ok', tenantDays: [string, bigint][] = [['acme', 1n]]) {
  const snapshots = new Map<string, SnapshotInfo & { batch?: string }>();
  let current: string | undefined;
  let nextId = 1;
  let pending: string | undefined;
  const statements: string[] = [];
  const inserts: string[] = [];
  const reader = (rows: unknown[][]) => ({ getRows: () => rows });
  const addSnapshot = (operation: string, batch?: string) => {
    const id = String(nextId++);
    snapshots.set(id, { id, parentId: current, manifestList: `list-${id}`, operation, summary: { operation }, batch });
    current = id;
  };
  const connection = {
    async run(sql: string) {
      statements.push(sql.split(' ')[0]!);
      const insert = /batch_id\) VALUES .*'([^']+)'\)$/.exec(sql);
      if (insert) pending = insert[1];
      if (sql === 'COMMIT' && pending) {
        if (keep(pending)) addSnapshot('append', pending);
        pending = undefined;
      }
      if (sql === 'ROLLBACK') pending = undefined;
    },
    async runAndReadAll(sql: string) {
      statements.push(sql.includes('max(next_offset)') ? 'LOAD_OFFSETS' : sql.split(' ')[0]!);
      if (sql.includes('max(next_offset)')) return reader([]);
      if (sql.startsWith('SELECT tenant_id, count(DISTINCT')) return reader(tenantDays);
      if (sql.startsWith('INSERT')) {
        inserts.push(sql);
        return reader([[40n]]);
      }
      if (readBack === 'fails') throw new Error('IO Error: connection refused');
      const list = /read_avro\('list-(\d+)'\)/.exec(sql);
      if (list) return reader([[`manifest-${list[1]}`]]);
      const manifest = /read_avro\('manifest-(\d+)'\)/.exec(sql);
      if (manifest) return reader([[`file-${manifest[1]}`]]);
      const parquet = /read_parquet\(\['file-(\d+)'\]\) WHERE batch_id = '([^']+)'/.exec(sql);
      if (parquet) return reader([[snapshots.get(parquet[1]!)?.batch === parquet[2] ? 1n : 0n]]);
      throw new Error(`unexpected SQL: ${sql}`);
    },
  };
  const catalog = {
    async snapshots() {
      if (readBack === 'fails' && current !== undefined) throw new Error('catalog unreachable');
      return { current, byId: new Map(snapshots) };
    },
  };
  return { connection: connection as unknown as DuckDBConnection, catalog: catalog as unknown as CatalogClient, snapshots, statements, inserts, addSnapshot, batches: () => [...snapshots.values()].map((s) => s.batch).filter(Boolean) };
}

const SOURCE = 'appender_buffer.buffer_logs_1';
const ranges = (first: bigint, last: bigint) => new Map([[0, { first, last }]]);
const committer = (lake: ReturnType<typeof fakeLake>) =>
  new IcebergCommitter(lake.connection, 'lake.ns.logs', new OffsetsTable('lake.ns.appender_offsets', 'g', 't'), lake.catalog, 'ns');

describe('IcebergCommitter', () => {
  it('reads a commit back and returns the rows and offsets it recorded', async () => {
    const lake = fakeLake(() => true);
    const result = await committer(lake).commit(SOURCE, ranges(0n, 39n), 'batch-1');
    expect(result).toEqual({ rows: 40, committed: new Map([[0, 40n]]), alreadyCommitted: [] });
    expect(lake.batches()).toEqual(['batch-1']);
  });

  it('treats a commit the catalog acknowledged but did not keep as a conflict, to be committed again', async () => {
    const lake = fakeLake(() => false);
    const err = await committer(lake).commit(SOURCE, ranges(0n, 39n), 'batch-2').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LakehouseError);
    expect((err as LakehouseError).code).toBe('COMMIT_CONFLICT');
    expect((err as Error).message).toMatch(/acknowledged by the catalog but batch batch-2 is not in the offsets table/);
  });

  it('treats a new snapshot of another writer, based on ours, as a lost commit', async () => {
    let calls = 0;
    const lake = fakeLake(() => false);
    const c = committer(lake);
    // Another writer commits on the same base while ours is lost.
    const realRun = lake.connection.run.bind(lake.connection);
    (lake.connection as unknown as { run: (sql: string) => Promise<unknown> }).run = async (sql: string) => {
      if (sql === 'COMMIT' && calls++ === 0) lake.addSnapshot('append', 'someone-else');
      return realRun(sql);
    };
    const err = await c.commit(SOURCE, ranges(0n, 39n), 'batch-x').catch((e: unknown) => e);
    expect((err as LakehouseError).code).toBe('COMMIT_CONFLICT');
  });

  it('leaves the outcome unknown when the read-back itself fails', async () => {
    const lake = fakeLake(() => true, 'fails');
    const err = await committer(lake).commit(SOURCE, ranges(0n, 39n), 'batch-3').catch((e: unknown) => e);
    expect((err as LakehouseError).code).toBe('COMMIT_UNKNOWN');
    expect((err as LakehouseError).kind).toBe('unknown-outcome');
  });

  it('reads the offsets table only when another writer committed since its own last commit', async () => {
    const lake = fakeLake(() => true);
    const c = committer(lake);
    const loads = () => lake.statements.filter((s) => s === 'LOAD_OFFSETS').length;
    await c.commit(SOURCE, ranges(0n, 39n), 'b1');
    expect(loads()).toBe(1); // nothing known yet
    await c.commit(SOURCE, ranges(40n, 79n), 'b2');
    await c.commit(SOURCE, ranges(80n, 119n), 'b3');
    expect(loads()).toBe(1); // its own snapshots: nothing to read
    lake.addSnapshot('replace'); // the maintainer compacted the table: same rows
    await c.commit(SOURCE, ranges(120n, 159n), 'b4');
    expect(loads()).toBe(1);
    lake.addSnapshot('append', 'other-writer'); // another appender committed
    await c.commit(SOURCE, ranges(160n, 199n), 'b5');
    expect(loads()).toBe(2);
    expect(c.stats).toEqual({ offsetReads: 2, offsetCacheHits: 3 });
  });

  it('leaves out what the lake already holds, from what it remembers', async () => {
    const lake = fakeLake(() => true);
    const c = committer(lake);
    await c.commit(SOURCE, ranges(0n, 39n), 'b1');
    // The same range again (read twice after a retry): already committed, nothing written.
    const again = await c.commit(SOURCE, ranges(0n, 39n), 'b2');
    expect(again).toEqual({ rows: 0, committed: new Map(), alreadyCommitted: [0] });
    expect(lake.batches()).toEqual(['b1']);
  });

  it('writes a buffer of many tenants in INSERTs of at most MAX_PARTITIONS_PER_WRITE partitions each, in one transaction', async () => {
    // 130 tenants of one day, one of three days: 133 partitions
    const tenantDays: [string, bigint][] = Array.from({ length: 130 }, (_, i) => [`t${String(i).padStart(3, '0')}`, 1n]);
    tenantDays.splice(70, 0, ['t069b', 3n]);
    const lake = fakeLake(() => true, 'ok', tenantDays);
    const result = await committer(lake).commit(SOURCE, ranges(0n, 39n), 'b1');
    expect(result.rows).toBe(40 * lake.inserts.length);
    const groups = lake.inserts.map((sql) => [...(/tenant_id IN \(([^)]*)\)/.exec(sql)?.[1] ?? '').matchAll(/'([^']+)'/g)].map((m) => m[1]!));
    expect(groups.map((g) => g.length)).toEqual([64, 62, 5]);
    expect(groups.flat().sort()).toEqual(tenantDays.map(([t]) => t).sort());
    for (const g of groups) {
      const partitions = g.reduce((n, t) => n + Number(tenantDays.find(([x]) => x === t)![1]), 0);
      expect(partitions).toBeLessThanOrEqual(MAX_PARTITIONS_PER_WRITE);
    }
    expect(lake.statements.filter((x) => x === 'BEGIN').length).toBe(1);
    expect(lake.statements.filter((x) => x === 'COMMIT').length).toBe(1);
  });

  it('writes a buffer that fits in one write with one INSERT of every row', async () => {
    const lake = fakeLake(() => true, 'ok', [['acme', 2n], ['beta', 1n]]);
    await committer(lake).commit(SOURCE, ranges(0n, 39n), 'b1');
    expect(lake.inserts).toHaveLength(1);
    expect(lake.inserts[0]).not.toMatch(/tenant_id IN/);
  });
});
