import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { ConfigError } from './load.js';
import { TENANT_ID_PATTERN } from './schema.js';

/**
 * The tenants of the configuration (TENANTS_FILE, TENANT_TOKENS): read by the ingester for its
 * tokens and by the maintainer for retention. Every problem is a ConfigError naming the setting.
 */

export function sha256Hex(s: string): string {
  return createHash('sha256').update(s, 'utf8').digest('hex');
}

export function checkTenant(tenant: string, source: string): string {
  if (!TENANT_ID_PATTERN.test(tenant)) {
    throw new ConfigError([`${source}: tenant id '${tenant}' does not match ${TENANT_ID_PATTERN}`]);
  }
  return tenant;
}

/** Parses TENANT_TOKENS (`tenant=token,tenant=token`) into digests by tenant. */
export function parseTenantTokens(spec: string): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  const parts = spec.split(',').map((s) => s.trim()).filter(Boolean);
  for (const [i, part] of parts.entries()) {
    const eq = part.indexOf('=');
    // The entry itself is never echoed: it may hold a token.
    if (eq <= 0 || eq === part.length - 1) throw new ConfigError([`TENANT_TOKENS: entry ${i + 1} is not tenant=token`]);
    const tenant = checkTenant(part.slice(0, eq), 'TENANT_TOKENS');
    (out[tenant] ??= []).push(sha256Hex(part.slice(eq + 1)));
  }
  return out;
}

/** A tenant's retention in the tenants file: days, or `forever`; absent: RETENTION_DAYS applies. */
export type RetentionOverride = number | 'forever';

/**
 * The per-tenant limits a tenants-file entry may set, by key, each with the setting that is its
 * default for every tenant not given one.
 */
export const TENANT_LIMIT_KEYS = {
  ingestion_rate_bytes: 'TENANT_INGESTION_RATE_BYTES',
  ingestion_burst_bytes: 'TENANT_INGESTION_BURST_BYTES',
  ingestion_rate_records: 'TENANT_INGESTION_RATE_RECORDS',
  ingestion_burst_records: 'TENANT_INGESTION_BURST_RECORDS',
  max_inflight_bytes: 'TENANT_MAX_INFLIGHT_BYTES',
  query_max_inflight: 'QUERY_MAX_INFLIGHT_PER_TENANT',
} as const;
export type TenantLimitKey = keyof typeof TENANT_LIMIT_KEYS;
export type TenantLimitOverrides = Partial<Record<TenantLimitKey, number>>;

export interface TenantsFile {
  digests: Record<string, string[]>;
  retention: Record<string, RetentionOverride>;
  limits: Record<string, TenantLimitOverrides>;
}

/**
 * Reads TENANTS_FILE: JSON or YAML mapping each tenant either to a list of token SHA-256
 * digests, or to `{ tokens: [digests], retention_days: <days> | forever }`.
 */
export function readTenantsFileEntries(path: string): TenantsFile {
  let raw: unknown;
  try {
    raw = parseYaml(readFileSync(path, 'utf8')) as unknown; // YAML is a superset of JSON
  } catch (e) {
    throw new ConfigError([`TENANTS_FILE ${path}: ${(e as Error).message}`]);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new ConfigError([`TENANTS_FILE ${path}: expected an object of tenant -> list of token digests`]);
  }
  const out: TenantsFile = { digests: {}, retention: {}, limits: {} };
  const isDigestList = (v: unknown): v is string[] => Array.isArray(v) && v.every((d) => typeof d === 'string');
  for (const [tenant, entry] of Object.entries(raw)) {
    if (isDigestList(entry)) {
      out.digests[tenant] = entry;
      continue;
    }
    if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) {
      throw new ConfigError([`TENANTS_FILE ${path}: tenant '${tenant}' must map to a list of digests or to { tokens, retention_days }`]);
    }
    const { tokens, retention_days: days, ...rest } = entry as Record<string, unknown>;
    const limits: TenantLimitOverrides = {};
    for (const [key, v] of Object.entries(rest)) {
      if (!(key in TENANT_LIMIT_KEYS)) continue;
      delete rest[key];
      if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 1) {
        throw new ConfigError([`TENANTS_FILE ${path}: tenant '${tenant}': ${key} must be a whole number of at least 1, not ${JSON.stringify(v)}`]);
      }
      limits[key as TenantLimitKey] = v;
    }
    const unknown = Object.keys(rest);
    if (unknown.length > 0) {
      throw new ConfigError([`TENANTS_FILE ${path}: tenant '${tenant}' has unknown key(s) ${unknown.join(', ')} (expected tokens, retention_days, ${Object.keys(TENANT_LIMIT_KEYS).join(', ')})`]);
    }
    if (!isDigestList(tokens)) throw new ConfigError([`TENANTS_FILE ${path}: tenant '${tenant}': tokens must be a list of digests`]);
    out.digests[tenant] = tokens;
    if (days !== undefined) out.retention[tenant] = parseRetentionDays(days, `TENANTS_FILE ${path}: tenant '${tenant}': retention_days`);
    if (Object.keys(limits).length > 0) out.limits[tenant] = limits;
  }
  return out;
}

/** A retention in days (a positive integer) or `forever`. */
export function parseRetentionDays(v: unknown, what: string): RetentionOverride {
  if (v === 'forever') return 'forever';
  const n = typeof v === 'number' ? v : typeof v === 'string' && /^\d+$/.test(v.trim()) ? Number(v) : NaN;
  if (!Number.isInteger(n) || n < 1) throw new ConfigError([`${what} must be a whole number of days (at least 1) or 'forever', not ${JSON.stringify(v)}`]);
  return n;
}

/** Reads TENANTS_FILE's token digests by tenant. */
export function readTenantsFile(path: string): Record<string, string[]> {
  return readTenantsFileEntries(path).digests;
}


/** One tenant's limits: the settings' values, with its tenants-file entry's overrides. */
export type TenantLimits = Record<TenantLimitKey, number>;

/**
 * The limits of every tenant, resolved once from the settings and TENANTS_FILE; a tenant the
 * file does not list (or TENANT_TOKENS' tenants) gets the settings' values.
 */
export function tenantLimitsFromConfig(
  cfg: { TENANTS_FILE?: string | undefined } & Record<(typeof TENANT_LIMIT_KEYS)[TenantLimitKey], number>,
): (tenant: string) => TenantLimits {
  const defaults = Object.fromEntries(Object.entries(TENANT_LIMIT_KEYS).map(([key, setting]) => [key, cfg[setting]])) as TenantLimits;
  const overrides = cfg.TENANTS_FILE ? readTenantsFileEntries(cfg.TENANTS_FILE).limits : {};
  const resolved = new Map<string, TenantLimits>(Object.entries(overrides).map(([t, o]) => [t, { ...defaults, ...o }]));
  return (tenant) => resolved.get(tenant) ?? defaults;
}
