import type { Config } from '../config/schema.js';
import { HttpServer, sendJson } from '../core/http-server.js';
import { ComponentGroup, type Component } from '../core/lifecycle.js';
import { createKafka } from '../kafka/client.js';
import { BrokerProbe } from '../kafka/health.js';
import type { Logger } from '../telemetry/logger.js';
import { createMetrics } from '../telemetry/metrics.js';
import { HotPathPipeline } from '../sinks/hot-path-pipeline.js';
import { LokiSink } from '../sinks/loki/sink.js';
import { OpenSearchSink } from '../sinks/opensearch/sink.js';
import { PrometheusSink } from '../sinks/prometheus/sink.js';
import { TempoSink } from '../sinks/tempo/sink.js';
import { catalogReachable } from './catalog-client.js';
import { LakePipeline } from './lake-pipeline.js';

/**
 * The appender process: the pipelines named in SINKS (each its own consumer group), and an HTTP
 * server for /metrics, /healthz and /readyz (broker reachable; with the lake pipeline, the
 * catalog reachable and the pipeline consuming).
 */
export class Appender implements Component {
  readonly name = 'appender';
  readonly pipeline: LakePipeline | undefined;
  readonly sinks: HotPathPipeline<unknown>[] = [];
  readonly http: HttpServer;
  private readonly group: ComponentGroup;

  constructor(cfg: Config, logger: Logger) {
    const metrics = createMetrics();
    const kafka = createKafka(cfg.REDPANDA_BROKERS, `${cfg.KAFKA_CLIENT_ID}-appender`, logger);
    const probe = new BrokerProbe(kafka);
    this.pipeline = cfg.SINKS.includes('lake') ? new LakePipeline(cfg, kafka, logger, metrics) : undefined;
    if (cfg.SINKS.includes('loki')) {
      this.sinks.push(new HotPathPipeline(cfg, kafka, cfg.REDPANDA_TOPIC, new LokiSink(cfg.LOKI_PUSH_URL), metrics, logger) as HotPathPipeline<unknown>);
    }
    if (cfg.SINKS.includes('opensearch')) {
      this.sinks.push(new HotPathPipeline(cfg, kafka, cfg.REDPANDA_TOPIC, new OpenSearchSink(cfg.OPENSEARCH_URL, cfg.REDPANDA_TOPIC), metrics, logger) as HotPathPipeline<unknown>);
    }
    if (cfg.SINKS.includes('tempo')) {
      this.sinks.push(new HotPathPipeline(cfg, kafka, cfg.REDPANDA_TRACES_TOPIC, new TempoSink(cfg.TEMPO_OTLP_URL), metrics, logger) as HotPathPipeline<unknown>);
    }
    if (cfg.SINKS.includes('prometheus')) {
      this.sinks.push(new HotPathPipeline(cfg, kafka, cfg.REDPANDA_METRICS_TOPIC, new PrometheusSink(cfg.PROMETHEUS_REMOTE_WRITE_URL, metrics), metrics, logger) as HotPathPipeline<unknown>);
    }
    this.http = new HttpServer('appender.http', cfg.APPENDER_HOST, cfg.APPENDER_HTTP_PORT, logger)
      .route('GET', '/healthz', async (_req, res) => sendJson(res, 200, { status: 'ok' }))
      .route('GET', '/readyz', async (_req, res) => {
        const lake = this.pipeline;
        const [broker, catalog] = await Promise.all([probe.check(), lake ? catalogReachable(cfg.ICEBERG_CATALOG_URI) : { ok: true }]);
        const reasons = [
          broker.reason,
          (catalog as { reason?: string }).reason,
          !lake || lake.isRunning ? undefined : 'lake pipeline not consuming',
          ...this.sinks.filter((p) => !p.isRunning).map((p) => `${p.name} not consuming`),
        ].filter(Boolean);
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
      ...(this.pipeline ? [this.pipeline] : []),
      ...this.sinks,
    ]);
  }

  start(): Promise<void> {
    return this.group.start();
  }

  stop(): Promise<void> {
    return this.group.stop();
  }
}
