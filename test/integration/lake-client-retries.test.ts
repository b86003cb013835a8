import type { ChildProcess } from 'node:child_process';
import type { Kafka } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Config } from '../../src/config/schema.js';
import { createKafka } from '../../src/kafka/client.js';
import { recordHeaders } from '../../src/kafka/record.js';
import { encodeLogsRequest } from '../../src/otlp/codec.js';
import { qualifiedNamespace } from '../../src/lake/session.js';
import { runQuery } from '../../src/query/query.js';
import { createLogger } from '../../src/telemetry/logger.js';
import { freePort, Service, waitReady } from '../chaos/processes.js';
import { topicSize } from '../helpers/kafka.js';
import { spawnAppender } from '../helpers/lake.js';
import { logsRequest, type SampleLog } from '../helpers/otlp.js';
import { runId, stack, stackEnv, testConfig, waitFor } from '../helpers/stack.js';

const logger = createLogger(process.env.TEST_LOG_LEVEL ?? 'warn', 'it');

/** One request's body: `records` log records numbered seq * 100,000 + i, all of tenant acme. */
function body(seq: number, records: number): Buffer {
  const logs: SampleLog[] = Array.from({ length: records }, (_, i) => ({
    tenant: 'acme', service: 'svc', seq: seq * 100_000 + i, body: `request ${seq} record ${i} ${'x'.repeat(40)}`, severityNumber: 9, timeUnixNano: 1_763_800_000_000_000_000n + BigInt(i), attrs: {},
  }));
  return Buffer.from(encodeLogsRequest(logsRequest(logs)));
}

async function post(url: string, payload: Buffer): Promise<number> {
  try {
    const res = await fetch(`${url}/v1/logs`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-protobuf', authorization: 'Bearer acme-token' },
      body: payload,
      signal: AbortSignal.timeout(20_000),
    });
    await res.arrayBuffer();
    return res.status;
  } catch {
    return 0; // timed out at the client: as unknown to it as a 503
  }
}

/** Rows per request seq in the lake, and rows in all. */
async function lakeRows(cfg: Config): Promise<{ rows: number; distinct: number; perSeq: Record<string, number> }> {
  const r = await runQuery(cfg, `SELECT (attributes['seq']::BIGINT // 100000)::VARCHAR AS seq, count(*), count(DISTINCT attributes['seq']) FROM logs GROUP BY 1 ORDER BY 1`);
  const perSeq: Record<string, number> = {};
  let rows = 0;
  let distinct = 0;
  for (const [seq, n, d] of r.rows) {
    perSeq[String(seq)] = Number(n);
    rows += Number(n);
    distinct += Number(d);
  }
  return { rows, distinct, perSeq };
}

/** Waits until the lake's offsets cover every record of the topic: the appender has judged them all. */
async function drained(kafka: Kafka, cfg: Config): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const ends = new Map((await admin.fetchTopicOffsets(cfg.REDPANDA_TOPIC)).map((o) => [o.partition, BigInt(o.high)]));
    await waitFor(
      async () => {
        const r = await runQuery(cfg, `SELECT "partition", max(next_offset) FROM ${qualifiedNamespace(cfg)}.appender_offsets WHERE consumer_group = '${cfg.APPENDER_GROUP_ID}' GROUP BY 1`);
        return new Map(r.rows.map(([p, n]) => [Number(p), BigInt(n as string | number | bigint)]));
      },
      (lake) => [...ends].every(([p, end]) => end === 0n || (lake.get(p) ?? 0n) >= end),
      120_000,
      'the lake offsets to cover the topic',
    );
  } finally {
    await admin.disconnect();
  }
}

async function copiesSkipped(port: number): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const m = /^otel_lakehouse_lake_copies_skipped_total (\d+)/m.exec(text);
  return m ? Number(m[1]) : 0;
}

async function ingester(cfg: Config, env: Record<string, string>): Promise<{ service: Service; url: string }> {
  const port = await freePort();
  const service = new Service('ingester', {
    REDPANDA_TOPIC: cfg.REDPANDA_TOPIC, TOPIC_PARTITIONS: String(cfg.TOPIC_PARTITIONS), TENANT_TOKENS: 'acme=acme-token',
    INGESTER_HOST: '127.0.0.1', INGESTER_HTTP_PORT: String(port), INGESTER_GRPC_PORT: '0', LOG_LEVEL: 'warn', ...env,
  });
  service.start();
  const url = `http://127.0.0.1:${port}`;
  await waitReady(`${url}/readyz`, 60_000, service);
  return { service, url };
}

async function appender(cfg: Config, env: Record<string, string> = {}): Promise<{ child: ChildProcess; port: number }> {
  const port = await freePort();
  return { child: spawnAppender(cfg, { APPENDER_HTTP_PORT: String(port), ...env }), port };
}

async function stop(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await exited;
}

