import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { configSchema } from '../../../src/config/schema.js';

const read = (f: string) => readFileSync(new URL(`../../../${f}`, import.meta.url), 'utf8');

describe('configuration documentation', () => {
  const variables = Object.keys(configSchema.shape);

  it('lists every variable in README with its default', () => {
    const readme = read('README.md');
    for (const v of variables) expect(readme, v).toMatch(new RegExp(`^\\| \`${v}\` \\|`, 'm'));
  });

  it('lists every variable in .env.example', () => {
    const example = read('.env.example');
    for (const v of variables) expect(example, v).toMatch(new RegExp(`^#? ?${v}=`, 'm'));
  });
});
