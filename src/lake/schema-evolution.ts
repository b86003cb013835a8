/**
 * Brings an existing `logs` table to the columns of src/schema/logs.ts by Iceberg schema
 * evolution: the missing columns are added as new fields with fresh ids, so no data file is
 * rewritten and rows written before read them as NULL.
 *
 * Why through the catalog and not DuckDB's `ALTER TABLE … ADD COLUMN`: DuckDB 1.5's iceberg
 * extension refuses to add nested columns ("ADD COLUMN for Nested Types not supported for
 * Iceberg tables"), and `scope_attributes` is a map. The REST catalog's table commit is the
 * interface every Iceberg client (Java, pyiceberg, iceberg-rust) uses for schema changes: the
 * request carries the new schema and two requirements (the current schema id and the last
 * assigned column id are still the ones read), and the catalog validates it and writes the
 * metadata. One request adds every missing column, so the table gains one schema, not one per
 * column.
 *
 * The same step names the partition fields as Iceberg's own libraries do (`tenant_id`,
 * `timestamp_day`): DuckDB names them `<transform>_<column>_<id>` and has no way to choose.
 * Renaming is a new partition spec with the same fields (same ids, sources and transforms), so
 * no file moves and partition pruning sees one partitioning.
 *
 * A table partitioned by (tenant_id, day), as earlier versions made it, gets a new default spec
 * that partitions by (tenant_shard, day) instead (see TENANT_SHARD_COLUMN): Iceberg's partition
 * evolution, one metadata update. Files written before keep their spec and their partition
 * values; a query filtered by tenant_id prunes both kinds (by the old partition values and by
 * the new files' tenant_id bounds).
 */

import { LAKE_LOG_COLUMNS, LAKE_TABLES, TENANT_SHARD_COLUMN } from '../schema/tables.js';
import { ICEBERG_TYPE, type LogColumnKind } from '../schema/logs.js';
import { CatalogCommitConflict, type CatalogClient, type IcebergField, type IcebergType, type PartitionField } from './catalog-client.js';

/** The Iceberg type of a column kind; a map takes two more field ids (key, value). */
function icebergType(kind: LogColumnKind, nextId: () => number): IcebergType {
  switch (kind) {
    case 'timestamp':
      return 'timestamptz';
    case 'string':
      return 'string';
    case 'int':
      return 'int';
    case 'long':
      return 'long';
    case 'map':
      return { type: 'map', 'key-id': nextId(), key: 'string', 'value-id': nextId(), value: 'string', 'value-required': false };
  }
}

/** Whether an existing field has the type this version writes for `kind`. */
function sameType(t: IcebergType, kind: LogColumnKind): boolean {
  if (kind === 'map') return typeof t === 'object' && t.type === 'map' && t.key === 'string' && t.value === 'string';
  return t === icebergType(kind, () => 0);
}

function describe(t: IcebergType): string {
  return typeof t === 'string' ? t : t.type === 'map' ? `map<${describe(t.key)}, ${describe(t.value)}>` : t.type;
}

export interface SchemaPlan {
  /** the new schema's fields: the existing ones in their order, each added one after its predecessor in `columns` */
  fields: IcebergField[];
  lastColumnId: number;
  added: string[];
}

/**
 * The fields a table must have to take rows of `columns`, or undefined when it has them all.
 * Existing fields keep their ids, order and types; a column of the wrong type is an error (this
 * version could not write it), named with both types.
 */
export function planLogsSchema(existing: readonly IcebergField[], lastColumnId: number, columns: readonly { name: string; kind: LogColumnKind }[] = LAKE_LOG_COLUMNS): SchemaPlan | undefined {
  const fields = [...existing];
  const byName = new Map(existing.map((f) => [f.name, f]));
  let last = lastColumnId;
  const nextId = () => ++last;
  const added: string[] = [];
  for (let i = 0; i < columns.length; i++) {
    const c = columns[i]!;
    const have = byName.get(c.name);
    if (have) {
      if (!sameType(have.type, c.kind)) {
        throw new Error(`column ${c.name} of the logs table is ${describe(have.type)}; this version writes ${ICEBERG_TYPE[c.kind]} there. Rename or drop that column, or use another table.`);
      }
      continue;
    }
    const field: IcebergField = { id: nextId(), name: c.name, required: false, type: icebergType(c.kind, nextId) };
    const after = i === 0 ? -1 : fields.findIndex((f) => f.name === columns[i - 1]!.name);
    fields.splice(after + 1, 0, field);
    byName.set(c.name, field);
    added.push(c.name);
  }
  return added.length === 0 ? undefined : { fields, lastColumnId: last, added };
}

