import type { DuckDBConnection } from '@duckdb/node-api';
import { isNotSelect, isQueryMistakeType } from '../lake/duckdb-errors.js';
import { sqlString } from '../lake/session.js';
import { QueryError } from './query-error.js';

/**
 * The first wall of a tenant's query: a judgement of the plan DuckDB will execute for it, not of
 * its text or parse tree. The statement is bound and planned by the engine that is to run it
 * (json_serialize_plan), so name resolution, CTE scoping, quoting, macros (pg_get_viewdef,
 * col_description, …), replacement scans of paths and subqueries have all been resolved into
 * what they really read: a table scan, a table function, a CTE reference. The plan passes only
 * when every operator in it is of an allowed kind and every scan is the one scan the caller
 * allows (the tenant's rows) or a table function that computes from its arguments alone.
 */

/** Logical operators a tenant's SELECT may plan to: reading, combining and shaping rows, nothing else. */
const OPERATORS_ALLOWED = new Set([
  'LOGICAL_PROJECTION',
  'LOGICAL_FILTER',
  'LOGICAL_AGGREGATE_AND_GROUP_BY',
  'LOGICAL_WINDOW',
  'LOGICAL_UNNEST',
  'LOGICAL_LIMIT',
  'LOGICAL_ORDER_BY',
  'LOGICAL_TOP_N',
  'LOGICAL_DISTINCT',
  'LOGICAL_SAMPLE',
  'LOGICAL_PIVOT',
  'LOGICAL_COMPARISON_JOIN',
  'LOGICAL_ANY_JOIN',
  'LOGICAL_CROSS_PRODUCT',
  'LOGICAL_POSITIONAL_JOIN',
  'LOGICAL_ASOF_JOIN',
  'LOGICAL_DEPENDENT_JOIN',
  'LOGICAL_DELIM_JOIN',
  'LOGICAL_DELIM_GET',
  'LOGICAL_EXPRESSION_GET',
  'LOGICAL_CHUNK_GET',
  'LOGICAL_DUMMY_SCAN',
  'LOGICAL_EMPTY_RESULT',
  'LOGICAL_CTE_REF',
  'LOGICAL_MATERIALIZED_CTE',
  'LOGICAL_RECURSIVE_CTE',
  'LOGICAL_UNION',
  'LOGICAL_EXCEPT',
  'LOGICAL_INTERSECT',
  'LOGICAL_GET',
]);

/** Table functions whose rows come from their arguments alone. */
const TABLE_FUNCTIONS_ALLOWED = new Set(['range', 'generate_series', 'unnest']);

/**
 * Scalar functions that report the engine rather than compute on values: its settings,
 * variables, catalog, statistics, the statement's own text. The second wall leaves nothing
 * in a tenant's engine for them to tell; refusing them keeps the answer plain.
 */
const FUNCTIONS_REFUSED = new Set([
  'current_setting',
  'getvariable',
  'current_database',
  'current_catalog',
  'current_schema',
  'current_schemas',
  'current_query',
  'current_query_id',
  'current_transaction_id',
  'current_connection_id',
  'txid_current',
  'in_search_path',
  'stats',
  'json_serialize_sql',
  'json_deserialize_sql',
  'json_serialize_plan',
  'json_execute_serialized_sql',
  'parse_duckdb_log_message',
]);

/** One node of DuckDB's serialized plan (json_serialize_plan), as far as the judge reads it. */
export interface PlanNode {
  type: string;
  children?: PlanNode[];
  [key: string]: unknown;
}

/** A LOGICAL_GET: a scan of a table or a table function. */
export interface GetNode extends PlanNode {
  name?: string;
  function_data?: { catalog?: string; schema?: string; table?: string };
  column_indexes?: { index: number }[];
  projection_ids?: number[];
  table_filters?: { filters?: { key: number; value: TableFilter }[] };
}

/** A filter DuckDB pushed into a scan (TableFilter, serialized). */
export interface TableFilter {
  filter_type: string;
  comparison_type?: string;
  constant?: SerializedValue;
  values?: SerializedValue[];
  child_filter?: TableFilter;
  child_filters?: TableFilter[];
  expr?: Record<string, unknown>;
}

export interface SerializedValue {
  type: { id: string };
  is_null?: boolean;
  value?: unknown;
}

/** Whether a scan is the one the tenant may read (the caller knows what its rows are). */
export type ScanRule = (get: GetNode) => boolean;

interface PlanAnswer {
  error?: boolean;
  error_type?: string;
  error_message?: string;
  plans?: PlanNode[];
}

/**
 * The one statement of `sql`, parsed by DuckDB: refused when it is not a single SELECT. A
 * parse error is the tenant's mistake and is answered as such.
 */
export async function assertOneSelect(connection: DuckDBConnection, sql: string): Promise<void> {
  const reader = await connection.runAndReadAll(`SELECT json_serialize_sql(${sqlString(sql)})`);
  const tree = JSON.parse(String(reader.getRows()[0]?.[0])) as { error: boolean; error_message?: string; statements?: unknown[] };
  if (tree.error) {
    if (isNotSelect(tree.error_message ?? '')) throw new QueryError('only SELECT statements over the view logs can run', 'refused');
    throw new QueryError(tree.error_message ?? 'the query could not be parsed');
  }
  const n = tree.statements?.length ?? 0;
  if (n !== 1) throw new QueryError(`send one SELECT statement, not ${n}`, 'refused');
}

