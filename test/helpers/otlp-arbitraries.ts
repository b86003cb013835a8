import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import snappy from 'snappy';
import { PromWriteRequest } from '../../src/otlp/codec.js';
import { SIGNALS } from '../../src/otlp/signals.js';
import { varint } from '../chaos/corpus.js';

/**
 * Generated OTLP requests of every signal, in protobuf and in OTLP/JSON, remote_write requests,
 * and the mutations an adversary makes of them: the inputs of the ingester's decoders.
 */

export type Signal = 'logs' | 'traces' | 'metrics';

export interface Input {
  kind: Signal | 'prom-rw';
  format: 'protobuf' | 'json';
  /** the body as sent (gzip or snappy when `encoding` says so) */
  body: Buffer;
  encoding: 'identity' | 'gzip' | 'snappy';
  /** nothing was mutated: a receiver must accept it */
  wellFormed: boolean;
}

const hex = (n: number) => fc.uint8Array({ minLength: n, maxLength: n }).map((b) => Buffer.from(b).toString('hex'));
const nanos = fc.bigInt({ min: 0n, max: 2n ** 63n - 1n }).map(String);
const text = fc.string({ unit: 'binary', maxLength: 40 });

/** An AnyValue in OTLP/JSON, nested a few levels. */
const anyValue: fc.Arbitrary<Record<string, unknown>> = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    text.map((s) => ({ stringValue: s })),
    fc.boolean().map((b) => ({ boolValue: b })),
    fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }).map((i) => ({ intValue: String(i) })),
    fc.double({ noNaN: true, noDefaultInfinity: true }).map((d) => ({ doubleValue: d })),
    fc.uint8Array({ maxLength: 16 }).map((b) => ({ bytesValue: Buffer.from(b).toString('base64') })),
    fc.array(tie('value'), { maxLength: 3 }).map((values) => ({ arrayValue: { values } })),
    fc.array(fc.record({ key: text, value: tie('value') }), { maxLength: 3 }).map((values) => ({ kvlistValue: { values } })),
  ),
})).value as fc.Arbitrary<Record<string, unknown>>;

const attributes = fc.array(fc.record({ key: text, value: anyValue }), { maxLength: 5 });
const resource = fc.record({ attributes });
const scope = fc.record({ name: text, version: text });

const logRecord = fc.record(
  {
    timeUnixNano: nanos,
    observedTimeUnixNano: nanos,
    severityNumber: fc.integer({ min: 0, max: 24 }),
    severityText: text,
    body: anyValue,
    attributes,
    traceId: fc.oneof(hex(16), fc.constant('')),
    spanId: fc.oneof(hex(8), fc.constant('')),
    flags: fc.integer({ min: 0, max: 255 }),
  },
  { requiredKeys: ['timeUnixNano'] },
);

const span = fc.record(
  {
    traceId: hex(16),
    spanId: hex(8),
    parentSpanId: fc.oneof(hex(8), fc.constant('')),
    name: text,
    kind: fc.integer({ min: 0, max: 5 }),
    startTimeUnixNano: nanos,
    endTimeUnixNano: nanos,
    attributes,
    events: fc.array(fc.record({ timeUnixNano: nanos, name: text, attributes }), { maxLength: 2 }),
    status: fc.record({ code: fc.integer({ min: 0, max: 2 }), message: text }),
  },
  { requiredKeys: ['traceId', 'spanId', 'name'] },
);

const numberPoint = fc.record({ timeUnixNano: nanos, attributes, asDouble: fc.double({ noNaN: true, noDefaultInfinity: true }) });
const metric = fc.oneof(
  fc.record({ name: text.filter((s) => s.length > 0), unit: text, gauge: fc.record({ dataPoints: fc.array(numberPoint, { maxLength: 3 }) }) }),
  fc.record({ name: text.filter((s) => s.length > 0), sum: fc.record({ dataPoints: fc.array(numberPoint, { maxLength: 3 }), aggregationTemporality: fc.integer({ min: 0, max: 2 }), isMonotonic: fc.boolean() }) }),
  fc.record({
    name: text.filter((s) => s.length > 0),
    histogram: fc.record({
      aggregationTemporality: fc.integer({ min: 0, max: 2 }),
      dataPoints: fc.array(
        fc.record({ timeUnixNano: nanos, count: fc.nat().map(String), bucketCounts: fc.array(fc.nat().map(String), { maxLength: 4 }), explicitBounds: fc.array(fc.double({ noNaN: true, noDefaultInfinity: true }), { maxLength: 3 }) }),
        { maxLength: 2 },
      ),
    }),
  }),
);

/** An OTLP/JSON request of `signal`. */
export function otlpJson(signal: Signal): fc.Arbitrary<Record<string, unknown>> {
  const n = { maxLength: 3 };
  if (signal === 'logs') return fc.record({ resourceLogs: fc.array(fc.record({ resource, scopeLogs: fc.array(fc.record({ scope, logRecords: fc.array(logRecord, n) }), n) }), n) });
  if (signal === 'traces') return fc.record({ resourceSpans: fc.array(fc.record({ resource, scopeSpans: fc.array(fc.record({ scope, spans: fc.array(span, n) }), n) }), n) });
  return fc.record({ resourceMetrics: fc.array(fc.record({ resource, scopeMetrics: fc.array(fc.record({ scope, metrics: fc.array(metric, n) }), n) }), n) });
}

