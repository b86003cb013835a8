/**
 * One registry of the service's error codes. `kind` is decided once, where the error is seen:
 *   permanent       retrying cannot help (bad input, schema violation): answer 4xx or DLQ it
 *   transient       retry with backoff (broker, S3, catalog unavailable)
 *   unknown-outcome the write may or may not have happened: look before retrying
 */
export const ErrorCodes = {
  BAD_REQUEST: { kind: 'permanent', status: 400, grpc: 'INVALID_ARGUMENT', outcome: 'bad_request' },
  DECODE_FAILED: { kind: 'permanent', status: 400, grpc: 'INVALID_ARGUMENT', outcome: 'bad_request' },
  UNAUTHORIZED: { kind: 'permanent', status: 401, grpc: 'UNAUTHENTICATED', outcome: 'unauthorized' },
  NOT_FOUND: { kind: 'permanent', status: 404, grpc: 'UNIMPLEMENTED', outcome: 'error' },
  METHOD_NOT_ALLOWED: { kind: 'permanent', status: 405, grpc: 'UNIMPLEMENTED', outcome: 'error' },
  PAYLOAD_TOO_LARGE: { kind: 'permanent', status: 413, grpc: 'INVALID_ARGUMENT', outcome: 'too_large' },
  NOT_ACCEPTABLE: { kind: 'permanent', status: 406, grpc: 'INVALID_ARGUMENT', outcome: 'unsupported' },
  UNSUPPORTED_MEDIA_TYPE: { kind: 'permanent', status: 415, grpc: 'INVALID_ARGUMENT', outcome: 'unsupported' },
  QUERY_INVALID: { kind: 'permanent', status: 400, grpc: 'INVALID_ARGUMENT', outcome: 'invalid' },
  QUERY_REFUSED: { kind: 'permanent', status: 400, grpc: 'INVALID_ARGUMENT', outcome: 'refused' },
  QUERY_OUT_OF_MEMORY: { kind: 'permanent', status: 422, grpc: 'RESOURCE_EXHAUSTED', outcome: 'out_of_memory' },
  QUERY_TIMEOUT: { kind: 'permanent', status: 504, grpc: 'UNAVAILABLE', outcome: 'timeout' },
  STORAGE_UNAVAILABLE: { kind: 'transient', status: 503, grpc: 'UNAVAILABLE', outcome: 'unavailable' },
  // nginx's 499: the client closed the connection before its answer was complete
  CLIENT_CLOSED: { kind: 'permanent', status: 499, grpc: 'CANCELLED', outcome: 'cancelled' },
  OVERLOADED: { kind: 'transient', status: 429, grpc: 'RESOURCE_EXHAUSTED', outcome: 'overloaded' },
  // a tenant over its own ingestion rate or in-flight share; the others are not
  TENANT_LIMITED: { kind: 'transient', status: 429, grpc: 'RESOURCE_EXHAUSTED', outcome: 'limited' },
  BROKER_UNAVAILABLE: { kind: 'transient', status: 503, grpc: 'UNAVAILABLE', outcome: 'unavailable' },
  SHUTTING_DOWN: { kind: 'transient', status: 503, grpc: 'UNAVAILABLE', outcome: 'unavailable' },
  CATALOG_UNAVAILABLE: { kind: 'transient', status: 503, grpc: 'UNAVAILABLE', outcome: 'unavailable' },
  COMMIT_CONFLICT: { kind: 'transient', status: 409, grpc: 'ABORTED', outcome: 'error' },
  COMMIT_UNKNOWN: { kind: 'unknown-outcome', status: 503, grpc: 'UNAVAILABLE', outcome: 'unavailable' },
  INTERNAL: { kind: 'transient', status: 500, grpc: 'INTERNAL', outcome: 'error' },
} as const satisfies Record<string, { kind: ErrorKind; status: number; grpc: GrpcStatusName; outcome: string }>;

/**
 * gRPC status names (their numbers are grpc-js's `status` enum), as the OTLP/gRPC specification
 * splits retryable (RESOURCE_EXHAUSTED, UNAVAILABLE) from not.
 */
export type GrpcStatusName = 'INVALID_ARGUMENT' | 'UNAUTHENTICATED' | 'UNIMPLEMENTED' | 'RESOURCE_EXHAUSTED' | 'UNAVAILABLE' | 'ABORTED' | 'INTERNAL' | 'CANCELLED';

/**
 * Why a consumed record went to `<topic>-dlq`: its `error-code` header. docs/kafka-records.md
 * lists them (a unit test holds the two together).
 */
export const DeadLetterCodes = {
  BAD_RECORD: 'the record breaks the record contract: no valid tenant-id header, no signal header the pipeline reads, or no value',
  DECODE_FAILED: 'the value is not a valid OTLP request of its signal',
  APPEND_FAILED: 'DuckDB refused the record’s rows as the lake pipeline loaded them into its buffer',
  ENCODE_FAILED: 'a hot-path sink could not turn the record into a request for its backend',
  TOO_LARGE: 'decoded, the record would hold more than a hot-path sink may (`SINK_MAX_DECODED_BYTES`); the lake pipeline judges it on its own',
  BACKEND_REJECTED: 'the backend refused the record for good (a 4xx other than 408 and 429); `error-message` holds its answer',
} as const;
export type DeadLetterCode = keyof typeof DeadLetterCodes;

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
    this.grpc = ErrorCodes[code].grpc;
    this.outcome = ErrorCodes[code].outcome;
    this.retryAfterSeconds = options?.retryAfterSeconds;
  }
  readonly retryAfterSeconds: number | undefined;
  /** the gRPC status of the answer */
  readonly grpc: GrpcStatusName;
  /** the `outcome` label of the ingester's request metrics */
  readonly outcome: string;
  get canRetry(): boolean {
    return this.kind !== 'permanent';
  }
}

export function isLakehouseError(e: unknown): e is LakehouseError {
  return e instanceof LakehouseError;
}

/** Any error as a registry error: what is not one already is INTERNAL, its cause kept. */
export function asLakehouseError(e: unknown): LakehouseError {
  return e instanceof LakehouseError ? e : new LakehouseError('INTERNAL', 'internal error', { cause: e });
}
