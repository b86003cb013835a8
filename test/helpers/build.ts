import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/**
 * Global setup of the suites that start the services as processes (`node dist/cli/…`): build
 * them from src/ first, so a test never runs what an older build left in dist/. `npm test`
 * builds before it runs vitest and says so with OTEL_LAKEHOUSE_BUILT=1.
 */
export default function setup(): void {
  if (process.env.OTEL_LAKEHOUSE_BUILT === '1') return;
  const root = fileURLToPath(new URL('../../', import.meta.url));
  execFileSync('bash', ['scripts/ensure-build.sh'], { cwd: root, stdio: ['ignore', 'inherit', 'inherit'], timeout: 900_000 });
}
