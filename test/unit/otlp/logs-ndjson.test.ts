import { prng } from '../../helpers/prng.js';
import { describe, expect, it } from 'vitest';
import { decodeLogsRequest, encodeLogsRequest, type AnyValue, type KeyValue, type LogsRequest } from '../../../src/otlp/codec.js';
import { mapLogsRequest, type LogRow } from '../../../src/otlp/logs-mapping.js';
import { ByteSink, logsRequestToNdjson, OtlpDecodeError } from '../../../src/otlp/logs-ndjson.js';
import { kv } from '../../helpers/otlp.js';
import { LOG_COLUMNS } from '../../../src/schema/logs.js';

const RECEIVED = 1_700_000_000_000_000n;
const KAFKA = { partition: 4, offset: 9_000_000_001n };
const CTX = { tenant: 'acme', fallbackMicros: RECEIVED, extraJson: `,"kafka_partition":${KAFKA.partition},"kafka_offset":${KAFKA.offset}` };

/** The reference mapping's rows in the shape the NDJSON rows parse to. */
function expected(rows: LogRow[]): unknown[] {
  return rows.map((r) => {
    const row: Record<string, unknown> = {};
    for (const c of LOG_COLUMNS) {
      const v = r[c.field];
      row[c.name] = v === null ? null : c.kind === 'timestamp' ? Number(v) : c.kind === 'map' ? Object.fromEntries(v as Map<string, string>) : v;
    }
    return { ...row, kafka_partition: KAFKA.partition, kafka_offset: Number(KAFKA.offset) };
  });
}

/** A length-delimited protobuf field: tag byte, varint length, bytes. */
function field(tag: number, body: Uint8Array): Buffer {
  const len: number[] = [];
  for (let n = body.length; ; n >>>= 7) {
    if (n < 0x80) {
      len.push(n);
      break;
    }
    len.push((n & 0x7f) | 0x80);
  }
  return Buffer.concat([Buffer.from([tag, ...len]), body]);
}

/**
 * The NDJSON rows as the buffer reads them: a member left out is NULL, a map left out is empty
 * (see bufferRows). A member written as null would be a waste, so none may be.
 */
function ndjsonRows(bytes: Uint8Array): unknown[] {
  const out = new ByteSink(16);
  const n = logsRequestToNdjson(bytes, CTX, out);
  const text = out.view().toString('utf8');
  const lines = text.split('\n');
  expect(lines.pop()).toBe('');
  expect(lines).toHaveLength(n);
  return lines.map((l) => {
    const row = JSON.parse(l) as Record<string, unknown>;
    for (const [k, v] of Object.entries(row)) expect(v, `member ${k} written as null`).not.toBeNull();
    for (const c of LOG_COLUMNS) if (!(c.name in row)) row[c.name] = c.kind === 'map' ? {} : null;
    return row;
  });
}

/**
 * The NDJSON rows written with scope rows (the lake buffer's form), each joined to its scope by
 * scope_ref: every scope row is named by rows, and carries exactly the `perScope` columns.
 */
