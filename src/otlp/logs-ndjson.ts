/**
 * OTLP logs protobuf straight to newline-delimited JSON rows of the hybrid schema, for the lake
 * pipeline's bulk load into DuckDB.
 *
 * Why by hand: a general protobuf library (protobufjs) builds an object per message, per
 * KeyValue and per AnyValue, and the mapping then builds a row object, two Maps and their JSON;
 * at a few hundred bytes per log record that garbage costs more than everything else the
 * appender does. This reader walks the wire format once and writes each row's JSON bytes into
 * one growing buffer, copying string bytes from the request as they are (validated as UTF-8,
 * escaped for JSON). It implements exactly the mapping of `logs-mapping.ts` (the readable
 * reference, used by the hot-path sinks), and a unit test holds the two equal on generated
 * requests. Resource and scope fields, met once per thousand records, go through plain JS.
 *
 * Differences from a protobufjs decode, all on malformed input: a field with the wrong wire type
 * is an error (protobufjs reads it as if it were right); of several oneof members on the wire
 * the last wins, as the protobuf specification says; invalid UTF-8 becomes U+FFFD per maximal
 * invalid subsequence (WHATWG), where protobufjs may produce lone surrogates.
 */

import { PROMOTED_RESOURCE_KEYS, SEVERITY_NAMES } from '../schema/logs.js';

/** A growable byte buffer that rows are written into. */
export class ByteSink {
  buf: Buffer;
  len = 0;

  constructor(initial = 1 << 20) {
    this.buf = Buffer.allocUnsafe(initial);
  }

  ensure(extra: number): void {
    const need = this.len + extra;
    if (need <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < need) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.buf.copy(next, 0, 0, this.len);
    this.buf = next;
  }

  /** Writes an ASCII-only string. */
  ascii(s: string): void {
    this.ensure(s.length);
    const b = this.buf;
    let p = this.len;
    for (let i = 0; i < s.length; i++) b[p++] = s.charCodeAt(i);
    this.len = p;
  }

  /** Writes any string as UTF-8. */
  utf8(s: string): void {
    this.ensure(s.length * 3);
    this.len += this.buf.write(s, this.len, 'utf8');
  }

  bytes(src: Uint8Array, start = 0, end = src.length): void {
    this.ensure(end - start);
    this.buf.set(src.subarray(start, end), this.len);
    this.len += end - start;
  }

  /** The bytes written so far (a view, valid until the next write). */
  view(start = 0, end = this.len): Buffer {
    return this.buf.subarray(start, end);
  }

  reset(): void {
    this.len = 0;
    if (this.buf.length > 64 << 20) this.buf = Buffer.allocUnsafe(1 << 20);
  }
}

export class OtlpDecodeError extends Error {}

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));
const HEX_CODES = new Uint8Array(512);
for (let i = 0; i < 256; i++) {
  HEX_CODES[2 * i] = HEX[i]!.charCodeAt(0);
  HEX_CODES[2 * i + 1] = HEX[i]!.charCodeAt(1);
}
/** Bytes that go into a JSON string as they are. */
const SAFE = new Uint8Array(256);
for (let c = 0x20; c < 0x80; c++) SAFE[c] = 1;
SAFE[0x22] = 0;
SAFE[0x5c] = 0;
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);
const MIN_SAFE = BigInt(Number.MIN_SAFE_INTEGER);
const MAX_DEPTH = 64;

// ---------------------------------------------------------------------------------------------
// Wire reading

/** Reads a varint at `r.pos`; returns it as a double (exact below 2^53), leaves lo/hi words. */
class Reader {
  pos = 0;
  lo = 0;
  hi = 0;
  /** the oneof member (field number) of the AnyValue last read by anyValueJs; 0 when none */
  member = 0;
  /** byte ranges of the KeyValue last read by readKeyValue */
  keyStart = 0;
  keyEnd = 0;
  valueStart = -1;
  valueEnd = -1;
  constructor(readonly buf: Uint8Array) {}

  fail(what: string): never {
    throw new OtlpDecodeError(`malformed protobuf: ${what} at byte ${this.pos}`);
  }