/** The same request as protobuf: OTLP/JSON's hex ids as bytes, the rest as protobufjs reads it. */
export function toProtobuf(signal: Signal, json: Record<string, unknown>): Buffer {
  const fix = (v: unknown, key = ''): unknown => {
    if (Array.isArray(v)) return v.map((x) => fix(x));
    if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, fix(x, k)]));
    if ((key === 'traceId' || key === 'spanId' || key === 'parentSpanId') && typeof v === 'string') return Buffer.from(v, 'hex');
    if (key === 'bytesValue' && typeof v === 'string') return Buffer.from(v, 'base64');
    return v;
  };
  const type = SIGNALS[signal].request;
  return Buffer.from(type.encode(type.fromObject(fix(json) as Record<string, unknown>)).finish());
}

const writeRequest = fc.record({
  timeseries: fc.array(
    fc.record({
      labels: fc.array(fc.record({ name: text, value: text }), { maxLength: 4 }),
      samples: fc.array(fc.record({ value: fc.double({ noNaN: true, noDefaultInfinity: true }), timestamp: fc.integer({ min: 0, max: 2 ** 47 }) }), { maxLength: 4 }),
    }),
    { maxLength: 4 },
  ),
});

/** One change an adversary makes to bytes. */
type Mutation = { op: 'flip'; at: number; bit: number } | { op: 'cut'; at: number } | { op: 'insert'; at: number; bytes: Uint8Array } | { op: 'delete'; at: number; n: number } | { op: 'repeat'; at: number; n: number } | { op: 'length'; at: number; value: number };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ op: fc.constant('flip' as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
  fc.record({ op: fc.constant('cut' as const), at: fc.nat() }),
  fc.record({ op: fc.constant('insert' as const), at: fc.nat(), bytes: fc.oneof(fc.uint8Array({ minLength: 1, maxLength: 6 }), fc.constantFrom(...'{}[]",:\\0123456789-e.tfn'.split('').map((c) => Buffer.from(c)))) }),
  fc.record({ op: fc.constant('delete' as const), at: fc.nat(), n: fc.integer({ min: 1, max: 8 }) }),
  fc.record({ op: fc.constant('repeat' as const), at: fc.nat(), n: fc.integer({ min: 1, max: 64 }) }),
  // a varint past every limit where a length was
  fc.record({ op: fc.constant('length' as const), at: fc.nat(), value: fc.constantFrom(127, 128, 2 ** 14, 2 ** 21, 2 ** 28, 2 ** 31, 2 ** 35) }),
);

export function mutate(body: Buffer, mutations: Mutation[]): Buffer {
  let b = Buffer.from(body);
  for (const m of mutations) {
    const at = b.length === 0 ? 0 : m.at % (b.length + 1);
    if (m.op === 'flip') {
      if (b.length > 0) b[at % b.length]! ^= 1 << m.bit;
    } else if (m.op === 'cut') b = b.subarray(0, at);
    else if (m.op === 'insert') b = Buffer.concat([b.subarray(0, at), m.bytes, b.subarray(at)]);
    else if (m.op === 'delete') b = Buffer.concat([b.subarray(0, at), b.subarray(at + m.n)]);
    else if (m.op === 'repeat') b = Buffer.concat([b.subarray(0, at), Buffer.concat(Array.from({ length: m.n }, () => b.subarray(at, at + 4))), b.subarray(at)]);
    else b = Buffer.concat([b.subarray(0, at), Buffer.from(varint(m.value)), b.subarray(at + 1)]);
  }
  return b;
}

const mutations = fc.array(mutation, { minLength: 1, maxLength: 4 });

/** OTLP inputs of one signal and format, well-formed or mutated, with or without gzip (mutated after it too). */
export function otlpInput(signal: Signal, format: 'protobuf' | 'json'): fc.Arbitrary<Input> {
  return fc
    .record({ json: otlpJson(signal), before: fc.option(mutations, { freq: 3 }), gzip: fc.boolean(), after: fc.option(mutations, { freq: 4 }) })
    .map(({ json, before, gzip, after }) => {
      let body: Buffer = format === 'json' ? Buffer.from(JSON.stringify(json)) : toProtobuf(signal, json);
      if (before) body = mutate(body, before);
      if (gzip) body = gzipSync(body);
      if (gzip && after) body = mutate(body, after);
      return { kind: signal, format, body, encoding: gzip ? 'gzip' : 'identity', wellFormed: !before && !(gzip && after) } satisfies Input;
    });
}

/** remote_write inputs: snappy-compressed WriteRequests, mutated before or after the compression. */
export function remoteWriteInput(): fc.Arbitrary<Input> {
  return fc.record({ req: writeRequest, before: fc.option(mutations, { freq: 3 }), after: fc.option(mutations, { freq: 3 }) }).map(({ req, before, after }) => {
    let body: Buffer = Buffer.from(PromWriteRequest.encode(PromWriteRequest.fromObject(req)).finish());
    if (before) body = mutate(body, before);
    body = snappy.compressSync(body);
    if (after) body = mutate(body, after);
    return { kind: 'prom-rw', format: 'protobuf', body, encoding: 'snappy', wellFormed: !before && !after } satisfies Input;
  });
}
