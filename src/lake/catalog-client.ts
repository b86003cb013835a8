import type { Config } from '../config/schema.js';

export interface SnapshotInfo {
  id: string;
  parentId: string | undefined;
  manifestList: string;
  /** append, replace (compaction, manifest rewrite), overwrite or delete */
  operation: string | undefined;
  summary: Record<string, string>;
}

export interface TableSnapshots {
  current: string | undefined;
  byId: Map<string, SnapshotInfo>;
}

/** The catalog refused a commit because the table changed since it was read (HTTP 409): read it again and retry. */
export class CatalogCommitConflict extends Error {}

/** A table's schema as the Iceberg REST catalog gives it (spec: Schema, StructField). */
export interface IcebergSchema {
  'schema-id': number;
  type: 'struct';
  fields: IcebergField[];
}
export interface IcebergField {
  id: number;
  name: string;
  required: boolean;
  type: IcebergType;
  doc?: string;
}
export type IcebergType =
  | string
  | { type: 'map'; 'key-id': number; key: IcebergType; 'value-id': number; value: IcebergType; 'value-required': boolean }
  | { type: 'list'; 'element-id': number; element: IcebergType; 'element-required': boolean }
  | { type: 'struct'; fields: IcebergField[] };

export interface PartitionField {
  name: string;
  transform: string;
  'source-id': number;
  'field-id': number;
}

/** What a schema change needs of the table's metadata. */
export interface TableSchemaState {
  currentSchemaId: number;
  lastColumnId: number;
  /** one more than the highest schema id the table has known */
  nextSchemaId: number;
  schema: IcebergSchema;
  defaultSpecId: number;
  /** the highest partition field id the table has assigned */
  lastPartitionId: number;
  /** one more than the highest partition spec id the table has known */
  nextSpecId: number;
  /** the partition fields of the default spec: name, transform, source column id and field id */
  partitionFields: PartitionField[];
  /** the table's properties */
  properties: Record<string, string>;
  /** the table's Iceberg format version */
  formatVersion: number;
}

/**
 * A small client of the Iceberg REST catalog, for what DuckDB does not do: read a table's
 * location, schema and current snapshot, add columns of types DuckDB cannot add (see
 * schema-evolution.ts), and roll a branch back (see SnapshotRepair).
 */
export class CatalogClient {
  private prefix: string | undefined;

  constructor(private readonly cfg: Pick<Config, 'ICEBERG_CATALOG_URI' | 'ICEBERG_WAREHOUSE' | 'ICEBERG_CATALOG_TOKEN'>) {}

