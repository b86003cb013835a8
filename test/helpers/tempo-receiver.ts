import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ExportTraceServiceRequest, ExportTraceServiceResponse } from '../../src/otlp/codec.js';
import { leaves, SIGNALS } from '../../src/otlp/signals.js';

/**
 * A stand-in for Tempo's distributor (Tempo cannot be obtained here): it takes OTLP/HTTP
 * protobuf on /v1/traces and refuses what Tempo refuses — no X-Scope-OrgID with multi-tenancy
 * on (401), a body that is not protobuf (415) or does not decode, or a span whose trace id is not
 * 16 bytes (400) — and answers GET /api/traces/<hex id> per tenant, as Tempo's query API does.
 */
export class TempoReceiver {
  private server: Server | undefined;
  /** tenant -> trace id (hex) -> span names */
  readonly traces = new Map<string, Map<string, string[]>>();
  up = true;

  get url(): string {
    return `http://127.0.0.1:${(this.server!.address() as AddressInfo).port}`;
  }

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const send = (status: number, text: string) => res.writeHead(status, { 'content-type': 'text/plain' }).end(text);
        if (!this.up) return send(503, 'ingester unavailable');
        const tenant = req.headers['x-scope-orgid'];
        if (typeof tenant !== 'string' || tenant === '') return send(401, 'no org id');
        if (req.method === 'GET' && req.url?.startsWith('/api/traces/')) {
          const spans = this.traces.get(tenant)?.get(req.url.slice('/api/traces/'.length));
          return spans ? res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ spans })) : send(404, 'trace not found');
        }
        if (req.method !== 'POST' || req.url !== '/v1/traces') return send(404, 'not found');
        if (req.headers['content-type'] !== 'application/x-protobuf') return send(415, 'unsupported content type');
        let msg;
        try {
          msg = ExportTraceServiceRequest.decode(Buffer.concat(chunks));
        } catch (e) {
          return send(400, `failed to decode request: ${(e as Error).message}`);
        }
        const spans = leaves(SIGNALS.traces, msg as never).map((l) => l.item as { traceId: Uint8Array; name: string });
        if (spans.some((s) => s.traceId.length !== 16)) return send(400, 'invalid trace id');
        const byTrace = this.traces.get(tenant) ?? new Map<string, string[]>();
        for (const s of spans) {
          const id = Buffer.from(s.traceId).toString('hex');
          byTrace.set(id, [...(byTrace.get(id) ?? []), s.name]);
        }
        this.traces.set(tenant, byTrace);
        const out = ExportTraceServiceResponse.encode({}).finish();
        res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end(out);
      });
    });
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', r));
  }

  async stop(): Promise<void> {
    await new Promise<void>((r) => this.server?.close(() => r()) ?? r());
  }
}
