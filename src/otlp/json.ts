import type protobuf from 'protobufjs';

const ID_FIELDS = new Set(['traceId', 'spanId', 'parentSpanId']);
const HEX = /^(?:[0-9a-fA-F]{2})*$/;

/** Raised for OTLP/JSON that cannot become the request type; the message names the problem. */
export class OtlpJsonError extends Error {
  override name = 'OtlpJsonError';
}

function convertIds(v: unknown, path: string): unknown {
  if (Array.isArray(v)) return v.map((x, i) => convertIds(x, `${path}[${i}]`));
  if (v === null || typeof v !== 'object') return v;
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) {
    if (ID_FIELDS.has(k) && typeof x === 'string') {
      if (!HEX.test(x)) throw new OtlpJsonError(`${path}.${k} is not a hex string`);
      out[k] = Buffer.from(x, 'hex');
    } else {
      out[k] = convertIds(x, `${path}.${k}`);
    }
  }
  return out;
}

/**
 * OTLP/JSON (lowerCamelCase keys, hex trace and span ids, enums as integers, 64-bit integers as
 * strings or numbers) to the request message. Unknown fields are ignored, as the
 * specification asks.
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
  try {
    return type.fromObject(convertIds(parsed, '') as Record<string, unknown>);
  } catch (e) {
    if (e instanceof OtlpJsonError) throw e;
    throw new OtlpJsonError(`body is not a valid ${type.name}: ${(e as Error).message}`);
  }
}
