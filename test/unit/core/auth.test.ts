import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tenantResolverFromConfig } from '../../../src/core/auth.js';
import { parseTenantTokens, sha256Hex } from '../../../src/config/tenants.js';

describe('tenant resolution', () => {
  const resolver = tenantResolverFromConfig({ AUTH_MODE: 'token', TENANT_TOKENS: 'acme=tok-a,beta=tok-b,acme=tok-a2' });

  it('maps each token to its tenant', () => {
    expect(resolver.resolve('Bearer tok-a')).toBe('acme');
    expect(resolver.resolve('Bearer tok-a2')).toBe('acme');
    expect(resolver.resolve('bearer tok-b')).toBe('beta');
  });

  it('refuses missing, malformed and unknown tokens', () => {
    for (const h of [undefined, '', 'tok-a', 'Basic tok-a', 'Bearer', 'Bearer tok-c', 'Bearer tok-a extra']) {
      expect(resolver.resolve(h)).toBeNull();
    }
  });

  it('reads token digests from TENANTS_FILE', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tenants-'));
    const file = join(dir, 'tenants.json');
    writeFileSync(file, JSON.stringify({ gamma: [sha256Hex('secret-g')] }));
    const r = tenantResolverFromConfig({ AUTH_MODE: 'token', TENANTS_FILE: file });
    expect(r.resolve('Bearer secret-g')).toBe('gamma');
    expect(r.resolve(`Bearer ${sha256Hex('secret-g')}`)).toBeNull();
  });

  it('reads a YAML TENANTS_FILE, and names the file when it is malformed', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tenants-'));
    const file = join(dir, 'tenants.yaml');
    writeFileSync(file, `acme:\n  - ${sha256Hex('a1')}\n  - ${sha256Hex('a2')}\nbeta: [${sha256Hex('b1')}]\n`);
    const r = tenantResolverFromConfig({ AUTH_MODE: 'token', TENANTS_FILE: file });
    expect([r.resolve('Bearer a1'), r.resolve('Bearer a2'), r.resolve('Bearer b1')]).toEqual(['acme', 'acme', 'beta']);
    writeFileSync(file, 'acme: [not-a-digest]\n');
    expect(() => tenantResolverFromConfig({ AUTH_MODE: 'token', TENANTS_FILE: file })).toThrow(/not a SHA-256 hex digest/);
    writeFileSync(file, 'acme: [unclosed\n');
    expect(() => tenantResolverFromConfig({ AUTH_MODE: 'token', TENANTS_FILE: file })).toThrow(/TENANTS_FILE .*tenants.yaml/);
  });

  it('rejects tenant ids outside the allowed pattern', () => {
    for (const bad of ['Acme', 'a b', '-x', 'x'.repeat(64), 'a/b', 'a\nb']) {
      expect(() => parseTenantTokens(`${bad}=t`)).toThrow(/does not match/);
    }
    expect(() => parseTenantTokens('justatoken')).toThrow(/entry 1 is not tenant=token/);
  });

  it('never echoes a token in its errors', () => {
    for (const spec of ['=super-secret-token', 'acme=ok,super-secret-token', 'acme=']) {
      expect(() => parseTenantTokens(spec)).toThrow(/is not tenant=token/);
      try {
        parseTenantTokens(spec);
      } catch (e) {
        expect((e as Error).message).not.toContain('super-secret');
      }
    }
  });

  it('needs some tokens in token mode; AUTH_MODE=none uses the default tenant', () => {
    expect(() => tenantResolverFromConfig({ AUTH_MODE: 'token' })).toThrow(/TENANTS_FILE or TENANT_TOKENS/);
    expect(tenantResolverFromConfig({ AUTH_MODE: 'none', DEFAULT_TENANT: 'demo' }).resolve(undefined)).toBe('demo');
  });
});
