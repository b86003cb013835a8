import type { DuckDBConnection } from '@duckdb/node-api';
import { describe, expect, it } from 'vitest';
import { LakehouseError } from '../../../src/core/errors.js';
import type { CatalogClient, SnapshotInfo } from '../../../src/lake/catalog-client.js';
import { DuckDBInstance } from '@duckdb/node-api';
import { DEFAULT_FILE_LAYOUT, IcebergCommitter, MAX_PARTITIONS_PER_WRITE, planShards, shardExpression, WRITE_LIMIT_RECOVERY_COMMITS } from '../../../src/lake/committer.js';
import { OffsetsTable } from '../../../src/lake/offsets-table.js';
import { seededRandom } from '../../helpers/prng.js';

/**
 * A stand-in for the DuckDB connection and the catalog: a small model of the offsets table as a
 * chain of snapshots, each with the batch its data file holds. `keep` decides whether a COMMIT
 * the catalog acknowledged is kept; `tenants` is what the buffer holds: rows and days per tenant.
 */
function fakeLake(keep: (batchId: string) => boolean, readBack: 'ok' | 'fails' = 'ok', tenants: [string, number, string[]][] = [['acme', 40, ['2025-11-22']]], keepRows: (commit: number) => boolean = () => true) {
  const snapshots = new Map<string, SnapshotInfo & { batch?: string }>();
  let current: string | undefined;
  let nextId = 1;
  let pending: string | undefined;
  const statements: string[] = [];
  const inserts: string[] = [];
  const reader = (rows: unknown[][]) => ({ getRows: () => rows, getRowsJson: () => rows });
  // the logs table: a chain of its own, each snapshot with the rows it added
  const logs = new Map<string, SnapshotInfo>();
  let logsCurrent: string | undefined;
  let pendingRows = 0;
  let commits = 0;
  const addLogsSnapshot = (rows: number) => {
    const id = `logs-${nextId++}`;
    logs.set(id, { id, parentId: logsCurrent, manifestList: `list-${id}`, operation: 'append', summary: { operation: 'append', 'added-records': String(rows) } });
    logsCurrent = id;
  };
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
      if (sql === 'COMMIT') {
        if (pendingRows > 0 && keepRows(commits++)) addLogsSnapshot(pendingRows);
        if (pending && keep(pending)) addSnapshot('append', pending);
        pending = undefined;
        pendingRows = 0;
      }
      if (sql === 'ROLLBACK') {
        pending = undefined;
        pendingRows = 0;
      }
    },
    async runAndReadAll(sql: string) {
      statements.push(sql.includes('max(next_offset)') ? 'LOAD_OFFSETS' : sql.split(' ')[0]!);
      if (sql.includes('max(next_offset)')) return reader([]);
      if (sql.startsWith('SELECT tenant_id, count(*), list(DISTINCT')) return reader(tenants.map(([t, n, d]) => [t, String(n), d.map((day) => String(Date.parse(day) / 86_400_000))]));
      if (sql.startsWith('INSERT')) {
        inserts.push(sql);
        pendingRows += 40;
        return reader([[40n]]);
      }
      if (readBack === 'fails') throw new Error('IO Error: connection refused');
      const has = /^SELECT count\(\*\) FROM lake\.ns\.appender_offsets WHERE batch_id = '([^']+)'$/.exec(sql);
      if (has) return reader([[BigInt([...snapshots.values()].filter((x) => x.batch === has[1]).length)]]);
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
    async snapshots(_ns: string, table: string) {
      if (table === 'logs') return { current: logsCurrent, byId: new Map(logs) };
      if (readBack === 'fails' && current !== undefined) throw new Error('catalog unreachable');
      return { current, byId: new Map(snapshots) };
    },
  };
  return { connection: connection as unknown as DuckDBConnection, catalog: catalog as unknown as CatalogClient, snapshots, statements, inserts, addSnapshot, logs, batches: () => [...snapshots.values()].map((s) => s.batch).filter(Boolean) };
}

