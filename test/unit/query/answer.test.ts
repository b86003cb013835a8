import { describe, expect, it } from 'vitest';
import { encoderFor, negotiateFormat } from '../../../src/query/answer.js';
import { scrubMessage } from '../../../src/query/query-runner.js';

describe('negotiateFormat', () => {
  it('takes ?format= first, then Accept by quality and order, and JSON when neither says', () => {
    expect(negotiateFormat(undefined, null)).toBe('json');
    expect(negotiateFormat('', null)).toBe('json');
    expect(negotiateFormat('*/*', null)).toBe('json');
    expect(negotiateFormat('text/csv', null)).toBe('csv');
    expect(negotiateFormat('application/x-ndjson', null)).toBe('ndjson');
    expect(negotiateFormat('text/html, text/csv;q=0.5, application/json;q=0.9', null)).toBe('json');
    expect(negotiateFormat('application/json;q=0, text/csv', null)).toBe('csv');
    expect(negotiateFormat('application/xml, text/*', null)).toBe('csv');
    expect(negotiateFormat('application/json', 'ndjson')).toBe('ndjson');
  });

  it('refuses what it cannot answer in with 406, naming the formats', () => {
    expect(() => negotiateFormat('application/xml', null)).toThrow(expect.objectContaining({ status: 406, message: expect.stringMatching(/text\/csv/) }));
    expect(() => negotiateFormat(undefined, 'parquet')).toThrow(expect.objectContaining({ status: 406, message: expect.stringMatching(/json, csv, ndjson/) }));
  });
});

describe('encoderFor', () => {
  const columns = [{ name: 'a', type: 'VARCHAR' }, { name: 'm', type: 'MAP(VARCHAR, VARCHAR)' }, { name: 'a', type: 'INTEGER' }];
  const rows = [['x,"y"', { k: 'v' }, 1], [null, {}, 2]];
  const render = (format: 'json' | 'csv' | 'ndjson', truncated?: 'rows' | 'bytes') => {
    const e = encoderFor(format);
    return e.head(columns) + rows.map((r) => e.row(r)).join('') + e.tail(rows.length, truncated);
  };

  it('JSON: columns, rows, then the count and the truncation after them', () => {
    expect(JSON.parse(render('json'))).toEqual({ columns, rows, row_count: 2, truncated: false });
    expect(JSON.parse(render('json', 'bytes'))).toMatchObject({ truncated: true, truncated_by: 'bytes' });
    const empty = encoderFor('json');
    expect(JSON.parse(empty.head(columns) + empty.tail(0, undefined))).toEqual({ columns, rows: [], row_count: 0, truncated: false });
  });

  it('CSV: a header, quoting where needed, maps as JSON, NULL as empty', () => {
    expect(render('csv')).toBe('a,m,a\r\n"x,""y""","{""k"":""v""}",1\r\n,{},2\r\n');
  });

  it('NDJSON: an object per row, a repeated column name made distinct', () => {
    expect(render('ndjson').trimEnd().split('\n').map((l) => JSON.parse(l))).toEqual([
      { a: 'x,"y"', m: { k: 'v' }, a_2: 1 },
      { a: null, m: {}, a_2: 2 },
    ]);
  });
});

describe('scrubMessage', () => {
  it('replaces URLs and local directories, and leaves the rest', () => {
    const m = 'IO Error: Could not read s3://warehouse/otel/logs/data/x.parquet via http://127.0.0.1:8181/v1 (spill /var/spool/q/duckdb.tmp)';
    expect(scrubMessage(m, ['/var/spool/q'])).toBe('IO Error: Could not read <lake file> via <lake file> (spill <local file>/duckdb.tmp)');
    expect(scrubMessage('Binder Error: column "x" not found', ['/var/spool/q'])).toBe('Binder Error: column "x" not found');
  });
});
