import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';

const root = fileURLToPath(new URL('../../', import.meta.url));

let cachedEnv: Record<string, string> | undefined;

/**
 * Starts the local stack (or reuses the running one) and returns the environment that points
 * the services at it, as `stack.sh up` prints it.
 */
export function stackEnv(): Record<string, string> {
  if (cachedEnv) return cachedEnv;
  const out = execFileSync('bash', ['stack/stack.sh', 'up'], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], timeout: 900_000 });
  const env: Record<string, string> = {};
  for (const m of out.matchAll(/^export ([A-Z0-9_]+)=(.*)$/gm)) env[m[1]!] = m[2]!;
  if (!env.REDPANDA_BROKERS) throw new Error(`stack.sh up printed no environment:\n${out}`);
  cachedEnv = env;
  return env;
}

/**
 * Runs `stack/stack.sh ARGS…` (e.g. `down kafka`, `up loki`) and waits for it: the one way tests
 * stop and start parts of the shared stack.
 */
export function stack(...args: string[]): void {
  execFileSync('bash', ['stack/stack.sh', ...args], { cwd: root, stdio: ['ignore', 'ignore', 'inherit'], timeout: 900_000 });
}

/**
 * Stops `parts` of the shared stack for the length of `fn`, and starts them again afterwards
 * whatever happens, so a failing test does not leave the next one without them.
 */
export async function withStopped<T>(parts: string[], fn: () => Promise<T>): Promise<T> {
  stack('down', ...parts);
  try {
    return await fn();
  } finally {
    stack('up', ...parts);
  }
}

/** A short random id that keeps one test run's topics, groups and tables apart from another's. */
export function runId(): string {
  return randomBytes(4).toString('hex');
}

/** A config against the local stack with its own topic, consumer group and namespace. */
export function testConfig(id: string, overrides: Record<string, string> = {}): Config {
  return loadConfig({
    ...stackEnv(),
    REDPANDA_TOPIC: `it-logs-${id}`,
    APPENDER_GROUP_ID: `it-lake-${id}`,
    ICEBERG_NAMESPACE: `it_${id}`,
    TOPIC_PARTITIONS: '3',
    INGESTER_HOST: '127.0.0.1',
    INGESTER_HTTP_PORT: '0',
    INGESTER_GRPC_PORT: '0',
    TENANT_TOKENS: 'acme=acme-token,beta=beta-token',
    BUFFER_TIME_SECONDS: '1',
    PRODUCE_TIMEOUT_MS: '10000',
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'warn',
    ...overrides,
  });
}

/** Polls `probe` until it returns a value `done` accepts, or fails after `timeoutMs`. */
export async function waitFor<T>(probe: () => Promise<T>, done: (v: T) => boolean, timeoutMs: number, what: string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      last = await probe();
      if (done(last)) return last;
    } catch (e) {
      lastError = e;
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; last value ${JSON.stringify(last, (_k, v) => (typeof v === 'bigint' ? String(v) : v))}${lastError ? `, last error ${(lastError as Error).message}` : ''}`);
}
