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


import { DEFAULT_MAX_MESSAGE_DEPTH } from '../config/schema.js';
import { ANY_VALUE_KINDS, promoteResource, SEVERITY_NAMES } from '../schema/logs.js';
import { anyValueString, keyValueString, readKeyValue, ValueReader } from './any-value.js';
import { ByteSink, text, writeField, writeHex, writeJsonStringJs } from './json-bytes.js';
import { int64Json, nanosToMicrosText, OtlpDecodeError } from './wire-reader.js';

export { ByteSink } from './json-bytes.js';
export { OtlpDecodeError } from './wire-reader.js';


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
function readAttribute(r: ValueReader, a: AttrScratch, i: number, start: number, end: number): void {
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

/** `,"name":value` for a string, nothing for null (read_json reads a missing member as NULL). */
const str = (name: string, v: string | null) => (v === null ? '' : `,"${name}":${JSON.stringify(v)}`);
/** The same for a uint32 count, 0 (unset) being NULL. */
const num = (name: string, n: number) => (n === 0 ? '' : `,"${name}":${n}`);
/** The same for a map's JSON object, an empty one being left out. */
const map = (name: string, json: string) => (json === '{}' ? '' : `,"${name}":${json}`);

/** The members of the columns every row of one scope shares (`perScope` in src/schema/logs.ts), as JSON text. */
function scopeMembers(resource: ResourceColumns, scope: ScopeColumns): string {
  return str('service_name', resource.serviceName) + str('deployment_environment', resource.deploymentEnvironment) +
    str('host_name', resource.hostName) + map('resource_attributes', resource.attributesJson) +
    num('resource_dropped_attributes_count', resource.droppedAttributesCount) + str('resource_schema_url', resource.schemaUrl) +
    str('scope_name', scope.name) + str('scope_version', scope.version) + map('scope_attributes', scope.attributesJson) +
    num('scope_dropped_attributes_count', scope.droppedAttributesCount) + str('scope_schema_url', scope.schemaUrl);
}

interface ResourceColumns {
  serviceName: string | null;
  deploymentEnvironment: string | null;
  hostName: string | null;
  attributesJson: string;
  droppedAttributesCount: number;
  schemaUrl: string | null;
}

interface ScopeColumns {
  name: string | null;
  version: string | null;
  attributesJson: string;
  droppedAttributesCount: number;
  schemaUrl: string | null;
}

function mapJson(m: Map<string, string>): string {
  let json = '{';
  for (const [k, v] of m) json += (json.length > 1 ? ',' : '') + JSON.stringify(k) + ':' + JSON.stringify(v);
  return json + '}';
}

/** What readEntity found in a Resource or InstrumentationScope. */
interface Entity {
  kvs: [string, string | null][];
  dropped: number;
  /** the string fields asked for, by field number ('' when absent) */
  strings: string[];
}

/**
 * One walk over a Resource (attributes 1, dropped_attributes_count 2) or an
 * InstrumentationScope (name 1, version 2, attributes 3, dropped_attributes_count 4).
 */
function readEntity(r: ValueReader, start: number, end: number, message: string, attrField: number, countField: number, stringFields: readonly number[]): Entity {
  const out: Entity = { kvs: [], dropped: 0, strings: stringFields.map(() => '') };
  r.pos = start;
  while (r.pos < end) {
    const tag = r.uint32(end);
    const f = tag >>> 3;
    const s = stringFields.indexOf(f);
    if (f === attrField) {
      r.expect(tag & 7, 2, `${message}.attributes`);
      const e = r.lengthEnd(end);
      out.kvs.push(keyValueString(r, r.pos, e));
      r.pos = e;
    } else if (f === countField) {
      r.expect(tag & 7, 0, `${message}.dropped_attributes_count`);
      r.varint64(end);
      out.dropped = r.lo;
    } else if (s >= 0) {
      r.expect(tag & 7, 2, `${message} field ${f}`);
      const e = r.lengthEnd(end);
      out.strings[s] = text(r.buf, r.pos, e);
      r.pos = e;
    } else r.skip(tag & 7, end);
  }
  return out;
}

function readResource(r: ValueReader, start: number, end: number, schemaUrl: string | null): ResourceColumns {
  const { kvs, dropped } = readEntity(r, start, end, 'Resource', 1, 2, []);
  const p = promoteResource(kvs);
  return {
    serviceName: p.serviceName,
    deploymentEnvironment: p.deploymentEnvironment,
    hostName: p.hostName,
    attributesJson: mapJson(p.attributes),
    droppedAttributesCount: dropped,
    schemaUrl,
  };
}

function readScope(r: ValueReader, start: number, end: number, schemaUrl: string | null): ScopeColumns {
  const { kvs, dropped, strings } = readEntity(r, start, end, 'InstrumentationScope', 3, 4, [1, 2]);
  const attributes = new Map<string, string>();
  for (const [k, v] of kvs) attributes.set(k, v ?? '');
  return { name: strings[0] || null, version: strings[1] || null, attributesJson: mapJson(attributes), droppedAttributesCount: dropped, schemaUrl };
}

const NO_RESOURCE = { serviceName: null, deploymentEnvironment: null, hostName: null, attributesJson: '{}', droppedAttributesCount: 0 } as const;
const NO_SCOPE = { name: null, version: null, attributesJson: '{}', droppedAttributesCount: 0 } as const;

/** A schema_url field (3 of ResourceLogs and ScopeLogs) at r.pos: '' (unset) as null. */
function readSchemaUrl(r: ValueReader, end: number): string | null {
  const e = r.lengthEnd(end);
  const s = text(r.buf, r.pos, e);
  r.pos = e;
  return s || null;
}

/** Options of one Kafka record being turned into rows. */
export interface RowContext {
  tenant: string;
  /** microseconds; the timestamp of records that carry neither time field */
  fallbackMicros: bigint;
  /** JSON members the caller adds to every row, each starting with a comma (the lake's Kafka position) */
  extraJson?: string;
  /** deepest AnyValue nesting read; default MAX_MESSAGE_DEPTH's default */
  maxDepth?: number;
  /** when given, the scope's shared columns go to scope rows once per scope, and each row names its scope */
  scopes?: ScopeRows;
}

/**
 * Scope rows: one `{"scope_ref":n, ...}` line per ScopeLogs that has records, holding the
 * columns its rows share (`perScope`), each of its rows holding `"scope_ref":n` instead. A
 * Kubernetes resource alone is often larger than the record, so the lake's buffer keeps these
 * once per scope (src/lake/buffer.ts).
 */
export interface ScopeRows {
  readonly sink: ByteSink;
  /** the scope_ref of the next scope row, advanced by each one written */
  next: number;
}

/**
 * Appends one NDJSON row per log record of an ExportLogsServiceRequest to `out` and returns the
 * number of rows. On malformed input it throws OtlpDecodeError and leaves `out` as it was.
 */
export function logsRequestToNdjson(req: Uint8Array, ctx: RowContext, out: ByteSink): number {
  const mark = out.len;
  const scopeMark = ctx.scopes?.sink.len ?? 0;
  const nextScope = ctx.scopes?.next ?? 0;
  try {
    return writeRequest(new ValueReader(req, ctx.maxDepth ?? DEFAULT_MAX_MESSAGE_DEPTH), ctx, out);
  } catch (e) {
    out.len = mark;
    if (ctx.scopes) {
      ctx.scopes.sink.len = scopeMark;
      ctx.scopes.next = nextScope;
    }
    if (e instanceof OtlpDecodeError) throw e;
    if (e instanceof RangeError) throw new OtlpDecodeError(`malformed protobuf: ${e.message}`);
    throw e;
  }
}

function writeRequest(r: ValueReader, ctx: RowContext, out: ByteSink): number {
  const end = r.buf.length;
  const fallback = String(ctx.fallbackMicros);
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
    let url: string | null = null;
    const scopes: number[] = [];
    while (r.pos < rlEnd) {
      const t = r.uint32(rlEnd);
      if (t === 0x1a) url = readSchemaUrl(r, rlEnd);
      else if (t === 0x0a) {
        resEnd = r.lengthEnd(rlEnd);
        resStart = r.pos;
        r.pos = resEnd;
      } else if (t === 0x12) {
        const e = r.lengthEnd(rlEnd);
        scopes.push(r.pos, e);
        r.pos = e;
      } else if (t >>> 3 >= 1 && t >>> 3 <= 3) r.fail('ResourceLogs field with the wrong wire type');
      else r.skip(t & 7, rlEnd);
    }
    const resource = resStart < 0 ? { ...NO_RESOURCE, schemaUrl: url } : readResource(r, resStart, resEnd, url);
    for (let si = 0; si < scopes.length; si += 2) {
      rows += writeScopeLogs(r, scopes[si]!, scopes[si + 1]!, resource, ctx, fallback, out);
    }
    r.pos = rlEnd;
  }
  return rows;
}