/** The name Iceberg's libraries give a partition field: the column for identity, `<column>_<transform>` otherwise. */
export function conventionalPartitionName(column: string, transform: string): string {
  const t = /^(bucket|truncate)\[/.exec(transform)?.[1] ?? transform;
  return t === 'identity' ? column : `${column}_${t}`;
}

/**
 * The default spec's fields with DuckDB's generated names (`identity_tenant_id_3`,
 * `day_timestamp_1`) replaced by the conventional ones, or undefined when there is none to
 * rename. Other names are left alone: an operator may have chosen them.
 */
export function planPartitionNames(fields: readonly PartitionField[], schema: readonly IcebergField[]): PartitionField[] | undefined {
  let renamed = false;
  const out = fields.map((f) => {
    const column = schema.find((c) => c.id === f['source-id'])?.name;
    if (column === undefined) return f;
    const transform = /^(\w+)/.exec(f.transform)![1]!;
    const generated = new RegExp(`^${transform}_${column.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}_\\d+$`);
    const name = conventionalPartitionName(column, f.transform);
    if (!generated.test(f.name) || name === f.name || fields.some((o) => o.name === name)) return f;
    renamed = true;
    return { ...f, name };
  });
  return renamed ? out : undefined;
}

/**
 * The spec's fields with an identity partition on `tenant_id` replaced by one on `tenant_shard`
 * (a new partition field id, the other fields as they are), or undefined when there is nothing
 * to replace: the table has no such field, already partitions by `tenant_shard`, or is of
 * format version 1 (where a partition field cannot be dropped, only made `void`, which DuckDB
 * cannot write).
 */
export function planShardPartition(fields: readonly PartitionField[], schema: readonly IcebergField[], lastPartitionId: number, formatVersion: number): PartitionField[] | undefined {
  const id = (name: string) => schema.find((c) => c.name === name)?.id;
  const tenant = id('tenant_id');
  const shard = id(TENANT_SHARD_COLUMN);
  if (formatVersion < 2 || tenant === undefined || shard === undefined) return undefined;
  if (fields.some((f) => f['source-id'] === shard)) return undefined;
  const at = fields.findIndex((f) => f['source-id'] === tenant && f.transform === 'identity');
  if (at < 0) return undefined;
  const out = [...fields];
  out[at] = { name: TENANT_SHARD_COLUMN, transform: 'identity', 'source-id': shard, 'field-id': lastPartitionId + 1 };
  return out;
}

export interface Evolution {
  /** columns added */
  added: string[];
  /** partition fields renamed or replaced, as `old → new` */
  renamed: string[];
  /** table properties set, as `key=value` */
  properties: string[];
}

/**
 * Adds the columns the `logs` table lacks (see planLogsSchema), names its partition fields
 * conventionally (see planPartitionNames), partitions it by tenant_shard (see
 * planShardPartition) and sets the table properties it lacks (a value an
 * operator set is left alone), reading the table again when another writer changed it
 * meanwhile (e.g. a second appender starting at the same moment).
 */
export async function evolveLogsTable(catalog: CatalogClient, namespace: string, table: string, attempts = 5, properties: Readonly<Record<string, string>> = LAKE_TABLES.logs.properties): Promise<Evolution> {
  const done: Evolution = { added: [], renamed: [], properties: [] };
  for (let attempt = 1; ; attempt++) {
    try {
      let state = await catalog.schemaState(namespace, table);
      const plan = planLogsSchema(state.schema.fields, state.lastColumnId);
      if (plan) {
        await catalog.replaceSchema(namespace, table, state, plan.fields, plan.lastColumnId);
        done.added.push(...plan.added);
        state = await catalog.schemaState(namespace, table);
      }
      const names = planPartitionNames(state.partitionFields, state.schema.fields);
      const spec = planShardPartition(names ?? state.partitionFields, state.schema.fields, state.lastPartitionId, state.formatVersion) ?? names;
      if (spec) {
        await catalog.replacePartitionSpec(namespace, table, state, spec);
        spec.forEach((f, i) => f.name !== state.partitionFields[i]!.name && done.renamed.push(`${state.partitionFields[i]!.name} → ${f.name}`));
      }
      const missing = Object.entries(properties).filter(([k]) => state.properties[k] === undefined);
      if (missing.length > 0) {
        await catalog.setProperties(namespace, table, Object.fromEntries(missing));
        done.properties.push(...missing.map(([k, v]) => `${k}=${v}`));
      }
      return done;
    } catch (e) {
      if (!(e instanceof CatalogCommitConflict) || attempt >= attempts) throw e;
    }
  }
}
