import { PROMOTED_RESOURCE_KEYS, SEVERITY_NAMES, type LogRow } from '../schema/logs.js';
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

function attributesToMap(kvs: KeyValue[] | undefined, skip?: ReadonlySet<string>): Map<string, string> {
  const m = new Map<string, string>();
  for (const kv of kvs ?? []) {
    if (skip?.has(kv.key)) continue;
    m.set(kv.key, anyValueToString(kv.value) ?? '');
  }
  return m;
}

function findString(kvs: KeyValue[] | undefined, key: string): string | null {
  if (!kvs) return null;
  for (let i = kvs.length - 1; i >= 0; i--) {
    const kv = kvs[i]!;
    if (kv.key === key) return anyValueToString(kv.value);
  }
  return null;
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
    const rattrs = rl.resource?.attributes;
    const serviceName = findString(rattrs, 'service.name');
    const deploymentEnvironment = findString(rattrs, 'deployment.environment.name') ?? findString(rattrs, 'deployment.environment');
    const hostName = findString(rattrs, 'host.name');
    const resourceAttributes = attributesToMap(rattrs, PROMOTED_RESOURCE_KEYS);
    for (const sl of rl.scopeLogs ?? []) {
      const scopeName = emptyToNull(sl.scope?.name);
      const scopeVersion = emptyToNull(sl.scope?.version);
      for (const lr of sl.logRecords ?? []) {
        rows.push(mapRecord(lr, {
          tenantId, serviceName, deploymentEnvironment, hostName, scopeName, scopeVersion, resourceAttributes, fallbackMicros,
        }));
      }
    }
  }
  return rows;
}

interface RecordContext {
  tenantId: string;
  serviceName: string | null;
  deploymentEnvironment: string | null;
  hostName: string | null;
  scopeName: string | null;
  scopeVersion: string | null;
  resourceAttributes: Map<string, string>;
  fallbackMicros: bigint;
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
    body: anyValueToString(lr.body),
    traceId: hex(lr.traceId),
    spanId: hex(lr.spanId),
    serviceName: ctx.serviceName,
    deploymentEnvironment: ctx.deploymentEnvironment,
    hostName: ctx.hostName,
    scopeName: ctx.scopeName,
    scopeVersion: ctx.scopeVersion,
    attributes: attributesToMap(lr.attributes),
    resourceAttributes: ctx.resourceAttributes,
  };
}
