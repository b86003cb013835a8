import { DuckDBInstance } from '@duckdb/node-api';
import { describe, expect, it } from 'vitest';
import { LogBuffer, mapToJson } from '../../../src/lake/buffer.js';
import type { LogRow } from '../../../src/otlp/logs-mapping.js';

function row(attributes: Map<string, string>, resourceAttributes = new Map<string, string>()): LogRow {
  return {
    timestamp: 1_700_000_000_000_000n, observedTimestamp: null, tenantId: 't', severity: 'INFO', severityNumber: 9, body: 'b',
    traceId: null, spanId: null, serviceName: 's', deploymentEnvironment: null, hostName: null, scopeName: null, scopeVersion: null,
    attributes, resourceAttributes,
  };
}

describe('LogBuffer (real in-memory DuckDB)', () => {
  it('turns attribute maps into MAP(VARCHAR, VARCHAR) exactly, whatever the strings hold', async () => {
    const db = await DuckDBInstance.create(':memory:');
    const c = await db.connect();
    const buffer = new LogBuffer(c);
    await buffer.init();
    const tricky = new Map([
      ['quote"key', 'va"lue'],
      ['back\\slash', 'new\nline\ttab'],
      ['ünïcødé 🚀', '日本語'],
      ['lone', 'a\ud800b'],
      ['\udc00', 'lone key'],
      ['nul', 'a\u0000b'],
      ['__proto__', 'not a prototype'],
      ['empty', ''],
    ]);
    await buffer.append([row(tricky, new Map([['k8s.pod.name', 'p']])), row(new Map())], 3, 41n, 100);
    const r = await c.runAndReadAll(
      `SELECT CAST(CAST(attributes AS JSON) AS MAP(VARCHAR, VARCHAR)) AS a, CAST(CAST(resource_attributes AS JSON) AS MAP(VARCHAR, VARCHAR)) AS ra, kafka_partition, kafka_offset FROM buffer_logs`,
    );
    const rows = r.getRowsJson() as unknown as [{ key: string; value: string }[], { key: string; value: string }[], number, string][];
    const asObject = (entries: { key: string; value: string }[]) => Object.fromEntries(entries.map((e) => [e.key, e.value]));
    expect(asObject(rows[0]![0])).toEqual({
      'quote"key': 'va"lue',
      'back\\slash': 'new\nline\ttab',
      'ünïcødé 🚀': '日本語',
      lone: 'a\ufffdb',
      '\ufffd': 'lone key',
      nul: 'a\u0000b',
      __proto__: 'not a prototype',
      empty: '',
    });
    expect(asObject(rows[0]![1])).toEqual({ 'k8s.pod.name': 'p' });
    expect(rows[1]![0]).toEqual([]);
    expect([rows[0]![2], rows[0]![3]]).toEqual([3, '41']);
    expect(buffer.recordCount).toBe(2);
    expect(buffer.partitionRanges.get(3)).toEqual({ first: 41n, last: 41n });
  });

  it('writes maps as JSON objects', () => {
    expect(mapToJson(new Map())).toBe('{}');
    expect(mapToJson(new Map([['a', '1']]))).toBe('{"a":"1"}');
    expect(mapToJson(new Map([['a', '\ud83d']]))).toBe('{"a":"\ufffd"}');
  });
});