  /** Reads a varint into lo/hi (uint32 words). */
  varint64(end: number): void {
    const b = this.buf;
    let lo = 0;
    let hi = 0;
    let shift = 0;
    let byte: number;
    // low 28 bits
    for (; shift < 28; shift += 7) {
      if (this.pos >= end) this.fail('truncated varint');
      byte = b[this.pos++]!;
      lo |= (byte & 0x7f) << shift;
      if (byte < 0x80) {
        this.lo = lo >>> 0;
        this.hi = 0;
        return;
      }
    }
    // bits 28..34 straddle the words
    if (this.pos >= end) this.fail('truncated varint');
    byte = b[this.pos++]!;
    lo |= (byte & 0x0f) << 28;
    hi = (byte & 0x7f) >> 4;
    if (byte >= 0x80) {
      for (shift = 3; ; shift += 7) {
        if (shift > 63) this.fail('varint too long');
        if (this.pos >= end) this.fail('truncated varint');
        byte = b[this.pos++]!;
        if (shift < 32) hi |= (byte & 0x7f) << shift;
        if (byte < 0x80) break;
      }
    }
    this.lo = lo >>> 0;
    this.hi = hi >>> 0;
  }

  /** A varint that must fit in 32 bits (tags, lengths). */
  uint32(end: number): number {
    const b = this.buf;
    if (this.pos < end) {
      const byte = b[this.pos]!;
      if (byte < 0x80) {
        this.pos++;
        return byte;
      }
    }
    this.varint64(end);
    if (this.hi !== 0) this.fail('length or tag out of range');
    return this.lo;
  }

  /** Reads a length prefix and returns the end of the field it delimits. */
  lengthEnd(end: number): number {
    const n = this.uint32(end);
    const e = this.pos + n;
    if (e > end) this.fail(`length ${n} runs past the end of its message`);
    return e;
  }

  fixed32(end: number): number {
    if (this.pos + 4 > end) this.fail('truncated fixed32');
    const b = this.buf;
    const p = this.pos;
    this.pos += 4;
    return (b[p]! | (b[p + 1]! << 8) | (b[p + 2]! << 16) | (b[p + 3]! << 24)) >>> 0;
  }

  /** Reads a fixed64 into lo/hi. */
  fixed64(end: number): void {
    this.lo = this.fixed32(end);
    this.hi = this.fixed32(end);
  }

  skip(wireType: number, end: number): void {
    switch (wireType) {
      case 0:
        this.varint64(end);
        return;
      case 1:
        if (this.pos + 8 > end) this.fail('truncated fixed64');
        this.pos += 8;
        return;
      case 2:
        this.pos = this.lengthEnd(end);
        return;
      case 5:
        if (this.pos + 4 > end) this.fail('truncated fixed32');
        this.pos += 4;
        return;
      default:
        this.fail(`unsupported wire type ${wireType}`);
    }
  }

  expect(wireType: number, want: number, field: string): void {
    if (wireType !== want) this.fail(`${field} has wire type ${wireType}, not ${want}`);
  }
}

/** A signed int64 from two words, as a JS number when safe, else a bigint. */
function int64(lo: number, hi: number): number | bigint {
  if (hi < 0x200000) return hi * 4294967296 + lo; // < 2^53
  if (hi >= 0xffe00000) return (hi - 4294967296) * 4294967296 + lo; // >= -2^53
  return BigInt.asIntN(64, (BigInt(hi) << 32n) | BigInt(lo));
}

/** int64 as the mapping writes it into JSON: a number when safe, else a quoted string. */
function int64Json(lo: number, hi: number): string {
  const v = int64(lo, hi);
  if (typeof v === 'number') return String(v);
  return v >= MIN_SAFE && v <= MAX_SAFE ? String(v) : `"${v}"`;
}

/** Unsigned fixed64 nanoseconds to microseconds as decimal text; '' for zero. */
function nanosToMicrosText(lo: number, hi: number): string {
  if (lo === 0 && hi === 0) return '';
  // n = hi * 2^32 + lo = 1000 * hi * 4294967 + (hi * 296 + lo)
  if (hi < 2_000_000_000) return String(hi * 4294967 + Math.floor((hi * 296 + lo) / 1000));
  return String(((BigInt(hi) << 32n) | BigInt(lo)) / 1000n);
}

