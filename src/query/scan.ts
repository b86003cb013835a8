import { sqlIdent, sqlString } from '../lake/session.js';
import type { GetNode, PlanNode, SerializedValue, TableFilter } from './confinement.js';

/**
 * What a tenant's statement needs from its `logs` rows, read from the optimized plan DuckDB made
 * for it: which columns, which predicates DuckDB pushed into the scan, and, for the plain
 * shapes `… LIMIT n` and `… ORDER BY column LIMIT n` over logs alone, how many rows in which
 * order. The trusted scan (tenant-query.ts) uses it to hand over no more of the tenant's rows
 * than the statement can use. Everything here only narrows a scan that is already confined to
 * the tenant: a predicate that cannot be rendered exactly is left out (the scan reads more),
 * never guessed.
 */
export interface ScanNeeds {
  /** false when the statement reads no row of logs at all (`SELECT 1`): nothing is handed over */
  reads: boolean;
  /** indexes into the view's columns; empty when the statement reads rows but no column (count(*)) */
  columns: number[];
  /** SQL over the table's columns that every row the statement reads satisfies; undefined: none */
  predicate: string | undefined;
  /** the statement reads at most this many rows of logs, first in `orderBy`'s order */
  limit?: { rows: number; orderBy?: string };
}

/** The view's columns, as the trusted engine describes them. */
export interface ViewColumn {
  name: string;
  type: string;
}

const COMPARISONS: Record<string, string> = {
  COMPARE_EQUAL: '=',
  COMPARE_NOTEQUAL: '<>',
  COMPARE_LESSTHAN: '<',
  COMPARE_GREATERTHAN: '>',
  COMPARE_LESSTHANOREQUALTO: '<=',
  COMPARE_GREATERTHANOREQUALTO: '>=',
};

const INTEGER_TYPES = new Set(['TINYINT', 'SMALLINT', 'INTEGER', 'BIGINT', 'UTINYINT', 'USMALLINT', 'UINTEGER', 'UBIGINT']);

/**
 * A constant as SQL, or undefined when it cannot be written back exactly. JSON numbers beyond
 * 2^53 lost digits when parsed, and floating-point text may round: both are left out.
 */
export function renderValue(v: SerializedValue): string | undefined {
  if (v.is_null || v.value === undefined || v.value === null) return undefined;
  const id = v.type.id;
  if (id === 'VARCHAR' && typeof v.value === 'string') return sqlString(v.value);
  if (id === 'BOOLEAN' && typeof v.value === 'boolean') return String(v.value);
  if (INTEGER_TYPES.has(id) && Number.isSafeInteger(v.value)) return `CAST(${v.value as number} AS ${id})`;
  // microseconds since the epoch; the trusted session's TimeZone is UTC
  if (id === 'TIMESTAMP WITH TIME ZONE' && Number.isSafeInteger(v.value)) return `CAST(make_timestamp(${v.value as number}) AS TIMESTAMPTZ)`;
  if (id === 'TIMESTAMP' && Number.isSafeInteger(v.value)) return `make_timestamp(${v.value as number})`;
  return undefined;
}

/** String matches DuckDB pushes into a scan as expression filters: function → SQL of (column, pattern). */
const MATCHES: Record<string, (col: string, pattern: string) => string> = {
  contains: (c, p) => `contains(${c}, ${p})`,
  prefix: (c, p) => `starts_with(${c}, ${p})`,
  starts_with: (c, p) => `starts_with(${c}, ${p})`,
  suffix: (c, p) => `ends_with(${c}, ${p})`,
  ends_with: (c, p) => `ends_with(${c}, ${p})`,
  '~~': (c, p) => `(${c} LIKE ${p})`,
  '~~*': (c, p) => `(${c} ILIKE ${p})`,
};

