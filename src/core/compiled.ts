import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The compiled file `name` beside the module at `moduleUrl`, to start as a thread or a process:
 * when that module runs from the TypeScript sources (the tests), the build's copy.
 */
export function compiledBeside(moduleUrl: string, name: string): string {
  const dir = dirname(fileURLToPath(moduleUrl));
  const file = join(dir.replace(/\/src(\/[^/]+)$/, '/dist$1'), name);
  if (!existsSync(file)) throw new Error(`${file} is missing: build first (npm run build)`);
  return file;
}
