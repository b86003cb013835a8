import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import { asLakehouseError, LakehouseError } from './errors.js';
import type { Component } from './lifecycle.js';
import type { Logger } from '../telemetry/logger.js';

export type Handler = (req: IncomingMessage, res: ServerResponse) => Promise<void>;

/** Answers the Prometheus text exposition of `registry` (every process's GET /metrics). */
export async function sendMetrics(res: ServerResponse, registry: Registry): Promise<void> {
  const text = await registry.metrics();
  res.writeHead(200, { 'content-type': registry.contentType });
  res.end(text);
}

/** Writes a JSON answer. */
export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

/**
 * The answer for an error: its status, Retry-After when it has one, and a body naming the
 * problem. OTLP/HTTP error bodies are google.rpc.Status: as JSON its fields are code and
 * message (plus the registry code), and for a protobuf request `encodeStatus` gives its bytes.
 */
export function sendError(
  res: ServerResponse,
  e: unknown,
  logger: Logger,
  encodeStatus?: (code: number, message: string) => Uint8Array,
): void {
  const err = asLakehouseError(e);
  if (err.code === 'INTERNAL') logger.error({ err: e }, 'request failed');
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const headers: Record<string, string> = {};
  if (err.retryAfterSeconds !== undefined) headers['retry-after'] = String(err.retryAfterSeconds);
  if (encodeStatus) {
    const bytes = encodeStatus(err.status, err.message);
    res.writeHead(err.status, { 'content-type': 'application/x-protobuf', 'content-length': bytes.length, ...headers });
    res.end(bytes);
    return;
  }
  sendJson(res, err.status, { code: err.status, error: err.code, message: err.message }, headers);
}

/** An HTTP server with exact-path routes, started and stopped as a component. */
export class HttpServer implements Component {
  private server: Server | undefined;
  private readonly routes = new Map<string, Map<string, Handler>>();
  private readonly logger: Logger;

  constructor(
    readonly name: string,
    private readonly host: string,
    private readonly port: number,
    logger: Logger,
  ) {
    this.logger = logger.child({ component: name });
  }

  route(method: string, path: string, handler: Handler): this {
    let byMethod = this.routes.get(path);
    if (!byMethod) this.routes.set(path, (byMethod = new Map()));
    byMethod.set(method, handler);
    return this;
  }

  /** The bound port (useful when configured with port 0). */
  get boundPort(): number {
    return (this.server?.address() as AddressInfo | null)?.port ?? this.port;
  }

  async start(): Promise<void> {
    if (this.server) return;
    const server = createServer((req, res) => void this.dispatch(req, res));
    server.keepAliveTimeout = 65_000;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, this.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.server = server;
    this.logger.info({ host: this.host, port: this.boundPort }, 'listening');
  }

  /** Stops accepting connections and waits for in-flight requests to finish. */
  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    // close() waits for every connection; a keep-alive connection becomes idle only once its
    // request is answered, so keep closing idle ones until all are gone.
    const sweep = setInterval(() => server.closeIdleConnections(), 50);
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeIdleConnections();
    });
    clearInterval(sweep);
    this.logger.info('stopped');
  }

  private async dispatch(req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      const path = (req.url ?? '/').split('?', 1)[0]!;
      const byMethod = this.routes.get(path);
      if (!byMethod) throw new LakehouseError('NOT_FOUND', `no route for ${path}`);
      const handler = byMethod.get(req.method ?? 'GET');
      if (!handler) throw new LakehouseError('METHOD_NOT_ALLOWED', `${req.method} is not allowed on ${path}; use ${[...byMethod.keys()].join(', ')}`);
      await handler(req, res);
    } catch (e) {
      sendError(res, e, this.logger);
    }
  }
}
