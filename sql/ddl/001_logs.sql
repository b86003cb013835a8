-- One row per OTLP log record, in the hybrid schema: top-level columns for pruning and the
-- common filters, attribute maps for everything else (non-string values as JSON).
-- {{ns}} is the attached catalog and namespace, e.g. lake.otel.
CREATE TABLE IF NOT EXISTS {{ns}}.logs (
  "timestamp"            TIMESTAMPTZ,  -- time_unix_nano, else observed time, else receive time
  observed_timestamp     TIMESTAMPTZ,  -- observed_time_unix_nano
  tenant_id              VARCHAR,      -- from the bearer token, via the Kafka header
  severity               VARCHAR,      -- severity_text, else derived from severity_number
  severity_number        INTEGER,
  body                   VARCHAR,      -- string body; other AnyValue kinds as JSON
  trace_id               VARCHAR,      -- hex
  span_id                VARCHAR,      -- hex
  service_name           VARCHAR,      -- resource service.name
  deployment_environment VARCHAR,      -- resource deployment.environment.name or deployment.environment
  host_name              VARCHAR,      -- resource host.name
  scope_name             VARCHAR,
  scope_version          VARCHAR,
  attributes             MAP(VARCHAR, VARCHAR),
  resource_attributes    MAP(VARCHAR, VARCHAR)
) PARTITIONED BY (tenant_id, day("timestamp"));
