import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import type { Kafka } from 'kafkajs';
import type { Config } from '../../src/config/schema.js';
import { recordHeaders } from '../../src/kafka/record.js';
import { runQuery } from '../../src/query/query.js';
import { encodeLogsRequest } from '../../src/otlp/codec.js';
import { logsRequest, type SampleLog } from './otlp.js';
import { stackEnv } from './stack.js';

const root = fileURLToPath(new URL('../../', import.meta.url));

/** Produces `requests` OTLP requests of `perRequest` records (seq = global index) straight to the logs topic. */
export async function produceLogs(kafka: Kafka, topic: string, from: number, requests: number, perRequest: number, pauseMs = 0): Promise<void> {
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  try {
    for (let r = 0; r < requests; r++) {
      const tenant = r % 2 === 0 ? 'acme' : 'beta';
      const logs: SampleLog[] = Array.from({ length: perRequest }, (_, i) => {
        const seq = from + r * perRequest + i;
        return { tenant, service: `svc-${seq % 3}`, seq, body: `record ${seq}`, severityNumber: 9, timeUnixNano: 1_763_800_000_000_000_000n + BigInt(seq) * 1_000_000n, attrs: {} };
      });
      await producer.send({ topic, acks: -1, messages: [{ key: tenant, value: Buffer.from(encodeLogsRequest(logsRequest(logs))), headers: recordHeaders(tenant, 'logs', Date.now()) }] });
      if (pauseMs > 0) await new Promise((res) => setTimeout(res, pauseMs));
    }
  } finally {
    await producer.disconnect();
  }
}

/** count(*) and count(DISTINCT seq) of the logs table. */
export async function lakeCounts(cfg: Config): Promise<{ rows: number; distinct: number }> {
  const r = await runQuery(cfg, `SELECT count(*), count(DISTINCT attributes['seq']) FROM logs`);
  return { rows: Number(r.rows[0]![0]), distinct: Number(r.rows[0]![1]) };
}

/** Starts `node dist/cli/appender.js` with the test's topic, group and namespace. */
export function spawnAppender(cfg: Config, extraEnv: Record<string, string> = {}): ChildProcess {
  return spawn(process.execPath, ['dist/cli/appender.js'], {
    cwd: root,
    env: {
      ...process.env,
      ...stackEnv(),
      REDPANDA_TOPIC: cfg.REDPANDA_TOPIC,
      APPENDER_GROUP_ID: cfg.APPENDER_GROUP_ID,
      ICEBERG_NAMESPACE: cfg.ICEBERG_NAMESPACE,
      TOPIC_PARTITIONS: String(cfg.TOPIC_PARTITIONS),
      BUFFER_TIME_SECONDS: String(cfg.BUFFER_TIME_SECONDS),
      APPENDER_HTTP_PORT: '0',
      APPENDER_HOST: '127.0.0.1',
      LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'warn',
      ...extraEnv,
    },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
}

/** The run's summary: the line of maintain --once's output with the results (log lines come beside it). */
function summaryOf(stdout: string) {
  return JSON.parse(stdout.trim().split('\n').filter((l) => l.startsWith('{"ok"')).pop()!);
}

/** Runs `node dist/cli/maintain.js --once` against the test's namespace; its summary and exit code. */
export async function maintainOnce(cfg: Config, env: Record<string, string>): Promise<{ code: number; summary: { ok: boolean; results: Record<string, unknown>[]; error?: string } }> {
  try {
    const { stdout } = await promisify(execFile)(process.execPath, ['dist/cli/maintain.js', '--once'], {
      cwd: root,
      env: { ...process.env, ...stackEnv(), ICEBERG_NAMESPACE: cfg.ICEBERG_NAMESPACE, TENANT_TOKENS: 'acme=acme-token,beta=beta-token', LOG_LEVEL: 'warn', ...env },
      maxBuffer: 16 * 1024 * 1024,
    });
    return { code: 0, summary: summaryOf(stdout) };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    if (!err.stdout?.includes('"results"')) throw new Error(`maintain --once failed with ${err.code}: ${err.stderr}`);
    return { code: err.code, summary: summaryOf(err.stdout) };
  }
}

