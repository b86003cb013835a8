import { LakehouseError } from '../core/errors.js';
import { csvCell } from './query.js';

/** The formats an answer comes in, by the media type that asks for each. */
export const ANSWER_FORMATS = {
  json: 'application/json',
  csv: 'text/csv; charset=utf-8',
  ndjson: 'application/x-ndjson',
} as const;
export type AnswerFormat = keyof typeof ANSWER_FORMATS;

const MEDIA_RANGES: Record<string, AnswerFormat> = {
  'application/json': 'json',
  'application/*': 'json',
  '*/*': 'json',
  'text/csv': 'csv',
  'text/*': 'csv',
  'application/x-ndjson': 'ndjson',
  'application/ndjson': 'ndjson',
  'application/jsonl': 'ndjson',
};

/**
 * The answer's format: `?format=` when given (json, csv, ndjson), else the first media range of
 * `Accept` by quality that the service answers in; JSON when neither says.
 */
export function negotiateFormat(accept: string | undefined, formatParam: string | null): AnswerFormat {
  if (formatParam !== null) {
    if (formatParam in ANSWER_FORMATS) return formatParam as AnswerFormat;
    throw new LakehouseError('NOT_ACCEPTABLE', `format '${formatParam}' is not one of ${Object.keys(ANSWER_FORMATS).join(', ')}`);
  }
  if (!accept?.trim()) return 'json';
  const ranges = accept
    .split(',')
    .map((part, order) => {
      const [type = '', ...params] = part.split(';').map((s) => s.trim().toLowerCase());
      const q = params.find((p) => p.startsWith('q='));
      return { type, q: q === undefined ? 1 : Number(q.slice(2)), order };
    })
    .filter((r) => r.q > 0)
    .sort((a, b) => b.q - a.q || a.order - b.order);
  for (const r of ranges) {
    const format = MEDIA_RANGES[r.type];
    if (format) return format;
  }
  throw new LakehouseError(
    'NOT_ACCEPTABLE',
    `Accept '${accept}' names no format the query service answers in; use application/json, text/csv or application/x-ndjson`,
  );
}

export interface Column {
  name: string;
  type: string;
}

/** Why an answer stopped before the result's last row. */
export type Truncation = 'rows' | 'bytes';

/** Turns a result into the text of an answer, piece by piece, so that it can be streamed. */
export interface AnswerEncoder {
  readonly format: AnswerFormat;
  head(columns: Column[]): string;
  row(values: unknown[]): string;
  tail(rowCount: number, truncated: Truncation | undefined): string;
}

/** Object keys for NDJSON rows: a repeated column name gets `_2`, `_3`, … (as DuckDB does). */
function distinctNames(columns: Column[]): string[] {
  const seen = new Map<string, number>();
  return columns.map((c) => {
    const n = (seen.get(c.name) ?? 0) + 1;
    seen.set(c.name, n);
    return n === 1 ? c.name : `${c.name}_${n}`;
  });
}

/**
 * JSON: `{"columns":[{name,type}],"rows":[[…]],"row_count":n,"truncated":false}`; the counts
 * and the truncation come after the rows, which are streamed before they are known.
 * CSV: a header line, then a line per row (maps and lists as JSON text).
 * NDJSON: an object per row, keyed by column name.
 * For CSV and NDJSON the truncation is in the HTTP trailers (see the query service).
 */
export function encoderFor(format: AnswerFormat): AnswerEncoder {
  if (format === 'json') {
    let first = true;
    return {
      format,
      head: (columns) => `{"columns":${JSON.stringify(columns)},"rows":[`,
      row(values) {
        const text = (first ? '' : ',') + JSON.stringify(values);
        first = false;
        return text;
      },
      tail: (rowCount, truncated) =>
        `],"row_count":${rowCount},"truncated":${truncated !== undefined}${truncated ? `,"truncated_by":"${truncated}"` : ''}}`,
    };
  }
  if (format === 'csv') {
    return {
      format,
      head: (columns) => columns.map((c) => csvCell(c.name)).join(',') + '\r\n',
      row: (values) => values.map(csvCell).join(',') + '\r\n',
      tail: () => '',
    };
  }
  let keys: string[] = [];
  return {
    format,
    head(columns) {
      keys = distinctNames(columns);
      return '';
    },
    row: (values) => JSON.stringify(Object.fromEntries(keys.map((k, i) => [k, values[i] ?? null]))) + '\n',
    tail: () => '',
  };
}
