import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { TENANT_ID_PATTERN } from '../config/schema.js';

/** Maps a bearer token to a tenant id, or null when the token is unknown. */
export interface TenantResolver {
  resolve(authorization: string | undefined): string | null;
}

export function sha256Hex(s: string): string {
  return createHash('sha256').update(s, 'utf8').digest('hex');
}

function checkTenant(tenant: string, source: string): string {
  if (!TENANT_ID_PATTERN.test(tenant)) {
    throw new Error(`${source}: tenant id '${tenant}' does not match ${TENANT_ID_PATTERN}`);
  }
  return tenant;
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
        if (!/^[0-9a-f]{64}$/i.test(d)) throw new Error(`tenants: digest for '${tenant}' is not a SHA-256 hex digest`);
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

/** Parses TENANT_TOKENS (`tenant=token,tenant=token`) into digests by tenant. */
export function parseTenantTokens(spec: string): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  const parts = spec.split(',').map((s) => s.trim()).filter(Boolean);
  for (const [i, part] of parts.entries()) {
    const eq = part.indexOf('=');
    // The entry itself is never echoed: it may hold a token.
    if (eq <= 0 || eq === part.length - 1) throw new Error(`TENANT_TOKENS: entry ${i + 1} is not tenant=token`);
    const tenant = checkTenant(part.slice(0, eq), 'TENANT_TOKENS');
    (out[tenant] ??= []).push(sha256Hex(part.slice(eq + 1)));
  }
  return out;
}

/** Reads TENANTS_FILE: JSON or YAML mapping each tenant to a list of token SHA-256 digests. */
export function readTenantsFile(path: string): Record<string, string[]> {
  let raw: unknown;
  try {
    raw = parseYaml(readFileSync(path, 'utf8')) as unknown; // YAML is a superset of JSON
  } catch (e) {
    throw new Error(`TENANTS_FILE ${path}: ${(e as Error).message}`);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new Error(`TENANTS_FILE ${path}: expected an object of tenant -> list of token digests`);
  }
  const out: Record<string, string[]> = {};
  for (const [tenant, digests] of Object.entries(raw)) {
    if (!Array.isArray(digests) || !digests.every((d) => typeof d === 'string')) {
      throw new Error(`TENANTS_FILE ${path}: tenant '${tenant}' must map to a list of digests`);
    }
    out[tenant] = digests as string[];
  }
  return out;
}

/** The resolver the configuration asks for. */
export function tenantResolverFromConfig(cfg: {
  AUTH_MODE: 'token' | 'none';
  DEFAULT_TENANT?: string | undefined;
  TENANT_TOKENS?: string | undefined;
  TENANTS_FILE?: string | undefined;
}): TenantResolver {
  if (cfg.AUTH_MODE === 'none') return new FixedTenantResolver(cfg.DEFAULT_TENANT!);
  const digests: Record<string, string[]> = {};
  const merge = (src: Record<string, string[]>) => {
    for (const [t, ds] of Object.entries(src)) (digests[t] ??= []).push(...ds);
  };
  if (cfg.TENANTS_FILE) merge(readTenantsFile(cfg.TENANTS_FILE));
  if (cfg.TENANT_TOKENS) merge(parseTenantTokens(cfg.TENANT_TOKENS));
  if (Object.keys(digests).length === 0) {
    throw new Error('AUTH_MODE=token needs TENANTS_FILE or TENANT_TOKENS');
  }
  return new DigestTenantResolver(digests);
}
