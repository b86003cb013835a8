import { createHash, timingSafeEqual } from 'node:crypto';
import { ConfigError } from '../config/load.js';
import { LakehouseError } from './errors.js';
import type { Logger } from '../telemetry/logger.js';
import { checkTenant, parseTenantTokens, readTenantsFile } from '../config/tenants.js';

/** Maps a bearer token to a tenant id, or null when the token is unknown. */
export interface TenantResolver {
  resolve(authorization: string | undefined): string | null;
}

/**
 * Tokens are known only by their SHA-256 digests; a presented token is hashed and compared
 * with every digest in constant time, so neither the token nor the match position leaks.
 */
export class DigestTenantResolver implements TenantResolver {
  private readonly entries: { tenant: string; digest: Buffer }[];

  constructor(digestsByTenant: Record<string, string[]>) {
    this.entries = [];
    for (const [tenant, digests] of Object.entries(digestsByTenant)) {
      checkTenant(tenant, 'tenants');
      for (const d of digests) {
        if (!/^[0-9a-f]{64}$/i.test(d)) throw new ConfigError([`tenants: digest for '${tenant}' is not a SHA-256 hex digest`]);
        this.entries.push({ tenant, digest: Buffer.from(d.toLowerCase(), 'hex') });
      }
    }
  }

  resolve(authorization: string | undefined): string | null {
    const m = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(authorization ?? '');
    if (!m) return null;
    const presented = createHash('sha256').update(m[1]!, 'utf8').digest();
    let found: string | null = null;
    for (const e of this.entries) {
      if (timingSafeEqual(presented, e.digest) && found === null) found = e.tenant;
    }
    return found;
  }
}

/** Every request is the default tenant's (AUTH_MODE=none; local demos only). */
export class FixedTenantResolver implements TenantResolver {
  constructor(private readonly tenant: string) {
    checkTenant(tenant, 'DEFAULT_TENANT');
  }
  resolve(): string {
    return this.tenant;
  }
}

/** The tenant of a request's Authorization header; 401 when it has none or an unknown token. */
export function authenticate(tenants: TenantResolver, authorization: string | undefined): string {
  const tenant = tenants.resolve(authorization);
  if (!tenant) throw new LakehouseError('UNAUTHORIZED', 'missing or unknown bearer token');
  return tenant;
}

/** The resolver the configuration asks for; with `log`, AUTH_MODE=none is warned about there. */
export function tenantResolverFromConfig(
  cfg: {
    AUTH_MODE: 'token' | 'none';
    DEFAULT_TENANT?: string | undefined;
    TENANT_TOKENS?: string | undefined;
    TENANTS_FILE?: string | undefined;
  },
  log?: Logger,
): TenantResolver {
  if (cfg.AUTH_MODE === 'none') {
    log?.warn({ tenant: cfg.DEFAULT_TENANT }, 'AUTH_MODE=none: every request is taken as the default tenant\'s; use only for local demos');
    return new FixedTenantResolver(cfg.DEFAULT_TENANT!);
  }
  const digests: Record<string, string[]> = {};
  const merge = (src: Record<string, string[]>) => {
    for (const [t, ds] of Object.entries(src)) (digests[t] ??= []).push(...ds);
  };
  if (cfg.TENANTS_FILE) merge(readTenantsFile(cfg.TENANTS_FILE));
  if (cfg.TENANT_TOKENS) merge(parseTenantTokens(cfg.TENANT_TOKENS));
  if (Object.keys(digests).length === 0) {
    throw new ConfigError(['AUTH_MODE=token needs TENANTS_FILE or TENANT_TOKENS']);
  }
  return new DigestTenantResolver(digests);
}
