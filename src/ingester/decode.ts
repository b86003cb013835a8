import { isUtf8 } from 'node:buffer';
import type protobuf from 'protobufjs';
import { LakehouseError } from '../core/errors.js';
import { PromWriteRequest } from '../otlp/codec.js';
import { otlpJsonToMessage, OtlpJsonError } from '../otlp/json.js';
import { assemble, leaves, SIGNALS, type Leaf, type SignalSpec } from '../otlp/signals.js';
import { checkWire, WireError, type ItemReport, type ItemRules, type WireLimits } from '../otlp/wire-check.js';
import { jsonDecodeCost, protobufDecodeCost } from '../otlp/decode-cost.js';

/**
 * The CPU-bound half of ingesting a request, from its body to the Kafka records to write: the
 * wire check, the decode and validation, the cut into records. Pure, so that it runs on the main
 * thread or on a decode thread alike (decode-pool.ts), in two steps: `inspect` says what the
 * decode would hold (charged to the request before it happens), `decode` does it.
 */

export type BodyFormat = 'protobuf' | 'json';
/** What a request is: an OTLP signal's Export request, or a remote_write WriteRequest */
export type RequestKind = keyof typeof SIGNALS | 'prom-rw';

export interface DecodeLimits extends WireLimits {
  /** MAX_RECORD_BYTES: larger requests are cut into several records */
  maxRecordBytes: number;
}

export interface Inspection {
  /** bytes the decode would hold (0: none is needed, the body is written as it came) */
  cost: number;
  /** the items, when the wire walk judged them all and the body is one record as it came */
  asIs?: { items: number; accepted: number };
}

export interface Decoded {
  /** the Kafka record values, in order */
  parts: Uint8Array[];
  /** items accepted (data points and samples by weight) */
  accepted: number;
  rejected: number;
  firstProblem?: string;
}

type Obj = Record<string, unknown>;

/**
 * Cuts `items` into contiguous parts whose encoding fits in `limit` bytes, halving a part that
 * does not fit. A single item that does not fit cannot be written: 413 naming its size.
 * `wholeBytes`, the size of all of them encoded, lets the first cut be into about as many parts
 * as are needed, rather than halves of halves: each level of halving encodes everything again.
 */
export function splitToFit<T>(items: T[], limit: number, encode: (part: T[], start: number) => Uint8Array, noun: string, wholeBytes = 0): Uint8Array[] {
  const out: Uint8Array[] = [];
  const visit = (start: number, end: number) => {
    const bytes = encode(items.slice(start, end), start);
    if (bytes.length <= limit) {
      out.push(bytes);
      return;
    }
    if (end - start === 1) {
      throw new LakehouseError('PAYLOAD_TOO_LARGE', `one of the ${noun} alone encodes to ${bytes.length} bytes, over the broker's record limit of ${limit} bytes`);
    }
    const mid = start + Math.floor((end - start) / 2);
    visit(start, mid);
    visit(mid, end);
  };
  // a tenth of room, so that uneven items seldom make a part need halving
  const first = Math.min(items.length, Math.max(1, Math.ceil(wholeBytes / (limit * 0.9))));
  for (let i = 0; i < first; i++) {
    const start = Math.floor((i * items.length) / first);
    const end = Math.floor(((i + 1) * items.length) / first);
    if (end > start) visit(start, end);
  }
  return out;
}

/**
 * Refuses (400) what is not a well-formed `type` message within the limits: checked on the
 * wire before decoding, since the decoder is lenient (see wire-check.ts).
 */
function check(type: protobuf.Type, bytes: Uint8Array, limits: WireLimits, what: string, items?: ItemRules): ItemReport {
  try {
    return checkWire(type, bytes, limits, items);
  } catch (e) {
    if (e instanceof WireError) throw new LakehouseError('DECODE_FAILED', `body is not a valid ${what}: ${e.message}`);
    throw e;
  }
}