function float64(b: Uint8Array, p: number): number {
  return new DataView(b.buffer, b.byteOffset + p, 8).getFloat64(0, true);
}

// ---------------------------------------------------------------------------------------------
// JSON string writing straight from UTF-8 bytes

/**
 * Writes bytes [start, end) of `src` as a JSON string. Returns false, with nothing written,
 * when the bytes are not valid UTF-8.
 */
function writeJsonString(out: ByteSink, src: Uint8Array, start: number, end: number): boolean {
  out.ensure((end - start) * 6 + 2);
  const o = out.buf;
  let p = out.len;
  o[p++] = 0x22;
  let i = start;
  while (i < end) {
    const c = src[i]!;
    if (SAFE[c] === 1) {
      o[p++] = c;
      i++;
      continue;
    }
    if (c < 0x80) {
      {
        o[p++] = 0x5c;
        if (c === 0x22 || c === 0x5c) o[p++] = c;
        else if (c === 0x0a) o[p++] = 0x6e;
        else if (c === 0x09) o[p++] = 0x74;
        else if (c === 0x0d) o[p++] = 0x72;
        else {
          o[p++] = 0x75; // \u00XX
          o[p++] = 0x30;
          o[p++] = 0x30;
          o[p++] = HEX_CODES[2 * c]!;
          o[p++] = HEX_CODES[2 * c + 1]!;
        }
      }
      i++;
      continue;
    }
    // multi-byte: validate (WHATWG UTF-8) and copy
    let n: number;
    let lo = 0x80;
    let hi = 0xbf;
    if (c >= 0xc2 && c <= 0xdf) n = 1;
    else if (c >= 0xe0 && c <= 0xef) {
      n = 2;
      if (c === 0xe0) lo = 0xa0;
      else if (c === 0xed) hi = 0x9f;
    } else if (c >= 0xf0 && c <= 0xf4) {
      n = 3;
      if (c === 0xf0) lo = 0x90;
      else if (c === 0xf4) hi = 0x8f;
    } else return false;
    if (i + n >= end) return false;
    const c1 = src[i + 1]!;
    if (c1 < lo || c1 > hi) return false;
    for (let k = 2; k <= n; k++) {
      const ck = src[i + k]!;
      if (ck < 0x80 || ck > 0xbf) return false;
    }
    for (let k = 0; k <= n; k++) o[p++] = src[i + k]!;
    i += n + 1;
  }
  o[p++] = 0x22;
  out.len = p;
  return true;
}

/** Writes a JS string as a JSON string. */
function writeJsonStringJs(out: ByteSink, s: string): void {
  out.utf8(JSON.stringify(s));
}

/** A UTF-8 field as a JS string, invalid sequences replaced by U+FFFD. */
function text(src: Uint8Array, start: number, end: number): string {
  return Buffer.from(src.buffer, src.byteOffset, src.byteLength).toString('utf8', start, end);
}

/** Writes a string field, falling back to replacement characters for invalid UTF-8. */
function writeField(out: ByteSink, src: Uint8Array, start: number, end: number): void {
  if (!writeJsonString(out, src, start, end)) writeJsonStringJs(out, text(src, start, end));
}

// ---------------------------------------------------------------------------------------------
// AnyValue / KeyValue through plain JS values (resources, scopes, and non-scalar values)

