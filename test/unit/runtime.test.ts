import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../', import.meta.url));
const read = (path: string) => readFileSync(`${root}${path}`, 'utf8');

describe('the Node.js the product runs on, said in one place (scripts/node.sh)', () => {
  const script = read('scripts/node.sh');
  const major = Number(/^NODE_MAJOR=(\d+)$/m.exec(script)?.[1]);
  const version = /^NODE_VERSION=(\d+\.\d+\.\d+)$/m.exec(script)?.[1];

  it('pins a release of the major it requires', () => {
    expect(major).toBeGreaterThanOrEqual(24);
    expect(version?.split('.')[0]).toBe(String(major));
  });

  it('package.json engines, @types/node and every image base name the same major', () => {
    const pkg = JSON.parse(read('package.json'));
    expect(pkg.engines.node).toBe(`>=${major}`);
    expect(pkg.devDependencies['@types/node'].split('.')[0]).toBe(String(major));
    const files = ['Dockerfile', ...readdirSync(`${root}stack/containers/standins`).map((f) => `stack/containers/standins/${f}`)];
    const bases = files.flatMap((f) => [...read(f).matchAll(/^FROM (node:\S+)/gm)].map((m) => `${f}: ${m[1]}`));
    expect(bases.length).toBeGreaterThan(0);
    for (const b of bases) expect(b).toMatch(new RegExp(`: node:${major}-bookworm-slim$`));
  });

  it('the docs name the release the scripts fetch', () => {
    expect(read('docs/local-stack.md')).toContain(`| ${version} | the npm registry`);
    expect(read('README.md')).toContain(`Node.js ${major} (\`engines\`)`);
  });
});
