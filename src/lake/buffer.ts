import { DuckDBTimestampTZValue, type DuckDBAppender, type DuckDBConnection } from '@duckdb/node-api';
import type { LogRow } from '../otlp/logs-mapping.js';

/** Columns of the buffer table, in the order of the Iceberg table `logs`. */
export const LOG_COLUMNS = [
  'timestamp', 'observed_timestamp', 'tenant_id', 'severity', 'severity_number', 'body', 'trace_id', 'span_id',
  'service_name', 'deployment_environment', 'host_name', 'scope_name', 'scope_version', 'attributes', 'resource_attributes',
] as const;

const BUFFER_DDL = `CREATE TABLE IF NOT EXISTS buffer_logs (
  "timestamp" TIMESTAMPTZ, observed_timestamp TIMESTAMPTZ, tenant_id VARCHAR, severity VARCHAR, severity_number INTEGER,
  body VARCHAR, trace_id VARCHAR, span_id VARCHAR, service_name VARCHAR, deployment_environment VARCHAR, host_name VARCHAR,
  scope_name VARCHAR, scope_version VARCHAR, attributes VARCHAR, resource_attributes VARCHAR,
  kafka_partition INTEGER, kafka_offset BIGINT)`;

/** The map columns, buffered as JSON objects of strings and turned into MAPs at commit. */
export const MAP_COLUMNS = new Set<string>(['attributes', 'resource_attributes']);

/** What the buffer holds of one Kafka partition: offsets [first, last] inclusive. */
export interface PartitionRange {
  first: bigint;
  last: bigint;
}

function str(a: DuckDBAppender, v: string | null): void {
  if (v === null) a.appendNull();
  else a.appendVarchar(v);
}

function wellFormed(m: Map<string, string>): Record<string, string> {
  const o: Record<string, string> = {};
  for (const [k, v] of m) o[k.toWellFormed()] = v.toWellFormed();
  return o;
}

/**
 * A string map as a JSON object. JSON.stringify writes a lone UTF-16 surrogate as a \\udXXX
 * escape, which DuckDB's JSON reader refuses; such (rare) strings are made well-formed first,
 * the lone surrogate becoming U+FFFD, as it does in every other column.
 */
export function mapToJson(m: Map<string, string>): string {
  if (m.size === 0) return '{}';
  const json = JSON.stringify(Object.fromEntries(m));
  return json.includes('\\ud') || json.includes('\\uD') ? JSON.stringify(wellFormed(m)) : json;
}

/**
 * Log rows waiting for the next Iceberg commit, in a DuckDB table of the appender's own
 * in-memory database. Each row keeps the Kafka partition and offset it came from, so a commit
 * can leave out rows that the lake already holds.
 */
export class LogBuffer {
  private appender: DuckDBAppender | undefined;
  /** the JSON of the last resource's attributes: records of one resource share the Map */
  private lastResource: { map: Map<string, string>; json: string } | undefined;
  private readonly ranges = new Map<number, PartitionRange>();
  private bytes = 0;
  private records = 0;
  private oldestAt: number | undefined;

  constructor(private readonly connection: DuckDBConnection) {}

  async init(): Promise<void> {
    await this.connection.run(BUFFER_DDL);
  }

  /**
   * Buffers the rows of one Kafka record (`size` bytes of OTLP) at `partition`/`offset`, all
   * or none: when a row cannot be appended, none of the record's rows stay in the buffer.
   */
  async append(rows: LogRow[], partition: number, offset: bigint, size: number): Promise<void> {
    if (rows.length > 0) {
      this.appender ??= await this.connection.createAppender('buffer_logs');
      try {
        this.appendRows(this.appender, rows, partition, offset);
        this.appender.flushSync();
      } catch (e) {
        this.appender.clear();
        this.appender.closeSync();
        this.appender = undefined;
        throw e;
      }
    }
    this.track(partition, offset, size, rows.length);
  }

  private resourceJson(m: Map<string, string>): string {
    if (this.lastResource?.map !== m) this.lastResource = { map: m, json: mapToJson(m) };
    return this.lastResource.json;
  }

  private appendRows(a: DuckDBAppender, rows: LogRow[], partition: number, offset: bigint): void {
      for (const r of rows) {
        a.appendTimestampTZ(new DuckDBTimestampTZValue(r.timestamp));
        if (r.observedTimestamp === null) a.appendNull();
        else a.appendTimestampTZ(new DuckDBTimestampTZValue(r.observedTimestamp));
        a.appendVarchar(r.tenantId);
        str(a, r.severity);
        if (r.severityNumber === null) a.appendNull();
        else a.appendInteger(r.severityNumber);
        str(a, r.body);
        str(a, r.traceId);
        str(a, r.spanId);
        str(a, r.serviceName);
        str(a, r.deploymentEnvironment);
        str(a, r.hostName);
        str(a, r.scopeName);
        str(a, r.scopeVersion);
        a.appendVarchar(mapToJson(r.attributes));
        a.appendVarchar(this.resourceJson(r.resourceAttributes));
        a.appendInteger(partition);
        a.appendBigInt(offset);
        a.endRow();
      }
  }

  /** Records that `partition`/`offset` was consumed without producing rows (e.g. sent to the DLQ). */
  skip(partition: number, offset: bigint): void {
    this.track(partition, offset, 0, 0);
  }

  private track(partition: number, offset: bigint, size: number, rows: number): void {
    const r = this.ranges.get(partition);
    if (r) r.last = offset;
    else this.ranges.set(partition, { first: offset, last: offset });
    this.bytes += size;
    this.records += rows;
    this.oldestAt ??= Date.now();
  }

  async clear(): Promise<void> {
    if (this.appender) {
      this.appender.closeSync();
      this.appender = undefined;
    }
    await this.connection.run('DELETE FROM buffer_logs');
    this.ranges.clear();
    this.bytes = 0;
    this.records = 0;
    this.oldestAt = undefined;
  }

  get isEmpty(): boolean {
    return this.ranges.size === 0;
  }
  get byteSize(): number {
    return this.bytes;
  }
  get recordCount(): number {
    return this.records;
  }
  /** ms since the first record now buffered was appended; 0 when empty */
  ageMs(now = Date.now()): number {
    return this.oldestAt === undefined ? 0 : now - this.oldestAt;
  }
  /** The last offset buffered for `partition`, if any. */
  lastOffset(partition: number): bigint | undefined {
    return this.ranges.get(partition)?.last;
  }
  get partitionRanges(): ReadonlyMap<number, PartitionRange> {
    return this.ranges;
  }
}
