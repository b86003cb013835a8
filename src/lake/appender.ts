import type { Config } from '../config/schema.js';
import { HttpServer, sendJson } from '../core/http-server.js';
import { ComponentGroup, type Component } from '../core/lifecycle.js';
import { createKafka } from '../kafka/client.js';
import { BrokerProbe } from '../kafka/health.js';
import type { Logger } from '../telemetry/logger.js';
import { createMetrics } from '../telemetry/metrics.js';
import { LakePipeline } from './lake-pipeline.js';

/** Whether the Iceberg REST catalog answers its config endpoint within `timeoutMs`. */
async function catalogReachable(uri: string, timeoutMs = 2000): Promise<{ ok: boolean; reason?: string }> {
  try {
    const res = await fetch(`${uri.replace(/\/$/, '')}/v1/config`, { signal: AbortSignal.timeout(timeoutMs) });
    return res.ok ? { ok: true } : { ok: false, reason: `catalog answered ${res.status}` };
  } catch (e) {
    return { ok: false, reason: `catalog unreachable: ${(e as Error).message}` };
  }
}

/**
 * The appender process: the lake pipeline, and an HTTP server for /metrics, /healthz and
 * /readyz (broker and catalog reachable, pipeline consuming).
 */
export class Appender implements Component {
  readonly name = 'appender';
  readonly pipeline: LakePipeline;
  readonly http: HttpServer;
  private readonly group: ComponentGroup;

  constructor(cfg: Config, logger: Logger) {
    const metrics = createMetrics();
    const kafka = createKafka(cfg.REDPANDA_BROKERS, `${cfg.KAFKA_CLIENT_ID}-appender`, logger);
    const probe = new BrokerProbe(kafka);
    this.pipeline = new LakePipeline(cfg, kafka, logger, metrics);
    this.http = new HttpServer('appender.http', cfg.APPENDER_HOST, cfg.APPENDER_HTTP_PORT, logger)
      .route('GET', '/healthz', async (_req, res) => sendJson(res, 200, { status: 'ok' }))
      .route('GET', '/readyz', async (_req, res) => {
        const [broker, catalog] = await Promise.all([probe.check(), catalogReachable(cfg.ICEBERG_CATALOG_URI)]);
        const reasons = [broker.reason, catalog.reason, this.pipeline.isRunning ? undefined : 'pipeline not consuming'].filter(Boolean);
        if (reasons.length > 0) return sendJson(res, 503, { status: 'not ready', reasons }, { 'retry-after': '5' });
        sendJson(res, 200, { status: 'ready' });
      })
      .route('GET', '/metrics', async (_req, res) => {
        const text = await metrics.registry.metrics();
        res.writeHead(200, { 'content-type': metrics.registry.contentType });
        res.end(text);
      });
    // The HTTP server first, so /healthz answers while the pipeline starts; stopped last.
    this.group = new ComponentGroup('appender', [
      { name: 'broker.probe', start: async () => {}, stop: () => probe.close() },
      this.http,
      this.pipeline,
    ]);
  }

  start(): Promise<void> {
    return this.group.start();
  }

  stop(): Promise<void> {
    return this.group.stop();
  }
}
