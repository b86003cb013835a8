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
