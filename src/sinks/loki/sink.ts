import { decodeLogsRequest } from '../../otlp/codec.js';
import { mapLogsRequest, type LogRow } from '../../otlp/logs-mapping.js';
import { sanitizeName } from '../prometheus/convert.js';
import { classifyHttp, type Delivery, type Sink, type SinkRecord } from '../sink.js';

/** A Loki push request stream: low-cardinality labels and its entries, oldest first. */
export interface LokiStream {
  stream: Record<string, string>;
  values: [string, string, Record<string, string>][];
}

/** The stream labels of a row: only low-cardinality ones (service, environment, severity). */
export function streamLabels(row: LogRow): Record<string, string> {
  const labels: Record<string, string> = { service_name: row.serviceName ?? 'unknown_service' };
  if (row.deploymentEnvironment) labels.deployment_environment = row.deploymentEnvironment;
  if (row.severity) labels.severity = row.severity.toLowerCase();
  return labels;
}

/**
 * Structured metadata of a row: the instrumentation scope's attributes, then the record's (which
 * win on a clash), with sanitized names; trace and span ids and flags, event name, host, scope
 * name and version, a dropped-attributes count, and the body's kind when the body is not a
 * string (the line itself is the body's text).
 */
export function structuredMetadata(row: LogRow): Record<string, string> {
  const md: Record<string, string> = {};
  for (const [k, v] of row.scopeAttributes) md[sanitizeName(k, false)] = v;
  for (const [k, v] of row.attributes) md[sanitizeName(k, false)] = v;
  if (row.traceId) md.trace_id = row.traceId;
  if (row.spanId) md.span_id = row.spanId;
  if (row.traceFlags !== null) md.trace_flags = String(row.traceFlags);
  if (row.eventName) md.event_name = row.eventName;
  if (row.hostName) md.host_name = row.hostName;
  if (row.scopeName) md.scope_name = row.scopeName;
  if (row.scopeVersion) md.scope_version = row.scopeVersion;
  if (row.droppedAttributesCount !== null) md.dropped_attributes_count = String(row.droppedAttributesCount);
  if (row.bodyType && row.bodyType !== 'string') md.body_type = row.bodyType;
  return md;
}

/** Rows to Loki streams; entries of each stream sorted by time, as Loki wants them. */
export function toStreams(rows: LogRow[]): LokiStream[] {
  const streams = new Map<string, { stream: Record<string, string>; entries: { ts: bigint; line: string; md: Record<string, string> }[] }>();
  for (const row of rows) {
    const labels = streamLabels(row);
    const key = JSON.stringify(labels);
    let s = streams.get(key);
    if (!s) streams.set(key, (s = { stream: labels, entries: [] }));
    s.entries.push({ ts: row.timestamp * 1000n, line: row.body ?? '', md: structuredMetadata(row) });
  }
  return [...streams.values()].map((s) => ({
    stream: s.stream,
    values: s.entries.sort((a, b) => (a.ts < b.ts ? -1 : a.ts > b.ts ? 1 : 0)).map((e) => [String(e.ts), e.line, e.md]),
  }));
}

/** Loki push API (JSON), one request per tenant with `X-Scope-OrgID`. */
export class LokiSink implements Sink<LogRow[]> {
  readonly name = 'loki';

  constructor(
    private readonly url: string,
    private readonly timeoutMs = 10_000,
  ) {}

  prepare(record: SinkRecord): LogRow[] {
    if (record.signal !== 'logs') throw new Error(`the loki sink takes logs, not ${record.signal}`);
    return mapLogsRequest(decodeLogsRequest(record.value), record.tenant, BigInt(Math.trunc(record.receivedAtMs)) * 1000n);
  }

  async deliver(tenant: string, prepared: LogRow[][]): Promise<Delivery> {
    const rows = prepared.flat();
    if (rows.length === 0) return { kind: 'ok', items: 0 };
    let res: Response;
    try {
      res = await fetch(this.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-scope-orgid': tenant, 'user-agent': 'otel-lakehouse' },
        body: JSON.stringify({ streams: toStreams(rows) }),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (e) {
      return { kind: 'retry', reason: `push request failed: ${(e as Error).message}` };
    }
    const text = await res.text().catch(() => '');
    return classifyHttp(res.status, text, res.headers.get('retry-after')) ?? { kind: 'ok', items: rows.length };
  }
}