/** An expression filter of the form match(column, 'constant'), or undefined. */
function renderExpression(expr: Record<string, unknown>, col: string): string | undefined {
  if (expr.expression_class !== 'BOUND_FUNCTION' || typeof expr.name !== 'string') return undefined;
  const match = MATCHES[expr.name];
  const args = expr.children as Record<string, unknown>[] | undefined;
  if (!match || args?.length !== 2) return undefined;
  const [ref, constant] = args;
  if (ref?.expression_class !== 'BOUND_REF' || constant?.expression_class !== 'BOUND_CONSTANT') return undefined;
  const pattern = renderValue(constant.value as SerializedValue);
  return pattern === undefined ? undefined : match(col, pattern);
}

/**
 * A pushed filter as SQL on column `col`, or undefined when some part of it cannot be written
 * exactly. An AND keeps the parts it can write (each is implied by the statement), an OR only
 * when it can write them all.
 */
export function renderFilter(f: TableFilter, col: string): string | undefined {
  switch (f.filter_type) {
    case 'CONSTANT_COMPARISON': {
      const op = COMPARISONS[f.comparison_type ?? ''];
      const v = f.constant && renderValue(f.constant);
      return op && v ? `${col} ${op} ${v}` : undefined;
    }
    case 'IS_NULL':
      return `${col} IS NULL`;
    case 'IS_NOT_NULL':
      return `${col} IS NOT NULL`;
    case 'IN_FILTER': {
      const vs = (f.values ?? []).map(renderValue);
      return vs.length > 0 && vs.every((v) => v !== undefined) ? `${col} IN (${vs.join(', ')})` : undefined;
    }
    case 'CONJUNCTION_AND': {
      const parts = (f.child_filters ?? []).map((c) => renderFilter(c, col)).filter((p): p is string => p !== undefined);
      return parts.length > 0 ? `(${parts.join(' AND ')})` : undefined;
    }
    case 'CONJUNCTION_OR': {
      const parts = (f.child_filters ?? []).map((c) => renderFilter(c, col));
      return parts.length > 0 && parts.every((p) => p !== undefined) ? `(${parts.join(' OR ')})` : undefined;
    }
    // an optional filter is implied by the statement (it only prunes): used when it can be written
    case 'OPTIONAL_FILTER':
      return f.child_filter ? renderFilter(f.child_filter, col) : undefined;
    case 'EXPRESSION_FILTER':
      return f.expr ? renderExpression(f.expr, col) : undefined;
    default:
      return undefined;
  }
}

/** Whether every filter of the scan is written exactly (optional and dynamic ones only prune). */
function filtersExact(f: TableFilter, col: string): boolean {
  if (f.filter_type === 'OPTIONAL_FILTER' || f.filter_type === 'DYNAMIC_FILTER') return true;
  if (f.filter_type === 'CONJUNCTION_AND') return (f.child_filters ?? []).every((c) => filtersExact(c, col));
  return renderFilter(f, col) !== undefined;
}

/** The view columns a scan outputs, in order. */
function outputColumns(get: GetNode): number[] {
  const read = (get.column_indexes ?? []).map((c) => c.index);
  const ids = get.projection_ids ?? [];
  return ids.length > 0 ? ids.map((i) => read[i]!) : read;
}

/** The predicate one scan's pushed filters say, and whether it is all of them. */
function scanPredicate(get: GetNode, columns: ViewColumn[]): { sql: string | undefined; exact: boolean } {
  const parts: string[] = [];
  let exact = true;
  for (const { key, value } of get.table_filters?.filters ?? []) {
    const column = columns[key];
    if (!column) return { sql: undefined, exact: false };
    const col = sqlIdent(column.name);
    const sql = renderFilter(value, col);
    if (sql !== undefined) parts.push(sql);
    if (!filtersExact(value, col)) exact = false;
  }
  return { sql: parts.length > 0 ? parts.join(' AND ') : undefined, exact };
}

