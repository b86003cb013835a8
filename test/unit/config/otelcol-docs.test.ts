import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

const read = (f: string) => readFileSync(new URL(`../../../${f}`, import.meta.url), 'utf8');

describe('the Collector configuration in the docs', () => {
  it('is stack/otelcol/sender.yaml, the file the Collector tests run', () => {
    const doc = read('docs/sending-data.md');
    const block = /<!-- sender\.yaml:[^\n]*-->\n```yaml\n([\s\S]*?)```/.exec(doc)?.[1];
    expect(block, 'the yaml block after the sender.yaml marker').toBeDefined();
    expect(block).toBe(read('stack/otelcol/sender.yaml'));
  });
});