function writeScopeLogs(
  r: ValueReader,
  start: number,
  end: number,
  resource: ResourceColumns,
  ctx: RowContext,
  fallback: string,
  out: ByteSink,
): number {
  let scopeStart = -1;
  let scopeEnd = -1;
  let url: string | null = null;
  const records: number[] = [];
  r.pos = start;
  while (r.pos < end) {
    const t = r.uint32(end);
    if (t === 0x1a) url = readSchemaUrl(r, end);
    else if (t === 0x0a) {
      scopeEnd = r.lengthEnd(end);
      scopeStart = r.pos;
      r.pos = scopeEnd;
    } else if (t === 0x12) {
      const e = r.lengthEnd(end);
      records.push(r.pos, e);
      r.pos = e;
    } else if (t >>> 3 >= 1 && t >>> 3 <= 3) r.fail('ScopeLogs field with the wrong wire type');
    else r.skip(t & 7, end);
  }
  if (records.length === 0) return 0;
  const scope = scopeStart < 0 ? { ...NO_SCOPE, schemaUrl: url } : readScope(r, scopeStart, scopeEnd, url);
  // What the rows of this scope share: everything after a record's own columns.
  let shared = scopeMembers(resource, scope);
  if (ctx.scopes) {
    const ref = ctx.scopes.next++;
    ctx.scopes.sink.utf8(`{"scope_ref":${ref}${shared}}\n`);
    shared = `,"scope_ref":${ref}`;
  }
  const suffix = Buffer.from(`${str('tenant_id', ctx.tenant)}${shared}${ctx.extraJson ?? ''}}\n`, 'utf8');
  for (let i = 0; i < records.length; i += 2) {
    writeLogRecord(r, records[i]!, records[i + 1]!, fallback, out);
    out.bytes(suffix);
  }
  return records.length / 2;
}

