import type { IHeaders } from 'kafkajs';

/** The record contract (docs/kafka-records.md): headers every produced record carries. */
export const Headers = {
  tenant: 'tenant-id',
  signal: 'signal',
  receivedAt: 'received-at',
  contentSchema: 'content-schema',
} as const;

export type Signal = 'logs' | 'traces' | 'metrics' | 'prom-rw';
/** The value's format: OTLP Export*ServiceRequest protobuf, or a decompressed remote_write WriteRequest. */
export const OTLP_PROTO_SCHEMA = 'otlp-proto-1';
export const PROM_RW_SCHEMA = 'prom-rw-1';

export function recordHeaders(tenant: string, signal: Signal, receivedAtMs: number): IHeaders {
  return {
    [Headers.tenant]: tenant,
    [Headers.signal]: signal,
    [Headers.receivedAt]: String(receivedAtMs),
    [Headers.contentSchema]: signal === 'prom-rw' ? PROM_RW_SCHEMA : OTLP_PROTO_SCHEMA,
  };
}

/** A header value as a string, whichever form kafkajs handed it over in. */
export function headerString(headers: IHeaders | undefined, name: string): string | undefined {
  const v = headers?.[name];
  if (v === undefined || v === null) return undefined;
  if (Array.isArray(v)) return v.length > 0 ? String(v[v.length - 1]) : undefined;
  return Buffer.isBuffer(v) ? v.toString('utf8') : String(v);
}
