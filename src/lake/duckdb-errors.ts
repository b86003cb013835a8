/**
 * What a DuckDB error means, decided here and nowhere else. DuckDB and its iceberg and httpfs
 * extensions report failures as messages only (no codes), so each kind is recognised by its
 * wording. test/unit/lake/duckdb-errors.test.ts runs out of memory for real; the integration
 * tests cause the others (catalog and MinIO outages, racing commits, a deleted data file).
 */

const message = (e: unknown): string => (e as Error)?.message ?? String(e);

/** Out of memory or disk, and not an outage (a commit that failed so is retried partition by partition). */
export function isOutOfMemory(e: unknown): boolean {
  return /out of memory|could not allocate|no space left|ENOSPC/i.test(message(e));
}

/** Errors of the machine rather than of a record: the batch fails and is fetched again. */
export function isResourceError(e: unknown): boolean {
  return /out of memory|no space left|ENOSPC|EMFILE|IO Error/i.test(message(e));
}

/**
 * The HTTP status in a failure of a request to the catalog or storage, when the message has one:
 * the iceberg extension writes "returned a non-200 status code (BadRequest_400)", httpfs "HTTP
 * 503", this service's catalog client "catalog answered 401".
 */
export function httpStatusOf(e: unknown): number | undefined {
  const m = message(e);
  const s = /non-200 status code \([A-Za-z_]*?_?(\d{3})\)/.exec(m)?.[1] ?? /\bHTTP (?:error )?(\d{3})\b/i.exec(m)?.[1] ?? /\bcatalog answered (\d{3})\b/.exec(m)?.[1];
  return s === undefined ? undefined : Number(s);
}

/**
 * Whether a failure to reach the catalog or storage may pass (worth retrying): no answer at all
 * (refused, reset, timed out, unreachable), or an answer of 408, 429 or 5xx. Any other status
 * (400, 401, 403, 404, …) is the catalog saying no, which waiting does not change.
 */
export function isTransientLakeError(e: unknown): boolean {
  if (isOutOfMemory(e)) return false;
  const status = httpStatusOf(e);
  if (status !== undefined) return status === 408 || status === 429 || status >= 500;
  return /IO Error|Could not connect|connection|timed? ?out|refused|unavailable|reset/i.test(message(e));
}

/** The catalog refused a commit because the table moved on (409, or a failed requirement). */
export function isCommitConflict(e: unknown): boolean {
  return /409|conflict|CommitFailed|requirement failed/i.test(message(e));
}

/** json_serialize_sql's refusal of a statement that is not a SELECT. */
export function isNotSelect(parseError: string): boolean {
  return /Only SELECT statements/i.test(parseError);
}

/**
 * DuckDB's kinds of error that name a mistake in the query rather than a fault of the engine,
 * as DuckDB writes them before "Error:" in a message.
 */
const QUERY_MISTAKE_KINDS = ['Parser', 'Binder', 'Catalog', 'Conversion', 'Invalid Input', 'Out of Range', 'Not implemented', 'Syntax', 'Constraint', 'Mismatch Type', 'Invalid type', 'Dependency', 'Sequence'];
const QUERY_MISTAKE_MESSAGE = new RegExp(`^(${QUERY_MISTAKE_KINDS.join('|')}) Error:`, 'i');
const QUERY_MISTAKE_TYPES = new Set(QUERY_MISTAKE_KINDS.map((k) => k.toLowerCase().replaceAll(' ', '_')));

/** A DuckDB error message that names a mistake in the query (a wrong column, a syntax error, …). */
export function isQueryMistake(e: unknown): boolean {
  return QUERY_MISTAKE_MESSAGE.test(message(e));
}

/** The same, for the error_type of json_serialize_sql/json_serialize_plan (`binder`, `invalid_input`, …). */
export function isQueryMistakeType(errorType: string): boolean {
  return QUERY_MISTAKE_TYPES.has(errorType.toLowerCase());
}
