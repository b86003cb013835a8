/**
 * One registry of the service's error codes. `kind` is decided once, where the error is seen:
 *   permanent       retrying cannot help (bad input, schema violation): answer 4xx or DLQ it
 *   transient       retry with backoff (broker, S3, catalog unavailable)
 *   unknown-outcome the write may or may not have happened: look before retrying
 */
export const ErrorCodes = {
  BAD_REQUEST: { kind: 'permanent', status: 400 },
  DECODE_FAILED: { kind: 'permanent', status: 400 },
  UNAUTHORIZED: { kind: 'permanent', status: 401 },
  NOT_FOUND: { kind: 'permanent', status: 404 },
  METHOD_NOT_ALLOWED: { kind: 'permanent', status: 405 },
  PAYLOAD_TOO_LARGE: { kind: 'permanent', status: 413 },
  UNSUPPORTED_MEDIA_TYPE: { kind: 'permanent', status: 415 },
  OVERLOADED: { kind: 'transient', status: 429 },
  BROKER_UNAVAILABLE: { kind: 'transient', status: 503 },
  SHUTTING_DOWN: { kind: 'transient', status: 503 },
  CATALOG_UNAVAILABLE: { kind: 'transient', status: 503 },
  COMMIT_CONFLICT: { kind: 'transient', status: 409 },
  COMMIT_UNKNOWN: { kind: 'unknown-outcome', status: 503 },
  INTERNAL: { kind: 'transient', status: 500 },
} as const satisfies Record<string, { kind: ErrorKind; status: number }>;

export type ErrorKind = 'permanent' | 'transient' | 'unknown-outcome';
export type ErrorCode = keyof typeof ErrorCodes;

/** An error with a registry code; its kind and HTTP status follow from the code. */
export class LakehouseError extends Error {
  readonly kind: ErrorKind;
  readonly status: number;
  constructor(
    readonly code: ErrorCode,
    message: string,
    options?: { cause?: unknown; retryAfterSeconds?: number },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'LakehouseError';
    this.kind = ErrorCodes[code].kind;
    this.status = ErrorCodes[code].status;
    this.retryAfterSeconds = options?.retryAfterSeconds;
  }
  readonly retryAfterSeconds: number | undefined;
  get canRetry(): boolean {
    return this.kind !== 'permanent';
  }
}

export function isLakehouseError(e: unknown): e is LakehouseError {
  return e instanceof LakehouseError;
}
