import { Client } from '@opensearch-project/opensearch';
import { decodeLogsRequest } from '../../otlp/codec.js';
import { mapLogsRequest } from '../../otlp/logs-mapping.js';
import { LOG_COLUMNS, type LogColumn, type LogRow } from '../../schema/logs.js';
import type { Delivery, Sink, SinkRecord } from '../sink.js';

/** The index of a tenant: `logs-tenant-<tenant_id>` (tenant ids are valid index names by construction). */
export const indexFor = (tenant: string) => `logs-tenant-${tenant}`;

/** The explicit mapping of a tenant's index: one field per column of `logs` (src/schema/logs.ts). */
export const LOGS_MAPPING = {
  dynamic: 'strict',
  properties: Object.fromEntries(LOG_COLUMNS.map((c) => [searchField(c), { type: c.search.type }])),
} as const;

/** The field of a column in a tenant's index. */
export function searchField(c: LogColumn): string {
  return c.search.field ?? c.name;
}

interface Prepared {
  rows: LogRow[];
  /** deterministic document ids: a batch sent again overwrites instead of duplicating */
  ids: string[];
}

function iso(micros: bigint): string {
  const ms = micros / 1000n;
  const rest = (micros % 1000n).toString().padStart(3, '0');
  return new Date(Number(ms)).toISOString().replace('Z', `${rest}Z`);
}

/** A row as the document of the mapping above. */
export function toDocument(r: LogRow): Record<string, unknown> {
  const doc: Record<string, unknown> = {};
  for (const c of LOG_COLUMNS) {
    const v = r[c.field];
    doc[searchField(c)] = v === null ? null : c.kind === 'timestamp' ? iso(v as bigint) : c.kind === 'map' ? Object.fromEntries(v as Map<string, string>) : v;
  }
  return doc;
}

/**
 * OpenSearch: `_bulk` into the tenant's index, created with the explicit mapping when missing.
 * Per-item results are classified: any 429/5xx item makes the batch retried (documents have
 * deterministic ids, so what already landed is overwritten, not doubled); a 4xx item makes it
 * refused, and the pipeline's bisection isolates the refused records for the DLQ.
 */
export class OpenSearchSink implements Sink<Prepared> {
  readonly name = 'opensearch';
  private readonly client: Client;
  private readonly ready = new Set<string>();

  constructor(url: string, private readonly topic: string, timeoutMs = 10_000) {
    this.client = new Client({ node: url, requestTimeout: timeoutMs, maxRetries: 0 });
  }

  prepare(record: SinkRecord): Prepared {
    if (record.signal !== 'logs') throw new Error(`the opensearch sink takes logs, not ${record.signal}`);
    const rows = mapLogsRequest(decodeLogsRequest(record.value), record.tenant, BigInt(Math.trunc(record.receivedAtMs)) * 1000n);
    return { rows, ids: rows.map((_, i) => `${this.topic}-${record.partition}-${record.offset}-${i}`) };
  }

  /**
   * Creates the tenant's index with the mapping, or, when it exists (made by this or an earlier
   * version), adds the mapping's fields it lacks: the mapping is strict, so a document with a
   * field the index does not know would be refused. Adding fields is all OpenSearch allows on
   * a live index, and all a newer version needs; a field of another type is an error.
   */
  private async ensureIndex(index: string): Promise<void> {
    if (this.ready.has(index)) return;
    try {
      await this.client.indices.create({ index, body: { settings: { number_of_shards: 1 }, mappings: LOGS_MAPPING } as never });
    } catch (e) {
      const type = (e as { meta?: { body?: { error?: { type?: string } } } }).meta?.body?.error?.type;
      if (type !== 'resource_already_exists_exception') throw e;
      await this.client.indices.putMapping({ index, body: LOGS_MAPPING as never });
    }
    this.ready.add(index);
  }

  async deliver(tenant: string, prepared: Prepared[]): Promise<Delivery> {
    const index = indexFor(tenant);
    const body: unknown[] = [];
    let docs = 0;
    for (const p of prepared) {
      p.rows.forEach((r, i) => {
        body.push({ index: { _index: index, _id: p.ids[i] } }, toDocument(r));
        docs++;
      });
    }
    if (docs === 0) return { kind: 'ok', items: 0 };
    let items: { index?: { status: number; error?: { type?: string; reason?: string } } }[];
    try {
      await this.ensureIndex(index);
      const res = await this.client.bulk({ body: body as never });
      items = (res.body as { items: typeof items }).items;
    } catch (e) {
      const status = (e as { meta?: { statusCode?: number } }).meta?.statusCode;
      const reason = `${status ? `HTTP ${status}: ` : ''}${(e as Error).message}`.slice(0, 500);
      if (status && status >= 400 && status < 500 && status !== 408 && status !== 429) return { kind: 'reject', reason };
      return { kind: 'retry', reason };
    }
    const failed = items.map((it) => it.index).filter((r) => r && r.status >= 300);
    if (failed.some((r) => r!.status === 429 || r!.status >= 500)) return { kind: 'retry', reason: `${failed.length} bulk items failed, e.g. ${failed[0]!.error?.reason ?? failed[0]!.status}` };
    if (failed.length > 0) return { kind: 'reject', reason: `bulk item refused: ${failed[0]!.error?.type ?? ''}: ${failed[0]!.error?.reason ?? failed[0]!.status}`.slice(0, 500) };
    return { kind: 'ok', items: docs };
  }
}
