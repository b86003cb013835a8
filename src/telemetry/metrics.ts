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
      help: 'Bytes charged to the requests being handled now (read, inflated, estimated for decoding), including writes still pending at the broker.',
      registers: [registry],
    }),
    ingesterTenantInflightBytes: new Gauge({
      name: 'otel_lakehouse_ingester_tenant_inflight_bytes',
      help: 'The same, by tenant.',
      labelNames: ['tenant'] as const,
      registers: [registry],
    }),
    ingesterProduceSeconds: new Histogram({
      name: 'otel_lakehouse_ingester_produce_duration_seconds',
      help: 'Time from handing a request to the producer to the broker acknowledging all of its parts.',
      labelNames: ['signal', 'outcome'] as const,
      buckets: latencyBuckets,
      registers: [registry],
    }),
    lakeLag: new Gauge({
      name: 'otel_lakehouse_lake_consumer_lag_records',
      help: 'Records in the topic not yet committed to the lake, per partition (high watermark minus the lake offset).',
      labelNames: ['topic', 'partition'] as const,
      registers: [registry],
    }),
    lakeBufferedBytes: new Gauge({ name: 'otel_lakehouse_lake_buffered_bytes', help: 'OTLP bytes buffered and not yet in Iceberg: the buffer loading and the one being committed.', registers: [registry] }),
    lakeBufferedRecords: new Gauge({ name: 'otel_lakehouse_lake_buffered_records', help: 'Log records buffered and not yet in Iceberg: the buffer loading and the one being committed.', registers: [registry] }),
    lakeBufferAge: new Gauge({ name: 'otel_lakehouse_lake_buffer_age_seconds', help: 'Age of the oldest buffered record.', registers: [registry] }),
    lakeFlushSeconds: new Histogram({
      name: 'otel_lakehouse_lake_flush_duration_seconds',
      help: 'Time of one flush: Iceberg commit (with retries) and Kafka offset commit, by reason.',
      labelNames: ['reason'] as const,
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120],
      registers: [registry],
    }),
    lakeDuckdbMemory: new Gauge({
      name: 'otel_lakehouse_lake_duckdb_memory_bytes',
      help: "Memory held by DuckDB's buffer manager, by tag (duckdb_memory()); allocations outside it are not counted.",
      labelNames: ['tag'] as const,
      registers: [registry],
    }),
    lakeDuckdbSpilled: new Gauge({
      name: 'otel_lakehouse_lake_duckdb_spilled_bytes',
      help: "Bytes DuckDB has spilled to its temporary directory (LAKE_SPOOL_DIR).",
      registers: [registry],
    }),
    lakeRowsCommitted: new Counter({ name: 'otel_lakehouse_lake_rows_committed_total', help: 'Rows committed to the Iceberg logs table.', registers: [registry] }),
    lakeDataFiles: new Counter({ name: 'otel_lakehouse_lake_data_files_committed_total', help: 'Parquet data files added to the Iceberg logs table (from the commit\'s snapshot summary).', registers: [registry] }),
    lakeCommits: new Counter({ name: 'otel_lakehouse_lake_commits_total', help: 'Iceberg commits that landed.', registers: [registry] }),
    lakeCopiesSkipped: new Counter({
      name: 'otel_lakehouse_lake_copies_skipped_total',
      help: 'Kafka records not stored because the lake had stored a record of the same tenant and bytes within LAKE_DEDUP_WINDOW (a client retry, or an identical request).',
      registers: [registry],
    }),
    lakeCommitRetries: new Counter({
      name: 'otel_lakehouse_lake_commit_retries_total',
      help: 'Iceberg commit attempts that failed and were retried, by kind (conflict, unknown outcome, unavailable).',
      labelNames: ['kind'] as const,
      registers: [registry],
    }),
    lakeRowsSkipped: new Counter({
      name: 'otel_lakehouse_lake_records_already_committed_total',
      help: 'Kafka records skipped because the lake already holds them (re-read after a crash or a rebalance).',
      registers: [registry],
    }),
    dlqRecords: new Counter({
      name: 'otel_lakehouse_dlq_records_total',
      help: 'Records sent to a dead-letter topic, by pipeline and error code.',
      labelNames: ['pipeline', 'code'] as const,
      registers: [registry],
    }),
    sinkItems: new Counter({
      name: 'otel_lakehouse_sink_items_total',
      help: 'Items (samples, log lines, spans, documents) a hot-path sink delivered, by sink.',
      labelNames: ['sink'] as const,
      registers: [registry],
    }),
    sinkRequests: new Counter({
      name: 'otel_lakehouse_sink_requests_total',
      help: 'Requests a hot-path sink sent, by sink and outcome (ok, retry, reject).',
      labelNames: ['sink', 'outcome'] as const,
      registers: [registry],
    }),
    sinkDropped: new Counter({
      name: 'otel_lakehouse_sink_dropped_total',
      help: 'Data points a sink cannot represent (e.g. delta sums for Prometheus), by sink and reason.',
      labelNames: ['sink', 'reason'] as const,
      registers: [registry],
    }),
    sinkBatchSeconds: new Histogram({
      name: 'otel_lakehouse_sink_batch_duration_seconds',
      help: 'Time to deliver one batch of Kafka records to the backend, retries included.',
      labelNames: ['sink'] as const,
      buckets: latencyBuckets,
      registers: [registry],
    }),
    sinkHotPathSeconds: new Histogram({
      name: 'otel_lakehouse_sink_hot_path_latency_seconds',
      help: 'From the Kafka record timestamp to the backend acknowledging it, by sink.',
      labelNames: ['sink'] as const,
      buckets: [0.005, 0.01, 0.02, 0.03, 0.05, 0.075, 0.1, 0.15, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [registry],
    }),
    maintenanceRuns: new Counter({
      name: 'otel_lakehouse_maintenance_runs_total',
      help: 'Maintenance runs, by outcome (ok, failed: a task failed or the run did not finish).',
      labelNames: ['outcome'] as const,
      registers: [registry],
    }),
    maintenanceRunSeconds: new Histogram({
      name: 'otel_lakehouse_maintenance_run_duration_seconds',
      help: 'Time of one maintenance run, every task of every table.',
      buckets: [1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600],
      registers: [registry],
    }),
    maintenanceTaskFailures: new Counter({
      name: 'otel_lakehouse_maintenance_task_failures_total',
      help: 'Maintenance tasks that failed, by task and table (retried at the next run).',
      labelNames: ['task', 'table'] as const,
      registers: [registry],
    }),
    maintenanceFilesRewritten: new Counter({
      name: 'otel_lakehouse_maintenance_files_rewritten_total',
      help: 'Small data files replaced by compaction, by table.',
      labelNames: ['table'] as const,
      registers: [registry],
    }),
    maintenanceBytesRewritten: new Counter({
      name: 'otel_lakehouse_maintenance_bytes_rewritten_total',
      help: 'Bytes of the data files replaced by compaction, by table.',
      labelNames: ['table'] as const,
      registers: [registry],
    }),
    maintenanceFilesWritten: new Counter({
      name: 'otel_lakehouse_maintenance_files_written_total',
      help: 'Data files written by compaction, by table.',
      labelNames: ['table'] as const,
      registers: [registry],
    }),
    maintenanceFilesRemoved: new Counter({
      name: 'otel_lakehouse_maintenance_files_removed_total',
      help: 'Files removed from the table or storage, by table and reason (retention: dropped from the table; expired: deleted with expired snapshots; orphan).',
      labelNames: ['table', 'reason'] as const,
      registers: [registry],
    }),
    maintenanceBytesRemoved: new Counter({
      name: 'otel_lakehouse_maintenance_bytes_removed_total',
      help: 'Bytes of data files dropped by retention and of orphan files deleted, by table and reason.',
      labelNames: ['table', 'reason'] as const,
      registers: [registry],
    }),
    maintenanceSnapshotsExpired: new Counter({
      name: 'otel_lakehouse_maintenance_snapshots_expired_total',
      help: 'Snapshots expired, by table.',
      labelNames: ['table'] as const,
      registers: [registry],
    }),
    maintenanceManifests: new Gauge({
      name: 'otel_lakehouse_maintenance_manifests',
      help: "Manifests of the table's current snapshot after the last manifest task, by table.",
      labelNames: ['table'] as const,
      registers: [registry],
    }),
    maintenanceSnapshots: new Gauge({
      name: 'otel_lakehouse_maintenance_snapshots',
      help: 'Snapshots the table keeps after the last expiry, by table.',
      labelNames: ['table'] as const,
      registers: [registry],
    }),
    maintenanceLastSuccess: new Gauge({
      name: 'otel_lakehouse_maintenance_last_success_timestamp_seconds',
      help: 'When the last run whose every task succeeded ended (Unix time).',
      registers: [registry],
    }),
    ingesterKafkaRecords: new Counter({
      name: 'otel_lakehouse_ingester_kafka_records_total',
      help: 'Kafka records produced, by signal (a request over the broker limit becomes several).',
      labelNames: ['signal'] as const,
      registers: [registry],
    }),
    ingesterRetriesSettled: new Counter({
      name: 'otel_lakehouse_ingester_retries_settled_total',
      help: 'Retried requests whose earlier write, answered 503 while it could still land, was waited for: only records that had not landed were written again.',
      labelNames: ['signal'] as const,
      registers: [registry],
    }),
    queryRequests: new Counter({
      name: 'otel_lakehouse_query_requests_total',
      help: 'Queries answered by the query service, by tenant and outcome (ok, truncated, or the refusal reason).',
      labelNames: ['tenant', 'outcome'] as const,
      registers: [registry],
    }),
    queryDuration: new Histogram({
      name: 'otel_lakehouse_query_duration_seconds',
      help: 'Time from a query\'s arrival to its last byte sent, by tenant.',
      labelNames: ['tenant'] as const,
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120],
      registers: [registry],
    }),
    queryRows: new Counter({
      name: 'otel_lakehouse_query_rows_returned_total',
      help: 'Rows returned by queries, by tenant.',
      labelNames: ['tenant'] as const,
      registers: [registry],
    }),
    queryRowsRead: new Counter({
      name: 'otel_lakehouse_query_rows_read_total',
      help: 'Rows of the tenant\'s logs handed to the sandbox that runs its queries (what the queries read after the pushed-down filters), by tenant.',
      labelNames: ['tenant'] as const,
      registers: [registry],
    }),
    queryBytes: new Counter({
      name: 'otel_lakehouse_query_bytes_returned_total',
      help: 'Answer bytes returned by queries (as encoded, before any compression), by tenant.',
      labelNames: ['tenant'] as const,
      registers: [registry],
    }),
    queryInflight: new Gauge({
      name: 'otel_lakehouse_query_inflight',
      help: 'Queries running now.',
      registers: [registry],
    }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
