import { ANY_VALUE_KINDS, promoteResource, SEVERITY_NAMES, type LogRow, type PromotedResource } from '../schema/logs.js';
import type { AnyValue, KeyValue, LogRecord, LogsRequest, LongLike } from './codec.js';

export type { LogRow };

/** Severity text from an OTLP severity number (1-24); null for unspecified or out of range. */
export function severityFromNumber(n: number | undefined): string | null {
  if (!n || n < 1 || n > 24) return null;
  return SEVERITY_NAMES[Math.floor((n - 1) / 4)]!;
}

/** Nanoseconds (Long or number) to microseconds; 0 or absent gives null. */
export function nanosToMicros(v: LongLike | number | undefined | null): bigint | null {
  if (v === undefined || v === null) return null;
  let nanos: bigint;
  if (typeof v === 'number') nanos = BigInt(Math.trunc(v));
  else nanos = (BigInt(v.high >>> 0) << 32n) | BigInt(v.low >>> 0);
  if (nanos === 0n) return null;
  return nanos / 1000n;
}

function int64ToJson(v: LongLike | number | string): number | string {
  if (typeof v === 'number') return v;
  const n = typeof v === 'string' ? BigInt(v) : (BigInt(v.high) << 32n) | BigInt(v.low >>> 0);
  return n >= BigInt(Number.MIN_SAFE_INTEGER) && n <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(n) : n.toString();
}

/**
 * Whether a oneof member is set. Decoded protobufjs messages carry every field's default on
 * their prototype, so only an own property says the field was on the wire.
 */
function has<K extends keyof AnyValue>(v: AnyValue, k: K): v is AnyValue & Required<Pick<AnyValue, K>> {
  return Object.hasOwn(v, k) && v[k] !== undefined && v[k] !== null;
}

/** An AnyValue as a plain JSON value (bytes as base64, int64 beyond 2^53 as a string). */
export function anyValueToJson(v: AnyValue | null | undefined): unknown {
  if (!v) return null;
  if (has(v, 'stringValue')) return v.stringValue;
  if (has(v, 'boolValue')) return v.boolValue;
  if (has(v, 'intValue')) return int64ToJson(v.intValue);
  if (has(v, 'doubleValue')) return Number.isFinite(v.doubleValue) ? v.doubleValue : String(v.doubleValue);
  if (has(v, 'arrayValue')) return (v.arrayValue.values ?? []).map(anyValueToJson);
  if (has(v, 'kvlistValue')) {
    const o: Record<string, unknown> = {};
    for (const kv of v.kvlistValue.values ?? []) o[kv.key] = anyValueToJson(kv.value);
    return o;
  }
  if (has(v, 'bytesValue')) return Buffer.from(v.bytesValue).toString('base64');
  return null;
}

/** An AnyValue as a string column value: strings as they are, anything else as JSON; empty AnyValue is null. */
export function anyValueToString(v: AnyValue | null | undefined): string | null {
  if (!v) return null;
  if (has(v, 'stringValue')) return v.stringValue;
  const j = anyValueToJson(v);
  return j === null ? null : JSON.stringify(j);
}

/** The `body_type` of an AnyValue: the name of its member, null when none is set. */
export function anyValueKind(v: AnyValue | null | undefined): string | null {
  if (!v) return null;
  if (has(v, 'stringValue')) return ANY_VALUE_KINDS[1];
  if (has(v, 'boolValue')) return ANY_VALUE_KINDS[2];
  if (has(v, 'intValue')) return ANY_VALUE_KINDS[3];
  if (has(v, 'doubleValue')) return ANY_VALUE_KINDS[4];
  if (has(v, 'arrayValue')) return ANY_VALUE_KINDS[5];
  if (has(v, 'kvlistValue')) return ANY_VALUE_KINDS[6];
  if (has(v, 'bytesValue')) return ANY_VALUE_KINDS[7];
  return null;
}

