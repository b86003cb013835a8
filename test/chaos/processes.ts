import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { stackEnv } from '../helpers/stack.js';

export const root = fileURLToPath(new URL('../../', import.meta.url));

/** A free loopback TCP port. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

/**
 * A service process (`dist/cli/<cli>.js`) against the local stack, its output kept (to check
 * that no secret is ever logged) and its peak RSS sampled from /proc.
 */
export class Service {
  child: ChildProcess | undefined;
  output = '';
  peakRssBytes = 0;
  private sampler: NodeJS.Timeout | undefined;
  starts = 0;

  constructor(
    readonly cli: 'ingester' | 'appender',
    readonly env: Record<string, string>,
  ) {}

  start(): ChildProcess {
    const child = spawn(process.execPath, [`dist/cli/${this.cli}.js`], {
      cwd: root,
      env: { ...process.env, ...stackEnv(), ...this.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const keep = (b: Buffer) => {
      this.output += b.toString('utf8');
      if (process.env.CHAOS_VERBOSE) process.stderr.write(`[${this.cli}] ${b.toString('utf8')}`);
    };
    child.stdout!.on('data', keep);
    child.stderr!.on('data', keep);
    this.child = child;
    this.starts++;
    clearInterval(this.sampler);
    this.sampler = setInterval(() => this.sample(), 100);
    return child;
  }

  get pid(): number | undefined {
    return this.child?.exitCode === null && this.child.signalCode === null ? this.child.pid : undefined;
  }

  get alive(): boolean {
    return this.pid !== undefined;
  }

  private sample(): void {
    const pid = this.pid;
    if (pid === undefined) return;
    try {
      const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
      if (m) this.peakRssBytes = Math.max(this.peakRssBytes, Number(m[1]) * 1024);
    } catch {
      // exited between the check and the read
    }
  }

  /** Sends `signal` and waits for the exit; resolves with the exit code (null when killed). */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return child?.exitCode ?? null;
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    child.kill(signal);
    const code = await exited;
    clearInterval(this.sampler);
    return code;
  }
}

/** Polls `url` until it answers 200, or fails after `timeoutMs`. */
export async function waitReady(url: string, timeoutMs: number, service?: Service): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (service && service.child && service.child.exitCode !== null) throw new Error(`${service.cli} exited with ${service.child.exitCode}:\n${service.output.slice(-3000)}`);
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${url} not ready after ${timeoutMs} ms${service ? `:\n${service.output.slice(-3000)}` : ''}`);
}

/** Writes a suite's JSON summary to test-results/<name>.json and prints it. */
export function report(name: string, summary: unknown): void {
  const text = JSON.stringify(summary, null, 2);
  mkdirSync(`${root}test-results`, { recursive: true });
  writeFileSync(`${root}test-results/${name}.json`, `${text}\n`);
  process.stdout.write(`\n${name} summary (test-results/${name}.json):\n${text}\n`);
}
