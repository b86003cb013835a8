-- One row per OTLP log record, in the hybrid schema: top-level columns for pruning and the
-- common filters, attribute maps for everything else (non-string values as JSON).
-- {{ns}} is the attached catalog and namespace, e.g. lake.otel.
-- The columns follow src/schema/logs.ts and src/schema/tables.ts (a unit test checks them).
-- A table made by an earlier version gains the columns it lacks when the appender starts
-- (src/lake/schema-evolution.ts); its older rows read them as NULL. A table partitioned by
-- (tenant_id, day) is repartitioned the same way, without a rewrite: its files keep their spec.
CREATE TABLE IF NOT EXISTS {{ns}}.logs (
  "timestamp"            TIMESTAMPTZ,  -- time_unix_nano, else observed time, else receive time
  observed_timestamp     TIMESTAMPTZ,  -- observed_time_unix_nano
  tenant_id              VARCHAR,      -- from the bearer token, via the Kafka header
  severity               VARCHAR,      -- severity_text, else derived from severity_number
  severity_number        INTEGER,
  event_name             VARCHAR,
  body                   VARCHAR,      -- string body; other AnyValue kinds as JSON
  body_type              VARCHAR,      -- the body's AnyValue kind: string, int, double, bool, bytes, array, kvlist
  trace_id               VARCHAR,      -- hex
  span_id                VARCHAR,      -- hex
  trace_flags            BIGINT,       -- the record's flags (W3C trace flags in bits 0-7)
  service_name           VARCHAR,      -- resource service.name
  deployment_environment VARCHAR,      -- resource deployment.environment.name or deployment.environment
  host_name              VARCHAR,      -- resource host.name
  scope_name             VARCHAR,
  scope_version          VARCHAR,
  attributes             MAP(VARCHAR, VARCHAR),
  dropped_attributes_count BIGINT,
  resource_attributes    MAP(VARCHAR, VARCHAR),
  resource_dropped_attributes_count BIGINT,
  resource_schema_url    VARCHAR,
  scope_attributes       MAP(VARCHAR, VARCHAR),
  scope_dropped_attributes_count BIGINT,
  scope_schema_url       VARCHAR,
  tenant_shard           VARCHAR       -- which files the row went into: its tenant's own, or `~<first tenant>` of a shared range
) PARTITIONED BY (tenant_shard, day("timestamp"));