/** An AnyValue message [start, end) as the mapping's JSON value (see anyValueToJson). */
function anyValueJs(r: Reader, start: number, end: number, depth: number): unknown {
  if (depth > MAX_DEPTH) r.fail(`AnyValue nested deeper than ${MAX_DEPTH}`);
  let value: unknown = null;
  let member = 0;
  r.pos = start;
  while (r.pos < end) {
    const tag = r.uint32(end);
    const field = tag >>> 3;
    const wt = tag & 7;
    if (field >= 1 && field <= 7) member = field;
    switch (field) {
      case 1: {
        r.expect(wt, 2, 'AnyValue.string_value');
        const e = r.lengthEnd(end);
        value = text(r.buf, r.pos, e);
        r.pos = e;
        break;
      }
      case 2:
        r.expect(wt, 0, 'AnyValue.bool_value');
        r.varint64(end);
        value = r.lo !== 0 || r.hi !== 0;
        break;
      case 3: {
        r.expect(wt, 0, 'AnyValue.int_value');
        r.varint64(end);
        const v = int64(r.lo, r.hi);
        value = typeof v === 'number' ? v : v >= MIN_SAFE && v <= MAX_SAFE ? Number(v) : v.toString();
        break;
      }
      case 4: {
        r.expect(wt, 1, 'AnyValue.double_value');
        if (r.pos + 8 > end) r.fail('truncated double');
        const d = float64(r.buf, r.pos);
        r.pos += 8;
        value = Number.isFinite(d) ? d : String(d);
        break;
      }
      case 5: {
        r.expect(wt, 2, 'AnyValue.array_value');
        const e = r.lengthEnd(end);
        const values: unknown[] = [];
        while (r.pos < e) {
          const t = r.uint32(e);
          if (t >>> 3 === 1) {
            r.expect(t & 7, 2, 'ArrayValue.values');
            const ve = r.lengthEnd(e);
            values.push(anyValueJs(r, r.pos, ve, depth + 1));
            r.pos = ve;
          } else r.skip(t & 7, e);
        }
        value = values;
        break;
      }
      case 6: {
        r.expect(wt, 2, 'AnyValue.kvlist_value');
        const e = r.lengthEnd(end);
        const o: Record<string, unknown> = {};
        while (r.pos < e) {
          const t = r.uint32(e);
          if (t >>> 3 === 1) {
            r.expect(t & 7, 2, 'KeyValueList.values');
            const ke = r.lengthEnd(e);
            const [k, v] = keyValueJs(r, r.pos, ke, depth + 1);
            o[k] = v;
            r.pos = ke;
          } else r.skip(t & 7, e);
        }
        value = o;
        break;
      }
      case 7: {
        r.expect(wt, 2, 'AnyValue.bytes_value');
        const e = r.lengthEnd(end);
        value = Buffer.from(r.buf.buffer, r.buf.byteOffset + r.pos, e - r.pos).toString('base64');
        r.pos = e;
        break;
      }
      default:
        r.skip(wt, end);
    }
  }
  r.member = member;
  return value;
}

/** anyValueToString of the mapping: a string_value as it is, anything else as JSON, nothing as null. */
function anyValueString(r: Reader, start: number, end: number): string | null {
  const v = anyValueJs(r, start, end, 1);
  if (v === null) return null;
  return r.member === 1 ? (v as string) : JSON.stringify(v);
}

/**
 * Finds the key and value of a KeyValue message [start, end): leaves their byte ranges in
 * r.keyStart/keyEnd and r.valueStart/valueEnd (valueStart -1 when there is no value).
 */
function readKeyValue(r: Reader, start: number, end: number): void {
  r.keyStart = r.keyEnd = start;
  r.valueStart = r.valueEnd = -1;
  r.pos = start;
  while (r.pos < end) {
    const tag = r.uint32(end);
    if (tag === 0x0a) {
      r.keyEnd = r.lengthEnd(end);
      r.keyStart = r.pos;
      r.pos = r.keyEnd;
    } else if (tag === 0x12) {
      r.valueEnd = r.lengthEnd(end);
      r.valueStart = r.pos;
      r.pos = r.valueEnd;
    } else if (tag >>> 3 === 1 || tag >>> 3 === 2) r.fail('KeyValue field with the wrong wire type');
    else r.skip(tag & 7, end);
  }
}

/** A KeyValue message as [key, JSON value]; a missing value is null. */
function keyValueJs(r: Reader, start: number, end: number, depth: number): [string, unknown] {
  readKeyValue(r, start, end);
  const key = text(r.buf, r.keyStart, r.keyEnd);
  const value = r.valueStart < 0 ? null : anyValueJs(r, r.valueStart, r.valueEnd, depth);
  r.pos = end;
  return [key, value];
}

/** A KeyValue message as [key, anyValueToString of its value]. */
function keyValueString(r: Reader, start: number, end: number): [string, string | null] {
  readKeyValue(r, start, end);
  const key = text(r.buf, r.keyStart, r.keyEnd);
  const value = r.valueStart < 0 ? null : anyValueString(r, r.valueStart, r.valueEnd);
  r.pos = end;
  return [key, value];
}

// ---------------------------------------------------------------------------------------------
// Rows

