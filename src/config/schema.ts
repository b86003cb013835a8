import { z } from 'zod';

/**
 * Every setting of every process, read from the environment: its validation, its default and
 * its description, in one place. docs/configuration.md and .env.example are generated from
 * these sections (`npm run docs:config`); a unit test fails when they drift.
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

/** MAX_MESSAGE_DEPTH's default, also the appender's bound on AnyValue nesting when none is given. */
/** How long past PRODUCE_TIMEOUT_MS a write may take to end before its answer is given up as unknown. */
export const PRODUCE_SETTLE_GRACE_MS = 5000;

export const DEFAULT_MAX_MESSAGE_DEPTH = 64;

/** The shortest LAKE_DEDUP_WINDOW that is not 0: longer than a client's retries last (OTLP exporters give up after 5 minutes by default). */
export const MIN_DEDUP_WINDOW_MS = 15 * 60_000;

/** How long the query service keeps an idle sandbox instance (QUERY_IDLE_SANDBOXES). */
export const QUERY_SANDBOX_IDLE_MS = 5 * 60_000;
/** How often the query service measures a running query's spill on disk (QUERY_SPILL_LIMIT_MB). */
export const QUERY_SPILL_WATCH_MS = 20;

/** What the documentation says about a setting: its meaning, and what an unset optional one means. */
export interface SettingDoc {
  description: string;
  unset?: string;
}
const doc = <T extends z.ZodType>(schema: T, description: string, unset?: string): T =>
  schema.meta(unset === undefined ? { description } : { description, unset });

export const PIPELINE_NAMES = ['lake', 'prometheus', 'loki', 'tempo', 'opensearch'] as const;
export const MAINTENANCE_TASK_NAMES = ['retention', 'offsets', 'digests', 'compact', 'manifests', 'expire', 'orphans'] as const;