function attributesToMap(kvs: KeyValue[] | undefined): Map<string, string> {
  const m = new Map<string, string>();
  for (const kv of kvs ?? []) m.set(kv.key, anyValueToString(kv.value) ?? '');
  return m;
}

/** uint32 counts and flags: 0 (proto3's unset) as null. */
function count(n: number | undefined): number | null {
  return n ? n >>> 0 : null;
}

function hex(b: Uint8Array | undefined): string | null {
  return b && b.length > 0 ? Buffer.from(b).toString('hex') : null;
}

function emptyToNull(s: string | undefined | null): string | null {
  return s ? s : null;
}

/**
 * Maps a decoded ExportLogsServiceRequest to table rows. `fallbackMicros` (the time the
 * ingester received the request) is the timestamp of a record that carries neither
 * time_unix_nano nor observed_time_unix_nano.
 */
export function mapLogsRequest(req: LogsRequest, tenantId: string, fallbackMicros: bigint): LogRow[] {
  const rows: LogRow[] = [];
  for (const rl of req.resourceLogs ?? []) {
    const resource = promoteResource((rl.resource?.attributes ?? []).map((kv) => [kv.key, anyValueToString(kv.value)] as const));
    for (const sl of rl.scopeLogs ?? []) {
      const ctx: RecordContext = {
        tenantId,
        fallbackMicros,
        resource,
        resourceDroppedAttributesCount: count(rl.resource?.droppedAttributesCount),
        resourceSchemaUrl: emptyToNull(rl.schemaUrl),
        scopeName: emptyToNull(sl.scope?.name),
        scopeVersion: emptyToNull(sl.scope?.version),
        scopeAttributes: attributesToMap(sl.scope?.attributes),
        scopeDroppedAttributesCount: count(sl.scope?.droppedAttributesCount),
        scopeSchemaUrl: emptyToNull(sl.schemaUrl),
      };
      for (const lr of sl.logRecords ?? []) rows.push(mapRecord(lr, ctx));
    }
  }
  return rows;
}

interface RecordContext {
  tenantId: string;
  fallbackMicros: bigint;
  resource: PromotedResource;
  resourceDroppedAttributesCount: number | null;
  resourceSchemaUrl: string | null;
  scopeName: string | null;
  scopeVersion: string | null;
  scopeAttributes: Map<string, string>;
  scopeDroppedAttributesCount: number | null;
  scopeSchemaUrl: string | null;
}

function mapRecord(lr: LogRecord, ctx: RecordContext): LogRow {
  const time = nanosToMicros(lr.timeUnixNano);
  const observed = nanosToMicros(lr.observedTimeUnixNano);
  const severityNumber = lr.severityNumber ? lr.severityNumber : null;
  return {
    timestamp: time ?? observed ?? ctx.fallbackMicros,
    observedTimestamp: observed,
    tenantId: ctx.tenantId,
    severity: emptyToNull(lr.severityText) ?? severityFromNumber(lr.severityNumber),
    severityNumber,
    eventName: emptyToNull(lr.eventName),
    body: anyValueToString(lr.body),
    bodyType: anyValueKind(lr.body),
    traceId: hex(lr.traceId),
    spanId: hex(lr.spanId),
    traceFlags: count(lr.flags),
    serviceName: ctx.resource.serviceName,
    deploymentEnvironment: ctx.resource.deploymentEnvironment,
    hostName: ctx.resource.hostName,
    scopeName: ctx.scopeName,
    scopeVersion: ctx.scopeVersion,
    attributes: attributesToMap(lr.attributes),
    droppedAttributesCount: count(lr.droppedAttributesCount),
    resourceAttributes: ctx.resource.attributes,
    resourceDroppedAttributesCount: ctx.resourceDroppedAttributesCount,
    resourceSchemaUrl: ctx.resourceSchemaUrl,
    scopeAttributes: ctx.scopeAttributes,
    scopeDroppedAttributesCount: ctx.scopeDroppedAttributesCount,
    scopeSchemaUrl: ctx.scopeSchemaUrl,
  };
}
