import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { connect } from 'node:net';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));
let binary: string | undefined;

/** The Collector of stack/otelcol/builder-config.yaml, built once into the stack's cache. */
export function otelcolBinary(): string {
  binary ??= execFileSync('bash', ['stack/stack.sh', 'install-otelcol'], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], timeout: 1_200_000 }).trim();
  return binary;
}

/** A running Collector: its process and everything it printed. */
export interface Collector {
  child: ChildProcess;
  output: () => string;
  stop: () => Promise<void>;
}

function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/**
 * Starts the Collector with a configuration of stack/otelcol/ and `env`, and waits until it
 * listens on `readyPort`.
 */
export async function startCollector(config: string, env: Record<string, string>, readyPort: number): Promise<Collector> {
  const child = spawn(otelcolBinary(), ['--config', `${root}stack/otelcol/${config}`], { env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const deadline = Date.now() + 30_000;
  while (!(await listening(readyPort))) {
    if (child.exitCode !== null) throw new Error(`the Collector exited with ${child.exitCode}:\n${out}`);
    if (Date.now() > deadline) throw new Error(`the Collector did not listen on ${readyPort} within 30 s:\n${out}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    child,
    output: () => out,
    stop: async () => {
      if (child.exitCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}
