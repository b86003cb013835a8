import { ConfigError } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { TENANT_ID_PATTERN } from '../config/schema.js';
import { parseRetentionDays, parseTenantTokens, readTenantsFileEntries, type RetentionOverride } from '../config/tenants.js';

/** How long each tenant's logs are kept: a default and per-tenant overrides, in whole days. */
export interface RetentionPolicy {
  /** days for every tenant without an override; undefined keeps them forever */
  defaultDays: number | undefined;
  /** per-tenant days, or null for forever */
  tenants: Record<string, number | null>;
}

/**
 * The retention policy of the configuration: RETENTION_DAYS, the tenants file's
 * `retention_days`, then RETENTION_TENANT_DAYS (`tenant=days|forever,…`), which wins. A tenant
 * named in RETENTION_TENANT_DAYS must be a known tenant when tenants are configured. Retention
 * must be longer than BUFFER_TIME_SECONDS, or rows could expire before they are committed.
 */
export function retentionPolicy(cfg: Config): RetentionPolicy {
  const problems: string[] = [];
  const overrides = new Map<string, RetentionOverride>();
  const known = new Set<string>();
  try {
    if (cfg.TENANTS_FILE) {
      const file = readTenantsFileEntries(cfg.TENANTS_FILE);
      for (const t of Object.keys(file.digests)) known.add(t);
      for (const [t, d] of Object.entries(file.retention)) overrides.set(t, d);
    }
    if (cfg.TENANT_TOKENS) for (const t of Object.keys(parseTenantTokens(cfg.TENANT_TOKENS))) known.add(t);
  } catch (e) {
    problems.push(...(e instanceof ConfigError ? e.problems : [(e as Error).message]));
  }
  if (cfg.DEFAULT_TENANT) known.add(cfg.DEFAULT_TENANT);
  if (cfg.RETENTION_TENANT_DAYS) {
    const parts = cfg.RETENTION_TENANT_DAYS.split(',').map((s) => s.trim()).filter(Boolean);
    for (const part of parts) {
      const eq = part.indexOf('=');
      const tenant = eq > 0 ? part.slice(0, eq) : '';
      if (!TENANT_ID_PATTERN.test(tenant)) {
        problems.push(`RETENTION_TENANT_DAYS: '${part}' is not tenant=days or tenant=forever with a valid tenant id`);
        continue;
      }
      if (known.size > 0 && !known.has(tenant)) {
        problems.push(`RETENTION_TENANT_DAYS: tenant '${tenant}' is not a configured tenant (TENANTS_FILE, TENANT_TOKENS or DEFAULT_TENANT)`);
        continue;
      }
      try {
        overrides.set(tenant, parseRetentionDays(part.slice(eq + 1), `RETENTION_TENANT_DAYS: tenant '${tenant}'`));
      } catch (e) {
        problems.push(...(e instanceof ConfigError ? e.problems : [(e as Error).message]));
      }
    }
  }
  const tooShort = (days: number, name: string) => {
    if (days * 86_400 <= cfg.BUFFER_TIME_SECONDS) {
      problems.push(`${name}: ${days} day(s) is not longer than BUFFER_TIME_SECONDS (${cfg.BUFFER_TIME_SECONDS} s): rows could expire before they are committed`);
    }
  };
  if (cfg.RETENTION_DAYS !== undefined) tooShort(cfg.RETENTION_DAYS, 'RETENTION_DAYS');
  const tenants: Record<string, number | null> = {};
  for (const [t, d] of overrides) {
    if (d !== 'forever') tooShort(d, `retention of tenant '${t}'`);
    tenants[t] = d === 'forever' ? null : d;
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return { defaultDays: cfg.RETENTION_DAYS, tenants };
}
