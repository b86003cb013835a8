import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';

/**
 * OTLP protobuf types, loaded once from the .proto files beside this module (written from
 * the OTLP specification). Decoding yields protobufjs messages: fixed64/int64 fields are
 * `Long` objects, bytes fields are Uint8Array.
 */
const protoDir = fileURLToPath(new URL('./proto/', import.meta.url));

function loadRoot(): protobuf.Root {
  const root = new protobuf.Root();
  root.resolvePath = (_origin, target) => (target.startsWith('/') ? target : protoDir + target);
  root.loadSync(['logs_service.proto', 'trace_service.proto', 'metrics_service.proto', 'remote_write.proto', 'status.proto'], {
    keepCase: false,
  });
  root.resolveAll();
  return root;
}

const root = loadRoot();

export const ExportLogsServiceRequest = root.lookupType(
  'opentelemetry.proto.collector.logs.v1.ExportLogsServiceRequest',
);
export const ExportLogsServiceResponse = root.lookupType(
  'opentelemetry.proto.collector.logs.v1.ExportLogsServiceResponse',
);
export const ExportTraceServiceRequest = root.lookupType('opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest');
export const ExportTraceServiceResponse = root.lookupType('opentelemetry.proto.collector.trace.v1.ExportTraceServiceResponse');
export const ExportMetricsServiceRequest = root.lookupType('opentelemetry.proto.collector.metrics.v1.ExportMetricsServiceRequest');
export const ExportMetricsServiceResponse = root.lookupType('opentelemetry.proto.collector.metrics.v1.ExportMetricsServiceResponse');
export const PromWriteRequest = root.lookupType('prometheus.WriteRequest');
export const RpcStatus = root.lookupType('google.rpc.Status');

// Shapes of decoded messages (camelCase, as protobufjs names fields).
export interface LongLike {
  low: number;
  high: number;
  unsigned?: boolean;
  toString(): string;
}
export interface AnyValue {
  stringValue?: string;
  boolValue?: boolean;
  intValue?: LongLike | number | string;
  doubleValue?: number;
  arrayValue?: { values?: AnyValue[] };
  kvlistValue?: { values?: KeyValue[] };
  bytesValue?: Uint8Array;
}
export interface KeyValue {
  key: string;
  value?: AnyValue | null;
}
export interface LogRecord {
  timeUnixNano?: LongLike | number;
  observedTimeUnixNano?: LongLike | number;
  severityNumber?: number;
  severityText?: string;
  body?: AnyValue | null;
  attributes?: KeyValue[];
  droppedAttributesCount?: number;
  flags?: number;
  traceId?: Uint8Array;
  spanId?: Uint8Array;
  eventName?: string;
}
export interface ScopeLogs {
  scope?: { name?: string; version?: string; attributes?: KeyValue[]; droppedAttributesCount?: number } | null;
  logRecords?: LogRecord[];
  schemaUrl?: string;
}
export interface ResourceLogs {
  resource?: { attributes?: KeyValue[]; droppedAttributesCount?: number } | null;
  scopeLogs?: ScopeLogs[];
  schemaUrl?: string;
}
export interface LogsRequest {
  resourceLogs?: ResourceLogs[];
}

/** Decodes an ExportLogsServiceRequest; throws on malformed protobuf. */
export function decodeLogsRequest(bytes: Uint8Array): LogsRequest {
  return ExportLogsServiceRequest.decode(bytes) as unknown as LogsRequest;
}

/** Encodes an ExportLogsServiceRequest from a plain object of the decoded shape. */
export function encodeLogsRequest(req: LogsRequest): Uint8Array {
  return ExportLogsServiceRequest.encode(ExportLogsServiceRequest.fromObject(req as Record<string, unknown>)).finish();
}

/** Number of log records in a decoded request. */
export function countLogRecords(req: LogsRequest): number {
  let n = 0;
  for (const rl of req.resourceLogs ?? []) for (const sl of rl.scopeLogs ?? []) n += sl.logRecords?.length ?? 0;
  return n;
}
