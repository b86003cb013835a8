import { describe, expect, it } from 'vitest';
import type { CatalogClient, IcebergField, TableSchemaState } from '../../../src/lake/catalog-client.js';
import { conventionalPartitionName, evolveLogsTable, planLogsSchema, planPartitionNames, planShardPartition } from '../../../src/lake/schema-evolution.js';
import { LAKE_LOG_COLUMNS, LAKE_TABLES } from '../../../src/schema/tables.js';
import { LOG_COLUMNS, type LogColumnKind } from '../../../src/schema/logs.js';

const TYPE = { timestamp: 'timestamptz', string: 'string', int: 'int', long: 'long' } as const;

/** The fields of a table made from `columns` (ids from 1; a map takes two more). */
function tableOf(columns: readonly { name: string; kind: LogColumnKind }[]): { fields: IcebergField[]; last: number } {
  let id = 0;
  const fields = columns.map((c): IcebergField => {
    const fid = ++id;
    const type = c.kind === 'map' ? { type: 'map' as const, 'key-id': ++id, key: 'string', 'value-id': ++id, value: 'string', 'value-required': false } : TYPE[c.kind];
    return { id: fid, name: c.name, required: false, type };
  });
  return { fields, last: id };
}

describe('planLogsSchema', () => {
  const v1 = LOG_COLUMNS.filter((c) => !('since' in c));

  it('adds the missing columns with fresh ids, each after its predecessor, keeping existing fields as they are', () => {
    const old = tableOf(v1);
    const plan = planLogsSchema(old.fields, old.last)!;
    expect(plan.fields.map((f) => f.name)).toEqual(LAKE_LOG_COLUMNS.map((c) => c.name));
    expect(plan.added).toEqual([...LOG_COLUMNS.filter((c) => 'since' in c).map((c) => c.name), 'tenant_shard']);
    for (const f of old.fields) expect(plan.fields.find((n) => n.name === f.name)).toEqual(f);
    const ids = plan.fields.flatMap((f) => (typeof f.type === 'object' && f.type.type === 'map' ? [f.id, f.type['key-id'], f.type['value-id']] : [f.id]));
    expect(new Set(ids).size).toBe(ids.length);
    expect(Math.max(...ids)).toBe(plan.lastColumnId);
    expect(Math.min(...plan.fields.filter((f) => plan.added.includes(f.name)).map((f) => f.id))).toBe(old.last + 1);
    expect(plan.fields.find((f) => f.name === 'scope_attributes')!.type).toMatchObject({ type: 'map', key: 'string', value: 'string' });
  });

  it('has nothing to do on a table made by the current DDL', () => {
    const now = tableOf(LAKE_LOG_COLUMNS);
    expect(planLogsSchema(now.fields, now.last)).toBeUndefined();
  });

  it('keeps columns it does not know, and refuses a column of another type, naming both types', () => {
    const t = tableOf(v1);
    const extra = [...t.fields, { id: t.last + 1, name: 'team', required: false, type: 'string' }];
    expect(planLogsSchema(extra, t.last + 1)!.fields.map((f) => f.name)).toContain('team');
    const wrong = tableOf(LOG_COLUMNS);
    wrong.fields.find((f) => f.name === 'trace_flags')!.type = 'int';
    expect(() => planLogsSchema(wrong.fields, wrong.last)).toThrow(/column trace_flags of the logs table is int; this version writes BIGINT/);
  });
});

