import type { Kafka } from 'kafkajs';
import type { Config, PIPELINE_NAMES } from '../config/schema.js';
import type { Pipeline } from '../kafka/consumer-pipeline.js';
import type { Signal } from '../kafka/record.js';
import { LakePipeline } from '../lake/lake-pipeline.js';
import { HotPathPipeline } from '../sinks/hot-path-pipeline.js';
import { LokiSink } from '../sinks/loki/sink.js';
import { OpenSearchSink } from '../sinks/opensearch/sink.js';
import { PrometheusSink } from '../sinks/prometheus/sink.js';
import type { Sink } from '../sinks/sink.js';
import { TempoSink } from '../sinks/tempo/sink.js';
import type { Logger } from '../telemetry/logger.js';
import type { Metrics } from '../telemetry/metrics.js';

export type PipelineName = (typeof PIPELINE_NAMES)[number];

/** What every pipeline of one appender process shares. */
export interface PipelineContext {
  cfg: Config;
  kafka: Kafka;
  metrics: Metrics;
  logger: Logger;
}

function hotPath<P>(c: PipelineContext, topic: string, signals: readonly Signal[], sink: Sink<P>): Pipeline {
  return new HotPathPipeline(c.cfg, c.kafka, topic, signals, sink, c.metrics, c.logger);
}

/**
 * Every pipeline the appender can run (`PIPELINES` names them): which topic and signals each reads
 * and where it writes. Adding a backend is one entry here and a Sink.
 */
export const PIPELINE_FACTORIES: Record<PipelineName, (c: PipelineContext) => Pipeline> = {
  lake: (c) => new LakePipeline(c.cfg, c.kafka, c.logger, c.metrics),
  loki: (c) => hotPath(c, c.cfg.REDPANDA_TOPIC, ['logs'], new LokiSink(c.cfg.LOKI_PUSH_URL)),
  opensearch: (c) => hotPath(c, c.cfg.REDPANDA_TOPIC, ['logs'], new OpenSearchSink(c.cfg.OPENSEARCH_URL, c.cfg.REDPANDA_TOPIC)),
  tempo: (c) => hotPath(c, c.cfg.REDPANDA_TRACES_TOPIC, ['traces'], new TempoSink(c.cfg.TEMPO_OTLP_URL)),
  prometheus: (c) => hotPath(c, c.cfg.REDPANDA_METRICS_TOPIC, ['metrics', 'prom-rw'], new PrometheusSink(c.cfg.PROMETHEUS_REMOTE_WRITE_URL, c.metrics)),
};