/** Scratch arrays for one record's attributes. */
const enum Kind {
  Empty = 0,
  Str = 1,
  /** `lit` holds the value string (e.g. a JSON document) */
  Js = 2,
  /** `lit` holds the value string, known to need no escaping (true, false, 12) */
  Plain = 3,
}

class AttrScratch {
  n = 0;
  keyStart = new Int32Array(64);
  keyEnd = new Int32Array(64);
  keyHash = new Int32Array(64);
  kind = new Uint8Array(64);
  valStart = new Int32Array(64);
  valEnd = new Int32Array(64);
  lit: (string | null)[] = new Array(64).fill(null);
  dead = new Uint8Array(64);

  grow(): void {
    const size = this.keyStart.length * 2;
    const g32 = (a: Int32Array) => {
      const b = new Int32Array(size);
      b.set(a);
      return b;
    };
    const g8 = (a: Uint8Array) => {
      const b = new Uint8Array(size);
      b.set(a);
      return b;
    };
    this.keyStart = g32(this.keyStart);
    this.keyEnd = g32(this.keyEnd);
    this.keyHash = g32(this.keyHash);
    this.valStart = g32(this.valStart);
    this.valEnd = g32(this.valEnd);
    this.kind = g8(this.kind);
    this.dead = g8(this.dead);
    this.lit.length = size;
  }
}

const scratch = new AttrScratch();

function sameBytes(b: Uint8Array, s1: number, e1: number, s2: number, e2: number): boolean {
  if (e1 - s1 !== e2 - s2) return false;
  for (let i = 0; i < e1 - s1; i++) if (b[s1 + i] !== b[s2 + i]) return false;
  return true;
}

/** Reads one attribute (KeyValue at [start, end)) into scratch slot `i`. */
function readAttribute(r: Reader, a: AttrScratch, i: number, start: number, end: number): void {
  const b = r.buf;
  readKeyValue(r, start, end);
  const ks = r.keyStart;
  const ke = r.keyEnd;
  const vs = r.valueStart;
  const ve = r.valueEnd;
  let h = 0x811c9dc5 | 0;
  for (let k = ks; k < ke; k++) h = Math.imul(h ^ b[k]!, 0x01000193);
  a.keyStart[i] = ks;
  a.keyEnd[i] = ke;
  a.keyHash[i] = h;
  a.dead[i] = 0;
  a.lit[i] = null;
  a.kind[i] = Kind.Empty;
  if (vs < 0) return;
  // AnyValue: scalar members on the fast path, the rest through JS
  let kind = Kind.Empty;
  let s = 0;
  let e = 0;
  let lit: string | null = null;
  r.pos = vs;
  while (r.pos < ve) {
    const tag = r.uint32(ve);
    if (tag === 0x0a) {
      e = r.lengthEnd(ve);
      s = r.pos;
      r.pos = e;
      kind = Kind.Str;
    } else if (tag === 0x10) {
      r.varint64(ve);
      kind = Kind.Plain;
      lit = r.lo !== 0 || r.hi !== 0 ? 'true' : 'false';
    } else if (tag === 0x18) {
      r.varint64(ve);
      lit = int64Json(r.lo, r.hi);
      kind = lit.charCodeAt(0) === 0x22 ? Kind.Js : Kind.Plain;
    } else if ((tag >>> 3) >= 1 && (tag >>> 3) <= 7) {
      // double, array, kvlist, bytes (or a wrong wire type): decode the whole value in JS
      lit = anyValueString(r, vs, ve);
      kind = lit === null ? Kind.Empty : Kind.Js;
      break;
    } else r.skip(tag & 7, ve);
  }
  a.kind[i] = kind;
  a.valStart[i] = s;
  a.valEnd[i] = e;
  a.lit[i] = lit;
  r.pos = end;
}

/** Writes the value of scratch slot `i` as a JSON string (the map's VARCHAR value). */
function writeAttrValue(out: ByteSink, b: Uint8Array, a: AttrScratch, i: number): void {
  switch (a.kind[i]) {
    case Kind.Str:
      writeField(out, b, a.valStart[i]!, a.valEnd[i]!);
      return;
    case Kind.Js:
      writeJsonStringJs(out, a.lit[i]!);
      return;
    case Kind.Plain:
      out.ascii('"');
      out.ascii(a.lit[i]!);
      out.ascii('"');
      return;
    default:
      out.ascii('""');
  }
}