const logging = {
  LOG_LEVEL: doc(z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'), 'pino level: fatal, error, warn, info, debug, trace, silent'),
};

const broker = {
  REDPANDA_BROKERS: doc(csv.default(['127.0.0.1:9092']), 'Kafka API brokers, comma-separated'),
  REDPANDA_TOPIC: doc(z.string().min(1).default('otel-logs'), 'logs topic; every topic has a dead-letter twin `<topic>-dlq`'),
  REDPANDA_TRACES_TOPIC: doc(z.string().min(1).default('otel-traces'), 'traces topic'),
  REDPANDA_METRICS_TOPIC: doc(z.string().min(1).default('otel-metrics'), 'metrics topic (OTLP metrics and remote_write)'),
  KAFKA_CLIENT_ID: doc(z.string().min(1).default('otel-lakehouse'), 'client id prefix'),
  TOPIC_PARTITIONS: doc(int(1, 10_000).default(6), 'partitions of topics created at start-up'),
  TOPIC_REPLICATION_FACTOR: doc(int(-1, 16).default(-1), 'replication of created topics (-1: the broker’s `default.replication.factor`)'),
  KAFKA_COMPRESSION: doc(
    z.enum(['none', 'zstd']).default('none'),
    'how the ingester compresses the record batches it writes: `none`, or `zstd` (Node.js’s zlib; fewer bytes to the broker and its disks for some CPU: docs/benchmarks.md). Every consumer reads both',
  ),
};

const ingester = {
  INGESTER_HOST: doc(z.string().default('0.0.0.0'), 'ingester bind address'),
  INGESTER_HTTP_PORT: doc(int(0, 65_535).default(4318), 'OTLP/HTTP and remote_write port'),
  INGESTER_GRPC_PORT: doc(int(0, 65_535).default(4317), 'OTLP/gRPC port'),
  MAX_BODY_BYTES: doc(int(1).default(16 * 1024 * 1024), 'largest request body, compressed and decompressed (413 beyond)'),
  MAX_RECORD_BYTES: doc(int(1024).default(1_000_000), 'largest Kafka record; keep it under the broker’s `message.max.bytes`. Bigger requests are split'),
  MAX_MESSAGE_DEPTH: doc(int(8, 1000).default(DEFAULT_MAX_MESSAGE_DEPTH), 'deepest protobuf message nesting in a request (an AnyValue inside a kvlist adds 3); 400 beyond'),
  MAX_ATTRIBUTES: doc(int(1).default(1024), 'most key-value pairs in one attribute list or kvlist; 400 beyond'),
  MAX_INFLIGHT_REQUESTS: doc(int(1).default(512), 'requests handled at once; more get 429'),
  MAX_INFLIGHT_BYTES: doc(
    int(1024 * 1024).default(256 * 1024 * 1024),
    'memory the requests in flight may hold, all tenants together: bytes counted as they are read and inflated, an estimate of their decoding charged before it, and unfinished broker writes (docs/limits.md); more get 429',
  ),
  TENANT_MAX_INFLIGHT_BYTES: doc(int(1024 * 1024).default(128 * 1024 * 1024), 'the same, for one tenant (at most `MAX_INFLIGHT_BYTES`); per tenant in `TENANTS_FILE`'),
  TENANT_INGESTION_RATE_BYTES: doc(int(1).default(16 * 1024 * 1024), 'bytes per second one tenant may send to one ingester, as decompressed; 429 beyond; per tenant in `TENANTS_FILE`'),
  TENANT_INGESTION_BURST_BYTES: doc(int(1).default(32 * 1024 * 1024), 'bytes one tenant may send at once above its rate (a request larger than this is refused with 413); per tenant in `TENANTS_FILE`'),
  TENANT_INGESTION_RATE_RECORDS: doc(int(1).default(100_000), 'log records, spans, data points and samples per second one tenant may send to one ingester; 429 beyond; per tenant in `TENANTS_FILE`'),
  TENANT_INGESTION_BURST_RECORDS: doc(int(1).default(200_000), 'records one tenant may send at once above its rate; per tenant in `TENANTS_FILE`'),
  GRPC_MAX_MESSAGE_BYTES: doc(int(1024).default(4 * 1024 * 1024), 'largest OTLP/gRPC message, compressed and decompressed (gRPC’s usual default); twice this is reserved from the in-flight bytes when a call’s headers arrive'),
  INGESTER_DECODE_THREADS: doc(
    int(1, 64).default(1),
    'threads that decode requests off the event loop (all but small protobuf requests whose items are all fine, which need no decode), so that one tenant’s large requests do not hold up others’ small ones; each may hold up to `MAX_INFLIGHT_BYTES` of heap (docs/limits.md)',
  ),
  GRPC_MAX_CONCURRENT_STREAMS: doc(int(1, 10_000).default(100), 'calls one gRPC connection may have open at once'),
  PRODUCE_TIMEOUT_MS: doc(int(100).default(10_000), `how long a write may try to reach the broker: its retries fit in 70 % of it, and a 503 is answered once it has ended unacknowledged (at the latest ${PRODUCE_SETTLE_GRACE_MS / 1000} s past this, as an unknown outcome); set client timeouts above this + ${PRODUCE_SETTLE_GRACE_MS / 1000} s`),
  AUTH_MODE: doc(z.enum(['token', 'none']).default('token'), '`token`, or `none` for local demos'),
  DEFAULT_TENANT: doc(z.string().regex(TENANT_ID_PATTERN).optional(), 'the tenant of every request with `AUTH_MODE=none` (required then)', '(none)'),
  TENANT_TOKENS: doc(z.string().optional(), '`tenant=token,…` in plain text, for development', '(none)'),
  TENANTS_FILE: doc(z.string().optional(), 'YAML or JSON file of tenant → SHA-256 token digests (and `retention_days`, and the tenant’s own limits: docs/limits.md)', '(none)'),
  SHUTDOWN_TIMEOUT_MS: doc(int(0).default(30_000), 'longest graceful shutdown after SIGTERM'),
};

const hotPath = {
  PIPELINES: doc(
    csv.default(['lake']).pipe(z.array(z.enum(PIPELINE_NAMES)).min(1, 'name at least one pipeline')),
    `pipelines the appender runs, comma-separated: ${PIPELINE_NAMES.map((s) => `\`${s}\``).join(', ')}`,
  ),
  SINK_GROUP_PREFIX: doc(z.string().min(1).default('otel-lakehouse'), 'hot-path pipelines consume as group `<prefix>-<sink>`'),
  SINK_RETRY_MAX_MS: doc(int(100).default(30_000), 'longest backoff between delivery retries of a hot-path sink'),
  SINK_LINGER_MS: doc(int(0, 60_000).default(50), 'a sink’s fetch waits up to this long for `SINK_MIN_BATCH_BYTES`'),
  SINK_MIN_BATCH_BYTES: doc(int(1).default(1), 'bytes a sink’s fetch waits for (up to `SINK_LINGER_MS`)'),
  SINK_MAX_BATCH_BYTES: doc(int(1024).default(4 * 1024 * 1024), 'most Kafka bytes one fetch brings per partition'),
  SINK_MAX_BATCH_RECORDS: doc(int(1).default(500), 'most Kafka records in one backend request'),
  SINK_MAX_REQUEST_BYTES: doc(
    int(1024).default(1024 * 1024),
    'most Kafka bytes (OTLP records as written) in one backend request, which is a few times larger as JSON; a record larger than this is sent alone. Keeps a push under Loki’s 4 MB gRPC messages and a bulk under OpenSearch’s indexing pressure, both of which refuse a larger request however often it is retried',
  ),
  SINK_MAX_DECODED_BYTES: doc(
    int(16 * 1024 * 1024).default(128 * 1024 * 1024),
    'memory one hot-path sink’s decoded batches may hold, its partitions together, estimated from each record’s wire form before it is decoded (docs/limits.md); a batch past it delivers what it holds and waits, and a record larger than it alone goes to the DLQ (`TOO_LARGE`)',
  ),
  PROMETHEUS_REMOTE_WRITE_URL: doc(url.default('http://127.0.0.1:9090/api/v1/write'), 'where the prometheus sink writes (remote_write 1.0)'),
  LOKI_PUSH_URL: doc(url.default('http://127.0.0.1:3100/loki/api/v1/push'), 'where the loki sink pushes'),
  TEMPO_OTLP_URL: doc(url.default('http://127.0.0.1:4418/v1/traces'), 'Tempo’s OTLP/HTTP traces endpoint, for the tempo sink'),
  OPENSEARCH_URL: doc(url.default('http://127.0.0.1:9200'), 'OpenSearch, for the opensearch sink'),
};

const lake = {
  APPENDER_GROUP_ID: doc(z.string().min(1).default('otel-lakehouse-lake'), 'consumer group of the lake pipeline'),
  APPENDER_ALLOW_NEW_GROUP: doc(
    bool.default(false),
    'start a lake consumer group the lake holds no offsets for while it holds offsets of the same topic for other groups (a renamed group): every record still in Kafka is stored again',
  ),
  APPENDER_HOST: doc(z.string().default('0.0.0.0'), 'bind address of the appender’s /metrics, /healthz, /readyz'),
  APPENDER_HTTP_PORT: doc(int(0, 65_535).default(9464), 'port of the appender’s /metrics, /healthz, /readyz'),
  BUFFER_SIZE_MB: doc(z.coerce.number().positive().default(100), 'flush when the buffered OTLP payload reaches this size'),
  BUFFER_TIME_SECONDS: doc(z.coerce.number().positive().default(300), 'flush when the oldest buffered record is this old'),
  BUFFER_MAX_RECORDS: doc(int(1).default(1_000_000), 'flush at this many buffered log records'),
  LAKE_DEDUP_WINDOW: doc(
    duration.prefault('1h').refine((ms) => ms === 0 || ms >= MIN_DEDUP_WINDOW_MS, `must be 0 (off) or at least ${MIN_DEDUP_WINDOW_MS / 60_000}m`),
    'a Kafka record whose tenant and bytes are those of one the lake stored, received up to this long before it, is not stored again: a client’s retry of a request answered 503 or timed out, through any ingester replica, lands once (two identical requests sent on purpose within it are stored once too). The lake keeps a digest per record this long (the maintainer’s `digests` task trims them); 0 turns it off (docs/exactly-once.md)',
  ),
  LAKE_SPOOL_DIR: doc(
    z.string().min(1).optional(),
    'where each fetched batch’s rows are written as NDJSON for DuckDB to load (deleted once loaded), and where DuckDB spills past its memory limit',
    '(the OS temporary directory)',
  ),
  ICEBERG_CATALOG_URI: doc(url.default('http://127.0.0.1:8181'), 'Iceberg REST catalog'),
  ICEBERG_WAREHOUSE: doc(z.string().min(1).default('warehouse'), 'warehouse name passed to the catalog'),
  ICEBERG_NAMESPACE: doc(z.string().regex(/^[a-z_][a-z0-9_]*$/).default('otel'), 'namespace of the tables'),
  ICEBERG_CATALOG_TOKEN: doc(z.string().optional(), 'bearer token for the catalog, when it needs one', '(none)'),
  S3_ENDPOINT: doc(url.default('http://127.0.0.1:9000'), 'S3 / MinIO endpoint'),
  S3_ACCESS_KEY: doc(z.string().min(1).default('lakehouse'), 'S3 access key'),
  S3_SECRET_KEY: doc(z.string().min(1).default('lakehouse-secret'), 'S3 secret key'),
  S3_BUCKET: doc(z.string().min(3).default('warehouse'), 'bucket of the warehouse (the DuckDB S3 secret is scoped to it)'),
  S3_REGION: doc(z.string().min(1).default('us-east-1'), 'S3 region'),
  S3_URL_STYLE: doc(z.enum(['path', 'vhost']).default('path'), '`path` (MinIO) or `vhost`'),
  DUCKDB_EXTENSION_DIRECTORY: doc(z.string().optional(), 'where the iceberg, httpfs and avro extensions are', '(DuckDB’s own)'),
  DUCKDB_MEMORY_LIMIT_MB: doc(
    int(64).optional(),
    'DuckDB memory limit; past it DuckDB spills to `LAKE_SPOOL_DIR`, which costs the appender CPU (about ten times `BUFFER_SIZE_MB` avoids it, at about twice the RSS: docs/benchmarks.md); a commit that still runs out of memory is retried writing fewer files at once, then partition by partition, and one that cannot write even one file asks for more here',
    '(appender: max(100, `BUFFER_SIZE_MB`) + 50; query CLI: DuckDB’s own; the query service uses `QUERY_MEMORY_LIMIT_MB`)',
  ),
  DUCKDB_THREADS: doc(
    int(1, 256).optional(),
    'DuckDB threads; the appender’s commit and the loads of its next buffer run side by side, each on its own thread',
    '(appender: 1; query and maintainer: one per core)',
  ),
  DUCKDB_ALLOW_EXTENSION_DOWNLOAD: doc(bool.default(false), 'let DuckDB download missing extensions'),
};

const maintainer = {
  MAINTAINER_HOST: doc(z.string().default('0.0.0.0'), 'bind address of the maintainer’s /metrics, /healthz, /readyz'),
  MAINTAINER_HTTP_PORT: doc(int(0, 65_535).default(9466), 'port of the maintainer’s /metrics, /healthz, /readyz'),
  MAINTENANCE_INTERVAL_SECONDS: doc(int(1).default(900), 'time from the end of one maintenance run to the start of the next'),
  MAINTENANCE_TASKS: doc(
    csv.default([...MAINTENANCE_TASK_NAMES]).pipe(z.array(z.enum(MAINTENANCE_TASK_NAMES))),
    'maintenance tasks to run, comma-separated',
  ),
  MAINTENANCE_KEEP_SNAPSHOTS: doc(int(1).default(20), 'snapshots always kept per table'),
  MAINTENANCE_OFFSETS_KEEP: doc(
    duration.prefault('1d'),
    'the `offsets` task keeps every row of the appender offsets table committed within this, and of older rows only the latest per consumer group, topic and partition; keep it far longer than a commit',
  ),
  MAINTENANCE_SNAPSHOT_MAX_AGE: doc(
    duration.prefault('1h'),
    'snapshots older than this, beyond the kept ones, expire; keep it longer than the longest query (a query reading an expired snapshot loses its files)',
  ),
  MAINTENANCE_TARGET_FILE_MB: doc(int(1, 4096).default(128), 'size of the data files compaction writes; files under ¾ of it are small'),
  MAINTENANCE_MIN_INPUT_FILES: doc(
    int(2).default(10),
    'small files of one size tier a partition of today needs before they are merged (an ended day: 2, merged whole)',
  ),
  MAINTENANCE_MAX_MANIFESTS: doc(
    int(1).default(1),
    'small manifests the current snapshot may have before they are merged (DuckDB reads every manifest of a snapshot for each query)',
  ),
  MAINTENANCE_ORPHAN_MIN_AGE: doc(
    duration.prefault('1d'),
    'unreferenced files younger than this are left alone; keep it far longer than any commit (a commit writes its files before the catalog names them)',
  ),
  RETENTION_DAYS: doc(int(1).optional(), 'days of logs kept per tenant (today and the days before it, UTC); longer than `BUFFER_TIME_SECONDS`', '(keep forever)'),
  RETENTION_TENANT_DAYS: doc(
    z.string().optional(),
    'per-tenant overrides, `tenant=days` or `tenant=forever`, comma-separated; tenants must be configured; wins over the tenants file',
    '(none)',
  ),
  MAINTAINER_JAVA: doc(z.string().min(1).default('java'), 'the Java 17+ runtime that runs the Iceberg table operations'),
  MAINTAINER_CLASSPATH: doc(
    z.string().min(1).optional(),
    'where the compiled table operations and Apache Iceberg’s jars are (`npm run build:maintainer` puts them there)',
    '(`dist/maintainer/classes` and `dist/maintainer/lib/*`)',
  ),
  MAINTAINER_JAVA_OPTS: doc(z.string().default('-Xmx1g -XX:+UseSerialGC'), 'options of that Java runtime'),
};

const query = {
  QUERY_HOST: doc(z.string().default('0.0.0.0'), 'bind address of the query service (`POST /v1/query`, the page at `/`, /metrics, /healthz, /readyz)'),
  QUERY_HTTP_PORT: doc(int(0, 65_535).default(8090), 'port of the query service'),
  QUERY_TIMEOUT: doc(duration.prefault('30s'), 'longest a query may run, from its start on DuckDB to its last row sent; 504 beyond'),
  QUERY_MEMORY_LIMIT_MB: doc(
    int(64).default(512),
    'DuckDB memory of one query, twice: the sandbox that runs the tenant’s SQL over its rows, and the trusted scan that hands them over (docs/querying.md); past it a query spills to `LAKE_SPOOL_DIR`, then fails with 422',
  ),
  QUERY_IDLE_SANDBOXES: doc(
    int(0, 10_000).default(32),
    `sandbox DuckDB instances kept between queries, each for one tenant only, for ${QUERY_SANDBOX_IDLE_MS / 60_000} minutes at most (about 3 MB each; opening one costs 25–30 ms of a query)`,
  ),
  QUERY_SPILL_LIMIT_MB: doc(
    int(0).default(2048),
    `most one query may spill to \`LAKE_SPOOL_DIR\` past its memory, both its DuckDB instances together, measured on disk every ${QUERY_SPILL_WATCH_MS} ms while it runs; the query is stopped and answered 422 beyond`,
  ),
  QUERY_MAX_ROWS: doc(int(1).default(10_000), 'most rows one answer returns; more are cut off and the answer says it was truncated'),
  QUERY_MAX_BYTES: doc(int(1024).default(16 * 1024 * 1024), 'most bytes one answer returns (as encoded); the rows beyond are cut off and the answer says it was truncated'),
  QUERY_MAX_SQL_BYTES: doc(int(64).default(64 * 1024), 'largest request body (the SQL, or the JSON holding it); 413 beyond'),
  QUERY_MAX_INFLIGHT: doc(int(1, 1024).default(4), 'queries running at once in the service; more get 429 with Retry-After'),
  QUERY_MAX_INFLIGHT_PER_TENANT: doc(int(1, 1024).default(2), 'queries of one tenant running at once; more get 429 with Retry-After'),
};

/** The settings by section, in the order the documentation lists them. */
export const configSections = [
  { title: 'Logging', settings: logging },
  { title: 'Kafka API broker', settings: broker },
  { title: 'Ingester', settings: ingester },
  { title: 'Appender: pipelines and hot-path sinks', settings: hotPath },
  { title: 'Appender: lake pipeline (and the query CLI)', settings: lake },
  { title: 'Maintainer', settings: maintainer },
  { title: 'Query service', settings: query },
] as const;

export const configSchema = z
  .object({ ...logging, ...broker, ...ingester, ...hotPath, ...lake, ...maintainer, ...query })
  .strict();

export type Config = Readonly<z.infer<typeof configSchema>>;

/**
 * Prefixes that only this service's variables use: an unknown variable with one of them is a
 * typo, never someone else's setting.
 */
export const OWN_PREFIXES = [
  'REDPANDA_', 'INGESTER_', 'APPENDER_', 'BUFFER_', 'SINK_', 'ICEBERG_', 'S3_', 'DUCKDB_', 'LAKE_',
  'MAINTAINER_', 'MAINTENANCE_', 'RETENTION_', 'QUERY_',
] as const;
