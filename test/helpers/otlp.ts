import { decodeLogsRequest, encodeLogsRequest, type AnyValue, type KeyValue, type LogsRequest } from '../../src/otlp/codec.js';

/** A KeyValue with a string value. */
export function kv(key: string, value: AnyValue | string): KeyValue {
  return { key, value: typeof value === 'string' ? { stringValue: value } : value };
}

/** Round-trips a request through the wire format, as the appender will see it. */
export function viaWire(req: LogsRequest): LogsRequest {
  return decodeLogsRequest(encodeLogsRequest(req));
}

export interface SampleLog {
  tenant: string;
  service: string;
  seq: number;
  body: string;
  severityNumber: number;
  timeUnixNano: bigint;
  attrs: Record<string, AnyValue>;
}

/** An ExportLogsServiceRequest holding `logs` under one resource per service. */
export function logsRequest(logs: SampleLog[], resourceExtra: KeyValue[] = []): LogsRequest {
  const byService = new Map<string, SampleLog[]>();
  for (const l of logs) byService.set(l.service, [...(byService.get(l.service) ?? []), l]);
  return {
    resourceLogs: [...byService].map(([service, ls]) => ({
      resource: { attributes: [kv('service.name', service), ...resourceExtra] },
      scopeLogs: [
        {
          scope: { name: 'otel-lakehouse-test', version: '1.0.0' },
          logRecords: ls.map((l) => ({
            timeUnixNano: l.timeUnixNano.toString(),
            severityNumber: l.severityNumber,
            body: { stringValue: l.body },
            attributes: [kv('seq', { intValue: l.seq }), ...Object.entries(l.attrs).map(([k, v]) => kv(k, v))],
          })),
        },
      ],
    })),
  } as unknown as LogsRequest;
}

/** The protobuf bytes of a request holding one log record of tenant `acme`, numbered `seq` (attribute `seq`). */
export function seqLogRecord(seq: number, body = `b${seq}`): Buffer {
  const log: SampleLog = { tenant: 'acme', service: 'svc', seq, body, severityNumber: 9, timeUnixNano: 1_763_800_000_000_000_000n + BigInt(seq), attrs: {} };
  return Buffer.from(encodeLogsRequest(logsRequest([log])));
}
