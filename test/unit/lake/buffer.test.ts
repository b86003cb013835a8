import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { describe, expect, it } from 'vitest';
import { bufferRows, LogBuffer } from '../../../src/lake/buffer.js';
import { recordDigest } from '../../../src/lake/record-digests.js';
import { sqlString } from '../../../src/lake/session.js';
import { encodeLogsRequest } from '../../../src/otlp/codec.js';
import { kv } from '../../helpers/otlp.js';

const TIME = 1_700_000_000_123_456_789n;

function request(attributes: [string, string][], body = 'b') {
  return encodeLogsRequest({
    resourceLogs: [{
      resource: { attributes: [kv('service.name', 'svc'), kv('k8s.pod.name', 'p')] },
      scopeLogs: [{ logRecords: [{ timeUnixNano: TIME.toString(), severityNumber: 9, body: { stringValue: body }, attributes: attributes.map(([k, v]) => kv(k, v)) }, {}] }],
    }],
  } as never);
}

async function buffer(digests = false) {
  const db = await DuckDBInstance.create(':memory:');
  const c = await db.connect();
  const b = new LogBuffer(c, undefined, undefined, digests);
  await b.init();
  return { b, c };
}

const asObject = (entries: { key: string; value: string }[]) => Object.fromEntries(entries.map((e) => [e.key, e.value]));