/** Writes a record's attributes as a JSON object, duplicate keys resolved as a Map would (last value, first position). */
function writeAttributes(out: ByteSink, b: Uint8Array, a: AttrScratch): void {
  const n = a.n;
  for (let i = 1; i < n; i++) {
    const h = a.keyHash[i]!;
    for (let j = 0; j < i; j++) {
      if (a.dead[j] === 0 && a.keyHash[j] === h && sameBytes(b, a.keyStart[j]!, a.keyEnd[j]!, a.keyStart[i]!, a.keyEnd[i]!)) {
        a.kind[j] = a.kind[i]!;
        a.valStart[j] = a.valStart[i]!;
        a.valEnd[j] = a.valEnd[i]!;
        a.lit[j] = a.lit[i]!;
        a.dead[i] = 1;
        break;
      }
    }
  }
  out.ascii('{');
  let first = true;
  for (let i = 0; i < n; i++) {
    if (a.dead[i]) continue;
    if (!first) out.ascii(',');
    first = false;
    writeField(out, b, a.keyStart[i]!, a.keyEnd[i]!);
    out.ascii(':');
    writeAttrValue(out, b, a, i);
  }
  out.ascii('}');
}

/** What rows of one scope share: everything after a record's own columns, as JSON text. */
function sharedSuffix(
  tenant: string,
  resource: ResourceColumns,
  scopeName: string | null,
  scopeVersion: string | null,
  partition: number,
  offset: string,
): string {
  const s = (v: string | null) => (v === null ? 'null' : JSON.stringify(v));
  return `,"tenant_id":${s(tenant)},"service_name":${s(resource.serviceName)},"deployment_environment":${s(resource.deploymentEnvironment)}` +
    `,"host_name":${s(resource.hostName)},"scope_name":${s(scopeName)},"scope_version":${s(scopeVersion)}` +
    `,"resource_attributes":${resource.attributesJson},"kafka_partition":${partition},"kafka_offset":${offset}}\n`;
}

interface ResourceColumns {
  serviceName: string | null;
  deploymentEnvironment: string | null;
  hostName: string | null;
  attributesJson: string;
}

function readResource(r: Reader, start: number, end: number): ResourceColumns {
  const kvs: [string, string | null][] = [];
  r.pos = start;
  while (r.pos < end) {
    const tag = r.uint32(end);
    if (tag === 0x0a) {
      const e = r.lengthEnd(end);
      kvs.push(keyValueString(r, r.pos, e));
      r.pos = e;
    } else if (tag >>> 3 === 1) r.fail('Resource.attributes has the wrong wire type');
    else r.skip(tag & 7, end);
  }
  const last = (key: string): string | null | undefined => {
    for (let i = kvs.length - 1; i >= 0; i--) if (kvs[i]![0] === key) return kvs[i]![1];
    return undefined;
  };
  const others = new Map<string, string>();
  for (const [k, v] of kvs) if (!PROMOTED_RESOURCE_KEYS.has(k)) others.set(k, v ?? '');
  let json = '{';
  for (const [k, v] of others) json += (json.length > 1 ? ',' : '') + JSON.stringify(k) + ':' + JSON.stringify(v);
  return {
    serviceName: last('service.name') ?? null,
    deploymentEnvironment: last('deployment.environment.name') ?? last('deployment.environment') ?? null,
    hostName: last('host.name') ?? null,
    attributesJson: json + '}',
  };
}

const NO_RESOURCE: ResourceColumns = { serviceName: null, deploymentEnvironment: null, hostName: null, attributesJson: '{}' };

function readScope(r: Reader, start: number, end: number): [string | null, string | null] {
  let name = '';
  let version = '';
  r.pos = start;
  while (r.pos < end) {
    const tag = r.uint32(end);
    if (tag === 0x0a || tag === 0x12) {
      const e = r.lengthEnd(end);
      const s = text(r.buf, r.pos, e);
      if (tag === 0x0a) name = s;
      else version = s;
      r.pos = e;
    } else if (tag >>> 3 === 1 || tag >>> 3 === 2) r.fail('InstrumentationScope field with the wrong wire type');
    else r.skip(tag & 7, end);
  }
  return [name || null, version || null];
}

