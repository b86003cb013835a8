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

export interface TenantsFile {
  digests: Record<string, string[]>;
  retention: Record<string, RetentionOverride>;
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
  const out: TenantsFile = { digests: {}, retention: {} };
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
    const unknown = Object.keys(rest);
    if (unknown.length > 0) throw new ConfigError([`TENANTS_FILE ${path}: tenant '${tenant}' has unknown key(s) ${unknown.join(', ')} (expected tokens, retention_days)`]);
    if (!isDigestList(tokens)) throw new ConfigError([`TENANTS_FILE ${path}: tenant '${tenant}': tokens must be a list of digests`]);
    out.digests[tenant] = tokens;
    if (days !== undefined) out.retention[tenant] = parseRetentionDays(days, `TENANTS_FILE ${path}: tenant '${tenant}': retention_days`);
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

