import snappy from 'snappy';
import { PromWriteRequest, ExportMetricsServiceRequest } from '../../otlp/codec.js';
import type { Metrics } from '../../telemetry/metrics.js';
import { classifyHttp, type Delivery, type Sink, type SinkRecord } from '../sink.js';
import { convertOtlpMetrics, withTenant, type TimeSeries } from './convert.js';

interface Prepared {
  series: TimeSeries[];
  metadata: unknown[];
}

/**
 * Prometheus remote_write 1.0: OTLP metrics converted (see convertOtlpMetrics), remote_write
 * requests forwarded as they came with a `tenant_id` label added; `X-Scope-OrgID` carries the
 * tenant for Mimir-style multi-tenant receivers.
 */
export class PrometheusSink implements Sink<Prepared> {
  readonly name = 'prometheus';

  constructor(
    private readonly url: string,
    private readonly metrics: Metrics,
    private readonly timeoutMs = 10_000,
  ) {}

  prepare(record: SinkRecord): Prepared {
    if (record.signal === 'prom-rw') {
      const req = PromWriteRequest.toObject(PromWriteRequest.decode(record.value), { longs: Number }) as { timeseries?: TimeSeries[]; metadata?: unknown[] };
      return { series: (req.timeseries ?? []).map((ts) => withTenant(ts, record.tenant)), metadata: req.metadata ?? [] };
    }
    if (record.signal !== 'metrics') throw new Error(`the prometheus sink takes metrics, not ${record.signal}`);
    const req = ExportMetricsServiceRequest.decode(record.value) as unknown as Record<string, unknown>;
    const { series, dropped } = convertOtlpMetrics(req, record.tenant);
    for (const [reason, n] of Object.entries(dropped)) this.metrics.sinkDropped.inc({ sink: this.name, reason }, n);
    return { series, metadata: [] };
  }

  async deliver(tenant: string, prepared: Prepared[]): Promise<Delivery> {
    const timeseries = prepared.flatMap((p) => p.series);
    const samples = timeseries.reduce((n, ts) => n + ts.samples.length, 0);
    if (timeseries.length === 0) return { kind: 'ok', items: 0 };
    const body = snappy.compressSync(Buffer.from(PromWriteRequest.encode({ timeseries, metadata: prepared.flatMap((p) => p.metadata) }).finish()));
    let res: Response;
    try {
      res = await fetch(this.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/x-protobuf',
          'content-encoding': 'snappy',
          'x-prometheus-remote-write-version': '0.1.0',
          'x-scope-orgid': tenant,
          'user-agent': 'otel-lakehouse',
        },
        body,
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (e) {
      return { kind: 'retry', reason: `remote_write request failed: ${(e as Error).message}` };
    }
    const text = await res.text().catch(() => '');
    return classifyHttp(res.status, text, res.headers.get('retry-after')) ?? { kind: 'ok', items: samples };
  }
}