describe("a client's retries land once in the lake (LAKE_DEDUP_WINDOW)", () => {
  let kafka: Kafka;
  beforeAll(() => {
    stackEnv();
    kafka = createKafka(testConfig(runId()).REDPANDA_BROKERS, 'it-retries', logger);
  });
  afterAll(() => stack('up', 'kafka'));

  it('a request answered 503 by one ingester process, its write landed when the broker came back, retried through another: once', { timeout: 300_000 }, async () => {
    const cfg = testConfig(runId());
    const env = { PRODUCE_TIMEOUT_MS: '2000' };
    const a = await ingester(cfg, env);
    const b = await ingester(cfg, env);
    let paused = false;
    let lake: { child: ChildProcess; port: number } | undefined;
    try {
      expect(await post(a.url, body(0, 3))).toBe(200);
      // the broker keeps its connections and answers nothing: the write is sent and hangs
      stack('pause', 'kafka');
      paused = true;
      expect(await post(a.url, body(1, 3))).toBe(503);
      stack('resume', 'kafka');
      paused = false;
      // the first write lands once the broker is back
      await waitFor(() => topicSize(kafka, cfg.REDPANDA_TOPIC), (n) => n >= 2, 60_000, 'the unsettled write to land');
      // the client's retry goes to the other replica, which knows nothing of it
      expect(await post(b.url, body(1, 3))).toBe(200);
      expect(await post(b.url, body(2, 3))).toBe(200);
      // the retry reached Kafka a second time: only the lake can tell the copies apart
      expect(await topicSize(kafka, cfg.REDPANDA_TOPIC)).toBe(4);
      lake = await appender(cfg);
      await drained(kafka, cfg);
      expect(await lakeRows(cfg)).toEqual({ rows: 9, distinct: 9, perSeq: { '0': 3, '1': 3, '2': 3 } });
      expect(await copiesSkipped(lake.port)).toBe(1);
    } finally {
      if (paused) stack('resume', 'kafka');
      await stop(lake?.child);
      await a.service.stop();
      await b.service.stop();
    }
  });

  it('concurrent requests of several Kafka records each, some answered 503 or timed out while the broker stalled, retried until 200, then each sent again through the other replica: every record once', { timeout: 300_000 }, async () => {
    const cfg = testConfig(runId());
    const env = { PRODUCE_TIMEOUT_MS: '2000', MAX_RECORD_BYTES: String(64 * 1024) };
    const a = await ingester(cfg, env);
    const b = await ingester(cfg, env);
    const REQUESTS = 8;
    const PER_REQUEST = 4000;
    const bodies = Array.from({ length: REQUESTS }, (_, r) => body(r, PER_REQUEST));
    let paused = false;
    let lake: { child: ChildProcess; port: number } | undefined;
    try {
      // the broker stalls as the requests come in, past the produce deadline (2 s, and 5 s of grace)
      stack('pause', 'kafka');
      paused = true;
      const first = Promise.all(bodies.map((x) => post(a.url, x)));
      await new Promise((r) => setTimeout(r, 8000));
      stack('resume', 'kafka');
      paused = false;
      const statuses = await first;
      const firstAnswers = statuses.join(',');
      expect(statuses.filter((x) => x !== 200).length, firstAnswers).toBeGreaterThan(0);
      // as an OTLP exporter does: a 503 (or no answer) is retried with the same body until 200
      for (let r = 0; r < REQUESTS; r++) {
        for (let tries = 0; statuses[r] !== 200; tries++) {
          expect(tries, `request ${r}`).toBeLessThan(20);
          await new Promise((res) => setTimeout(res, 500));
          statuses[r] = await post(a.url, bodies[r]!);
        }
      }
      // and a client that never saw its 200 sends the request again, through the other replica
      for (const x of bodies) expect(await post(b.url, x)).toBe(200);
      const sent = await topicSize(kafka, cfg.REDPANDA_TOPIC);
      lake = await appender(cfg);
      await drained(kafka, cfg);
      const got = await lakeRows(cfg);
      expect(got.rows).toBe(REQUESTS * PER_REQUEST);
      expect(got.distinct).toBe(REQUESTS * PER_REQUEST);
      // every Kafka record of the second sending at least was a copy
      const skipped = await copiesSkipped(lake.port);
      expect(skipped).toBeGreaterThanOrEqual(sent / 2);
      process.stdout.write(`client retries: ${sent} Kafka records for ${REQUESTS} requests (first answers ${firstAnswers}), ${skipped} left out as copies\n`);
    } finally {
      if (paused) stack('resume', 'kafka');
      await stop(lake?.child);
      await a.service.stop();
      await b.service.stop();
    }
  });

  it('the same record received again after the window is stored again; within it, not', { timeout: 300_000 }, async () => {
    const cfg = testConfig(runId(), { TOPIC_PARTITIONS: '1' });
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: cfg.REDPANDA_TOPIC, numPartitions: 1 }] });
    await admin.disconnect();
    const value = body(7, 5);
    const hour = 3_600_000;
    const producer = kafka.producer();
    await producer.connect();
    // received 90 minutes ago; again now (past a window of an hour: stored again); again a minute on (a copy)
    for (const at of [Date.now() - 1.5 * hour, Date.now(), Date.now() + 60_000]) {
      await producer.send({ topic: cfg.REDPANDA_TOPIC, acks: -1, messages: [{ key: 'acme', value, headers: recordHeaders('acme', 'logs', at) }] });
    }
    await producer.disconnect();
    const lake = await appender(cfg, { LAKE_DEDUP_WINDOW: '1h' });
    try {
      await drained(kafka, cfg);
      expect(await lakeRows(cfg)).toEqual({ rows: 10, distinct: 5, perSeq: { '7': 10 } });
      expect(await copiesSkipped(lake.port)).toBe(1);
    } finally {
      await stop(lake.child);
    }
  });
});
