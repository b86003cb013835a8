import protobuf from 'protobufjs';
import { describe, expect, it } from 'vitest';
import { ExportLogsServiceRequest, ExportMetricsServiceRequest, ExportTraceServiceRequest, PromWriteRequest, type AnyValue } from '../../../src/otlp/codec.js';
import { leaves, SIGNALS } from '../../../src/otlp/signals.js';
import { prng } from '../../helpers/prng.js';
import { checkWire, compactPath, WireError } from '../../../src/otlp/wire-check.js';
import { kv, logsRequest } from '../../helpers/otlp.js';

const limits = { maxDepth: 64, maxAttributes: 1024 };

function sample(attrs: Record<string, AnyValue> = {}, body = 'hello'): Uint8Array {
  return ExportLogsServiceRequest.encode(
    logsRequest([{ tenant: 'acme', service: 'svc', seq: 1, body, severityNumber: 9, timeUnixNano: 1_763_800_000_000_000_000n, attrs }]) as never,
  ).finish();
}

/** Wraps `inner` as a length-delimited field `id` (wire type 2). */
function len(id: number, inner: Uint8Array): Uint8Array {
  const w = protobuf.Writer.create();
  w.uint32((id << 3) | 2).bytes(inner);
  return w.finish();
}

/** An AnyValue holding `depth` nested kvlists. */
function nested(depth: number): AnyValue {
  let v: AnyValue = { stringValue: 'leaf' };
  for (let i = 0; i < depth; i++) v = { kvlistValue: { values: [kv('k', v)] } };
  return v;
}

const refuse = (type: protobuf.Type, bytes: Uint8Array, lim = limits) => () => checkWire(type, bytes, lim);

describe('protobufjs leniency the wire check exists for', () => {
  it('decodes a known field sent with the wrong wire type without complaint', () => {
    // LogRecord.severity_number (2, varint) sent as a fixed64 of 8 bytes: protobufjs reads one
    // byte as the varint and the other 7 as further fields, and reports nothing.
    const record = Uint8Array.from([(2 << 3) | 1, 1, 0x10, 1, 0x10, 1, 0x10, 0x81, 0x01]);
    const req = len(1, len(2, len(2, record)));
    const decoded = ExportLogsServiceRequest.toObject(ExportLogsServiceRequest.decode(req)) as { resourceLogs: { scopeLogs: { logRecords: { severityNumber: number }[] }[] }[] };
    expect(decoded.resourceLogs[0]!.scopeLogs[0]!.logRecords[0]!.severityNumber).toBe(129);
    expect(refuse(ExportLogsServiceRequest, req)).toThrow(/wire type 1 where LogRecord.severityNumber needs 0/);
  });

  it('replaces invalid UTF-8 in a string field with U+FFFD', () => {
    const scope = Uint8Array.from([(1 << 3) | 2, 2, 0xc3, 0x28]); // InstrumentationScope.name = C3 28
    const req = len(1, len(2, len(1, scope)));
    const decoded = ExportLogsServiceRequest.toObject(ExportLogsServiceRequest.decode(req)) as { resourceLogs: { scopeLogs: { scope: { name: string } }[] }[] };
    expect(decoded.resourceLogs[0]!.scopeLogs[0]!.scope.name).toContain('\ufffd');
    expect(refuse(ExportLogsServiceRequest, req)).toThrow(/resourceLogs.scopeLogs.scope.name: string is not valid UTF-8/);
  });
});

