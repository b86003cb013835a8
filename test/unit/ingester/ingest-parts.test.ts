import { describe, expect, it } from 'vitest';
import { splitToFit } from '../../../src/ingester/decode.js';
import { snappyDeclaredLength } from '../../../src/ingester/snappy.js';
import { otlpJsonToMessage } from '../../../src/otlp/json.js';
import { SIGNALS, assemble, leaves } from '../../../src/otlp/signals.js';

describe('splitToFit', () => {
  const enc = (part: string[]) => Buffer.from(part.join(''));
  it('keeps order and fits every part under the limit', () => {
    const items = Array.from({ length: 13 }, (_, i) => String.fromCharCode(97 + i).repeat(3));
    const parts = splitToFit(items, 10, enc, 'items');
    expect(parts.every((p) => p.length <= 10)).toBe(true);
    expect(parts.map((p) => Buffer.from(p).toString()).join('')).toBe(items.join(''));
  });
  it('refuses an item that alone does not fit', () => {
    expect(() => splitToFit(['short', 'x'.repeat(50)], 10, enc, 'log records')).toThrow(/one of the log records alone encodes to 50 bytes/);
  });
});

describe('leaves and assemble', () => {
  it('regroups a subset of items under copies of their resources and scopes', () => {
    const msg = {
      resourceLogs: [
        { resource: { attributes: [{ key: 'r', value: { stringValue: '0' } }] }, scopeLogs: [{ scope: { name: 's0' }, logRecords: [{ severityText: 'a' }, { severityText: 'b' }] }, { scope: { name: 's1' }, logRecords: [{ severityText: 'c' }] }] },
        { resource: {}, scopeLogs: [{ logRecords: [{ severityText: 'd' }] }] },
      ],
    };
    const all = leaves(SIGNALS.logs, msg);
    expect(all.map((l) => l.item.severityText)).toEqual(['a', 'b', 'c', 'd']);
    const part = assemble(SIGNALS.logs, msg, [all[1]!, all[2]!, all[3]!]) as typeof msg;
    expect(part.resourceLogs).toHaveLength(2);
    expect(part.resourceLogs[0]!.scopeLogs.map((s) => [(s as { scope?: { name: string } }).scope!.name, s.logRecords.map((r) => r.severityText)])).toEqual([['s0', ['b']], ['s1', ['c']]]);
    expect(part.resourceLogs[0]!.resource).toEqual(msg.resourceLogs[0]!.resource);
    // the original is untouched
    expect(msg.resourceLogs[0]!.scopeLogs[0]!.logRecords).toHaveLength(2);
  });
  it('counts metric data points', () => {
    expect(SIGNALS.metrics.weight({ name: 'm', sum: { dataPoints: [{}, {}, {}] } })).toBe(3);
  });
});

describe('otlpJsonToMessage', () => {
  it('turns hex ids into bytes and accepts int64 as strings', () => {
    const msg = otlpJsonToMessage(SIGNALS.traces.request, JSON.stringify({
      resourceSpans: [{ scopeSpans: [{ spans: [{ traceId: '5B8EFFF798038103D269B633813FC60C', spanId: 'eee19b7ec3c1b174', startTimeUnixNano: '1544712660000000000', kind: 2 }] }] }],
    }));
    const span = leaves(SIGNALS.traces, msg as never)[0]!.item as { traceId: Uint8Array; spanId: Uint8Array; startTimeUnixNano: { toString(): string }; kind: number };
    expect(Buffer.from(span.traceId).toString('hex')).toBe('5b8efff798038103d269b633813fc60c');
    expect(span.spanId).toHaveLength(8);
    expect(span.startTimeUnixNano.toString()).toBe('1544712660000000000');
    expect(span.kind).toBe(2);
  });

  it('accepts snake_case keys, enum names, base64 bytes and numeric strings for doubles', () => {
    const msg = otlpJsonToMessage(SIGNALS.logs.request, JSON.stringify({
      resource_logs: [{ scope_logs: [{ log_records: [{ severity_number: 'SEVERITY_NUMBER_WARN', body: { bytesValue: 'AAEC' }, attributes: [{ key: 'd', value: { doubleValue: '1.5' } }], time_unix_nano: 17 }] }] }],
    }));
    const r = leaves(SIGNALS.logs, msg as never)[0]!.item as { severityNumber: number; body: { bytesValue: Uint8Array }; attributes: { value: { doubleValue: number } }[] };
    expect(r.severityNumber).toBe(13);
    expect([...r.body.bytesValue]).toEqual([0, 1, 2]);
    expect(r.attributes[0]!.value.doubleValue).toBe(1.5);
  });

  it('refuses a known field of the wrong JSON type, naming where (protobufjs alone would coerce it)', () => {
    const bad = (record: unknown) => () => otlpJsonToMessage(SIGNALS.logs.request, JSON.stringify({ resourceLogs: [{ scopeLogs: [{ logRecords: [record] }] }] }));
    const at = 'resourceLogs[0].scopeLogs[0].logRecords[0]';
    expect(bad({ timeUnixNano: {} })).toThrow(`${at}.timeUnixNano: expected an integer, got an object`);
    expect(bad({ timeUnixNano: '12abc' })).toThrow(/timeUnixNano: expected an integer/);
    expect(bad({ severityNumber: 'loud' })).toThrow(/severityNumber: expected an integer or a SeverityNumber name/);
    expect(bad({ body: [1] })).toThrow(`${at}.body: expected an object (AnyValue), got an array`);
    expect(bad({ attributes: [{ key: 5 }] })).toThrow(`${at}.attributes[0].key: expected a string, got number 5`);
    expect(bad({ droppedAttributesCount: -1 })).toThrow(/out of range for uint32/);
    expect(bad({ body: { boolValue: 'yes' } })).toThrow(/body.boolValue: expected true or false/);
    expect(bad({ body: { bytesValue: '!!' } })).toThrow(/body.bytesValue: is not a base64 string/);
    expect(() => otlpJsonToMessage(SIGNALS.logs.request, JSON.stringify({ resourceLogs: [{ unknownField: { a: [1] } }] }))).not.toThrow();
  });
});

describe('snappyDeclaredLength', () => {
  it('reads the varint length header', () => {
    expect(snappyDeclaredLength(Buffer.from([0x05]))).toBe(5);
    expect(snappyDeclaredLength(Buffer.from([0x80, 0x80, 0x80, 0x40]))).toBe(0x40 * 2 ** 21);
    expect(snappyDeclaredLength(Buffer.from([0x80, 0x80]))).toBe(-1);
  });
});
