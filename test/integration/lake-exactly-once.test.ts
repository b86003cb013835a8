import type { Kafka } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seededRandom } from '../helpers/prng.js';
import { createKafka } from '../../src/kafka/client.js';
import { ensureTopics, topicWithDlq } from '../../src/kafka/topics.js';
import { LakePipeline } from '../../src/lake/lake-pipeline.js';
import { createLogger } from '../../src/telemetry/logger.js';
import { lakeCounts, produceLogs, spawnAppender } from '../helpers/lake.js';
import { runId, testConfig, waitFor, stack, withStopped } from '../helpers/stack.js';

const logger = createLogger(process.env.TEST_LOG_LEVEL ?? 'warn', 'it');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Iceberg commits the pipeline has retried so far, of any kind. */
async function retriesOf(p: LakePipeline): Promise<number> {
  return (await p.metrics.lakeCommitRetries.get()).values.reduce((n, v) => n + v.value, 0);
}

describe('lake pipeline: exactly once across crashes, replicas, rebalances and outages', () => {
  let kafka: Kafka;
  beforeAll(() => {
    kafka = createKafka(testConfig('x').REDPANDA_BROKERS, 'it-producer', logger);
  });
  afterAll(() => {
    stack('up'); // whatever a test stopped
  });

  async function setup(id: string) {
    const cfg = testConfig(id, { TOPIC_PARTITIONS: '3', BUFFER_TIME_SECONDS: '1' });
    await ensureTopics(kafka, topicWithDlq(cfg.REDPANDA_TOPIC), { partitions: 3, replicationFactor: -1 }, logger);
    return cfg;
  }

  it('kill -9 of the appender at random moments, several times: every record lands exactly once', async () => {
    const random = seededRandom('kill moments');
    const cfg = await setup(runId());
    const TOTAL = 150 * 40;
    const producing = produceLogs(kafka, cfg.REDPANDA_TOPIC, 0, 150, 40, 60);
    let kills = 0;
    for (let round = 0; round < 4; round++) {
      const child = spawnAppender(cfg);
      const exited = new Promise((r) => child.on('exit', r));
      await sleep(2500 + Math.floor(random() * 3500));
      child.kill('SIGKILL');
      await exited;
      kills++;
    }
    await producing;
    const last = spawnAppender(cfg);
    try {
      const counts = await waitFor(() => lakeCounts(cfg), (c) => c.rows >= TOTAL, 180_000, `${TOTAL} rows`);
      await sleep(3000); // a late duplicate would show up here
      expect(await lakeCounts(cfg)).toEqual({ rows: TOTAL, distinct: TOTAL });
      expect(counts.rows).toBe(TOTAL);
    } finally {
      last.kill('SIGTERM');
      const code = await new Promise((r) => last.on('exit', r));
      expect(code, 'SIGTERM: flush, commit, exit 0').toBe(0);
    }
    expect(kills).toBe(4);
  });

  it('two replicas in one group with rebalances mid-stream: every record lands exactly once', { timeout: 300_000 }, async () => {
    const cfg = await setup(runId());
    const a = new LakePipeline(cfg, createKafka(cfg.REDPANDA_BROKERS, 'it-a', logger), logger);
    const b = new LakePipeline(cfg, createKafka(cfg.REDPANDA_BROKERS, 'it-b', logger), logger);
    await a.start();
    const producing = produceLogs(kafka, cfg.REDPANDA_TOPIC, 0, 120, 40, 80);
    await sleep(3000);
    await b.start(); // rebalance: partitions move from a to b
    await sleep(4000);
    await a.stop(); // rebalance: b takes everything
    await producing;
    try {
      // A rebalance can wait for a member's batch (and its flush) to end: allow for two.
      await waitFor(() => lakeCounts(cfg), (c) => c.rows >= 4800, 240_000, '4800 rows');
      await sleep(3000);
      expect(await lakeCounts(cfg)).toEqual({ rows: 4800, distinct: 4800 });
    } finally {
      await b.stop();
    }
  });

  it('a commit held up by a catalog outage: the next buffer loads beside it, then waits for it; every record lands once', async () => {
    const id = runId();
    const cfg = testConfig(id, { TOPIC_PARTITIONS: '3', BUFFER_MAX_RECORDS: '200', BUFFER_TIME_SECONDS: '600' });
    await ensureTopics(kafka, topicWithDlq(cfg.REDPANDA_TOPIC), { partitions: 3, replicationFactor: -1 }, logger);
    const p = new LakePipeline(cfg, createKafka(cfg.REDPANDA_BROKERS, 'it-overlap', logger), logger);
    const gauge = async (g: { get(): Promise<{ values: { value: number }[] }> }) => (await g.get()).values[0]?.value ?? 0;
    await p.start();
    try {
      await produceLogs(kafka, cfg.REDPANDA_TOPIC, 0, 4, 50);
      await waitFor(() => lakeCounts(cfg), (c) => c.rows >= 200, 60_000, 'the first 200 rows');
      // the rows are visible once the catalog has the commit; the pipeline counts them just after
      const committed = await waitFor(() => gauge(p.metrics.lakeRowsCommitted), (n) => n >= 200, 10_000, 'the first commit counted');
      await withStopped(['iceberg'], async () => {
        await produceLogs(kafka, cfg.REDPANDA_TOPIC, 200, 40, 50);
        // The sealed buffer (200 or more rows) waits for the catalog, and the next one loads
        // beside it up to its own limit: more than one buffer's rows are held at once.
        await waitFor(() => gauge(p.metrics.lakeBufferedRecords), (n) => n >= 400, 60_000, 'a second buffer loading beside the commit');
        await sleep(3000);
        // ... and no further: with one commit in flight, a full second buffer waits for it, and
        // the rest stays in Kafka.
        expect(await gauge(p.metrics.lakeBufferedRecords)).toBeLessThan(2000);
        expect(await gauge(p.metrics.lakeRowsCommitted)).toBe(committed);
      });
      await waitFor(() => lakeCounts(cfg), (c) => c.rows >= 2200, 120_000, 'all 2200 rows after the catalog came back');
      await sleep(2000); // a late duplicate would show up here
      expect(await lakeCounts(cfg)).toEqual({ rows: 2200, distinct: 2200 });
    } finally {
      stack('up');
      await p.stop();
    }
  });

  it('catalog and then MinIO stopped during flushes: the pipeline retries, then completes exactly once', async () => {
    const cfg = await setup(runId());
    const p = new LakePipeline(cfg, createKafka(cfg.REDPANDA_BROKERS, 'it-outage', logger), logger);
    await p.start();
    try {
      await produceLogs(kafka, cfg.REDPANDA_TOPIC, 0, 10, 50);
      await waitFor(() => lakeCounts(cfg), (c) => c.rows >= 500, 60_000, '500 rows');

      await withStopped(['iceberg'], async () => {
        const before = await retriesOf(p);
        await produceLogs(kafka, cfg.REDPANDA_TOPIC, 500, 10, 50);
        await waitFor(() => retriesOf(p), (n) => n > before, 60_000, 'a commit retried while the catalog is down');
      });
      await waitFor(() => lakeCounts(cfg), (c) => c.rows >= 1000, 120_000, '1000 rows after the catalog came back');

      // With MinIO down a commit waits inside DuckDB's S3 client rather than failing, so there is
      // no retry to wait for: the outage lasts a few flush intervals, and what is checked is that
      // the commit then completes, once.
      await withStopped(['minio'], async () => {
        await produceLogs(kafka, cfg.REDPANDA_TOPIC, 1000, 10, 50);
        await sleep(5000);
      });
      await waitFor(() => lakeCounts(cfg), (c) => c.rows >= 1500, 120_000, '1500 rows after MinIO came back');
      await sleep(2000); // a late duplicate would show up here
      expect(await lakeCounts(cfg)).toEqual({ rows: 1500, distinct: 1500 });
      const retries = await p.metrics.lakeCommitRetries.get();
      expect(retries.values.reduce((n, v) => n + v.value, 0)).toBeGreaterThan(0);
    } finally {
      stack('up');
      await p.stop();
    }
  });
});
