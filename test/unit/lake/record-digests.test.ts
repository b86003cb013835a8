import { DuckDBInstance } from '@duckdb/node-api';
import { describe, expect, it } from 'vitest';
import { copiesCondition, copiesQuery, DIGEST_COLUMNS, earliestQuery, recordDigest } from '../../../src/lake/record-digests.js';
import { seededRandom } from '../../helpers/prng.js';

interface Rec {
  digest: string;
  receivedUs: number;
  partition: number;
  offset: number;
}

const MINUTE_US = 60_000_000;
const WINDOW_MS = 60 * 60_000;

/** What the commit must leave out, by the rule the docs state, computed without SQL. */
function expectedCopies(batch: Rec[], lake: Rec[], covered: Map<number, number>): string[] {
  const order = (a: Rec, b: Rec) => a.receivedUs - b.receivedUs || a.partition - b.partition || a.offset - b.offset;
  const out: string[] = [];
  for (const b of batch) {
    const earlier = batch.some((o) => o !== b && o.digest === b.digest && order(o, b) < 0 && o.receivedUs >= b.receivedUs - WINDOW_MS * 1000);
    const stored = lake.some((s) => s.digest === b.digest && s.receivedUs >= b.receivedUs - WINDOW_MS * 1000 && s.offset < (covered.get(s.partition) ?? 0));
    if (earlier || stored) out.push(`${b.partition}:${b.offset}`);
  }
  return out.sort();
}

describe('record digests', () => {
  it('a digest covers tenant and bytes: the same bytes of another tenant, or one byte more, differ', () => {
    const v = Buffer.from('request');
    expect(recordDigest('acme', v)).toMatch(/^[0-9a-f]{32}$/);
    expect(recordDigest('acme', v)).toBe(recordDigest('acme', Buffer.from('request')));
    expect(recordDigest('beta', v)).not.toBe(recordDigest('acme', v));
    expect(recordDigest('acme', Buffer.from('request!'))).not.toBe(recordDigest('acme', v));
    // the NUL keeps tenant and value apart: ('ab', 'c') is not ('a', 'bc')
    expect(recordDigest('ab', Buffer.from('c'))).not.toBe(recordDigest('a', Buffer.from('bc')));
  });

  it('finds exactly the copies the rule names, over 300 generated batches against a lake of earlier digests', { timeout: 60_000 }, async () => {
    const random = seededRandom('record digests');
    const db = await DuckDBInstance.create(':memory:');
    const c = await db.connect();
    const cols = DIGEST_COLUMNS.map(([n, t]) => `${n} ${t}`).join(', ');
    try {
      for (let round = 0; round < 300; round++) {
        await c.run(`CREATE OR REPLACE TABLE batch (${cols})`);
        await c.run(`CREATE OR REPLACE TABLE lake (${cols})`);
        const digests = Array.from({ length: 1 + Math.floor(random() * 12) }, (_, i) => `d${round}-${i}`);
        const pick = () => digests[Math.floor(random() * digests.length)]!;
        const now = 1_800_000_000_000_000 + Math.floor(random() * 1000) * MINUTE_US;
        const partitions = 1 + Math.floor(random() * 3);
        const covered = new Map<number, number>();
        const lake: Rec[] = [];
        for (let p = 0; p < partitions; p++) {
          const next = Math.floor(random() * 40);
          if (random() < 0.8) covered.set(p, next);
          // digests of stored records, some at offsets the offsets table does not cover (a commit rolled back)
          for (let o = 0; o < next + 5; o++) if (random() < 0.5) lake.push({ digest: pick(), receivedUs: now - Math.floor(random() * 150) * MINUTE_US, partition: p, offset: o });
        }
        const batch: Rec[] = [];
        const ranges = new Map<number, [number, number]>();
        for (let p = 0; p < partitions; p++) {
          const first = (covered.get(p) ?? 0) + Math.floor(random() * 3);
          const count = Math.floor(random() * 30);
          for (let o = first; o < first + count; o++) batch.push({ digest: pick(), receivedUs: now + Math.floor(random() * (random() < 0.5 ? 10 : 150)) * MINUTE_US, partition: p, offset: o });
          if (count > 0) ranges.set(p, [first + Math.floor(random() * 2), first + count - 1 - Math.floor(random() * 2)]);
        }
        const insert = (table: string, rows: Rec[]) =>
          rows.length === 0 ? Promise.resolve() : c.run(`INSERT INTO ${table} SELECT record_digest, tenant_id, make_timestamptz(received_at), kafka_partition, kafka_offset FROM (VALUES ${rows.map((r) => `('${r.digest}', 'acme', ${r.receivedUs}::BIGINT, ${r.partition}, ${r.offset})`).join(', ')}) t(record_digest, tenant_id, received_at, kafka_partition, kafka_offset)`);
        await insert('batch', batch);
        await insert('lake', lake);
        const where = [...ranges].map(([p, [a, b]]) => `(kafka_partition = ${p} AND kafka_offset BETWEEN ${a} AND ${b})`).join(' OR ') || 'false';
        const selected = batch.filter((r) => ranges.has(r.partition) && r.offset >= ranges.get(r.partition)![0] && r.offset <= ranges.get(r.partition)![1]);
        const [earliest, records] = (await c.runAndReadAll(earliestQuery('batch', where))).getRows()[0]!;
        expect(Number(records)).toBe(selected.length);
        if (selected.length === 0) {
          expect(earliest).toBeNull();
          continue;
        }
        const found = (await c.runAndReadAll(copiesQuery('batch', 'lake', where, WINDOW_MS, BigInt(earliest as bigint), new Map([...covered].map(([p, n]) => [p, BigInt(n)])))))
          .getRows()
          .map(([p, o]) => `${p}:${o}`);
        expect(found.sort(), `round ${round}`).toEqual(expectedCopies(selected, lake, covered));
        // the condition built from them selects exactly their rows
        const copies = found.map((k) => k.split(':')).map(([p, o]) => [Number(p), BigInt(o!)] as const);
        const kept = Number((await c.runAndReadAll(`SELECT count(*) FROM batch WHERE (${where}) AND NOT (${copiesCondition(copies)})`)).getRows()[0]![0]);
        expect(kept).toBe(selected.length - found.length);
      }
    } finally {
      c.closeSync();
      db.closeSync();
    }
  });
});
