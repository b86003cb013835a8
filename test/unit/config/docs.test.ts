import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { renderConfigurationDoc, renderEnvExample } from '../../../src/config/docs.js';
import { configSchema } from '../../../src/config/schema.js';
import { APPENDER_COMMIT_MEMORY_MB, APPENDER_DUCKDB_THREADS } from '../../../src/lake/lake-pipeline.js';

const read = (f: string) => readFileSync(new URL(`../../../${f}`, import.meta.url), 'utf8');

describe('configuration documentation', () => {
  it('docs/configuration.md is what the schema renders (run `npm run docs:config` after changing a setting)', () => {
    expect(read('docs/configuration.md')).toBe(renderConfigurationDoc());
  });

  it('.env.example is what the schema renders (run `npm run docs:config`)', () => {
    expect(read('.env.example')).toBe(renderEnvExample());
  });

  it('gives the appender’s DuckDB threads as the appender uses them', () => {
    expect(read('docs/configuration.md')).toMatch(new RegExp(`^\\| \`DUCKDB_THREADS\` \\| \\(appender: ${APPENDER_DUCKDB_THREADS};`, 'm'));
  });

  it('gives the appender’s DuckDB memory limit as the appender sets it', () => {
    expect(read('docs/configuration.md')).toMatch(new RegExp(`^\\| \`DUCKDB_MEMORY_LIMIT_MB\` \\| \\(appender: max\\(100, \`BUFFER_SIZE_MB\`\\) \\+ ${APPENDER_COMMIT_MEMORY_MB};`, 'm'));
  });

  it('names every variable, with its default or what unset means', () => {
    const docs = read('docs/configuration.md');
    for (const v of Object.keys(configSchema.shape)) expect(docs, v).toMatch(new RegExp(`^\\| \`${v}\` \\| \\S`, 'm'));
  });

  it('every default the docs show parses to the schema default', () => {
    const env = read('.env.example');
    const given: Record<string, string> = {};
    for (const line of env.split('\n')) {
      const m = /^([A-Z0-9_]+)=(.*)$/.exec(line);
      if (m) given[m[1]!] = m[2]!;
    }
    expect(Object.keys(given).length).toBeGreaterThan(40);
    expect(configSchema.parse(given)).toEqual(configSchema.parse({}));
  });
});

describe('error documentation', () => {
  it('docs/kafka-records.md lists every dead-letter code with the registry’s meaning', async () => {
    const { DeadLetterCodes } = await import('../../../src/core/errors.js');
    const doc = read('docs/kafka-records.md');
    for (const [code, meaning] of Object.entries(DeadLetterCodes)) expect(doc, code).toContain(`| \`${code}\` | ${meaning} |`);
  });
});

describe('local stack documentation', () => {
  it('docs/configuration.md names every STACK_ variable the stack scripts read, with its default', async () => {
    const { readdirSync } = await import('node:fs');
    const files = ['stack/stack.sh', ...readdirSync(new URL('../../../stack/services/', import.meta.url)).filter((f) => f.endsWith('.sh')).map((f) => `stack/services/${f}`)];
    const doc = read('docs/configuration.md');
    const found: string[] = [];
    for (const f of files) {
      for (const m of read(f).matchAll(/\$\{(STACK_[A-Z0-9_]+):-([^}]*)\}/g)) {
        found.push(m[1]!);
        const row = doc.split('\n').find((l) => l.includes(`\`${m[1]}\``));
        expect(row, m[1]).toBeDefined();
        expect(row, m[1]).toContain(`\`${m[2]}\``);
      }
    }
    expect(found.length).toBeGreaterThan(10);
  });
});
