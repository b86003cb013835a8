import { describe, expect, it } from 'vitest';
import { formatResult } from '../../../src/query/query.js';

const result = { columns: ['a', 'b'], rows: [[1, 'x,"y"'], [null, { k: 'v' }]] };

describe('formatResult', () => {
  it('writes CSV with RFC 4180 quoting and empty NULLs', () => {
    expect(formatResult(result, 'csv')).toBe('a,b\n1,"x,""y"""\n,"{""k"":""v""}"\n');
  });
  it('writes JSON objects keyed by column', () => {
    expect(JSON.parse(formatResult(result, 'json'))).toEqual([{ a: 1, b: 'x,"y"' }, { a: null, b: { k: 'v' } }]);
  });
  it('aligns a table, clips wide cells and counts rows', () => {
    const text = formatResult({ columns: ['n'], rows: [['x'.repeat(100)]] }, 'table', 10);
    expect(text.split('\n')).toEqual(['n', '----------', 'xxxxxxxxx…', '(1 row)', '']);
  });
});