/** What decoding `body` would hold, or that it needs none; refuses a malformed body (400). */
export function inspect(kind: RequestKind, format: BodyFormat, body: Uint8Array, limits: DecodeLimits): Inspection {
  if (kind === 'prom-rw') return { cost: protobufDecodeCost(check(PromWriteRequest, body, limits, 'prometheus WriteRequest'), body.length) };
  const spec = SIGNALS[kind];
  if (format === 'json') {
    if (!isUtf8(body)) throw new LakehouseError('DECODE_FAILED', 'JSON body is not valid UTF-8');
    return { cost: jsonDecodeCost(body) };
  }
  const report = check(spec.request, body, limits, spec.request.name, spec.items);
  // The common case: every item fine and one Kafka record. The wire walk has judged it all,
  // so the body is written as it came, without a decode.
  if (report.rejected === 0 && !report.undecided && body.length <= limits.maxRecordBytes) {
    return { cost: 0, asIs: { items: report.items, accepted: report.accepted } };
  }
  return { cost: protobufDecodeCost(report, body.length) };
}

/** Decodes, validates and cuts into records a body `inspect` passed (without asIs). */
export function decode(kind: RequestKind, format: BodyFormat, body: Uint8Array, limits: DecodeLimits): Decoded {
  return kind === 'prom-rw' ? decodeRemoteWrite(body, limits) : decodeOtlp(SIGNALS[kind], format, body, limits);
}

function decodeOtlp(spec: SignalSpec, format: BodyFormat, body: Uint8Array, limits: DecodeLimits): Decoded {
  let msg: protobuf.Message;
  let encoded: Uint8Array | undefined;
  try {
    if (format === 'json') {
      msg = otlpJsonToMessage(spec.request, Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8'));
      encoded = spec.request.encode(msg).finish();
    } else {
      msg = spec.request.decode(body);
    }
  } catch (e) {
    const problem = e instanceof OtlpJsonError ? e.message : `body is not a valid ${spec.request.name}: ${(e as Error).message}`;
    throw new LakehouseError('DECODE_FAILED', problem);
  }
  if (encoded) check(spec.request, encoded, limits, `${spec.request.name} (as JSON)`);
  const all = leaves(spec, msg as unknown as Obj);
  const valid: Leaf[] = [];
  let accepted = 0;
  let rejected = 0;
  let firstProblem: string | undefined;
  for (const leaf of all) {
    const problem = spec.invalid(leaf.item);
    if (problem === null) {
      valid.push(leaf);
      accepted += spec.weight(leaf.item);
    } else {
      rejected += Math.max(1, spec.weight(leaf.item));
      firstProblem ??= problem;
    }
  }
  if (valid.length === 0) {
    if (rejected > 0) throw new LakehouseError('BAD_REQUEST', `all ${rejected} ${spec.noun} are invalid: ${firstProblem}`);
    return { parts: [], accepted: 0, rejected: 0 }; // an empty request: nothing to write
  }
  const limit = limits.maxRecordBytes;
  const whole = rejected === 0 ? (encoded ?? body) : spec.request.encode(assemble(spec, msg as unknown as Obj, valid)).finish();
  const parts =
    whole.length <= limit ? [whole] : splitToFit(valid, limit, (part) => spec.request.encode(assemble(spec, msg as unknown as Obj, part)).finish(), spec.noun, whole.length);
  return { parts, accepted, rejected, ...(firstProblem === undefined ? {} : { firstProblem }) };
}

/** A Prometheus remote_write 1.0 WriteRequest (already snappy-decompressed). */
function decodeRemoteWrite(body: Uint8Array, limits: DecodeLimits): Decoded {
  let msg: { timeseries?: { samples?: unknown[] }[]; metadata?: unknown[] };
  try {
    msg = PromWriteRequest.decode(body) as never;
  } catch (e) {
    throw new LakehouseError('DECODE_FAILED', `body is not a valid prometheus WriteRequest: ${(e as Error).message}`);
  }
  const series = msg.timeseries ?? [];
  const samples = series.reduce((n, ts) => n + (ts.samples?.length ?? 0), 0);
  if (series.length === 0 && (msg.metadata?.length ?? 0) === 0) return { parts: [], accepted: 0, rejected: 0 };
  const limit = limits.maxRecordBytes;
  const parts =
    body.length <= limit
      ? [body]
      : splitToFit(series, limit, (part, start) => PromWriteRequest.encode({ timeseries: part, metadata: start === 0 ? msg.metadata : [] }).finish(), 'time series', body.length);
  return { parts, accepted: samples, rejected: 0 };
}
