/**
 * OTLP AnyValue and KeyValue messages read from the wire into the values the log mapping gives
 * them (logs-mapping.ts, anyValueToJson): scalars as JSON scalars, arrays and kvlists as JSON,
 * bytes as base64. Used for resources, scopes and the attribute values that are not plain
 * strings or scalars.
 */

import { text } from './json-bytes.js';
import { float64, int64, MAX_SAFE, MIN_SAFE, WireReader } from './wire-reader.js';

/** A wire reader that also remembers what the last AnyValue and KeyValue it read held. */
export class ValueReader extends WireReader {
  /** the oneof member (field number) of the AnyValue last read by anyValueJs; 0 when none */
  member = 0;
  /** byte ranges of the KeyValue last read by readKeyValue */
  keyStart = 0;
  keyEnd = 0;
  valueStart = -1;
  valueEnd = -1;
  constructor(
    buf: Uint8Array,
    /** deepest AnyValue nesting read (the ingester's MAX_MESSAGE_DEPTH bounds it already) */
    readonly maxDepth: number,
  ) {
    super(buf);
  }
}


/** An AnyValue message [start, end) as the mapping's JSON value (see anyValueToJson). */
export function anyValueJs(r: ValueReader, start: number, end: number, depth: number): unknown {
  if (depth > r.maxDepth) r.fail(`AnyValue nested deeper than ${r.maxDepth}`);
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
export function anyValueString(r: ValueReader, start: number, end: number): string | null {
  const v = anyValueJs(r, start, end, 1);
  if (v === null) return null;
  return r.member === 1 ? (v as string) : JSON.stringify(v);
}

/**
 * Finds the key and value of a KeyValue message [start, end): leaves their byte ranges in
 * r.keyStart/keyEnd and r.valueStart/valueEnd (valueStart -1 when there is no value).
 */
export function readKeyValue(r: ValueReader, start: number, end: number): void {
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
export function keyValueJs(r: ValueReader, start: number, end: number, depth: number): [string, unknown] {
  readKeyValue(r, start, end);
  const key = text(r.buf, r.keyStart, r.keyEnd);
  const value = r.valueStart < 0 ? null : anyValueJs(r, r.valueStart, r.valueEnd, depth);
  r.pos = end;
  return [key, value];
}

/** A KeyValue message as [key, anyValueToString of its value]. */
export function keyValueString(r: ValueReader, start: number, end: number): [string, string | null] {
  readKeyValue(r, start, end);
  const key = text(r.buf, r.keyStart, r.keyEnd);
  const value = r.valueStart < 0 ? null : anyValueString(r, r.valueStart, r.valueEnd);
  r.pos = end;
  return [key, value];
}

