import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Kafka } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Ingester } from '../../src/ingester/ingester.js';
import { createKafka } from '../../src/kafka/client.js';
import { encodeLogsRequest, RpcStatus } from '../../src/otlp/codec.js';
import { SIGNALS, leaves } from '../../src/otlp/signals.js';
import { createLogger } from '../../src/telemetry/logger.js';
import { readTopic } from '../helpers/kafka.js';
import { logsRequest, type SampleLog } from '../helpers/otlp.js';
import { runId, stackEnv, testConfig, waitFor, stack } from '../helpers/stack.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const logger = createLogger(process.env.TEST_LOG_LEVEL ?? 'warn', 'it');

function body(seq: number, records = 1): Buffer {
  const logs: SampleLog[] = Array.from({ length: records }, (_, i) => ({
    tenant: 'acme', service: 'svc', seq: seq * 1000 + i, body: `seq ${seq}`, severityNumber: 9, timeUnixNano: 1_763_800_000_000_000_000n, attrs: {},
  }));
  return Buffer.from(encodeLogsRequest(logsRequest(logs)));
}

async function post(url: string, seq: number, records = 1): Promise<Response> {
  return fetch(`${url}/v1/logs`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-protobuf', authorization: 'Bearer acme-token' },
    body: body(seq, records),
    signal: AbortSignal.timeout(30_000),
  });
}

/** How many log records of each request sequence number the topic holds (seq = record seq / 1000). */
async function seqCounts(kafka: Kafka, topic: string): Promise<Map<number, number>> {
  const out = new Map<number, number>();
  for (const r of await readTopic(kafka, topic, 60_000)) {
    const msg = SIGNALS.logs.request.toObject(SIGNALS.logs.request.decode(r.value), { longs: Number });
    for (const l of leaves(SIGNALS.logs, msg as never)) {
      const attr = (l.item.attributes as { key: string; value: { intValue: number } }[]).find((a) => a.key === 'seq')!;
      const seq = Math.floor(Number(attr.value.intValue) / 1000);
      out.set(seq, (out.get(seq) ?? 0) + 1);
    }
  }
  return out;
}

/** The request sequence numbers present in the topic. */
async function seqsInTopic(kafka: Kafka, topic: string): Promise<Set<number>> {
  return new Set((await seqCounts(kafka, topic)).keys());
}


