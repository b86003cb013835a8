import type { Config } from '../config/schema.js';

/**
 * A small read-only client of the Iceberg REST catalog, for what DuckDB does not report: the
 * summary of a table's current snapshot (files and records added by the last commit).
 */
export class CatalogClient {
  private prefix: string | undefined;

  constructor(private readonly cfg: Pick<Config, 'ICEBERG_CATALOG_URI' | 'ICEBERG_WAREHOUSE' | 'ICEBERG_CATALOG_TOKEN'>) {}

  private async get(path: string): Promise<unknown> {
    const headers: Record<string, string> = {};
    if (this.cfg.ICEBERG_CATALOG_TOKEN) headers.authorization = `Bearer ${this.cfg.ICEBERG_CATALOG_TOKEN}`;
    const res = await fetch(`${this.cfg.ICEBERG_CATALOG_URI.replace(/\/$/, '')}${path}`, { headers, signal: AbortSignal.timeout(5000) });
    if (!res.ok) throw new Error(`catalog answered ${res.status} for GET ${path}`);
    return res.json();
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
    const prefix = await this.urlPrefix();
    const body = (await this.get(`/v1${prefix}/namespaces/${encodeURIComponent(namespace)}/tables/${encodeURIComponent(table)}?snapshots=refs`)) as {
      metadata: { location: string };
    };
    return body.metadata.location;
  }

  /** The summary of the table's current snapshot (string values, as the catalog gives them). */
  async currentSnapshotSummary(namespace: string, table: string): Promise<Record<string, string> | undefined> {
    const prefix = await this.urlPrefix();
    const body = (await this.get(`/v1${prefix}/namespaces/${encodeURIComponent(namespace)}/tables/${encodeURIComponent(table)}?snapshots=refs`)) as {
      metadata: { 'current-snapshot-id'?: number | string; snapshots?: { 'snapshot-id': number | string; summary?: Record<string, string> }[] };
    };
    const current = body.metadata['current-snapshot-id'];
    return body.metadata.snapshots?.find((s) => String(s['snapshot-id']) === String(current))?.summary;
  }
}
