import { gzipSync } from 'node:zlib';
import protobuf from 'protobufjs';
import { ExportLogsServiceRequest, ExportTraceServiceRequest, type AnyValue } from '../../src/otlp/codec.js';
import { logsRequest } from '../helpers/otlp.js';
import { prng } from '../helpers/prng.js';

/**
 * A generated corpus of bad OTLP input. Every case in it is malformed or over a limit, so a
 * receiver must refuse it; the bit-flip cases are the exception (`mayBeValid`): a flipped bit
 * inside a string can leave a well-formed request, which must then be accepted as it is.
 */
export interface BadCase {
  name: string;
  family: string;
  /** OTLP/HTTP path; gRPC cases use the matching Export method */
  signal: 'logs' | 'traces' | 'metrics';
  format: 'protobuf' | 'json';
  body: Buffer;
  gzip?: boolean;
  /** the body is already gzip (a bomb): sent with Content-Encoding gzip / grpc-encoding gzip */
  pregzipped?: boolean;
  mayBeValid?: boolean;
  /** gRPC only: the HTTP/2 body as sent, its length-prefixed framing included */
  grpcFrame?: Buffer;
  /** gRPC only: the grpc-encoding header (else from `pregzipped`) */
  grpcEncoding?: string;
}


const ts = 1_763_800_000_000_000_000n;

/** A valid logs request with one resource (so that every truncation of it is invalid). */
export function validLogs(attrs: Record<string, AnyValue> = {}, body = 'a bad-input corpus record'): Buffer {
  const logs = Array.from({ length: 5 }, (_, i) => ({ tenant: 'acme', service: 'corpus', seq: i, body, severityNumber: 9, timeUnixNano: ts, attrs }));
  return Buffer.from(ExportLogsServiceRequest.encode(logsRequest(logs, [{ key: 'host.name', value: { stringValue: 'h1' } }]) as never).finish());
}

/** A protobuf varint's bytes. */
export function varint(n: number): number[] {
  const out: number[] = [];
  while (n >= 0x80) {
    out.push((n % 128) | 0x80);
    n = Math.floor(n / 128);
  }
  out.push(n);
  return out;
}

/** A length-delimited field `id` holding `inner`. */
function field(id: number, inner: Uint8Array | number[]): Buffer {
  return Buffer.concat([Buffer.from([(id << 3) | 2, ...varint(inner.length)]), Buffer.from(inner)]);
}

/** A logs request whose one record has the attribute `deep` = `levels` nested array values, built without recursion. */
export function deeplyNested(levels: number): Buffer {
  // AnyValue{array_value(5): ArrayValue{values(1): AnyValue{…}}}: sizes from the inside out.
  const leaf = Buffer.from([0x0a, 1, 0x78]); // AnyValue{string_value: "x"}
  const sizes = new Array<number>(levels + 1);
  sizes[levels] = leaf.length;
  for (let i = levels - 1; i >= 0; i--) {
    const inner = sizes[i + 1]!;
    const arrayValue = 1 + varint(inner).length + inner;
    sizes[i] = 1 + varint(arrayValue).length + arrayValue;
  }
  const out = Buffer.alloc(sizes[0]!);
  let pos = 0;
  for (let i = 0; i < levels; i++) {
    const inner = sizes[i + 1]!;
    const arrayValue = 1 + varint(inner).length + inner;
    for (const b of [(5 << 3) | 2, ...varint(arrayValue), (1 << 3) | 2, ...varint(inner)]) out[pos++] = b;
  }
  leaf.copy(out, pos);
  const kv = Buffer.concat([field(1, Buffer.from('deep')), field(2, out)]);
  const record = Buffer.concat([Buffer.from([(1 << 3) | 1, ...Buffer.alloc(8, 1)]), field(6, kv)]);
  return field(1, field(2, field(2, record)));
}

/** Overwrites the first occurrence of `marker` in `body` with `bytes` (same length). */
function patch(body: Buffer, marker: string, bytes: number[]): Buffer {
  const out = Buffer.from(body);
  const at = out.indexOf(marker);
  if (at < 0 || bytes.length > marker.length) throw new Error(`marker ${marker} not in body`);
  Buffer.from(bytes).copy(out, at);
  return out;
}