function scopedRows(bytes: Uint8Array): unknown[] {
  const scopes = { sink: new ByteSink(16), next: 7 };
  const out = new ByteSink(16);
  const n = logsRequestToNdjson(bytes, { ...CTX, scopes }, out);
  const parse = (sink: ByteSink) => sink.view().toString('utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
  const byRef = new Map(parse(scopes.sink).map((s) => [s.scope_ref, s]));
  expect([...byRef.keys()]).toEqual(Array.from({ length: scopes.next - 7 }, (_, i) => 7 + i));
  const perScope = new Set<string>(LOG_COLUMNS.filter((c) => 'perScope' in c).map((c) => c.name));
  for (const s of byRef.values()) for (const k of Object.keys(s)) expect(k === 'scope_ref' || perScope.has(k), k).toBe(true);
  const rows = parse(out);
  expect(rows).toHaveLength(n);
  return rows.map((row) => {
    for (const k of Object.keys(row)) expect(perScope.has(k), k).toBe(false);
    const { scope_ref: ref, ...own } = row;
    expect(byRef.has(ref)).toBe(true);
    const { scope_ref: _, ...shared } = byRef.get(ref)!;
    const joined: Record<string, unknown> = { ...own, ...shared };
    for (const c of LOG_COLUMNS) if (!(c.name in joined)) joined[c.name] = c.kind === 'map' ? {} : null;
    return joined;
  });
}

function same(bytes: Uint8Array): void {
  const want = expected(mapLogsRequest(decodeLogsRequest(bytes), CTX.tenant, RECEIVED));
  expect(ndjsonRows(bytes)).toEqual(want);
  expect(scopedRows(bytes)).toEqual(want);
}


const STRINGS = ['', 'plain', 'quote " and \\ backslash', 'new\nline\ttab\r', 'ctl \u0001\u001f\u007f', 'ünïcødé 🚀 日本語', '\u2028sep', '__proto__', '12', 'service.name', 'host.name', 'deployment.environment', 'deployment.environment.name', 'k'];

function generate(seed: number): LogsRequest {
  const rnd = prng(seed);
  const int = (n: number) => Math.floor(rnd() * n);
  const pick = <T,>(a: T[]): T => a[int(a.length)]!;
  const anyValue = (depth: number): AnyValue | undefined => {
    switch (int(depth > 2 ? 7 : 10)) {
      case 0: return undefined;
      case 1: return {};
      case 2: return { boolValue: rnd() < 0.5 };
      case 3: return { intValue: pick([0, 1, -5, 502, 2 ** 40, '9007199254740993', '-9223372036854775808', '9223372036854775807']) as never };
      case 4: return { doubleValue: pick([0, 1.5, -2.25e-300, 1e21, Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]) };
      case 5: return { bytesValue: Buffer.from([int(256), int(256), int(256)].slice(0, int(4))) };
      case 6: return { stringValue: pick(STRINGS) };
      case 7: return { arrayValue: { values: Array.from({ length: int(4) }, () => anyValue(depth + 1) ?? {}) } };
      case 8: return { kvlistValue: { values: Array.from({ length: int(4) }, () => ({ key: pick(STRINGS), value: anyValue(depth + 1) }) as KeyValue) } };
      default: return { stringValue: pick(STRINGS) };
    }
  };
  const kvs = (n: number): KeyValue[] => Array.from({ length: n }, () => ({ key: pick(STRINGS), value: anyValue(0) }) as KeyValue);
  const nanos = () => pick([undefined, '0', '1700000000123456789', '1', '999', '18446744073709551615', String(2 ** 53 + 7)]);
  return {
    resourceLogs: Array.from({ length: 1 + int(3) }, () => ({
      resource: rnd() < 0.2 ? undefined : { attributes: kvs(int(6)), droppedAttributesCount: pick([undefined, 0, 2, 4294967295]) },
      schemaUrl: pick([undefined, '', 'https://opentelemetry.io/schemas/1.26.0']),
      scopeLogs: Array.from({ length: int(3) }, () => ({
        scope: rnd() < 0.2 ? undefined : { name: pick(STRINGS), version: pick(STRINGS), attributes: kvs(int(4)), droppedAttributesCount: pick([undefined, 1]) },
        schemaUrl: pick([undefined, 'https://opentelemetry.io/schemas/1.21.0', 'ünï']),
        logRecords: Array.from({ length: int(4) }, () => ({
          timeUnixNano: nanos(),
          observedTimeUnixNano: nanos(),
          severityNumber: pick([undefined, 0, 1, 9, 13, 17, 24, 25, -3]),
          severityText: pick([undefined, '', 'Err', 'ünï']),
          body: anyValue(0),
          attributes: kvs(int(8)),
          traceId: pick([undefined, Buffer.alloc(0), Buffer.from('0102030405060708090a0b0c0d0e0f10', 'hex'), Buffer.from([255])]),
          spanId: pick([undefined, Buffer.from('1112131415161718', 'hex')]),
          flags: pick([undefined, 0, 1, 0x101, 4294967295]),
          eventName: pick([undefined, '', 'ev', 'browser.page_view', 'ünï "q"']),
          droppedAttributesCount: pick([undefined, 3, 4294967295]),
        })),
      })),
    })),
  } as unknown as LogsRequest;
}

describe('logsRequestToNdjson', () => {
  it('writes exactly the rows of the reference mapping, on 2000 generated requests', () => {
    for (let seed = 1; seed <= 2000; seed++) {
      const bytes = encodeLogsRequest(generate(seed));
      try {
        same(bytes);
      } catch (e) {
        throw new Error(`seed ${seed}: ${(e as Error).message}`);
      }
    }
  });

  it('maps the documented cases as the reference does', () => {
    same(encodeLogsRequest({
      resourceLogs: [{
        resource: { attributes: [kv('service.name', 'api'), kv('deployment.environment', 'old'), kv('deployment.environment.name', 'new'), kv('k8s.pod.name', 'p')] },
        schemaUrl: 'https://opentelemetry.io/schemas/1.26.0',
        scopeLogs: [{ scope: { name: 'lib', version: '2.0' }, logRecords: [{ timeUnixNano: '1700000000123456789', attributes: [kv('k', '1'), kv('x', 'y'), kv('k', '2')] }] }],
      }],
    } as never));
  });

  it('finds a resource that follows its scopes on the wire, and lets the last of a repeated field win', () => {
    const scopes = encodeLogsRequest({ resourceLogs: [{ scopeLogs: [{ logRecords: [{ body: { stringValue: 'x' } }] }] }] } as never);
    const resource = encodeLogsRequest({ resourceLogs: [{ resource: { attributes: [kv('service.name', 'late')] } }] } as never);
    // Two ResourceLogs messages concatenated inside one field: strip each outer tag+length.
    const inner = (b: Uint8Array) => {
      let p = 1;
      while (b[p]! & 0x80) p++;
      return b.subarray(p + 1);
    };
    const req = field(0x0a, Buffer.concat([inner(scopes), inner(resource)]));
    const [row] = ndjsonRows(req) as { service_name: string; body: string }[];
    expect(row).toMatchObject({ service_name: 'late', body: 'x' });
  });

  it('skips unknown fields and refuses malformed input without writing anything', () => {
    const good = encodeLogsRequest({ resourceLogs: [{ scopeLogs: [{ logRecords: [{ body: { stringValue: 'x' } }] }] }] } as never);
    // an unknown field 99 (varint) before the request's own
    same(Buffer.concat([Buffer.from([0x98, 0x06, 0x01]), good]));
    const out = new ByteSink(16);
    out.ascii('kept');
    const scopes = { sink: new ByteSink(16), next: 3 };
    scopes.sink.ascii('scopes');
    // a request whose first scope is good and whose second is cut short
    const second = encodeLogsRequest({ resourceLogs: [{ scopeLogs: [{ logRecords: [{ body: { stringValue: 'x' } }] }, { logRecords: [{ body: { stringValue: 'y' } }] }] }] } as never);
    for (const bad of [good.subarray(0, good.length - 1), Buffer.from([0x0a, 0xff, 0x01]), Buffer.from([0x08, 0x01]), Buffer.from([0x0b]), second.subarray(0, second.length - 1)]) {
      expect(() => logsRequestToNdjson(bad, CTX, out)).toThrow(OtlpDecodeError);
      expect(out.view().toString()).toBe('kept');
      expect(() => logsRequestToNdjson(bad, { ...CTX, scopes }, out)).toThrow(OtlpDecodeError);
      expect([out.view().toString(), scopes.sink.view().toString(), scopes.next]).toEqual(['kept', 'scopes', 3]);
    }
  });

  it('replaces invalid UTF-8 with U+FFFD instead of failing the record', () => {
    const marker = 'AAAA';
    const bytes = Buffer.from(encodeLogsRequest({ resourceLogs: [{ scopeLogs: [{ logRecords: [{ body: { stringValue: marker }, attributes: [kv(marker, marker)] }] }] }] } as never));
    // overwrite every copy of the marker with an invalid sequence of the same length
    for (let i = bytes.indexOf(marker); i >= 0; i = bytes.indexOf(marker, i + 1)) bytes.set([0x61, 0xff, 0xed, 0xa0], i);
    const [row] = ndjsonRows(bytes) as { body: string; attributes: Record<string, string> }[];
    expect(row!.body).toBe('a\ufffd\ufffd\ufffd');
    expect(row!.attributes).toEqual({ 'a\ufffd\ufffd\ufffd': 'a\ufffd\ufffd\ufffd' });
  });

  it('refuses AnyValues nested without bound', () => {
    // AnyValue{array_value: ArrayValue{values: [...]}} 100 deep, as a record's body
    let v: Uint8Array = field(0x0a, Buffer.from('deep'));
    for (let i = 0; i < 100; i++) v = field(0x2a, field(0x0a, v));
    const bytes = field(0x0a, field(0x12, field(0x12, field(0x2a, v))));
    expect(() => logsRequestToNdjson(bytes, CTX, new ByteSink())).toThrow(/nested deeper than 64/);
    expect(() => logsRequestToNdjson(bytes, { ...CTX, maxDepth: 200 }, new ByteSink())).not.toThrow();
    expect(() => logsRequestToNdjson(bytes, { ...CTX, maxDepth: 20 }, new ByteSink())).toThrow(/nested deeper than 20/);
  });
});