/** The plan DuckDB makes for `sql` on `connection`: bound only, or optimized as it will run. */
export async function planOf(connection: DuckDBConnection, sql: string, optimize: boolean): Promise<PlanNode> {
  const reader = await connection.runAndReadAll(
    `SELECT json_serialize_plan(${sqlString(sql)}, skip_null := true, skip_empty := true, optimize := ${optimize})`,
  );
  const answer = JSON.parse(String(reader.getRows()[0]?.[0])) as PlanAnswer;
  if (answer.error) {
    const message = answer.error_message ?? 'the query could not be planned';
    const type = (answer.error_type ?? '').toLowerCase();
    // A permission error is DuckDB's own wall answering (a file, a setting): a refusal.
    if (type === 'permission') throw new QueryError(`Permission Error: ${message}`, 'refused');
    // Only logs exists for a tenant: a name DuckDB cannot find is something beyond it.
    if ((type === 'binder' || type === 'catalog') && /^(Catalog|Schema|Table|Table Function)\b.*does not exist/i.test(message)) {
      throw new QueryError(`queries read only the view logs: ${message.split('\n', 1)[0]}`, 'refused');
    }
    // "not implemented" here is the serializer's (an iceberg scan it cannot write), not the query's
    if (type !== 'not_implemented' && isQueryMistakeType(type)) throw new QueryError(`${type[0]!.toUpperCase()}${type.slice(1).replaceAll('_', ' ')} Error: ${message}`);
    throw new QueryError(`the query's plan could not be checked (${message.split('\n', 1)[0]})`, 'refused');
  }
  if (answer.plans?.length !== 1) throw new QueryError(`send one SELECT statement, not ${answer.plans?.length ?? 0}`, 'refused');
  return answer.plans[0]!;
}

/**
 * Every operator of a plan, wherever it sits: under `children`, or inside an expression (a
 * subquery that was not flattened). The walk goes through the whole serialized tree, so no
 * operator is missed because of the key it hangs from.
 */
export function operatorsOf(plan: PlanNode): PlanNode[] {
  const out: PlanNode[] = [];
  walk(plan, (o) => {
    if (typeof o.type === 'string' && o.type.startsWith('LOGICAL_')) out.push(o as PlanNode);
  });
  return out;
}

/** Every function the plan's expressions call (scalar, aggregate, window), by name. */
function functionsCalled(plan: PlanNode): string[] {
  const names: string[] = [];
  walk(plan, (o) => {
    if (typeof o.expression_class === 'string' && typeof o.name === 'string') names.push(o.name.toLowerCase());
  });
  return names;
}

function walk(v: unknown, visit: (o: Record<string, unknown>) => void): void {
  const stack: unknown[] = [v];
  while (stack.length > 0) {
    const x = stack.pop();
    if (Array.isArray(x)) {
      for (const y of x) stack.push(y);
    } else if (x && typeof x === 'object') {
      visit(x as Record<string, unknown>);
      for (const y of Object.values(x)) if (y && typeof y === 'object') stack.push(y);
    }
  }
}

/**
 * Refuses `plan` unless every operator is allowed, every scan passes `allowed` or is an allowed
 * table function, and no expression calls a refused function. Returns the scans `allowed`
 * accepted.
 */
export function judgePlan(plan: PlanNode, allowed: ScanRule): GetNode[] {
  const scans: GetNode[] = [];
  for (const node of operatorsOf(plan)) {
    if (!OPERATORS_ALLOWED.has(node.type)) {
      throw new QueryError(`queries read only the view logs: the plan holds ${node.type.replace(/^LOGICAL_/, '')}, which reads or changes something else`, 'refused');
    }
    if (node.type === 'LOGICAL_GET') {
      const get = node as GetNode;
      const fn = String(get.name ?? '').toLowerCase();
      if (allowed(get)) scans.push(get);
      else if (!TABLE_FUNCTIONS_ALLOWED.has(fn)) {
        const what = fn === 'seq_scan' ? `the table ${[get.function_data?.catalog, get.function_data?.schema, get.function_data?.table].filter(Boolean).join('.')}` : `${fn || 'an unnamed scan'}()`;
        throw new QueryError(`queries read only the view logs, not ${what}`, 'refused');
      }
    }
  }
  const refused = functionsCalled(plan).find((f) => FUNCTIONS_REFUSED.has(f));
  if (refused) throw new QueryError(`the function ${refused}() is not allowed`, 'refused');
  return scans;
}

/** The scans of a plan that `rule` accepts, without judging the rest (the plan check is off). */
export function scansOf(plan: PlanNode, rule: ScanRule): GetNode[] {
  return operatorsOf(plan).filter((n): n is GetNode => n.type === 'LOGICAL_GET' && rule(n as GetNode));
}
