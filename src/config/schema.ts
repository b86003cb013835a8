import { z } from 'zod';

/**
 * Every setting of every process, read from the environment, with its default inline.
 * README's configuration table and .env.example list the same variables.
 */
const int = (min: number, max = Number.MAX_SAFE_INTEGER) => z.coerce.number().int().min(min).max(max);
const bool = z.enum(['true', 'false', '1', '0']).transform((v) => v === 'true' || v === '1');
const csv = z.string().transform((v) => v.split(',').map((s) => s.trim()).filter(Boolean));
const url = z.string().url();

const DURATION_UNITS_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
/** A duration like `90s`, `30m`, `12h` or `7d` (a bare number is seconds), in milliseconds. */
export const duration = z.string().transform((v, ctx) => {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$/.exec(v.trim());
  if (!m) {
    ctx.addIssue({ code: 'custom', message: `'${v}' is not a duration: expected a non-negative number with a unit, like 90s, 30m, 12h or 7d` });
    return z.NEVER;
  }
  return Math.round(Number(m[1]) * DURATION_UNITS_MS[(m[2] ?? 's') as keyof typeof DURATION_UNITS_MS]);
});

export const TENANT_ID_PATTERN = /^[a-z0-9][a-z0-9_-]{0,62}$/;

export const configSchema = z
  .object({
    LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),

    // Kafka API broker (Redpanda in docker-compose, Apache Kafka in the local stack)
    REDPANDA_BROKERS: csv.default(['127.0.0.1:9092']),
    REDPANDA_TOPIC: z.string().min(1).default('otel-logs'),
    REDPANDA_TRACES_TOPIC: z.string().min(1).default('otel-traces'),
    REDPANDA_METRICS_TOPIC: z.string().min(1).default('otel-metrics'),
    KAFKA_CLIENT_ID: z.string().min(1).default('otel-lakehouse'),
    TOPIC_PARTITIONS: int(1, 10_000).default(6),
    TOPIC_REPLICATION_FACTOR: int(-1, 16).default(-1),

    // ingester
    INGESTER_HOST: z.string().default('0.0.0.0'),
    INGESTER_HTTP_PORT: int(0, 65_535).default(4318),
    INGESTER_GRPC_PORT: int(0, 65_535).default(4317),
    MAX_BODY_BYTES: int(1).default(16 * 1024 * 1024),
    MAX_RECORD_BYTES: int(1024).default(1_000_000),
    MAX_MESSAGE_DEPTH: int(8, 1000).default(64),
    MAX_ATTRIBUTES: int(1).default(1024),
    MAX_INFLIGHT_REQUESTS: int(1).default(512),
    MAX_INFLIGHT_BYTES: int(1).default(256 * 1024 * 1024),
    PRODUCE_TIMEOUT_MS: int(100).default(10_000),
    AUTH_MODE: z.enum(['token', 'none']).default('token'),
    DEFAULT_TENANT: z.string().regex(TENANT_ID_PATTERN).optional(),
    TENANT_TOKENS: z.string().optional(),
    TENANTS_FILE: z.string().optional(),
    SHUTDOWN_TIMEOUT_MS: int(0).default(30_000),

    // appender: which pipelines run, and the hot-path sinks
    SINKS: csv
      .default(['lake'])
      .pipe(z.array(z.enum(['lake', 'prometheus', 'loki', 'tempo', 'opensearch'])).min(1, 'name at least one pipeline')),
    SINK_GROUP_PREFIX: z.string().min(1).default('otel-lakehouse'),
    SINK_RETRY_MAX_MS: int(100).default(30_000),
    SINK_LINGER_MS: int(0, 60_000).default(50),
    SINK_MIN_BATCH_BYTES: int(1).default(1),
    SINK_MAX_BATCH_BYTES: int(1024).default(4 * 1024 * 1024),
    SINK_MAX_BATCH_RECORDS: int(1).default(500),
    PROMETHEUS_REMOTE_WRITE_URL: url.default('http://127.0.0.1:9090/api/v1/write'),
    LOKI_PUSH_URL: url.default('http://127.0.0.1:3100/loki/api/v1/push'),
    TEMPO_OTLP_URL: url.default('http://127.0.0.1:4418/v1/traces'),
    OPENSEARCH_URL: url.default('http://127.0.0.1:9200'),

    // appender, lake pipeline
    APPENDER_GROUP_ID: z.string().min(1).default('otel-lakehouse-lake'),
    APPENDER_HOST: z.string().default('0.0.0.0'),
    APPENDER_HTTP_PORT: int(0, 65_535).default(9464),
    BUFFER_SIZE_MB: z.coerce.number().positive().default(100),
    BUFFER_TIME_SECONDS: z.coerce.number().positive().default(300),
    BUFFER_MAX_RECORDS: int(1).default(1_000_000),
    LAKE_SPOOL_DIR: z.string().min(1).optional(),
    ICEBERG_CATALOG_URI: url.default('http://127.0.0.1:8181'),
    ICEBERG_WAREHOUSE: z.string().min(1).default('warehouse'),
    ICEBERG_NAMESPACE: z.string().regex(/^[a-z_][a-z0-9_]*$/).default('otel'),
    ICEBERG_CATALOG_TOKEN: z.string().optional(),
    S3_ENDPOINT: url.default('http://127.0.0.1:9000'),
    S3_ACCESS_KEY: z.string().min(1).default('lakehouse'),
    S3_SECRET_KEY: z.string().min(1).default('lakehouse-secret'),
    S3_BUCKET: z.string().min(3).default('warehouse'),
    S3_REGION: z.string().min(1).default('us-east-1'),
    S3_URL_STYLE: z.enum(['path', 'vhost']).default('path'),
    DUCKDB_EXTENSION_DIRECTORY: z.string().optional(),
    DUCKDB_MEMORY_LIMIT_MB: int(64).optional(),
    DUCKDB_THREADS: int(1, 256).optional(),
    DUCKDB_ALLOW_EXTENSION_DOWNLOAD: bool.default(false),

    // maintainer: table maintenance of the lake (see README, Operating the lake)
    MAINTAINER_HOST: z.string().default('0.0.0.0'),
    MAINTAINER_HTTP_PORT: int(0, 65_535).default(9466),
    MAINTENANCE_INTERVAL_SECONDS: int(1).default(900),
    MAINTENANCE_TASKS: csv
      .default(['retention', 'compact', 'manifests', 'expire', 'orphans'])
      .pipe(z.array(z.enum(['retention', 'compact', 'manifests', 'expire', 'orphans']))),
    MAINTENANCE_KEEP_SNAPSHOTS: int(1).default(20),
    MAINTENANCE_SNAPSHOT_MAX_AGE: duration.prefault('1h'),
    MAINTENANCE_TARGET_FILE_MB: int(1, 4096).default(128),
    MAINTENANCE_MIN_INPUT_FILES: int(2).default(10),
    MAINTENANCE_MAX_MANIFESTS: int(1).default(1),
    MAINTENANCE_ORPHAN_MIN_AGE: duration.prefault('1d'),
    RETENTION_DAYS: int(1).optional(),
    RETENTION_TENANT_DAYS: z.string().optional(),
    MAINTAINER_JAVA: z.string().min(1).default('java'),
    MAINTAINER_CLASSPATH: z.string().min(1).optional(),
    MAINTAINER_JAVA_OPTS: z.string().default('-Xmx1g -XX:+UseSerialGC'),
  })
  .strict();

export type Config = Readonly<z.infer<typeof configSchema>>;