/** The first read of the logs table after a COMMIT fails, as when the commit's answer is lost. */
function loseFirstLogsReadBack(lake: ReturnType<typeof fakeLake>): void {
  const realSnapshots = lake.catalog.snapshots.bind(lake.catalog);
  let logsReads = 0;
  (lake.catalog as unknown as { snapshots: typeof realSnapshots }).snapshots = async (ns: string, table: string) => {
    if (table === 'logs' && lake.statements.includes('COMMIT') && logsReads++ === 0) throw new Error('catalog unreachable');
    return realSnapshots(ns, table);
  };
}

const SOURCE = { rows: 'appender_buffer.buffer_logs_1', scopes: 'appender_buffer.buffer_scopes_1' };
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

  it('commits the rows again by themselves when the catalog kept the offsets of a commit and not its rows', async () => {
    const lake = fakeLake(() => true, 'ok', undefined, (commit) => commit > 0);
    const result = await committer(lake).commit(SOURCE, ranges(0n, 39n), 'batch-r');
    expect(result.rows).toBe(40);
    expect(lake.batches()).toEqual(['batch-r']);
    expect([...lake.logs.values()].map((s) => s.summary['added-records'])).toEqual(['40']);
    expect(lake.statements.filter((s) => s === 'COMMIT')).toHaveLength(2);
  });

  it('after an unknown outcome, a batch whose offsets landed without its rows has its rows committed before it counts as landed', async () => {
    const lake = fakeLake(() => true, 'ok', undefined, (commit) => commit > 0);
    const c = committer(lake);
    // the commit lands half, and its answer is lost: the read-back of the logs table fails once
    loseFirstLogsReadBack(lake);
    const err = await c.commit(SOURCE, ranges(0n, 39n), 'batch-u').catch((e: unknown) => e);
    expect((err as LakehouseError).code).toBe('COMMIT_UNKNOWN');
    expect(lake.logs.size).toBe(0);
    expect(await c.landed('batch-u')).toBe(true);
    expect([...lake.logs.values()].map((s) => s.summary['added-records'])).toEqual(['40']);
    expect(await c.landed('batch-u')).toBe(true);
    expect(lake.logs.size).toBe(1);
  });

  it('the same batch committed again after an unknown outcome whose offsets landed without its rows writes the rows, not nothing', async () => {
    const lake = fakeLake(() => true, 'ok', undefined, (commit) => commit > 0);
    const c = committer(lake);
    loseFirstLogsReadBack(lake);
    await expect(c.commit(SOURCE, ranges(0n, 39n), 'batch-v')).rejects.toThrow(/reading the logs table back/);
    const again = await c.commit(SOURCE, ranges(0n, 39n), 'batch-v');
    expect(again).toEqual({ rows: 40, committed: new Map([[0, 40n]]), alreadyCommitted: [] });
    expect([...lake.logs.values()].map((s) => s.summary['added-records'])).toEqual(['40']);
    expect(lake.batches()).toEqual(['batch-v']);
  });

  it('over 400 generated batches whose commits the catalog keeps whole, loses whole or keeps only the offsets of, with read-backs that fail at random: every batch once, rows and offsets', async () => {
    const random = seededRandom('committer read-back');
    // each COMMIT's fate, drawn as the catalog applies it (rows first, then offsets)
    let fate: 'whole' | 'lost' | 'offsets-only' = 'whole';
    const lake = fakeLake(
      () => fate !== 'lost',
      'ok',
      undefined,
      () => {
        const r = random();
        fate = r < 0.6 ? 'whole' : r < 0.8 ? 'lost' : 'offsets-only';
        return fate === 'whole';
      },
    );
    // the catalog's answers to reads are lost at random (before and after the commit)
    const realSnapshots = lake.catalog.snapshots.bind(lake.catalog);
    (lake.catalog as unknown as { snapshots: typeof realSnapshots }).snapshots = async (ns: string, table: string) => {
      if (random() < 0.15) throw new Error('catalog unreachable');
      return realSnapshots(ns, table);
    };
    const c = committer(lake);
    const BATCHES = 400;
    let next = 0n;
    const outcomes = new Map<string, number>();
    for (let b = 0; b < BATCHES; b++) {
      const id = `g${b}`;
      const range = ranges(next, next + 39n);
      next += 40n;
      // as the pipeline does: a conflict is committed again; an unknown outcome is looked up first
      for (let tries = 0; ; tries++) {
        expect(tries, `batch ${id}`).toBeLessThan(200);
        try {
          await c.commit(SOURCE, range, id);
          break;
        } catch (e) {
          const code = (e as LakehouseError).code;
          outcomes.set(code, (outcomes.get(code) ?? 0) + 1);
          if (code === 'COMMIT_UNKNOWN' && (await c.landed(id).catch(() => false))) break;
        }
      }
    }
    expect(lake.batches().sort()).toEqual(Array.from({ length: BATCHES }, (_, b) => `g${b}`).sort());
    const added = [...lake.logs.values()].reduce((n, s) => n + Number(s.summary['added-records']), 0);
    expect(added).toBe(BATCHES * 40);
    // the generator reached every path
    expect(outcomes.get('COMMIT_CONFLICT') ?? 0).toBeGreaterThan(0);
    expect(outcomes.get('COMMIT_UNKNOWN') ?? 0).toBeGreaterThan(0);
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

  it('writes a buffer of many partitions in INSERTs of at most MAX_PARTITIONS_PER_WRITE partitions each, in one transaction', async () => {
    // 130 tenants large enough for files of their own, of one day, one of three days, and 50 small
    // tenants of one day in one shared range: 134 partitions
    const big: [string, number, string[]][] = Array.from({ length: 130 }, (_, i) => [`t${String(i).padStart(3, '0')}`, DEFAULT_FILE_LAYOUT.ownFileMinRows, ['2025-11-22']]);
    big.splice(70, 0, ['t069b', 5000, ['2025-11-20', '2025-11-21', '2025-11-22']]);
    const small: [string, number, string[]][] = Array.from({ length: 50 }, (_, i) => [`u${String(i).padStart(3, '0')}`, 10, ['2025-11-22']]);
    const lake = fakeLake(() => true, 'ok', [...big, ...small]);
    const result = await committer(lake).commit(SOURCE, ranges(0n, 39n), 'b1');
    expect(result.rows).toBe(40 * lake.inserts.length);
    const groups = lake.inserts.map((sql) => [...(/WHERE "tenant_shard" IN \(([^)]*)\)/.exec(sql)?.[1] ?? '').matchAll(/'([^']+)'/g)].map((m) => m[1]!));
    expect(groups.map((g) => g.length)).toEqual([64, 62, 6]);
    expect(groups.flat().sort()).toEqual([...big.map(([t]) => t), '~u000'].sort());
    const days = new Map([...big.map(([t, , d]) => [t, d.length] as const), ['~u000', 1]]);
    for (const g of groups) expect(g.reduce((n, t) => n + days.get(t)!, 0)).toBeLessThanOrEqual(MAX_PARTITIONS_PER_WRITE);
    expect(lake.statements.filter((x) => x === 'BEGIN').length).toBe(1);
    expect(lake.statements.filter((x) => x === 'COMMIT').length).toBe(1);
  });

  it('writes fewer partitions per INSERT after a commit ran out of memory, and more again once commits land', async () => {
    const tenants: [string, number, string[]][] = ['a', 'b', 'c', 'd'].map((t) => [t, 5000, ['2025-11-22']]);
    const lake = fakeLake(() => true, 'ok', tenants);
    const partitionsOf = (sql: string) => [...(/WHERE "tenant_shard" IN \(([^)]*)\)/.exec(sql)?.[1] ?? "'a','b','c','d'").matchAll(/'/g)].length / 2;
    // DuckDB runs out of memory writing more than one partition at once
    const realRead = lake.connection.runAndReadAll.bind(lake.connection);
    (lake.connection as unknown as { runAndReadAll: (sql: string) => Promise<unknown> }).runAndReadAll = async (sql: string) => {
      if (sql.startsWith('INSERT INTO lake.ns.logs') && partitionsOf(sql) > 1) throw new Error('Out of Memory Error: failed to allocate data of size 864.0 KiB (94.8 MiB/95.3 MiB used)');
      return realRead(sql);
    };
    const c = committer(lake);
    let next = 0n;
    const commit = () => c.commit(SOURCE, ranges(next, (next += 40n) - 1n), `b${next}`);
    expect(c.partitionsPerWrite).toBe(MAX_PARTITIONS_PER_WRITE);
    await expect(commit()).rejects.toThrow(/Out of Memory/);
    expect(c.partitionsPerWrite).toBe(2);
    next -= 40n;
    await expect(commit()).rejects.toThrow(/Out of Memory/);
    expect(c.partitionsPerWrite).toBe(1);
    next -= 40n;
    lake.inserts.length = 0;
    expect((await commit()).rows).toBe(4 * 40);
    expect(lake.inserts.map(partitionsOf)).toEqual([1, 1, 1, 1]);
    for (let i = 1; i < WRITE_LIMIT_RECOVERY_COMMITS; i++) await commit();
    expect(c.partitionsPerWrite).toBe(2);
  });

  it('writes a buffer that fits in one write with one INSERT of every row', async () => {
    const lake = fakeLake(() => true, 'ok', [['acme', 20, ['2025-11-21', '2025-11-22']], ['beta', 20, ['2025-11-22']]]);
    await committer(lake).commit(SOURCE, ranges(0n, 39n), 'b1');
    expect(lake.inserts).toHaveLength(1);
    expect(lake.inserts[0]).not.toMatch(/WHERE "tenant_shard" IN/);
  });
});

describe('the file layout of a commit (tenant_shard)', () => {
  const layout = { ownFileMinRows: 100, sharedFileRows: 250 };
  const day = ['2025-11-22'];

  it('gives a tenant of ownFileMinRows rows or more files of its own, and puts the others in ranges of consecutive tenants of at most sharedFileRows rows', () => {
    const tenants = [['a', 40], ['b', 100], ['c', 99], ['d', 120], ['e', 60], ['f', 60], ['g', 99], ['h', 1]] as const;
    const shards = planShards(tenants.map(([tenant, rows]) => ({ tenant, rows, days: day })), layout);
    // shared: a, c, e make 199 rows; f would take them to 259, so it starts the next range
    expect(shards.map((s) => [s.value, s.tenants])).toEqual([['b', ['b']], ['d', ['d']], ['~a', ['a', 'c', 'e']], ['~f', ['f', 'g', 'h']]]);
  });

  it('a range holds the days of all its tenants; a tenant of several days adds each', () => {
    const shards = planShards([{ tenant: 'a', rows: 1, days: ['2025-11-21'] }, { tenant: 'b', rows: 1, days: ['2025-11-22', '2025-11-21'] }], layout);
    expect(shards).toHaveLength(1);
    expect([...shards[0]!.days].sort()).toEqual(['2025-11-21', '2025-11-22']);
  });

  it('the SQL expression puts each tenant where the plan says, in DuckDB', async () => {
    const ids = Array.from({ length: 40 }, (_, i) => `tenant-${i}`).sort();
    const rows = (t: string) => (t.endsWith('7') ? 150 : 30);
    const shards = planShards(ids.map((tenant) => ({ tenant, rows: rows(tenant), days: day })), layout);
    expect(shards.filter((s) => s.value.startsWith('~')).length).toBeGreaterThan(2);
    const db = await DuckDBInstance.create(':memory:');
    const c = await db.connect();
    try {
      const values = ids.map((t) => `('${t}')`).join(', ');
      const got = (await c.runAndReadAll(`SELECT tenant_id, ${shardExpression(shards)} FROM (VALUES ${values}) v(tenant_id) ORDER BY tenant_id`)).getRows();
      const want = new Map(shards.flatMap((s) => s.tenants.map((t) => [t, s.value] as const)));
      expect(got.map(([t, s]) => [t, s])).toEqual(ids.map((t) => [t, want.get(t)]));
    } finally {
      c.closeSync();
      db.closeSync();
    }
  });
});
