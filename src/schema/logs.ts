/**
 * The columns of the Iceberg table `logs`, once. The DDL (sql/ddl/001_logs.sql, checked by a
 * unit test), the DuckDB buffer, the NDJSON rows the lake loads (checked by a unit test), the
 * mapped `LogRow` of the hot path and the OpenSearch mapping all follow this list.
 */

/** How a column's value is held: the Iceberg/DuckDB type follows from it. */
export type LogColumnKind = 'timestamp' | 'string' | 'int' | 'map';

export interface LogColumn {
  /** the column name in Iceberg (and the NDJSON key, the OpenSearch field unless `search.field`) */
  readonly name: string;
  /** the property of a mapped LogRow */
  readonly field: string;
  readonly kind: LogColumnKind;
  /** never NULL */
  readonly required?: true;
  /** the field type in a tenant's OpenSearch index, and its name when it differs */
  readonly search: { readonly type: 'date_nanos' | 'keyword' | 'integer' | 'text' | 'flat_object'; readonly field?: string };
}

export const LOG_COLUMNS = [
  { name: 'timestamp', field: 'timestamp', kind: 'timestamp', required: true, search: { type: 'date_nanos', field: '@timestamp' } },
  { name: 'observed_timestamp', field: 'observedTimestamp', kind: 'timestamp', search: { type: 'date_nanos' } },
  { name: 'tenant_id', field: 'tenantId', kind: 'string', required: true, search: { type: 'keyword' } },
  { name: 'severity', field: 'severity', kind: 'string', search: { type: 'keyword' } },
  { name: 'severity_number', field: 'severityNumber', kind: 'int', search: { type: 'integer' } },
  { name: 'body', field: 'body', kind: 'string', search: { type: 'text' } },
  { name: 'trace_id', field: 'traceId', kind: 'string', search: { type: 'keyword' } },
  { name: 'span_id', field: 'spanId', kind: 'string', search: { type: 'keyword' } },
  { name: 'service_name', field: 'serviceName', kind: 'string', search: { type: 'keyword' } },
  { name: 'deployment_environment', field: 'deploymentEnvironment', kind: 'string', search: { type: 'keyword' } },
  { name: 'host_name', field: 'hostName', kind: 'string', search: { type: 'keyword' } },
  { name: 'scope_name', field: 'scopeName', kind: 'string', search: { type: 'keyword' } },
  { name: 'scope_version', field: 'scopeVersion', kind: 'string', search: { type: 'keyword' } },
  { name: 'attributes', field: 'attributes', kind: 'map', required: true, search: { type: 'flat_object' } },
  { name: 'resource_attributes', field: 'resourceAttributes', kind: 'map', required: true, search: { type: 'flat_object' } },
] as const satisfies readonly LogColumn[];

export type LogColumnName = (typeof LOG_COLUMNS)[number]['name'];

type Value<K extends LogColumnKind> = K extends 'timestamp'
  ? bigint
  : K extends 'string'
    ? string
    : K extends 'int'
      ? number
      : Map<string, string>;

/**
 * One row of `logs` as the hot path maps it: timestamps in microseconds since the epoch, maps
 * with unique keys (last wins), non-string attribute values as JSON.
 */
export type LogRow = {
  -readonly [C in (typeof LOG_COLUMNS)[number] as C['field']]: C extends { required: true } ? Value<C['kind']> : Value<C['kind']> | null;
};

/** The column's type in the Iceberg table (DuckDB's names, as the DDL writes them). */
export const ICEBERG_TYPE: Record<LogColumnKind, string> = {
  timestamp: 'TIMESTAMPTZ',
  string: 'VARCHAR',
  int: 'INTEGER',
  map: 'MAP(VARCHAR, VARCHAR)',
};

/** Resource attributes that are columns of their own and not repeated in `resource_attributes`. */
export const PROMOTED_RESOURCE_KEYS: ReadonlySet<string> = new Set([
  'service.name',
  'deployment.environment.name',
  'deployment.environment',
  'host.name',
]);

/** Severity text for an OTLP severity number 1–24, in steps of four (TRACE 1–4 … FATAL 21–24). */
export const SEVERITY_NAMES = ['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR', 'FATAL'] as const;