function writeLogRecord(r: ValueReader, start: number, end: number, fallback: string, out: ByteSink): void {
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
  let eventS = 0;
  let eventE = 0;
  let flags = 0;
  let dropped = 0;
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
      case 0x62: // 12 event_name
        eventE = r.lengthEnd(end);
        eventS = r.pos;
        r.pos = eventE;
        break;
      case 0x45: // 8 flags fixed32
        flags = r.fixed32(end);
        break;
      case 0x38: // 7 dropped_attributes_count
        r.varint64(end);
        dropped = r.lo;
        break;
      default: {
        const f = tag >>> 3;
        if (f >= 1 && f <= 12 && f !== 4) {
          r.fail(`LogRecord field ${f} has the wrong wire type`);
        }
        r.skip(tag & 7, end);
      }
    }
  }
  // timestamp: time, else observed, else when the ingester received the request
  const time = nanosToMicrosText(timeLo, timeHi);
  const observed = nanosToMicrosText(obsLo, obsHi);
  // Members whose value is NULL, and empty maps, are left out: read_json gives a missing member
  // NULL (the buffer reads a missing map as an empty one), and every member fewer is less to
  // parse in the load, the appender's dearest step.
  out.ascii('{"timestamp":');
  out.ascii(time || observed || fallback);
  if (observed) {
    out.ascii(',"observed_timestamp":');
    out.ascii(observed);
  }
  if (sevE > sevS) {
    out.ascii(',"severity":');
    writeField(out, b, sevS, sevE);
  } else if (severityNumber >= 1 && severityNumber <= 24) out.ascii(`,"severity":"${SEVERITY_NAMES[(severityNumber - 1) >> 2]}"`);
  if (severityNumber !== 0) {
    out.ascii(',"severity_number":');
    out.ascii(String(severityNumber));
  }
  if (eventE > eventS) {
    out.ascii(',"event_name":');
    writeField(out, b, eventS, eventE);
  }
  writeBody(r, bodyS, bodyE, out);
  if (traceE > traceS) {
    out.ascii(',"trace_id":');
    writeHex(out, b, traceS, traceE);
  }
  if (spanE > spanS) {
    out.ascii(',"span_id":');
    writeHex(out, b, spanS, spanE);
  }
  if (flags !== 0) out.ascii(`,"trace_flags":${flags}`);
  if (a.n > 0) {
    out.ascii(',"attributes":');
    writeAttributes(out, b, a);
  }
  if (dropped !== 0) out.ascii(`,"dropped_attributes_count":${dropped}`);
  r.pos = end;
}

/** Writes the members "body" and "body_type" (neither when there is no body). */
function writeBody(r: ValueReader, s: number, e: number, out: ByteSink): void {
  if (s < 0) return;
  // The common case: a body that is one string_value and nothing else.
  r.pos = s;
  if (r.pos < e && r.buf[r.pos] === 0x0a) {
    r.pos++;
    const se = r.lengthEnd(e);
    if (se === e) {
      out.ascii(',"body":');
      writeField(out, r.buf, r.pos, se);
      out.ascii(',"body_type":"string"');
      return;
    }
  }
  const body = anyValueString(r, s, e);
  if (body === null) return;
  out.ascii(',"body":');
  writeJsonStringJs(out, body);
  out.ascii(`,"body_type":"${ANY_VALUE_KINDS[r.member]}"`);
}