describe('LogBuffer (real in-memory DuckDB)', () => {
  it('loads rows with their columns and maps exactly, whatever the strings hold', async () => {
    const { b, c } = await buffer();
    const tricky: [string, string][] = [
      ['quote"key', 'va"lue'],
      ['back\\slash', 'new\nline\ttab'],
      ['ünïcødé 🚀', '日本語'],
      ['nul', 'a\u0000b'],
      ['__proto__', 'not a prototype'],
      ['empty', ''],
    ];
    expect(b.stage(request(tricky, 'line "one"\n'), { tenant: 'acme', fallbackMicros: 5n, partition: 3, offset: 41n })).toBe(2);
    expect(await b.load()).toEqual([]);
    const r = await c.runAndReadAll(
      `SELECT epoch_us("timestamp"), tenant_id, severity, body, service_name, attributes, resource_attributes, kafka_partition, kafka_offset FROM ${bufferRows(b.tables)} ORDER BY body NULLS LAST`,
    );
    const rows = r.getRowsJson() as unknown as [string, string, string, string, string, { key: string; value: string }[], { key: string; value: string }[], number, string][];
    expect(rows[0]!.slice(0, 5)).toEqual([String(TIME / 1000n), 'acme', 'INFO', 'line "one"\n', 'svc']);
    expect(asObject(rows[0]![5])).toEqual(Object.fromEntries(tricky));
    // in the order they were sent
    expect(rows[0]![5].map((e) => e.key)).toEqual(tricky.map(([k]) => k));
    expect(asObject(rows[0]![6])).toEqual({ 'k8s.pod.name': 'p' });
    expect([rows[0]![7], rows[0]![8]]).toEqual([3, '41']);
    // the empty record: receive time, no body, an empty map
    expect([rows[1]![0], rows[1]![3], rows[1]![5]]).toEqual(['5', null, []]);
    // read_json reads a member the row leaves out as NULL, and the commit reads a map left out as empty
    const unset = await c.runAndReadAll(`SELECT observed_timestamp, severity_number, event_name, body_type, trace_id, trace_flags, dropped_attributes_count, scope_schema_url, scope_attributes FROM ${bufferRows(b.tables)} WHERE body IS NULL`);
    expect(unset.getRowsJson()).toEqual([[null, null, null, null, null, null, null, null, []]]);
    expect(b.recordCount).toBe(2);
    expect(b.byteSize).toBeGreaterThan(0);
    expect(b.partitionRanges.get(3)).toEqual({ first: 41n, last: 41n });
    // the rows are MAPs as the commit reads them
    const types = (await c.runAndReadAll(`SELECT typeof(attributes), typeof(resource_attributes) FROM ${bufferRows(b.tables)} LIMIT 1`)).getRows()[0];
    expect(types).toEqual(['MAP(VARCHAR, VARCHAR)', 'MAP(VARCHAR, VARCHAR)']);
    const sealed = await b.seal();
    expect(sealed.records).toBe(2);
    expect(sealed.ranges.get(3)).toEqual({ first: 41n, last: 41n });
    expect((await c.runAndReadAll(`SELECT count(*) FROM ${bufferRows(sealed.tables)}`)).getRows()[0]![0]).toBe(2n);
    expect((await c.runAndReadAll(`SELECT count(*) FROM ${bufferRows(b.tables)}`)).getRows()[0]![0]).toBe(0n);
    expect(b.isEmpty).toBe(true);
  });

  it('loads the next rows while a sealed buffer waits for its commit; its offsets count as buffered until released', async () => {
    const { b, c } = await buffer();
    b.stage(request([['a', '1']]), { tenant: 't', fallbackMicros: 5n, partition: 0, offset: 10n });
    await b.load();
    const sealed = await b.seal();
    // one sealed buffer at a time, and only loaded rows are sealed
    await expect(b.seal()).rejects.toThrow(/not released/);
    expect(b.lastOffset(0)).toBe(10n);
    b.stage(request([['a', '2']]), { tenant: 't', fallbackMicros: 5n, partition: 1, offset: 20n });
    expect(b.lastOffset(1)).toBe(20n);
    await b.load();
    expect((await c.runAndReadAll(`SELECT kafka_offset FROM ${bufferRows(sealed.tables)}`)).getRows().map((r) => r[0])).toEqual([10n, 10n]);
    expect((await c.runAndReadAll(`SELECT kafka_offset FROM ${bufferRows(b.tables)}`)).getRows().map((r) => r[0])).toEqual([20n, 20n]);
    expect(b.pending).toBe(sealed);
    b.release(sealed);
    expect(b.pending).toBeUndefined();
    expect(b.lastOffset(0)).toBeUndefined();
    expect(b.lastOffset(1)).toBe(20n);
    await b.collect();
    await expect(c.run(`SELECT 1 FROM ${sealed.tables.rows}`)).rejects.toThrow(/does not exist/);
    const next = await b.seal();
    expect([...next.ranges]).toEqual([[1, { first: 20n, last: 20n }]]);
  });

  it('leaves out, whole, a record whose rows DuckDB refuses, and loads its neighbours, each with its digest', async () => {
    const { b, c } = await buffer(true);
    b.stage(request([['a', '1']]), { tenant: 't', fallbackMicros: 5n, partition: 0, offset: 10n });
    // a partition number that is not one makes that record's rows invalid JSON
    b.stage(request([['a', '2']]), { tenant: 't', fallbackMicros: 5n, partition: Number.NaN, offset: 11n });
    b.skip(0, 12n);
    b.stage(request([['a', '3']]), { tenant: 't', fallbackMicros: 5n, partition: 0, offset: 13n });
    const rejected = await b.load();
    expect(rejected.map((r) => r.offset)).toEqual([11n]);
    expect(rejected[0]!.error.message).toMatch(/json|malformed|NaN/i);
    const offsets = (await c.runAndReadAll(`SELECT DISTINCT kafka_offset FROM ${bufferRows(b.tables)} ORDER BY 1`)).getRows().map((r) => r[0]);
    expect(offsets).toEqual([10n, 13n]);
    // the refused record's scope went with its rows: each row finds its one scope, no scope is left over
    expect((await c.runAndReadAll(`SELECT count(*) FROM ${b.tables.scopes}`)).getRows()[0]![0]).toBe(2n);
    expect((await c.runAndReadAll(`SELECT count(*) FROM ${bufferRows(b.tables)} WHERE service_name = 'svc'`)).getRows()[0]![0]).toBe(4n);
    expect(b.recordCount).toBe(4);
    expect(b.partitionRanges.get(0)).toEqual({ first: 10n, last: 13n });
    // a digest per record loaded, none for the refused or the skipped one
    const digests = (await c.runAndReadAll(`SELECT kafka_offset, record_digest, tenant_id, epoch_us(received_at) FROM ${b.tables.digests} ORDER BY 1`)).getRows();
    expect(digests).toEqual([
      [10n, recordDigest('t', request([['a', '1']])), 't', 5n],
      [13n, recordDigest('t', request([['a', '3']])), 't', 5n],
    ]);
  });

  it('a resource error while it looks for the refused record leaves the buffer as it was: the batch fetched again lands once', async () => {
    const { b, c } = await buffer(true);
    const stageBatch = () => {
      b.stage(request([['a', '1']]), { tenant: 't', fallbackMicros: 5n, partition: 0, offset: 10n });
      b.stage(request([['a', '2']]), { tenant: 't', fallbackMicros: 5n, partition: 0, offset: 11n });
      b.stage(request([['a', '3']]), { tenant: 't', fallbackMicros: 5n, partition: Number.NaN, offset: 12n });
      b.stage(request([['a', '4']]), { tenant: 't', fallbackMicros: 5n, partition: 0, offset: 13n });
    };
    // every read_json of the load after the first `failAfter` ends as the machine's error would
    const inner = b as unknown as { insertJson: (...a: unknown[]) => Promise<void> };
    const insertJson = inner.insertJson.bind(b);
    for (const failAfter of [1, 2, 3, 4, 5, 6]) {
      let calls = 0;
      inner.insertJson = async (...a: unknown[]) => {
        if (++calls > failAfter) throw new Error('IO Error: Could not write file: No space left on device');
        return insertJson(...a);
      };
      stageBatch();
      await expect(b.load(), `failing after ${failAfter} loads`).rejects.toThrow(/No space left/);
      expect((await c.runAndReadAll(`SELECT count(*) FROM ${b.tables.rows}`)).getRows()[0]![0], `rows after failing after ${failAfter}`).toBe(0n);
      expect((await c.runAndReadAll(`SELECT count(*) FROM ${b.tables.digests}`)).getRows()[0]![0], `digests after failing after ${failAfter}`).toBe(0n);
      expect(b.partitionRanges.size).toBe(0);
    }
    inner.insertJson = insertJson;
    stageBatch();
    expect((await b.load()).map((r) => r.offset)).toEqual([12n]);
    const offsets = (await c.runAndReadAll(`SELECT kafka_offset, count(*) FROM ${bufferRows(b.tables)} GROUP BY 1 ORDER BY 1`)).getRows();
    expect(offsets).toEqual([[10n, 2n], [11n, 2n], [13n, 2n]]);
    expect((await c.runAndReadAll(`SELECT count(*) FROM ${b.tables.scopes}`)).getRows()[0]![0]).toBe(3n);
    expect((await c.runAndReadAll(`SELECT kafka_offset FROM ${b.tables.digests} ORDER BY 1`)).getRows()).toEqual([[10n], [11n], [13n]]);
  });

  // The buffer keeps the maps as JSON text and the commit casts them (bufferRows): what it relies on.
  it('pins DuckDB\'s JSON to MAP(VARCHAR, VARCHAR) cast: entry order kept, duplicates not refused, only objects taken', async () => {
    const { c } = await buffer();
    const one = async (json: string) => (await c.runAndReadAll(`SELECT map_keys(${sqlString(json)}::JSON::MAP(VARCHAR, VARCHAR)), map_values(${sqlString(json)}::JSON::MAP(VARCHAR, VARCHAR))`)).getRowsJson()[0];
    expect(await one('{"b":"1","a":"2"}')).toEqual([['b', 'a'], ['1', '2']]);
    expect(await one('{}')).toEqual([[], []]);
    // duplicate keys would pass into the table as they are: the NDJSON writer removes them
    expect(await one('{"a":"1","a":"2"}')).toEqual([['a', 'a'], ['1', '2']]);
    await expect(one('[1]')).rejects.toThrow(/Expected OBJECT/);
  });

  it('buffers attributes sent twice under one key once, with the last value, as the mapping does', async () => {
    const { b, c } = await buffer();
    b.stage(request([['k', '1'], ['other', 'x'], ['k', '2']]), { tenant: 't', fallbackMicros: 5n, partition: 0, offset: 1n });
    expect(await b.load()).toEqual([]);
    const rows = (await c.runAndReadAll(`SELECT map_keys(attributes), map_values(attributes) FROM ${bufferRows(b.tables)} WHERE body IS NOT NULL`)).getRowsJson();
    expect(rows).toEqual([[['k', 'other'], ['2', 'x']]]);
  });

  it('removes spool files that a killed appender left behind, and only those', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'spool-'));
    const dead = 2 ** 22 + 12345; // above Linux's pid_max default: no such process
    writeFileSync(join(dir, `otel-lakehouse-${dead}-1.ndjson`), '{}');
    writeFileSync(join(dir, `otel-lakehouse-${process.pid}-1.ndjson`), '{}');
    writeFileSync(join(dir, 'unrelated.ndjson'), '{}');
    const db = await DuckDBInstance.create(':memory:');
    await new LogBuffer(await db.connect(), dir).init();
    expect(readdirSync(dir).sort()).toEqual([`otel-lakehouse-${process.pid}-1.ndjson`, 'unrelated.ndjson']);
    rmSync(dir, { recursive: true });
  });

  it('keeps a scope’s columns once per scope, and gives them back on each of its rows', async () => {
    const { b, c } = await buffer();
    const twoScopes = encodeLogsRequest({
      resourceLogs: [{
        resource: { attributes: [kv('service.name', 'svc'), kv('k8s.pod.uid', 'u-1')] },
        scopeLogs: [
          { scope: { name: 's1' }, logRecords: [{ body: { stringValue: 'a' } }, { body: { stringValue: 'b' } }] },
          { scope: { name: 's2', attributes: [kv('lib', 'x')] }, logRecords: [{ body: { stringValue: 'c' } }] },
          { scope: { name: 'empty' }, logRecords: [] },
        ],
      }],
    } as never);
    b.stage(twoScopes, { tenant: 't', fallbackMicros: 5n, partition: 0, offset: 1n });
    b.stage(twoScopes, { tenant: 't', fallbackMicros: 5n, partition: 0, offset: 2n });
    expect(await b.load()).toEqual([]);
    expect((await c.runAndReadAll(`SELECT count(*) FROM ${b.tables.scopes}`)).getRows()[0]![0]).toBe(4n);
    const rows = (await c.runAndReadAll(
      `SELECT kafka_offset, body, service_name, scope_name, map_keys(resource_attributes), map_keys(scope_attributes) FROM ${bufferRows(b.tables)} ORDER BY kafka_offset, body`,
    )).getRowsJson();
    const perRecord = [['a', 'svc', 's1', ['k8s.pod.uid'], []], ['b', 'svc', 's1', ['k8s.pod.uid'], []], ['c', 'svc', 's2', ['k8s.pod.uid'], ['lib']]];
    expect(rows).toEqual([...perRecord.map((r) => ['1', ...r]), ...perRecord.map((r) => ['2', ...r])]);
    // a sealed buffer keeps its scopes; the next one numbers its own from the start
    const sealed = await b.seal();
    b.stage(twoScopes, { tenant: 't', fallbackMicros: 5n, partition: 0, offset: 3n });
    await b.load();
    expect((await c.runAndReadAll(`SELECT count(*) FROM ${bufferRows(sealed.tables)} WHERE scope_name IS NOT NULL`)).getRows()[0]![0]).toBe(6n);
    expect((await c.runAndReadAll(`SELECT min(scope_ref), max(scope_ref) FROM ${b.tables.scopes}`)).getRows()[0]).toEqual([0, 1]);
  });

  it('takes in nothing of a request it cannot decode', async () => {
    const { b } = await buffer();
    expect(() => b.stage(Buffer.from([0x0a, 0xff, 0x01]), { tenant: 't', fallbackMicros: 5n, partition: 0, offset: 1n })).toThrow(/malformed protobuf/);
    expect(await b.load()).toEqual([]);
    expect(b.isEmpty).toBe(true);
  });
});