describe('checkWire', () => {
  it('accepts well-formed requests of every kind, unknown fields included', () => {
    checkWire(ExportLogsServiceRequest, sample({ n: { intValue: 5 }, d: { doubleValue: 1.5 }, b: { bytesValue: Uint8Array.from([0xff, 0]) }, deep: nested(15) }, 'héllo ✓'), limits);
    const unknown = protobuf.Writer.create().uint32((99 << 3) | 0).uint64(7).uint32((98 << 3) | 1).fixed64(1).uint32((97 << 3) | 2).bytes(Uint8Array.from([0xff])).finish();
    checkWire(ExportLogsServiceRequest, Buffer.concat([sample(), unknown]), limits);
    const metrics = ExportMetricsServiceRequest.encode({
      resourceMetrics: [{ scopeMetrics: [{ metrics: [{ name: 'h', histogram: { dataPoints: [{ bucketCounts: [1, 2, 3], explicitBounds: [0.5, 1], count: 6 }] } }] }] }],
    } as never).finish();
    checkWire(ExportMetricsServiceRequest, metrics, limits); // packed fixed64 and double
    checkWire(PromWriteRequest, PromWriteRequest.encode({ timeseries: [{ labels: [{ name: '__name__', value: 'up' }], samples: [{ value: 1, timestamp: 5 }] }] } as never).finish(), limits);
    checkWire(ExportLogsServiceRequest, new Uint8Array(0), limits);
  });

  it('refuses every truncation of a request with one resource', () => {
    const body = sample({ a: { stringValue: 'x' } });
    for (let cut = 1; cut < body.length; cut++) {
      expect(refuse(ExportLogsServiceRequest, body.subarray(0, cut)), `cut at ${cut}`).toThrow(WireError);
    }
  });

  it('refuses lengths past the end, invalid wire types, field number 0 and over-long varints', () => {
    expect(refuse(ExportLogsServiceRequest, Uint8Array.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x07]))).toThrow(/length 2147483647 runs past the end/);
    expect(refuse(ExportLogsServiceRequest, Uint8Array.from([(5 << 3) | 6, 0]))).toThrow(/invalid wire type 6/);
    expect(refuse(ExportLogsServiceRequest, Uint8Array.from([(5 << 3) | 3]))).toThrow(/invalid wire type 3/);
    expect(refuse(ExportLogsServiceRequest, Uint8Array.from([0x02, 0]))).toThrow(/invalid field number 0/);
    expect(refuse(ExportLogsServiceRequest, Uint8Array.from([(5 << 3) | 0, ...Array(11).fill(0xff), 1]))).toThrow(/longer than 10 bytes/);
  });

  it('writes a run of a repeated group of fields in a path once, with its count', () => {
    expect(compactPath([])).toBe('');
    expect(compactPath(['a', 'b'])).toBe('a.b');
    expect(compactPath(['a', 'b', 'b'])).toBe('a.b.b');
    expect(compactPath(['a', 'b', 'b', 'b', 'c'])).toBe('a.(b)×3.c');
    expect(compactPath(['r', 'x', 'y', 'x', 'y', 'x', 'y', 'x', 'z'])).toBe('r.(x.y)×3.x.z');
    expect(compactPath(['v', ...Array.from({ length: 40 }, () => ['arrayValue', 'values']).flat()])).toBe('v.(arrayValue.values)×40');
  });

  it('refuses nesting deeper than maxDepth and more KeyValues than maxAttributes', () => {
    // request → ResourceLogs → ScopeLogs → LogRecord → KeyValue → AnyValue, then 3 per kvlist level
    const deep = sample({ deep: nested(30) });
    expect(refuse(ExportLogsServiceRequest, deep)).toThrow(/^resourceLogs\.scopeLogs\.logRecords\.attributes\.\(value\.kvlistValue\.values\)×\d+\.value: nested deeper than 64 messages/);
    checkWire(ExportLogsServiceRequest, deep, { maxDepth: 200, maxAttributes: 1024 });
    const many = sample(Object.fromEntries(Array.from({ length: 1100 }, (_, i) => [`k${i}`, { stringValue: 'v' }])));
    expect(refuse(ExportLogsServiceRequest, many)).toThrow(/attributes: more than 1024 key-value pairs/);
    checkWire(ExportLogsServiceRequest, many, { maxDepth: 64, maxAttributes: 2000 });
  });
});

describe('checkWire item report', () => {
  /** What the decode path decides: accepted weight, rejected count and first problem. */
  function decoded(spec: (typeof SIGNALS)[keyof typeof SIGNALS], bytes: Uint8Array) {
    let accepted = 0;
    let rejected = 0;
    let firstProblem: string | undefined;
    const all = leaves(spec, spec.request.decode(bytes) as never);
    for (const leaf of all) {
      const problem = spec.invalid(leaf.item);
      if (problem === null) accepted += spec.weight(leaf.item);
      else {
        rejected += Math.max(1, spec.weight(leaf.item));
        firstProblem ??= problem;
      }
    }
    return { items: all.length, accepted, rejected, firstProblem };
  }

  it('judges items as the decode path does, on generated logs, traces and metrics', () => {
    const rand = prng(7);
    const id = (sizes: number[]) => Buffer.alloc(sizes[Math.floor(rand() * sizes.length)]!, 7);
    for (let n = 0; n < 300; n++) {
      const count = Math.floor(rand() * 6);
      const logs = ExportLogsServiceRequest.encode({ resourceLogs: [{ scopeLogs: [{ logRecords: Array.from({ length: count }, () => ({ traceId: id([0, 16, 16, 16, 15]), spanId: id([0, 8, 8, 9]), body: { stringValue: 'x' } })) }] }] } as never).finish();
      const traces = ExportTraceServiceRequest.encode({ resourceSpans: [{ scopeSpans: [{ spans: Array.from({ length: count }, () => ({ traceId: id([16, 16, 0, 4]), spanId: id([8, 8, 0]), parentSpanId: id([0, 8, 3]), name: 's', links: [{ traceId: Buffer.alloc(3) }] })) }] }, { resource: {} }] } as never).finish();
      const kinds = ['gauge', 'sum', 'histogram', 'summary', 'none'];
      const metrics = ExportMetricsServiceRequest.encode({
        resourceMetrics: [{ scopeMetrics: [{ metrics: Array.from({ length: count }, () => {
          const kind = kinds[Math.floor(rand() * kinds.length)]!;
          const points = Array.from({ length: Math.floor(rand() * 4) }, () => ({ timeUnixNano: 1 }));
          return { name: rand() < 0.2 ? '' : 'm', ...(kind === 'none' ? {} : { [kind]: { dataPoints: points } }) };
        }) }] }],
      } as never).finish();
      for (const [spec, bytes] of [[SIGNALS.logs, logs], [SIGNALS.traces, traces], [SIGNALS.metrics, metrics]] as const) {
        const report = checkWire(spec.request, bytes, limits, spec.items);
        expect(report.undecided).toBe(false);
        expect({ items: report.items, accepted: report.accepted, rejected: report.rejected, firstProblem: report.firstProblem }).toEqual(decoded(spec, bytes));
      }
    }
  });

  it('leaves a metric with two data kinds to the decoder', () => {
    const w = protobuf.Writer.create();
    w.uint32((1 << 3) | 2).string('m');
    w.uint32((5 << 3) | 2).bytes(new Uint8Array(0));
    w.uint32((7 << 3) | 2).bytes(new Uint8Array(0));
    const req = len(1, len(2, len(2, w.finish())));
    expect(checkWire(ExportMetricsServiceRequest, req, limits, SIGNALS.metrics.items).undecided).toBe(true);
  });
});
