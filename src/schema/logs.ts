/**
 * The columns of the Iceberg table `logs`, once. The DDL (sql/ddl/001_logs.sql, checked by a
 * unit test), the DuckDB buffer, the NDJSON rows the lake loads (checked by a unit test), the
 * mapped `LogRow` of the hot path and the OpenSearch mapping all follow this list.
 */

/** How a column's value is held: the Iceberg/DuckDB type follows from it. */
export type LogColumnKind = 'timestamp' | 'string' | 'int' | 'long' | 'map';

export interface LogColumn {
  /** the column name in Iceberg (and the NDJSON key, the OpenSearch field unless `search.field`) */
  readonly name: string;
  /** the property of a mapped LogRow */
  readonly field: string;
  readonly kind: LogColumnKind;
  /** never NULL in rows written by this version (rows written before `since` read NULL) */
  readonly required?: true;
  /**
   * The table version that added the column (absent: the first). An existing table gains the
   * missing columns when the appender starts (src/lake/schema-evolution.ts); rows written
   * before read them as NULL.
   */
  readonly since?: number;
  /**
   * The same for every record of one ScopeLogs: it comes from the Resource or the
   * InstrumentationScope. The lake's buffer keeps these once per scope rather than once per row
   * (src/lake/buffer.ts).
   */
  readonly perScope?: true;
  /** the field type in a tenant's OpenSearch index, and its name when it differs */
  readonly search: { readonly type: 'date_nanos' | 'keyword' | 'integer' | 'long' | 'text' | 'flat_object'; readonly field?: string };
}

export const LOG_COLUMNS = [
  { name: 'timestamp', field: 'timestamp', kind: 'timestamp', required: true, search: { type: 'date_nanos', field: '@timestamp' } },
  { name: 'observed_timestamp', field: 'observedTimestamp', kind: 'timestamp', search: { type: 'date_nanos' } },
  { name: 'tenant_id', field: 'tenantId', kind: 'string', required: true, search: { type: 'keyword' } },
  { name: 'severity', field: 'severity', kind: 'string', search: { type: 'keyword' } },
  { name: 'severity_number', field: 'severityNumber', kind: 'int', search: { type: 'integer' } },
  { name: 'event_name', field: 'eventName', kind: 'string', since: 2, search: { type: 'keyword' } },
  { name: 'body', field: 'body', kind: 'string', search: { type: 'text' } },
  { name: 'body_type', field: 'bodyType', kind: 'string', since: 2, search: { type: 'keyword' } },
  { name: 'trace_id', field: 'traceId', kind: 'string', search: { type: 'keyword' } },
  { name: 'span_id', field: 'spanId', kind: 'string', search: { type: 'keyword' } },
  { name: 'trace_flags', field: 'traceFlags', kind: 'long', since: 2, search: { type: 'long' } },
  { name: 'service_name', field: 'serviceName', kind: 'string', perScope: true, search: { type: 'keyword' } },
  { name: 'deployment_environment', field: 'deploymentEnvironment', kind: 'string', perScope: true, search: { type: 'keyword' } },
  { name: 'host_name', field: 'hostName', kind: 'string', perScope: true, search: { type: 'keyword' } },
  { name: 'scope_name', field: 'scopeName', kind: 'string', perScope: true, search: { type: 'keyword' } },
  { name: 'scope_version', field: 'scopeVersion', kind: 'string', perScope: true, search: { type: 'keyword' } },
  { name: 'attributes', field: 'attributes', kind: 'map', required: true, search: { type: 'flat_object' } },
  { name: 'dropped_attributes_count', field: 'droppedAttributesCount', kind: 'long', since: 2, search: { type: 'long' } },
  { name: 'resource_attributes', field: 'resourceAttributes', kind: 'map', required: true, perScope: true, search: { type: 'flat_object' } },
  { name: 'resource_dropped_attributes_count', field: 'resourceDroppedAttributesCount', kind: 'long', since: 2, perScope: true, search: { type: 'long' } },
  { name: 'resource_schema_url', field: 'resourceSchemaUrl', kind: 'string', since: 2, perScope: true, search: { type: 'keyword' } },
  { name: 'scope_attributes', field: 'scopeAttributes', kind: 'map', required: true, since: 2, perScope: true, search: { type: 'flat_object' } },
  { name: 'scope_dropped_attributes_count', field: 'scopeDroppedAttributesCount', kind: 'long', since: 2, perScope: true, search: { type: 'long' } },
  { name: 'scope_schema_url', field: 'scopeSchemaUrl', kind: 'string', since: 2, perScope: true, search: { type: 'keyword' } },
] as const satisfies readonly LogColumn[];

export type LogColumnName = (typeof LOG_COLUMNS)[number]['name'];

type Value<K extends LogColumnKind> = K extends 'timestamp'
  ? bigint
  : K extends 'string'
    ? string
    : K extends 'int' | 'long'
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
  long: 'BIGINT',
  map: 'MAP(VARCHAR, VARCHAR)',
};

/**
 * Resource attributes that are columns of their own, by the LogRow field they fill: the first
 * key of the list that the resource sets (with a value) fills the column, and only that key
 * leaves `resource_attributes`, so a resource that sets both environment keys keeps the other.
 */
export const PROMOTED_RESOURCE_ATTRIBUTES = {
  serviceName: ['service.name'],
  deploymentEnvironment: ['deployment.environment.name', 'deployment.environment'],
  hostName: ['host.name'],
} as const;

export type PromotedResource = { -readonly [F in keyof typeof PROMOTED_RESOURCE_ATTRIBUTES]: string | null } & {
  /** the resource's other attributes, unique keys (the last value wins, at the first key's place) */
  attributes: Map<string, string>;
};

/** A resource's attributes (key, value as its map text, null for no value) split into the promoted columns and the map. */
export function promoteResource(kvs: readonly (readonly [string, string | null])[]): PromotedResource {
  const values = new Map<string, string | null>();
  for (const [k, v] of kvs) values.set(k, v);
  const taken = new Set<string>();
  const column = (keys: readonly string[]): string | null => {
    for (const k of keys) {
      const v = values.get(k);
      if (v !== undefined && v !== null) {
        taken.add(k);
        return v;
      }
    }
    return null;
  };
  const serviceName = column(PROMOTED_RESOURCE_ATTRIBUTES.serviceName);
  const deploymentEnvironment = column(PROMOTED_RESOURCE_ATTRIBUTES.deploymentEnvironment);
  const hostName = column(PROMOTED_RESOURCE_ATTRIBUTES.hostName);
  const attributes = new Map<string, string>();
  for (const [k, v] of values) if (!taken.has(k)) attributes.set(k, v ?? '');
  return { serviceName, deploymentEnvironment, hostName, attributes };
}

/** The name of each AnyValue member, by its field number, as `body_type` holds it. */
export const ANY_VALUE_KINDS = [null, 'string', 'bool', 'int', 'double', 'array', 'kvlist', 'bytes'] as const;

/** Severity text for an OTLP severity number 1–24, in steps of four (TRACE 1–4 … FATAL 21–24). */
export const SEVERITY_NAMES = ['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR', 'FATAL'] as const;