export function corpus(seed = 20261123): BadCase[] {
  const rand = prng(seed);
  const cases: BadCase[] = [];
  const add = (family: string, name: string, c: Omit<BadCase, 'family' | 'name'>) => cases.push({ family, name: `${family}: ${name}`, ...c });
  const base = validLogs({ 'http.route': { stringValue: '/checkout' }, n: { intValue: 7 } });

  // Truncations: every cut inside the one top-level field is malformed.
  for (let i = 0; i < 40; i++) {
    const cut = 1 + Math.floor(rand() * (base.length - 1));
    add('truncated', `cut at ${cut} of ${base.length}`, { signal: 'logs', format: 'protobuf', body: base.subarray(0, cut) });
  }
  const trace = Buffer.from(ExportTraceServiceRequest.encode({ resourceSpans: [{ scopeSpans: [{ spans: [{ traceId: Buffer.alloc(16, 1), spanId: Buffer.alloc(8, 2), name: 'op', startTimeUnixNano: ts.toString(), endTimeUnixNano: ts.toString() }] }] }] } as never).finish());
  for (let i = 0; i < 10; i++) {
    const cut = 1 + Math.floor(rand() * (trace.length - 1));
    add('truncated', `trace cut at ${cut}`, { signal: 'traces', format: 'protobuf', body: trace.subarray(0, cut) });
  }

  // Bit flips anywhere: most break the structure; some leave a well-formed request.
  for (let i = 0; i < 150; i++) {
    const body = Buffer.from(base);
    const flips = 1 + Math.floor(rand() * 3);
    for (let f = 0; f < flips; f++) {
      const at = Math.floor(rand() * body.length);
      body[at]! ^= 1 << Math.floor(rand() * 8);
    }
    add('bit-flipped', `${flips} flips #${i}`, { signal: 'logs', format: 'protobuf', body, mayBeValid: true });
  }

  // Deep nesting, past MAX_MESSAGE_DEPTH (64 messages ≈ 30 array levels).
  for (const levels of [40, 1_000, 100_000, 1_000_000]) {
    add('deeply nested AnyValue', `${levels} levels`, { signal: 'logs', format: 'protobuf', body: deeplyNested(levels) });
  }
  {
    let v = '{"stringValue":"x"}';
    for (let i = 0; i < 50_000; i++) v = `{"arrayValue":{"values":[${v}]}}`;
    const json = `{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"attributes":[{"key":"deep","value":${v}}]}]}]}]}`;
    add('deeply nested AnyValue', 'JSON, 50000 levels', { signal: 'logs', format: 'json', body: Buffer.from(json) });
  }

  // Huge attribute maps, past MAX_ATTRIBUTES (1024).
  for (const n of [1_025, 20_000, 400_000]) {
    const attrs = Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, { stringValue: 'v' }]));
    const body = n > 100_000 ? hugeAttributes(n) : validLogs(attrs);
    add('huge attribute map', `${n} attributes`, { signal: 'logs', format: 'protobuf', body });
  }
  {
    const values = Array.from({ length: 5_000 }, (_, i) => ({ key: `k${i}`, value: { stringValue: 'v' } }));
    add('huge attribute map', 'kvlist of 5000', { signal: 'logs', format: 'protobuf', body: validLogs({ map: { kvlistValue: { values } } as AnyValue }) });
    const json = JSON.stringify({ resourceLogs: [{ scopeLogs: [{ logRecords: [{ attributes: values }] }] }] });
    add('huge attribute map', 'JSON, 5000 attributes', { signal: 'logs', format: 'json', body: Buffer.from(json) });
  }

  // Invalid UTF-8 in string fields (same length as a marker, so the framing stays valid).
  const utf8Base = validLogs({ marker_key: { stringValue: 'marker_val' } }, 'marker_body');
  const invalid: [string, number[]][] = [
    ['lone continuation byte', [0x80]],
    ['truncated 2-byte sequence', [0xc3]],
    ['overlong encoding of /', [0xc0, 0xaf]],
    ['UTF-16 surrogate', [0xed, 0xa0, 0x80]],
    ['code point past U+10FFFF', [0xf4, 0x90, 0x80, 0x80]],
    ['0xFF byte', [0xff]],
  ];
  for (const [what, bytes] of invalid) {
    for (const marker of ['marker_body', 'marker_key', 'marker_val']) {
      add('invalid UTF-8', `${what} in ${marker.slice(7)}`, { signal: 'logs', format: 'protobuf', body: patch(utf8Base, marker, [...Buffer.from('x'), ...bytes]) });
    }
  }
  add('invalid UTF-8', 'JSON body', { signal: 'logs', format: 'json', body: Buffer.concat([Buffer.from('{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"body":{"stringValue":"'), Buffer.from([0xc3, 0x28]), Buffer.from('"}}]}]}]}')]) });

  // Wrong wire types for known fields at several depths.
  const w = (build: (wr: protobuf.Writer) => void) => {
    const wr = protobuf.Writer.create();
    build(wr);
    return Buffer.from(wr.finish());
  };
  const inRecord = (record: Buffer) => field(1, field(2, field(2, record)));
  add('wrong field type', 'resource_logs as varint', { signal: 'logs', format: 'protobuf', body: w((x) => x.uint32((1 << 3) | 0).uint32(5)) });
  add('wrong field type', 'time_unix_nano as string', { signal: 'logs', format: 'protobuf', body: inRecord(field(1, Buffer.from('12345678'))) });
  add('wrong field type', 'severity_number as fixed64', { signal: 'logs', format: 'protobuf', body: inRecord(w((x) => x.uint32((2 << 3) | 1).fixed64(9))) });
  add('wrong field type', 'body as varint', { signal: 'logs', format: 'protobuf', body: inRecord(w((x) => x.uint32((5 << 3) | 0).uint32(3))) });
  add('wrong field type', 'attributes as fixed32', { signal: 'logs', format: 'protobuf', body: inRecord(w((x) => x.uint32((6 << 3) | 5).fixed32(1))) });
  add('wrong field type', 'trace_id as fixed64', { signal: 'logs', format: 'protobuf', body: inRecord(w((x) => x.uint32((9 << 3) | 1).fixed64(1))) });
  add('wrong field type', 'group wire type', { signal: 'logs', format: 'protobuf', body: inRecord(w((x) => x.uint32((6 << 3) | 3).uint32((6 << 3) | 4))) });
  add('wrong field type', 'span name as varint', { signal: 'traces', format: 'protobuf', body: field(1, field(2, field(2, w((x) => x.uint32((5 << 3) | 0).uint32(1))))) });
  add('wrong field type', 'metric gauge as fixed32', { signal: 'metrics', format: 'protobuf', body: field(1, field(2, field(2, w((x) => x.uint32((5 << 3) | 5).fixed32(1))))) });

  // Enormous declared lengths.
  for (const len of [2 ** 31 - 1, 2 ** 32 + 5, 2 ** 53, 2 ** 62]) {
    add('enormous declared length', `top-level field of ${len} bytes`, { signal: 'logs', format: 'protobuf', body: Buffer.from([0x0a, ...varint(Math.min(len, Number.MAX_SAFE_INTEGER)), 1, 2, 3]) });
  }
  add('enormous declared length', 'string of 2^31 bytes in a record', { signal: 'logs', format: 'protobuf', body: inRecord(Buffer.from([(3 << 3) | 2, ...varint(2 ** 31), 0x41])) });

  // JSON of the wrong shape or types.
  const jsonCases: [string, string][] = [
    ['resourceLogs is a string', '{"resourceLogs":"x"}'],
    ['resourceLogs is a number', '{"resourceLogs":5}'],
    ['timeUnixNano is an object', '{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"timeUnixNano":{}}]}]}]}'],
    ['timeUnixNano is not a number', '{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"timeUnixNano":"soon"}]}]}]}'],
    ['attributes is a number', '{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"attributes":5}]}]}]}'],
    ['severityNumber is a word', '{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"severityNumber":"loud"}]}]}]}'],
    ['body is an array', '{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"body":[1,2]}]}]}]}'],
    ['traceId is not hex', '{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"traceId":"zz"}]}]}]}'],
    ['not JSON', '{"resourceLogs":['],
    ['a JSON array', '[1,2,3]'],
    ['a JSON string', '"logs"'],
    ['JSON null', 'null'],
    ['spans is an object', '{"resourceSpans":[{"scopeSpans":[{"spans":{"a":1}}]}]}'],
  ];
  for (const [name, text] of jsonCases) {
    add('JSON of wrong types', name, { signal: name.startsWith('spans') ? 'traces' : 'logs', format: 'json', body: Buffer.from(text) });
  }

  // Gzip: bombs past MAX_BODY_BYTES once decompressed, and bodies that are not gzip.
  add('gzip bomb', '256 MiB of zeros', { signal: 'logs', format: 'protobuf', body: gzipBomb(256), pregzipped: true });
  add('gzip bomb', '64 MiB of zeros as JSON', { signal: 'logs', format: 'json', body: gzipBomb(64), pregzipped: true });
  add('gzip bomb', 'gzip inside gzip', { signal: 'logs', format: 'protobuf', body: gzipSync(gzipBomb(32)), pregzipped: true });
  add('gzip', 'not gzip at all', { signal: 'logs', format: 'protobuf', body: base, pregzipped: true });
  add('gzip', 'truncated gzip', { signal: 'logs', format: 'protobuf', body: gzipSync(base).subarray(0, 40), pregzipped: true });
  // gRPC framing: the 5-byte prefix (compressed flag, length) and the grpc-encoding header,
  // generated around a valid message.
  const frame = (flag: number, length: number, message: Buffer) => {
    const prefix = Buffer.alloc(5);
    prefix[0] = flag;
    prefix.writeUInt32BE(length >>> 0, 1);
    return Buffer.concat([prefix, message]);
  };
  const gz = gzipSync(base);
  const grpc = (name: string, grpcFrame: Buffer, grpcEncoding = 'identity', mayBeValid = false) =>
    add('gRPC framing', name, { signal: 'logs', format: 'protobuf', body: base, grpcFrame, grpcEncoding, ...(mayBeValid ? { mayBeValid } : {}) });
  // grpc-js reads a flag other than 1 as uncompressed, and the flag under grpc-encoding identity
  // as no compression: the message is then taken as sent, and judged as any other (pinned here).
  for (let i = 0; i < 20; i++) {
    const flag = 2 + Math.floor(rand() * 254);
    grpc(`compressed flag ${flag}`, frame(flag, base.length, base), 'identity', true);
  }
  grpc('compressed flag with identity encoding', frame(1, base.length, base), 'identity', true);
  grpc('compressed flag over plain bytes', frame(1, base.length, base), 'gzip');
  grpc('uncompressed flag with gzip encoding', frame(0, base.length, base), 'gzip', true);
  for (const enc of ['br', 'snappy', 'zstd', 'x'.repeat(300)]) grpc(`grpc-encoding ${enc.slice(0, 12)}`, frame(1, gz.length, gz), enc);
  for (let i = 0; i < 30; i++) {
    const length = Math.floor(rand() * base.length);
    grpc(`declared ${length} of ${base.length} bytes`, frame(0, length, base), 'identity', true);
  }
  for (let i = 0; i < 20; i++) {
    const length = base.length + 1 + Math.floor(rand() * 100_000);
    grpc(`declared ${length}, sent ${base.length}`, frame(0, length, base));
  }
  for (const length of [2 ** 31, 2 ** 32 - 1]) grpc(`declared ${length}`, frame(0, length, base));
  grpc('two messages in a unary call', Buffer.concat([frame(0, base.length, base), frame(0, base.length, base)]));
  for (let cut = 1; cut < 5; cut++) grpc(`a prefix of ${cut} bytes`, frame(0, base.length, base).subarray(0, cut));
  grpc('no body at all', Buffer.alloc(0));
  for (let i = 0; i < 20; i++) {
    const body = frame(1, gz.length, gz);
    body[5 + Math.floor(rand() * gz.length)]! ^= 1 << Math.floor(rand() * 8);
    grpc(`gzip message bit-flipped #${i}`, body, 'gzip', true);
  }
  return cases;
}

/** A logs request with one record of `n` attributes, written without building objects. */
function hugeAttributes(n: number): Buffer {
  const one = field(6, Buffer.concat([field(1, Buffer.from('k')), field(2, Buffer.from([0x0a, 1, 0x76]))]));
  return field(1, field(2, field(2, Buffer.concat(Array.from({ length: n }, () => one)))));
}

let bomb: Map<number, Buffer> | undefined;
/** gzip of `mib` MiB of zero bytes (compressed once, then cached). */
function gzipBomb(mib: number): Buffer {
  bomb ??= new Map();
  let b = bomb.get(mib);
  if (!b) {
    b = gzipSync(Buffer.alloc(mib * 1024 * 1024), { level: 9 });
    bomb.set(mib, b);
  }
  return b;
}
