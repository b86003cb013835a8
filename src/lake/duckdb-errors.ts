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

/** Whether a failure to reach the catalog or storage may pass (worth retrying). */
export function isTransientLakeError(e: unknown): boolean {
  if (isOutOfMemory(e)) return false;
  return /IO Error|\bHTTP\b|Connection|connect|timed? ?out|refused|unavailable|reset|50[0-9]|429/i.test(message(e));
}

/** The catalog refused a commit because the table moved on (409, or a failed requirement). */
export function isCommitConflict(e: unknown): boolean {
  return /409|conflict|CommitFailed|requirement failed/i.test(message(e));
}

/** Reading an object found nothing there (S3 404). */
export function isMissingObject(e: unknown): boolean {
  return /404|not found|NoSuchKey|No files found/i.test(message(e));
}

/** json_serialize_sql's refusal of a statement that is not a SELECT. */
export function isNotSelect(parseError: string): boolean {
  return /Only SELECT statements/i.test(parseError);
}