  /** One request; the answer's text (64-bit snapshot ids must not go through JSON numbers). */
  private async send(method: 'GET' | 'POST', path: string, body?: string): Promise<string> {
    const headers: Record<string, string> = {};
    if (this.cfg.ICEBERG_CATALOG_TOKEN) headers.authorization = `Bearer ${this.cfg.ICEBERG_CATALOG_TOKEN}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    let res: Response;
    try {
      res = await fetch(`${this.cfg.ICEBERG_CATALOG_URI.replace(/\/$/, '')}${path}`, { method, headers, body, signal: AbortSignal.timeout(10_000) });
    } catch (e) {
      // fetch says only "fetch failed"; the reason (refused, reset, timed out) is its cause
      const cause = (e as Error & { cause?: Error }).cause;
      throw new Error(`catalog connection failed for ${method} ${path}: ${(e as Error).message}${cause ? `: ${cause.message}` : ''}`);
    }
    const text = await res.text();
    if (res.status === 409) throw new CatalogCommitConflict(`catalog answered 409 for ${method} ${path}: ${text.slice(0, 300)}`);
    if (!res.ok) throw new Error(`catalog answered ${res.status} for ${method} ${path}: ${text.slice(0, 300)}`);
    return text;
  }

  private async get(path: string): Promise<unknown> {
    return JSON.parse(await this.send('GET', path));
  }

  private async tablePath(namespace: string, table: string): Promise<string> {
    return `/v1${await this.urlPrefix()}/namespaces/${encodeURIComponent(namespace)}/tables/${encodeURIComponent(table)}?snapshots=refs`;
  }

  /**
   * The table's snapshots as the catalog holds them now: the current one's id and, by id, each
   * snapshot's parent, operation, manifest list and summary. Ids stay strings (64-bit).
   */
  async snapshots(namespace: string, table: string): Promise<TableSnapshots> {
    const text = (await this.send('GET', await this.tablePath(namespace, table))).replace(/("(?:current-snapshot-id|snapshot-id|parent-snapshot-id)"\s*:\s*)(-?\d+)/g, '$1"$2"');
    const body = JSON.parse(text) as {
      metadata: {
        'current-snapshot-id'?: string | null;
        snapshots?: { 'snapshot-id': string; 'parent-snapshot-id'?: string; 'manifest-list': string; summary?: Record<string, string> }[];
      };
    };
    const current = body.metadata['current-snapshot-id'];
    const byId = new Map<string, SnapshotInfo>();
    for (const s of body.metadata.snapshots ?? []) {
      byId.set(s['snapshot-id'], { id: s['snapshot-id'], parentId: s['parent-snapshot-id'], manifestList: s['manifest-list'], operation: s.summary?.operation, summary: s.summary ?? {} });
    }
    return { current: current === undefined || current === null || current === '-1' ? undefined : current, byId };
  }

  /** The table's current schema, its id, the last column id the table assigned, and its partition spec. */
  async schemaState(namespace: string, table: string): Promise<TableSchemaState> {
    const body = (await this.get(await this.tablePath(namespace, table))) as {
      metadata: {
        'current-schema-id': number;
        'last-column-id': number;
        schemas: IcebergSchema[];
        'default-spec-id': number;
        'last-partition-id': number;
        'partition-specs': { 'spec-id': number; fields: PartitionField[] }[];
        properties?: Record<string, string>;
        'format-version': number;
      };
    };
    const m = body.metadata;
    const schema = m.schemas.find((s) => s['schema-id'] === m['current-schema-id']);
    if (!schema) throw new Error(`table ${namespace}.${table}: the catalog lists no schema with the current id ${m['current-schema-id']}`);
    const spec = m['partition-specs'].find((s) => s['spec-id'] === m['default-spec-id']);
    return { currentSchemaId: m['current-schema-id'], lastColumnId: m['last-column-id'], nextSchemaId: Math.max(...m.schemas.map((s) => s['schema-id'])) + 1, schema,
      defaultSpecId: m['default-spec-id'],
      lastPartitionId: m['last-partition-id'],
      nextSpecId: Math.max(...m['partition-specs'].map((p) => p['spec-id'])) + 1,
      partitionFields: spec?.fields ?? [],
      properties: m.properties ?? {},
      formatVersion: m['format-version'],
    };
  }

  /**
   * Makes `schema` the table's current schema, if the table's current schema and last column id
   * are still the ones read (else CatalogCommitConflict). The catalog checks the new schema
   * against the table and writes the new metadata; no data file is touched.
   */
  async replaceSchema(namespace: string, table: string, read: TableSchemaState, fields: IcebergField[], lastColumnId: number): Promise<void> {
    await this.commitTable(namespace, table, [
      { type: 'assert-current-schema-id', 'current-schema-id': read.currentSchemaId },
      { type: 'assert-last-assigned-field-id', 'last-assigned-field-id': read.lastColumnId },
    ], [
      { action: 'add-schema', schema: { type: 'struct', 'schema-id': read.nextSchemaId, fields }, 'last-column-id': lastColumnId },
      { action: 'set-current-schema', 'schema-id': -1 },
    ]);
  }

  /**
   * Makes a spec with `fields` the table's default partition spec, if the default spec and the
   * last partition field id are still the ones read (else CatalogCommitConflict). Data files
   * keep the spec they were written with.
   */
  async replacePartitionSpec(namespace: string, table: string, read: TableSchemaState, fields: PartitionField[]): Promise<void> {
    await this.commitTable(namespace, table, [
      { type: 'assert-default-spec-id', 'default-spec-id': read.defaultSpecId },
      { type: 'assert-last-assigned-partition-id', 'last-assigned-partition-id': read.lastPartitionId },
    ], [
      { action: 'add-spec', spec: { 'spec-id': read.nextSpecId, fields } },
      { action: 'set-default-spec', 'spec-id': -1 },
    ]);
  }

  /** Sets table properties (others are kept); no data file or snapshot changes. */
  async setProperties(namespace: string, table: string, properties: Record<string, string>): Promise<void> {
    await this.commitTable(namespace, table, [], [{ action: 'set-properties', updates: properties }]);
  }

  /** One table commit (REST: CommitTableRequest): the updates apply only if every requirement holds. */
  private async commitTable(namespace: string, table: string, requirements: object[], updates: object[]): Promise<void> {
    const prefix = await this.urlPrefix();
    const body = JSON.stringify({ identifier: { namespace: [namespace], name: table }, requirements, updates });
    await this.send('POST', `/v1${prefix}/namespaces/${encodeURIComponent(namespace)}/tables/${encodeURIComponent(table)}`, body);
  }

  /** The table's current snapshot; undefined when it has none. */
  async currentSnapshot(namespace: string, table: string): Promise<SnapshotInfo | undefined> {
    const { current, byId } = await this.snapshots(namespace, table);
    return current === undefined ? undefined : byId.get(current);
  }

  /**
   * Points each table's main branch back from `from` to `to` (or removes the branch when `to`
   * is undefined), in one multi-table commit that fails if any branch moved meanwhile.
   */
  async rollBack(namespace: string, tables: { table: string; from: string; to: string | undefined }[]): Promise<void> {
    const prefix = await this.urlPrefix();
    // Snapshot ids are 64-bit: written as JSON numbers without going through a double.
    const changes = tables.map(({ table, from, to }) => ({
      identifier: { namespace: [namespace], name: table },
      requirements: [{ type: 'assert-ref-snapshot-id', ref: 'main', 'snapshot-id': `@@${from}@@` }],
      updates: [to === undefined ? { action: 'remove-snapshot-ref', 'ref-name': 'main' } : { action: 'set-snapshot-ref', 'ref-name': 'main', type: 'branch', 'snapshot-id': `@@${to}@@` }],
    }));
    const text = JSON.stringify({ 'table-changes': changes }).replace(/"@@(-?\d+)@@"/g, '$1');
    await this.send('POST', `/v1${prefix}/transactions/commit`, text);
  }

  /** The URL prefix the catalog asks for (GET /v1/config overrides.prefix), '' when none. */
  private async urlPrefix(): Promise<string> {
    if (this.prefix === undefined) {
      const config = (await this.get(`/v1/config?warehouse=${encodeURIComponent(this.cfg.ICEBERG_WAREHOUSE)}`)) as { overrides?: { prefix?: string } };
      this.prefix = config.overrides?.prefix ? `/${config.overrides.prefix}` : '';
    }
    return this.prefix;
  }

  /** The table's location (its base URI in the warehouse). */
  async tableLocation(namespace: string, table: string): Promise<string> {
    const body = (await this.get(await this.tablePath(namespace, table))) as {
      metadata: { location: string };
    };
    return body.metadata.location;
  }

  /** The summary of the table's current snapshot (string values, as the catalog gives them). */
  async currentSnapshotSummary(namespace: string, table: string): Promise<Record<string, string> | undefined> {
    return (await this.currentSnapshot(namespace, table))?.summary;
  }
}

/** Whether the Iceberg REST catalog answers its config endpoint within `timeoutMs`. */
export async function catalogReachable(uri: string, timeoutMs = 2000): Promise<{ ok: boolean; reason?: string }> {
  try {
    const res = await fetch(`${uri.replace(/\/$/, '')}/v1/config`, { signal: AbortSignal.timeout(timeoutMs) });
    return res.ok ? { ok: true } : { ok: false, reason: `catalog answered ${res.status}` };
  } catch (e) {
    return { ok: false, reason: `catalog unreachable: ${(e as Error).message}` };
  }
}