/** A LIMIT or TOP_N at the top of the plan, over projections of the one scan: how many rows, in which order. */
function limitOf(plan: PlanNode, get: GetNode, columns: ViewColumn[]): ScanNeeds['limit'] {
  let node = plan;
  while (node.type === 'LOGICAL_PROJECTION' && node.children?.length === 1) node = node.children[0]!;
  if (node.type !== 'LOGICAL_LIMIT' && node.type !== 'LOGICAL_TOP_N') return undefined;
  const top = node;
  // the projections between the limit and the scan, top first, to map column references down
  const projections: PlanNode[] = [];
  node = top.children?.[0] as PlanNode;
  while (node?.type === 'LOGICAL_PROJECTION' && node.children?.length === 1) {
    projections.push(node);
    node = node.children[0]!;
  }
  if (node !== get) return undefined;
  if (top.type === 'LOGICAL_LIMIT') {
    const limit = top.limit_val as { type?: string; constant_integer?: number } | undefined;
    const offset = top.offset_val as { type?: string; constant_integer?: number } | undefined;
    if (limit?.type !== 'CONSTANT_VALUE' || !Number.isSafeInteger(limit.constant_integer)) return undefined;
    const skip = offset === undefined || offset.type === 'UNSET' ? 0 : offset.type === 'CONSTANT_VALUE' ? offset.constant_integer : undefined;
    if (skip === undefined || !Number.isSafeInteger(skip)) return undefined;
    return { rows: limit.constant_integer! + skip };
  }
  const rows = Number(top.limit ?? NaN) + Number(top.offset ?? 0);
  if (!Number.isSafeInteger(rows)) return undefined;
  const scanOut = outputColumns(get);
  const orders: string[] = [];
  for (const o of (top.orders as { type: string; null_order: string; expression: Record<string, unknown> }[] | undefined) ?? []) {
    let ref = o.expression;
    for (const p of projections) {
      if (ref.expression_class !== 'BOUND_REF') return undefined;
      ref = (p.expressions as Record<string, unknown>[])[ref.index as number] ?? {};
    }
    if (ref.expression_class !== 'BOUND_REF') return undefined;
    const column = columns[scanOut[ref.index as number] ?? -1];
    if (!column) return undefined;
    const direction = o.type === 'DESCENDING' ? 'DESC' : o.type === 'ASCENDING' ? 'ASC' : undefined;
    const nulls = o.null_order === 'NULLS LAST' ? 'NULLS LAST' : o.null_order === 'NULLS FIRST' ? 'NULLS FIRST' : undefined;
    if (!direction || !nulls) return undefined;
    orders.push(`${sqlIdent(column.name)} ${direction} ${nulls}`);
  }
  return orders.length > 0 ? { rows, orderBy: orders.join(', ') } : undefined;
}

/**
 * What the statement whose optimized plan is `plan` needs from the scans `gets` of logs (all of
 * them accepted by the judge). `boundScans` is how many scans of logs the bound plan had: when
 * the optimizer removed some (it may, on an empty table), no pushed predicate is trusted.
 */
export function scanNeeds(plan: PlanNode, gets: GetNode[], boundScans: number, columns: ViewColumn[]): ScanNeeds {
  const all = columns.map((_, i) => i);
  if (boundScans === 0) return { reads: false, columns: [], predicate: undefined };
  if (gets.length !== boundScans) return { reads: true, columns: all, predicate: undefined };
  const used = new Set<number>();
  for (const g of gets) for (const c of g.column_indexes ?? []) if (c.index >= 0 && c.index < columns.length) used.add(c.index);
  const predicates = gets.map((g) => scanPredicate(g, columns));
  // several scans: a row is needed when any of them reads it
  const predicate = predicates.every((p) => p.sql !== undefined)
    ? predicates.length === 1
      ? predicates[0]!.sql
      : predicates.map((p) => `(${p.sql})`).join(' OR ')
    : undefined;
  const needs: ScanNeeds = { reads: true, columns: [...used].sort((a, b) => a - b), predicate };
  if (gets.length === 1 && predicates[0]!.exact) {
    const limit = limitOf(plan, gets[0]!, columns);
    if (limit) needs.limit = limit;
  }
  return needs;
}
