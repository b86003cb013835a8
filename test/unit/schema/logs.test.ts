import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { encodeLogsRequest, type LogsRequest } from '../../../src/otlp/codec.js';
import { mapLogsRequest } from '../../../src/otlp/logs-mapping.js';
import { ByteSink, logsRequestToNdjson } from '../../../src/otlp/logs-ndjson.js';
import { ICEBERG_TYPE, LOG_COLUMNS } from '../../../src/schema/logs.js';
import { LAKE_LOG_COLUMNS } from '../../../src/schema/tables.js';
import { LOGS_MAPPING, toDocument } from '../../../src/sinks/opensearch/sink.js';
import { kv, logsRequest } from '../../helpers/otlp.js';

const read = (f: string) => readFileSync(new URL(`../../../${f}`, import.meta.url), 'utf8');
const names = LOG_COLUMNS.map((c) => c.name);

/** A request that sets every field, so that every column has a value. */
const request = (() => {
  const r = logsRequest([
    { tenant: 'acme', service: 'api', seq: 1, body: 'hello', severityNumber: 9, timeUnixNano: 1_700_000_000_000_000_000n, attrs: { 'http.route': { stringValue: '/a' } } },
  ], [kv('deployment.environment.name', 'prod'), kv('host.name', 'h'), kv('k8s.pod.name', 'p')]) as LogsRequest;
  const rl = r.resourceLogs![0]!;
  Object.assign(rl, { schemaUrl: 'https://opentelemetry.io/schemas/1.26.0' });
  Object.assign(rl.resource!, { droppedAttributesCount: 1 });
  const sl = rl.scopeLogs![0]!;
  Object.assign(sl, { schemaUrl: 'https://opentelemetry.io/schemas/1.21.0' });
  Object.assign(sl.scope!, { attributes: [kv('lib.feature', 'on')], droppedAttributesCount: 2 });
  Object.assign(sl.logRecords![0]!, {
    observedTimeUnixNano: '1700000000000000001', eventName: 'e', flags: 1, droppedAttributesCount: 3,
    traceId: Buffer.alloc(16, 1), spanId: Buffer.alloc(8, 2),
  });
  return r;
})();

describe('the columns of `logs` have one source (src/schema/logs.ts)', () => {
  it('sql/ddl/001_logs.sql declares exactly these columns, in order, with these types', () => {
    const ddl = read('sql/ddl/001_logs.sql');
    const body = /CREATE TABLE IF NOT EXISTS \{\{ns\}\}\.logs \(([\s\S]*?)\n\) PARTITIONED BY/.exec(ddl)![1]!;
    const declared = body
      .split('\n')
      .map((l) => l.replace(/--.*$/, '').trim().replace(/,$/, ''))
      .filter(Boolean)
      .map((l) => {
        const m = /^"?([a-z_]+)"?\s+(.+)$/.exec(l)!;
        return [m[1], m[2]!.trim()];
      });
    expect(declared).toEqual(LAKE_LOG_COLUMNS.map((c) => [c.name, ICEBERG_TYPE[c.kind]]));
  });

  it('the lake’s NDJSON rows carry these keys when every field is set, and what the caller adds (read_json reads them by name)', () => {
    const out = new ByteSink(16);
    logsRequestToNdjson(encodeLogsRequest(request), { tenant: 'acme', fallbackMicros: 1n, extraJson: ',"kafka_partition":0,"kafka_offset":0' }, out);
    const row = JSON.parse(out.view().toString('utf8').split('\n')[0]!) as Record<string, unknown>;
    expect(Object.keys(row).sort()).toEqual([...names, 'kafka_partition', 'kafka_offset'].sort());
    const scopes = { sink: new ByteSink(16), next: 0 };
    const scoped = new ByteSink(16);
    logsRequestToNdjson(encodeLogsRequest(request), { tenant: 'acme', fallbackMicros: 1n, extraJson: ',"kafka_partition":0,"kafka_offset":0', scopes }, scoped);
    const perScope: string[] = LOG_COLUMNS.filter((c) => 'perScope' in c).map((c) => c.name);
    expect(perScope).toHaveLength(11);
    expect(Object.keys(JSON.parse(scoped.view().toString('utf8'))).sort()).toEqual([...names.filter((n) => !perScope.includes(n)), 'scope_ref', 'kafka_partition', 'kafka_offset'].sort());
    expect(Object.keys(JSON.parse(scopes.sink.view().toString('utf8'))).sort()).toEqual(['scope_ref', ...perScope].sort());
    const plain = new ByteSink(16);
    logsRequestToNdjson(encodeLogsRequest(request), { tenant: 'acme', fallbackMicros: 1n }, plain);
    expect(Object.keys(JSON.parse(plain.view().toString('utf8'))).sort()).toEqual([...names].sort());
  });

  it('the hot path’s mapped rows have one property per column', () => {
    const [row] = mapLogsRequest(request, 'acme', 1n);
    expect(Object.keys(row!).sort()).toEqual(LOG_COLUMNS.map((c) => c.field).sort());
  });

  it('a tenant’s OpenSearch index maps one field per column, and documents fill them all', () => {
    const fields = LOG_COLUMNS.map((c) => ('field' in c.search ? c.search.field : c.name));
    expect(Object.keys(LOGS_MAPPING.properties)).toEqual(fields);
    expect(Object.keys(toDocument(mapLogsRequest(request, 'acme', 1n)[0]!))).toEqual(fields);
  });

  it('docs/querying.md describes every column', () => {
    const doc = read('docs/querying.md');
    for (const n of names) expect(doc, n).toMatch(new RegExp(`^\\| [^|]*\\b${n}\\b[^|]* \\|`, 'm'));
  });
});

describe('the lake tables', () => {
  it('each DDL file creates the table it is listed for', async () => {
    const { LAKE_TABLES } = await import('../../../src/schema/tables.js');
    for (const t of Object.values(LAKE_TABLES)) {
      expect(read(`sql/${t.ddl}`), t.name).toMatch(new RegExp(`CREATE TABLE IF NOT EXISTS \\{\\{ns\\}\\}\\.${t.name} \\(`));
    }
  });
});
