import protobuf from 'protobufjs';

/** OTLP/JSON encodes these bytes fields as hex, not base64. */
const HEX_ID_FIELDS = new Set(['traceId', 'spanId', 'parentSpanId']);
const HEX = /^(?:[0-9a-fA-F]{2})*$/;
const BASE64 = /^(?:[A-Za-z0-9+/_-]{4})*(?:[A-Za-z0-9+/_-]{2}(?:==)?|[A-Za-z0-9+/_-]{3}=?)?$/;
const INTEGER = /^-?\d+$/;
const INT32 = new Set(['int32', 'sint32', 'sfixed32']);
const UINT32 = new Set(['uint32', 'fixed32']);
const INT64 = new Set(['int64', 'sint64', 'sfixed64']);
const UINT64 = new Set(['uint64', 'fixed64']);
const FLOAT = new Set(['double', 'float']);

/** Deeper JSON than any request within MAX_MESSAGE_DEPTH needs (an object and an array per level). */
const MAX_JSON_DEPTH = 2100;

/** Raised for OTLP/JSON that cannot become the request type; the message names the problem. */
export class OtlpJsonError extends Error {
  override name = 'OtlpJsonError';
  /** field names from the request down to the problem, joined into the message at the top */
  readonly path: string[] = [];
  constructor(readonly problem: string) {
    super(problem);
  }
}

const describe = (v: unknown): string => (v === null ? 'null' : Array.isArray(v) ? 'an array' : typeof v === 'object' ? 'an object' : `${typeof v} ${JSON.stringify(v).slice(0, 40)}`);

/** Field lookup by JSON name (lowerCamelCase) and by proto name (snake_case), as protojson accepts both. */
const fieldMaps = new Map<protobuf.Type, Map<string, protobuf.Field>>();
function fieldsOf(type: protobuf.Type): Map<string, protobuf.Field> {
  let m = fieldMaps.get(type);
  if (!m) {
    m = new Map();
    for (const f of type.fieldsArray) {
      f.resolve();
      m.set(f.name, f);
      m.set(f.name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`), f);
    }
    fieldMaps.set(type, m);
  }
  return m;
}

/** One scalar or message value of `field`, checked against its type and made ready for fromObject. */
function value(field: protobuf.Field, v: unknown, depth: number): unknown {
  const t = field.resolvedType;
  if (t instanceof protobuf.Type) return message(t, v, depth + 1);
  if (t instanceof protobuf.Enum) {
    if (typeof v === 'number' && Number.isInteger(v)) return v;
    if (typeof v === 'string' && v in t.values) return t.values[v];
    throw new OtlpJsonError(`expected an integer or a ${t.name} name, got ${describe(v)}`);
  }
  const type = field.type;
  if (type === 'string') {
    if (typeof v !== 'string') throw new OtlpJsonError(`expected a string, got ${describe(v)}`);
    return v;
  }
  if (type === 'bool') {
    if (typeof v !== 'boolean') throw new OtlpJsonError(`expected true or false, got ${describe(v)}`);
    return v;
  }
  if (type === 'bytes') {
    if (typeof v !== 'string') throw new OtlpJsonError(`expected a ${HEX_ID_FIELDS.has(field.name) ? 'hex' : 'base64'} string, got ${describe(v)}`);
    if (HEX_ID_FIELDS.has(field.name)) {
      if (!HEX.test(v)) throw new OtlpJsonError('is not a hex string');
      return Buffer.from(v, 'hex');
    }
    if (!BASE64.test(v)) throw new OtlpJsonError('is not a base64 string');
    return Buffer.from(v, 'base64');
  }
  if (FLOAT.has(type)) {
    if (typeof v === 'number') return v;
    if (v === 'NaN' || v === 'Infinity' || v === '-Infinity') return Number(v);
    if (typeof v === 'string' && v.trim() !== '' && Number.isFinite(Number(v))) return Number(v);
    throw new OtlpJsonError(`expected a number, got ${describe(v)}`);
  }
  // integers: JSON numbers or decimal strings, within the type's range
  let n: bigint;
  if (typeof v === 'number' && Number.isInteger(v)) n = BigInt(v);
  else if (typeof v === 'string' && INTEGER.test(v)) n = BigInt(v);
  else throw new OtlpJsonError(`expected an integer, got ${describe(v)}`);
  const [min, max] = INT32.has(type) ? [-(2n ** 31n), 2n ** 31n - 1n] : UINT32.has(type) ? [0n, 2n ** 32n - 1n] : INT64.has(type) ? [-(2n ** 63n), 2n ** 63n - 1n] : UINT64.has(type) ? [0n, 2n ** 64n - 1n] : [0n, -1n];
  if (n < min || n > max) throw new OtlpJsonError(`${String(v)} is out of range for ${type}`);
  return INT32.has(type) || UINT32.has(type) ? Number(n) : n.toString();
}

/** An object for `type.fromObject`, every known field checked; unknown keys are ignored. */
function message(type: protobuf.Type, v: unknown, depth: number): Record<string, unknown> {
  if (depth > MAX_JSON_DEPTH) throw new OtlpJsonError(`nested deeper than ${MAX_JSON_DEPTH} levels`);
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new OtlpJsonError(`expected an object (${type.name}), got ${describe(v)}`);
  const fields = fieldsOf(type);
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(v)) {
    const field = fields.get(key);
    const x = (v as Record<string, unknown>)[key];
    if (!field || x === null || x === undefined) continue;
    try {
      if (field.repeated) {
        if (!Array.isArray(x)) throw new OtlpJsonError(`expected an array, got ${describe(x)}`);
        const items = new Array<unknown>(x.length);
        for (let i = 0; i < x.length; i++) {
          try {
            items[i] = value(field, x[i], depth + 1);
          } catch (e) {
            if (e instanceof OtlpJsonError) e.path.unshift(`[${i}]`);
            throw e;
          }
        }
        out[field.name] = items;
      } else {
        out[field.name] = value(field, x, depth);
      }
    } catch (e) {
      if (e instanceof OtlpJsonError) e.path.unshift(key);
      throw e;
    }
  }
  return out;
}

/**
 * OTLP/JSON (lowerCamelCase or snake_case keys, hex trace and span ids, base64 bytes, enums as
 * integers or names, 64-bit integers as strings or numbers) to the request message. Every known
 * field is checked against its type (protobufjs's fromObject would coerce `{}` to 0 and skip an
 * array where a message belongs); unknown fields are ignored, as the specification asks.
 */
export function otlpJsonToMessage(type: protobuf.Type, text: string): protobuf.Message {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    throw new OtlpJsonError(`body is not JSON: ${(e as Error).message}`);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new OtlpJsonError(`body must be a JSON object (an ${type.name})`);
  }
  let plain: Record<string, unknown>;
  try {
    plain = message(type, parsed, 0);
  } catch (e) {
    if (e instanceof OtlpJsonError) {
      e.message = `${e.path.join('.').replace(/\.\[/g, '[')}: ${e.problem}`;
      throw e;
    }
    throw new OtlpJsonError(`body is not a valid ${type.name}: ${(e as Error).message}`);
  }
  try {
    return type.fromObject(plain);
  } catch (e) {
    throw new OtlpJsonError(`body is not a valid ${type.name}: ${(e as Error).message}`);
  }
}