/** Options of one Kafka record being turned into rows. */
export interface RowContext {
  tenant: string;
  /** microseconds; the timestamp of records that carry neither time field */
  fallbackMicros: bigint;
  partition: number;
  offset: bigint;
}

/**
 * Appends one NDJSON row per log record of an ExportLogsServiceRequest to `out` and returns the
 * number of rows. On malformed input it throws OtlpDecodeError and leaves `out` as it was.
 */
export function logsRequestToNdjson(req: Uint8Array, ctx: RowContext, out: ByteSink): number {
  const mark = out.len;
  try {
    return writeRequest(new Reader(req), ctx, out);
  } catch (e) {
    out.len = mark;
    if (e instanceof OtlpDecodeError) throw e;
    if (e instanceof RangeError) throw new OtlpDecodeError(`malformed protobuf: ${e.message}`);
    throw e;
  }
}

function writeRequest(r: Reader, ctx: RowContext, out: ByteSink): number {
  const end = r.buf.length;
  const fallback = String(ctx.fallbackMicros);
  const offset = String(ctx.offset);
  let rows = 0;
  while (r.pos < end) {
    const tag = r.uint32(end);
    if (tag !== 0x0a) {
      if (tag >>> 3 === 1) r.fail('resource_logs has the wrong wire type');
      r.skip(tag & 7, end);
      continue;
    }
    const rlEnd = r.lengthEnd(end);
    // The resource may follow its scopes on the wire: find it (last one wins) and the scopes first.
    let resStart = -1;
    let resEnd = -1;
    const scopes: number[] = [];
    while (r.pos < rlEnd) {
      const t = r.uint32(rlEnd);
      if (t === 0x0a) {
        resEnd = r.lengthEnd(rlEnd);
        resStart = r.pos;
        r.pos = resEnd;
      } else if (t === 0x12) {
        const e = r.lengthEnd(rlEnd);
        scopes.push(r.pos, e);
        r.pos = e;
      } else if (t >>> 3 === 1 || t >>> 3 === 2) r.fail('ResourceLogs field with the wrong wire type');
      else r.skip(t & 7, rlEnd);
    }
    const resource = resStart < 0 ? NO_RESOURCE : readResource(r, resStart, resEnd);
    for (let si = 0; si < scopes.length; si += 2) {
      rows += writeScopeLogs(r, scopes[si]!, scopes[si + 1]!, resource, ctx, fallback, offset, out);
    }
    r.pos = rlEnd;
  }
  return rows;
}

function writeScopeLogs(
  r: Reader,
  start: number,
  end: number,
  resource: ResourceColumns,
  ctx: RowContext,
  fallback: string,
  offset: string,
  out: ByteSink,
): number {
  let scopeStart = -1;
  let scopeEnd = -1;
  const records: number[] = [];
  r.pos = start;
  while (r.pos < end) {
    const t = r.uint32(end);
    if (t === 0x0a) {
      scopeEnd = r.lengthEnd(end);
      scopeStart = r.pos;
      r.pos = scopeEnd;
    } else if (t === 0x12) {
      const e = r.lengthEnd(end);
      records.push(r.pos, e);
      r.pos = e;
    } else if (t >>> 3 === 1 || t >>> 3 === 2) r.fail('ScopeLogs field with the wrong wire type');
    else r.skip(t & 7, end);
  }
  if (records.length === 0) return 0;
  const [scopeName, scopeVersion] = scopeStart < 0 ? [null, null] : readScope(r, scopeStart, scopeEnd);
  const suffix = Buffer.from(sharedSuffix(ctx.tenant, resource, scopeName, scopeVersion, ctx.partition, offset), 'utf8');
  for (let i = 0; i < records.length; i += 2) {
    writeLogRecord(r, records[i]!, records[i + 1]!, fallback, out);
    out.bytes(suffix);
  }
  return records.length / 2;
}