describe('partition field names', () => {
  const schema = tableOf(LAKE_LOG_COLUMNS).fields;
  const id = (n: string) => schema.find((f) => f.name === n)!.id;

  it('renames the names DuckDB generates to the conventional ones, with the same field ids', () => {
    const duckdb = [
      { name: `identity_tenant_id_${id('tenant_id')}`, transform: 'identity', 'source-id': id('tenant_id'), 'field-id': 1000 },
      { name: 'day_timestamp_1', transform: 'day', 'source-id': id('timestamp'), 'field-id': 1001 },
    ];
    expect(planPartitionNames(duckdb, schema)).toEqual([
      { name: 'tenant_id', transform: 'identity', 'source-id': id('tenant_id'), 'field-id': 1000 },
      { name: 'timestamp_day', transform: 'day', 'source-id': id('timestamp'), 'field-id': 1001 },
    ]);
  });

  it('leaves conventional and chosen names alone', () => {
    expect(planPartitionNames([{ name: 'tenant_id', transform: 'identity', 'source-id': id('tenant_id'), 'field-id': 1000 }], schema)).toBeUndefined();
    expect(planPartitionNames([{ name: 'by_day', transform: 'day', 'source-id': id('timestamp'), 'field-id': 1000 }], schema)).toBeUndefined();
  });

  it('follows Iceberg’s naming for every transform', () => {
    expect(['identity', 'year', 'month', 'day', 'hour', 'bucket[16]', 'truncate[4]', 'void'].map((t) => conventionalPartitionName('c', t))).toEqual([
      'c', 'c_year', 'c_month', 'c_day', 'c_hour', 'c_bucket', 'c_truncate', 'c_void',
    ]);
  });
});

describe('partitioning by tenant_shard', () => {
  const schema = tableOf(LAKE_LOG_COLUMNS).fields;
  const id = (n: string) => schema.find((f) => f.name === n)!.id;
  const old = [
    { name: 'tenant_id', transform: 'identity', 'source-id': id('tenant_id'), 'field-id': 1000 },
    { name: 'timestamp_day', transform: 'day', 'source-id': id('timestamp'), 'field-id': 1001 },
  ];

  it('replaces the identity partition on tenant_id by one on tenant_shard with a new field id, keeping the day field', () => {
    expect(planShardPartition(old, schema, 1001, 2)).toEqual([
      { name: 'tenant_shard', transform: 'identity', 'source-id': id('tenant_shard'), 'field-id': 1002 },
      old[1],
    ]);
  });

  it('leaves a table already partitioned by tenant_shard, one without a tenant_id partition, and a format version 1 table alone', () => {
    const now = planShardPartition(old, schema, 1001, 2)!;
    expect(planShardPartition(now, schema, 1002, 2)).toBeUndefined();
    expect(planShardPartition([old[1]!], schema, 1001, 2)).toBeUndefined();
    expect(planShardPartition(old, schema, 1001, 1)).toBeUndefined();
  });
});

describe('evolveLogsTable: table properties', () => {
  /** A catalog holding an up-to-date `logs` table with `properties`; records the properties it is asked to set. */
  function catalogWith(properties: Record<string, string>) {
    const { fields, last } = tableOf(LAKE_LOG_COLUMNS);
    const state: TableSchemaState = {
      currentSchemaId: 0, lastColumnId: last, nextSchemaId: 1, schema: { type: 'struct', 'schema-id': 0, fields },
      defaultSpecId: 0, lastPartitionId: 1000, nextSpecId: 1, partitionFields: [], properties, formatVersion: 2,
    };
    const set: Record<string, string>[] = [];
    const catalog = {
      schemaState: async () => state,
      setProperties: async (_ns: string, _t: string, p: Record<string, string>) => void set.push(p),
    } as unknown as CatalogClient;
    return { catalog, set };
  }

  it('sets the properties a table lacks, once', async () => {
    const { catalog, set } = catalogWith({ 'write.parquet.compression-codec': 'zstd' });
    const done = await evolveLogsTable(catalog, 'ns', 'logs');
    expect(set).toEqual([LAKE_TABLES.logs.properties]);
    expect(done.properties).toEqual(Object.entries(LAKE_TABLES.logs.properties).map(([k, v]) => `${k}=${v}`));
  });

  it('leaves a value an operator set alone', async () => {
    const chosen = Object.fromEntries(Object.keys(LAKE_TABLES.logs.properties).map((k) => [k, '65536']));
    const { catalog, set } = catalogWith(chosen);
    expect(await evolveLogsTable(catalog, 'ns', 'logs')).toEqual({ added: [], renamed: [], properties: [] });
    expect(set).toEqual([]);
  });
});
