-- A digest of each Kafka record the lake pipeline stored, committed in the same Iceberg
-- transaction as its rows: a record whose digest the table holds, received within
-- LAKE_DEDUP_WINDOW of it, is a client's retry (or an identical request) and is not stored
-- again. The maintainer's `digests` task drops the rows older than the window.
CREATE TABLE IF NOT EXISTS {{ns}}.appender_digests (
  record_digest   VARCHAR,     -- hex of the first 128 bits of SHA-256 over tenant id, NUL, the record's value
  tenant_id       VARCHAR,
  received_at     TIMESTAMPTZ, -- when the ingester received the request (the record's received-at header)
  kafka_partition INTEGER,
  kafka_offset    BIGINT
);