function writeLogRecord(r: Reader, start: number, end: number, fallback: string, out: ByteSink): void {
  const b = r.buf;
  let timeLo = 0;
  let timeHi = 0;
  let obsLo = 0;
  let obsHi = 0;
  let severityNumber = 0;
  let sevS = 0;
  let sevE = 0;
  let bodyS = -1;
  let bodyE = -1;
  let traceS = 0;
  let traceE = 0;
  let spanS = 0;
  let spanE = 0;
  const a = scratch;
  a.n = 0;
  r.pos = start;
  while (r.pos < end) {
    const tag = r.uint32(end);
    switch (tag) {
      case 0x09: // 1 time_unix_nano fixed64
        r.fixed64(end);
        timeLo = r.lo;
        timeHi = r.hi;
        break;
      case 0x59: // 11 observed_time_unix_nano fixed64
        r.fixed64(end);
        obsLo = r.lo;
        obsHi = r.hi;
        break;
      case 0x10: // 2 severity_number
        r.varint64(end);
        severityNumber = r.lo | 0;
        break;
      case 0x1a: // 3 severity_text
        sevE = r.lengthEnd(end);
        sevS = r.pos;
        r.pos = sevE;
        break;
      case 0x2a: // 5 body
        bodyE = r.lengthEnd(end);
        bodyS = r.pos;
        r.pos = bodyE;
        break;
      case 0x32: {
        // 6 attributes
        const e = r.lengthEnd(end);
        if (a.n === a.keyStart.length) a.grow();
        readAttribute(r, a, a.n++, r.pos, e);
        r.pos = e;
        break;
      }
      case 0x4a: // 9 trace_id
        traceE = r.lengthEnd(end);
        traceS = r.pos;
        r.pos = traceE;
        break;
      case 0x52: // 10 span_id
        spanE = r.lengthEnd(end);
        spanS = r.pos;
        r.pos = spanE;
        break;
      default: {
        const f = tag >>> 3;
        if (f === 1 || f === 11 || f === 2 || f === 3 || f === 5 || f === 6 || f === 9 || f === 10) {
          r.fail(`LogRecord field ${f} has the wrong wire type`);
        }
        r.skip(tag & 7, end);
      }
    }
  }
  // timestamp: time, else observed, else when the ingester received the request
  const time = nanosToMicrosText(timeLo, timeHi);
  const observed = nanosToMicrosText(obsLo, obsHi);
  out.ascii('{"timestamp":');
  out.ascii(time || observed || fallback);
  out.ascii(',"observed_timestamp":');
  out.ascii(observed || 'null');
  out.ascii(',"severity":');
  if (sevE > sevS) writeField(out, b, sevS, sevE);
  else if (severityNumber >= 1 && severityNumber <= 24) out.ascii(`"${SEVERITY_NAMES[(severityNumber - 1) >> 2]}"`);
  else out.ascii('null');
  out.ascii(',"severity_number":');
  out.ascii(severityNumber === 0 ? 'null' : String(severityNumber));
  out.ascii(',"body":');
  writeBody(r, bodyS, bodyE, out);
  out.ascii(',"trace_id":');
  writeHex(out, b, traceS, traceE);
  out.ascii(',"span_id":');
  writeHex(out, b, spanS, spanE);
  out.ascii(',"attributes":');
  writeAttributes(out, b, a);
  r.pos = end;
}

function writeHex(out: ByteSink, b: Uint8Array, s: number, e: number): void {
  if (e <= s) {
    out.ascii('null');
    return;
  }
  out.ensure(2 * (e - s) + 2);
  const o = out.buf;
  let p = out.len;
  o[p++] = 0x22;
  for (let i = s; i < e; i++) {
    const v = b[i]!;
    o[p++] = HEX_CODES[2 * v]!;
    o[p++] = HEX_CODES[2 * v + 1]!;
  }
  o[p++] = 0x22;
  out.len = p;
}

function writeBody(r: Reader, s: number, e: number, out: ByteSink): void {
  if (s < 0) {
    out.ascii('null');
    return;
  }
  // The common case: a body that is one string_value and nothing else.
  r.pos = s;
  if (r.pos < e && r.buf[r.pos] === 0x0a) {
    r.pos++;
    const se = r.lengthEnd(e);
    if (se === e) {
      writeField(out, r.buf, r.pos, se);
      return;
    }
  }
  const str = anyValueString(r, s, e);
  if (str === null) out.ascii('null');
  else writeJsonStringJs(out, str);
}
