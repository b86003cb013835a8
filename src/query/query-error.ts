/**
 * Thrown for a query the user wrote wrong: `invalid` when DuckDB cannot parse or run it (the
 * message is DuckDB's), `refused` when the tenant confinement does not allow it.
 */
export class QueryError extends Error {
  override name = 'QueryError';
  constructor(
    message: string,
    readonly reason: 'invalid' | 'refused' = 'invalid',
  ) {
    super(message);
  }
}