describe('ingester under faults', () => {
  const id = runId();
  let kafka: Kafka;

  beforeAll(() => {
    stackEnv();
    kafka = createKafka(testConfig(id).REDPANDA_BROKERS, 'it-reader', logger);
  });

  afterAll(() => {
    stack('up', 'kafka'); // leave the broker running for the tests after this one
  });

  it('answers 503 with Retry-After while the broker is down, recovers when it is back, and loses no acknowledged request', async () => {
    const cfg = testConfig(`${id}b`, { PRODUCE_TIMEOUT_MS: '2000' });
    const ingester = new Ingester(cfg, logger);
    await ingester.start();
    const url = `http://127.0.0.1:${ingester.http.boundPort}`;
    const acked: number[] = [];
    let seq = 0;
    try {
      for (; seq < 5; seq++) {
        const res = await post(url, seq);
        expect(res.status).toBe(200);
        acked.push(seq);
      }
      stack('down', 'kafka');
      let unavailable: Response | undefined;
      for (let tries = 0; tries < 30 && !unavailable; tries++, seq++) {
        const res = await post(url, seq);
        if (res.status === 200) acked.push(seq);
        else if (res.status === 503) unavailable = res;
        else throw new Error(`unexpected ${res.status}: ${await res.text()}`);
      }
      expect(unavailable, 'a 503 while the broker is down').toBeDefined();
      expect(unavailable!.headers.get('retry-after')).toBe('5');
      // A protobuf request gets its error as a google.rpc.Status in protobuf.
      expect(unavailable!.headers.get('content-type')).toBe('application/x-protobuf');
      const status = RpcStatus.decode(Buffer.from(await unavailable!.arrayBuffer())) as unknown as { code: number; message: string };
      expect(status.code).toBe(503);
      expect(status.message).toMatch(/broker/);
      const ready = await fetch(`${url}/readyz`);
      expect(ready.status).toBe(503);

      stack('up', 'kafka');
      // A client retries after 503: the first request that succeeds again is acknowledged.
      await waitFor(async () => {
        const s = seq++;
        const res = await post(url, s);
        if (res.status === 200) acked.push(s);
        return res.status;
      }, (status) => status === 200, 120_000, 'a 200 after the broker restarted');
      for (let i = 0; i < 5; i++, seq++) {
        const res = await post(url, seq);
        expect(res.status).toBe(200);
        acked.push(seq);
      }
      expect((await fetch(`${url}/readyz`)).status).toBe(200);
      const present = await seqsInTopic(kafka, cfg.REDPANDA_TOPIC);
      for (const s of acked) expect(present.has(s), `acknowledged request ${s}`).toBe(true);
    } finally {
      stack('up', 'kafka');
      await ingester.stop();
    }
  });

  it('stores once a request that a client sends again after a 503 given while its write hung at the broker', { timeout: 120_000 }, async () => {
    const cfg = testConfig(`${id}h`, { PRODUCE_TIMEOUT_MS: '2000' });
    const ingester = new Ingester(cfg, logger);
    await ingester.start();
    const url = `http://127.0.0.1:${ingester.http.boundPort}`;
    let paused = false;
    try {
      expect((await post(url, 0)).status).toBe(200);
      // the broker keeps its connections but answers nothing: the write is sent and hangs
      stack('pause', 'kafka');
      paused = true;
      const first = await post(url, 1);
      expect(first.status).toBe(503);
      const status = RpcStatus.decode(Buffer.from(await first.arrayBuffer())) as unknown as { message: string };
      expect(status.message).toMatch(/outcome is unknown/);
      // the client's retry, with the same body, while the first write is still out there
      const retry = post(url, 1);
      await new Promise((r) => setTimeout(r, 1000));
      stack('resume', 'kafka');
      paused = false;
      expect((await retry).status).toBe(200);
      expect((await post(url, 2)).status).toBe(200);
      expect(await seqCounts(kafka, cfg.REDPANDA_TOPIC)).toEqual(new Map([[0, 1], [1, 1], [2, 1]]));
      const settled = (await ingester.metrics.ingesterRetriesSettled.get()).values.reduce((n, v) => n + v.value, 0);
      expect(settled).toBe(1);
    } finally {
      if (paused) stack('resume', 'kafka');
      await ingester.stop();
    }
  });

  it('answers 429 with Retry-After past the in-flight limit, and every acknowledged request is in the topic', async () => {
    const cfg = testConfig(`${id}c`, { MAX_INFLIGHT_REQUESTS: '2' });
    const ingester = new Ingester(cfg, logger);
    await ingester.start();
    const url = `http://127.0.0.1:${ingester.http.boundPort}`;
    try {
      const results = await Promise.all(Array.from({ length: 40 }, (_, s) => post(url, s, 200).then(async (r) => ({ s, status: r.status, retryAfter: r.headers.get('retry-after'), text: await r.text() }))));
      const ok = results.filter((r) => r.status === 200).map((r) => r.s);
      const refused = results.filter((r) => r.status === 429);
      expect(ok.length + refused.length).toBe(40);
      expect(refused.length).toBeGreaterThan(0);
      expect(ok.length).toBeGreaterThan(0);
      for (const r of refused) {
        expect(r.retryAfter).toBe('1');
        expect(r.text).toMatch(/too many requests in flight \(MAX_INFLIGHT_REQUESTS 2\)/);
      }
      const present = await seqsInTopic(kafka, cfg.REDPANDA_TOPIC);
      expect([...present].sort((a, b) => a - b)).toEqual(ok.sort((a, b) => a - b));
    } finally {
      await ingester.stop();
    }
  });

  it('on SIGTERM finishes the requests in flight, exits 0, and every acknowledged request is in the topic', async () => {
    expect(existsSync(`${root}dist/cli/ingester.js`), 'npm run build first').toBe(true);
    const cfg = testConfig(`${id}d`);
    const child = spawn(process.execPath, ['dist/cli/ingester.js'], {
      cwd: root,
      env: {
        ...process.env, ...stackEnv(),
        REDPANDA_TOPIC: cfg.REDPANDA_TOPIC, TENANT_TOKENS: 'acme=acme-token', INGESTER_HOST: '127.0.0.1',
        INGESTER_HTTP_PORT: '0', INGESTER_GRPC_PORT: '0', LOG_LEVEL: 'info', TOPIC_PARTITIONS: '3',
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    const port = await waitFor(async () => Number(/"component":"ingester.http".*?"port":(\d+)/.exec(out)?.[1] ?? 0), (p) => p > 0, 60_000, 'the ingester to listen');
    const url = `http://127.0.0.1:${port}`;
    const inflight = Array.from({ length: 30 }, (_, s) => post(url, s, 50).then((r) => ({ s, status: r.status }), () => ({ s, status: 0 })));
    await new Promise((r) => setTimeout(r, 30));
    child.kill('SIGTERM');
    const results = await Promise.all(inflight);
    expect(await exited).toBe(0);
    expect(out).toMatch(/"msg":"stopped"/);
    const ok = results.filter((r) => r.status === 200).map((r) => r.s);
    expect(ok.length).toBeGreaterThan(0);
    const present = await seqsInTopic(kafka, cfg.REDPANDA_TOPIC);
    for (const s of ok) expect(present.has(s), `acknowledged request ${s}`).toBe(true);
  });
});
