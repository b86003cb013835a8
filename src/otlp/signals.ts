import type protobuf from 'protobufjs';
import type { ItemRules } from './wire-check.js';
import {
  ExportLogsServiceRequest,
  ExportLogsServiceResponse,
  ExportMetricsServiceRequest,
  ExportMetricsServiceResponse,
  ExportTraceServiceRequest,
  ExportTraceServiceResponse,
} from './codec.js';

export type OtlpSignal = 'logs' | 'traces' | 'metrics';

type Obj = Record<string, unknown>;

/**
 * What the ingester needs to know of one OTLP signal: its request and response types, how
 * its requests nest (resource → scope → items), how to count its items and which of them are
 * invalid, and the response field that reports rejected items.
 */
export interface SignalSpec {
  signal: OtlpSignal;
  path: `/v1/${OtlpSignal}`;
  grpcMethod: string;
  request: protobuf.Type;
  response: protobuf.Type;
  resourceField: string;
  scopeField: string;
  itemField: string;
  /** plural noun of what is counted, for messages */
  noun: string;
  partialField: string;
  /** items counted in one leaf (a metric counts its data points) */
  weight(item: Obj): number;
  /** why an item must be rejected, or null when it is fine */
  invalid(item: Obj): string | null;
  /** the same judgement (weight and invalid), made on the wire by checkWire */
  items: ItemRules;
}

const len = (v: unknown): number => (v instanceof Uint8Array ? v.length : 0);

function idProblem(item: Obj, field: string, size: number, required: boolean): string | null {
  const n = len(item[field]);
  if (n === 0 ? required : n !== size) return `${field} must be ${size} bytes${required ? '' : ' or empty'}, got ${n}`;
  return null;
}

function dataPoints(metric: Obj): number {
  for (const kind of ['gauge', 'sum', 'histogram', 'exponentialHistogram', 'summary']) {
    const data = metric[kind] as { dataPoints?: unknown[] } | undefined | null;
    if (data && Object.hasOwn(metric, kind)) return data.dataPoints?.length ?? 0;
  }
  return 0;
}

export const SIGNALS: Record<OtlpSignal, SignalSpec> = {
  logs: {
    signal: 'logs',
    path: '/v1/logs',
    grpcMethod: '/opentelemetry.proto.collector.logs.v1.LogsService/Export',
    request: ExportLogsServiceRequest,
    response: ExportLogsServiceResponse,
    resourceField: 'resourceLogs',
    scopeField: 'scopeLogs',
    itemField: 'logRecords',
    noun: 'log records',
    partialField: 'rejectedLogRecords',
    weight: () => 1,
    invalid: (r) => idProblem(r, 'traceId', 16, false) ?? idProblem(r, 'spanId', 8, false),
    items: {
      type: ExportLogsServiceRequest.lookupType('opentelemetry.proto.logs.v1.LogRecord'),
      ids: [{ id: 9, name: 'traceId', size: 16, required: false }, { id: 10, name: 'spanId', size: 8, required: false }],
    },
  },
  traces: {
    signal: 'traces',
    path: '/v1/traces',
    grpcMethod: '/opentelemetry.proto.collector.trace.v1.TraceService/Export',
    request: ExportTraceServiceRequest,
    response: ExportTraceServiceResponse,
    resourceField: 'resourceSpans',
    scopeField: 'scopeSpans',
    itemField: 'spans',
    noun: 'spans',
    partialField: 'rejectedSpans',
    weight: () => 1,
    invalid: (s) =>
      idProblem(s, 'traceId', 16, true) ?? idProblem(s, 'spanId', 8, true) ?? idProblem(s, 'parentSpanId', 8, false),
    items: {
      type: ExportTraceServiceRequest.lookupType('opentelemetry.proto.trace.v1.Span'),
      ids: [{ id: 1, name: 'traceId', size: 16, required: true }, { id: 2, name: 'spanId', size: 8, required: true }, { id: 4, name: 'parentSpanId', size: 8, required: false }],
    },
  },
  metrics: {
    signal: 'metrics',
    path: '/v1/metrics',
    grpcMethod: '/opentelemetry.proto.collector.metrics.v1.MetricsService/Export',
    request: ExportMetricsServiceRequest,
    response: ExportMetricsServiceResponse,
    resourceField: 'resourceMetrics',
    scopeField: 'scopeMetrics',
    itemField: 'metrics',
    noun: 'data points',
    partialField: 'rejectedDataPoints',
    weight: dataPoints,
    invalid: (m) => (typeof m.name === 'string' && m.name.length > 0 ? null : 'metric name is empty'),
    items: {
      type: ExportMetricsServiceRequest.lookupType('opentelemetry.proto.metrics.v1.Metric'),
      ids: [],
      nonEmpty: { id: 1, problem: 'metric name is empty' },
      weightFields: [5, 7, 9, 10, 11],
    },
  },
};

/** One item of a request with where it sits: resource index, scope index, the item. */
export interface Leaf {
  r: number;
  s: number;
  item: Obj;
}

/** The items of a decoded request, in order. */
export function leaves(spec: SignalSpec, msg: Obj): Leaf[] {
  const out: Leaf[] = [];
  const resources = (msg[spec.resourceField] as Obj[] | undefined) ?? [];
  resources.forEach((res, r) => {
    const scopes = (res[spec.scopeField] as Obj[] | undefined) ?? [];
    scopes.forEach((sc, s) => {
      for (const item of (sc[spec.itemField] as Obj[] | undefined) ?? []) out.push({ r, s, item });
    });
  });
  return out;
}

/** A request holding `part` (leaves of `msg`, in order) under copies of their resource and scope. */
export function assemble(spec: SignalSpec, msg: Obj, part: Leaf[]): Obj {
  const resources = msg[spec.resourceField] as Obj[];
  const outResources: Obj[] = [];
  let lastR = -1;
  let lastS = -1;
  let curScopes: Obj[] = [];
  let curItems: Obj[] = [];
  for (const leaf of part) {
    if (leaf.r !== lastR) {
      const res = resources[leaf.r]!;
      curScopes = [];
      outResources.push({ ...res, [spec.scopeField]: curScopes });
      lastR = leaf.r;
      lastS = -1;
    }
    if (leaf.s !== lastS) {
      const scope = (resources[leaf.r]![spec.scopeField] as Obj[])[leaf.s]!;
      curItems = [];
      curScopes.push({ ...scope, [spec.itemField]: curItems });
      lastS = leaf.s;
    }
    curItems.push(leaf.item);
  }
  return { [spec.resourceField]: outResources };
}
