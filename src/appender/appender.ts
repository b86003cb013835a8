import type { Config } from '../config/schema.js';
import { HttpServer, sendJson, sendMetrics } from '../core/http-server.js';
import { ComponentGroup, type Component } from '../core/lifecycle.js';
import { createKafka } from '../kafka/client.js';
import type { Pipeline } from '../kafka/consumer-pipeline.js';
import { BrokerProbe } from '../kafka/health.js';
import type { Logger } from '../telemetry/logger.js';
import { createMetrics } from '../telemetry/metrics.js';
import { PIPELINE_FACTORIES } from './pipelines.js';

/**
 * The appender process: the pipelines named in PIPELINES (each its own consumer group), and an HTTP
 * server for /metrics, /healthz and /readyz (the broker reachable, every pipeline consuming and
 * its own dependencies reachable, such as the lake's catalog).
 */
export class Appender implements Component {
  readonly name = 'appender';
  readonly pipelines: Pipeline[];
  readonly http: HttpServer;
  private readonly group: ComponentGroup;

  constructor(cfg: Config, logger: Logger) {
    const metrics = createMetrics();
    const kafka = createKafka(cfg.REDPANDA_BROKERS, `${cfg.KAFKA_CLIENT_ID}-appender`, logger);
    const probe = new BrokerProbe(kafka);
    this.pipelines = cfg.PIPELINES.map((name) => PIPELINE_FACTORIES[name]({ cfg, kafka, metrics, logger }));
    this.http = new HttpServer('appender.http', cfg.APPENDER_HOST, cfg.APPENDER_HTTP_PORT, logger)
      .route('GET', '/healthz', async (_req, res) => sendJson(res, 200, { status: 'ok' }))
      .route('GET', '/readyz', async (_req, res) => {
        const [broker, ...own] = await Promise.all([probe.check(), ...this.pipelines.map((p) => p.notReadyReason?.())]);
        const reasons = [
          broker.reason,
          ...own,
          ...this.pipelines.filter((p) => !p.isRunning).map((p) => `${p.name} not consuming`),
        ].filter(Boolean);
        if (reasons.length > 0) return sendJson(res, 503, { status: 'not ready', reasons }, { 'retry-after': '5' });
        sendJson(res, 200, { status: 'ready' });
      })
      .route('GET', '/metrics', (_req, res) => sendMetrics(res, metrics.registry));
    // The HTTP server first, so /healthz answers while the pipelines start; stopped last.
    this.group = new ComponentGroup('appender', [
      { name: 'broker.probe', start: async () => {}, stop: () => probe.close() },
      this.http,
      ...this.pipelines,
    ]);
  }

  start(): Promise<void> {
    return this.group.start();
  }

  stop(): Promise<void> {
    return this.group.stop();
  }
}
