import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * Every metric the service exposes, declared in one place. Names follow
 * otel_lakehouse_<component>_<noun>_<unit>; labels are bounded (signal, tenant, outcome/reason).
 */
export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'otel_lakehouse_process_' });
  const latencyBuckets = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
  return {
    registry,
    ingesterRequests: new Counter({
      name: 'otel_lakehouse_ingester_requests_total',
      help: 'Requests answered by the ingester, by signal, tenant and outcome (accepted or the refusal reason).',
      labelNames: ['signal', 'transport', 'tenant', 'outcome'] as const,
      registers: [registry],
    }),
    ingesterItems: new Counter({
      name: 'otel_lakehouse_ingester_items_total',
      help: 'Log records, spans, data points or samples received, by signal, tenant and outcome (accepted, rejected).',
      labelNames: ['signal', 'tenant', 'outcome'] as const,
      registers: [registry],
    }),
    ingesterBodyBytes: new Counter({
      name: 'otel_lakehouse_ingester_body_bytes_total',
      help: 'Request body bytes as received (before decompression), by signal.',
      labelNames: ['signal'] as const,
      registers: [registry],
    }),
    ingesterInflightRequests: new Gauge({
      name: 'otel_lakehouse_ingester_inflight_requests',
      help: 'Requests being handled now.',
      registers: [registry],
    }),
    ingesterInflightBytes: new Gauge({
      name: 'otel_lakehouse_ingester_inflight_bytes',
      help: 'Decoded request bytes held by requests being handled now, including writes still pending at the broker.',
      registers: [registry],
    }),
    ingesterProduceSeconds: new Histogram({
      name: 'otel_lakehouse_ingester_produce_duration_seconds',
      help: 'Time from handing a request to the producer to the broker acknowledging all of its parts.',
      labelNames: ['signal', 'outcome'] as const,
      buckets: latencyBuckets,
      registers: [registry],
    }),
    ingesterKafkaRecords: new Counter({
      name: 'otel_lakehouse_ingester_kafka_records_total',
      help: 'Kafka records produced, by signal (a request over the broker limit becomes several).',
      labelNames: ['signal'] as const,
      registers: [registry],
    }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
