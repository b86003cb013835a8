-- The lake pipeline's Kafka positions, committed in the same Iceberg transaction as the rows
-- they cover: after a crash the pipeline resumes from max(next_offset) per partition, so a
-- batch is written exactly once whatever Kafka's own committed offsets say.
CREATE TABLE IF NOT EXISTS {{ns}}.appender_offsets (
  consumer_group VARCHAR,
  topic          VARCHAR,
  "partition"    INTEGER,
  next_offset    BIGINT,     -- first offset NOT covered by this commit
  committed_at   TIMESTAMPTZ,
  batch_id       VARCHAR     -- unique per flush; finds the batch after an unknown outcome
);
