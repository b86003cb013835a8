import { ExportTraceServiceRequest } from '../../otlp/codec.js';
import { leaves, SIGNALS } from '../../otlp/signals.js';
import { classifyHttp, type Delivery, type Sink, type SinkRecord } from '../sink.js';

type Obj = Record<string, unknown>;

/**
 * Tempo: OTLP/HTTP protobuf to `<TEMPO_OTLP_URL>` (…/v1/traces), one request per tenant with
 * `X-Scope-OrgID`. The Kafka value already is an ExportTraceServiceRequest; a batch's requests are
 * merged into one by concatenating their resource spans.
 */
export class TempoSink implements Sink<Obj> {
  readonly name = 'tempo';

  constructor(
    private readonly url: string,
    private readonly timeoutMs = 10_000,
  ) {}

  prepare(record: SinkRecord): Obj {
    if (record.signal !== 'traces') throw new Error(`the tempo sink takes traces, not ${record.signal}`);
    return ExportTraceServiceRequest.decode(record.value) as unknown as Obj;
  }

  async deliver(tenant: string, prepared: Obj[]): Promise<Delivery> {
    const resourceSpans = prepared.flatMap((p) => (p.resourceSpans as Obj[] | undefined) ?? []);
    const spans = leaves(SIGNALS.traces, { resourceSpans }).length;
    if (spans === 0) return { kind: 'ok', items: 0 };
    const body = ExportTraceServiceRequest.encode({ resourceSpans }).finish();
    let res: Response;
    try {
      res = await fetch(this.url, {
        method: 'POST',
        headers: { 'content-type': 'application/x-protobuf', 'x-scope-orgid': tenant, 'user-agent': 'otel-lakehouse' },
        body,
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (e) {
      return { kind: 'retry', reason: `OTLP export failed: ${(e as Error).message}` };
    }
    const text = await res.text().catch(() => '');
    return classifyHttp(res.status, text, res.headers.get('retry-after')) ?? { kind: 'ok', items: spans };
  }
}
