import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../../src/config/load.js';
import { buildJob } from '../../../src/maintainer/iceberg-tasks.js';
import { retentionPolicy } from '../../../src/maintainer/retention.js';
import { sha256Hex } from '../../../src/config/tenants.js';

const policyOf = (env: Record<string, string>) => retentionPolicy(loadConfig(env));
const problemOf = (f: () => unknown): string => {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as Error).message;
  }
  throw new Error('expected a configuration error');
};

describe('maintenance settings', () => {
  it('has defaults for every setting', () => {
    const cfg = loadConfig({});
    expect(cfg.MAINTENANCE_SNAPSHOT_MAX_AGE).toBe(3_600_000);
    expect(cfg.MAINTENANCE_ORPHAN_MIN_AGE).toBe(86_400_000);
    expect(cfg.MAINTENANCE_TASKS).toEqual(['retention', 'offsets', 'digests', 'compact', 'manifests', 'expire', 'orphans']);
    expect(policyOf({})).toEqual({ defaultDays: undefined, tenants: {} });
  });

  it('reads durations with units', () => {
    const cfg = loadConfig({ MAINTENANCE_SNAPSHOT_MAX_AGE: '90s', MAINTENANCE_ORPHAN_MIN_AGE: '7d' });
    expect(cfg.MAINTENANCE_SNAPSHOT_MAX_AGE).toBe(90_000);
    expect(cfg.MAINTENANCE_ORPHAN_MIN_AGE).toBe(7 * 86_400_000);
  });

  it.each([
    ['MAINTENANCE_SNAPSHOT_MAX_AGE', '-1h'],
    ['MAINTENANCE_ORPHAN_MIN_AGE', '-5m'],
    ['MAINTENANCE_ORPHAN_MIN_AGE', 'soon'],
    ['MAINTENANCE_KEEP_SNAPSHOTS', '0'],
    ['MAINTENANCE_TARGET_FILE_MB', '-128'],
    ['MAINTENANCE_INTERVAL_SECONDS', '-1'],
    ['MAINTENANCE_TASKS', 'compact,vacuum'],
    ['RETENTION_DAYS', '-3'],
    ['RETENTION_DAYS', '0'],
  ])('refuses %s=%s, naming the variable', (name, value) => {
    expect(problemOf(() => loadConfig({ [name]: value }))).toContain(name);
  });

  it('refuses a retention shorter than the buffer', () => {
    expect(problemOf(() => policyOf({ RETENTION_DAYS: '1', BUFFER_TIME_SECONDS: '172800' }))).toMatch(/RETENTION_DAYS: 1 day\(s\) is not longer than BUFFER_TIME_SECONDS/);
    expect(problemOf(() => policyOf({ RETENTION_TENANT_DAYS: 'acme=1', BUFFER_TIME_SECONDS: '100000', TENANT_TOKENS: 'acme=t' }))).toMatch(/retention of tenant 'acme'/);
  });

  it('refuses an override for a tenant that is not configured, naming the variable', () => {
    const msg = problemOf(() => policyOf({ TENANT_TOKENS: 'acme=a,beta=b', RETENTION_TENANT_DAYS: 'acme=7,gamma=3' }));
    expect(msg).toContain('RETENTION_TENANT_DAYS');
    expect(msg).toContain("'gamma'");
  });

  it('refuses malformed overrides', () => {
    expect(problemOf(() => policyOf({ RETENTION_TENANT_DAYS: 'acme' }))).toContain('RETENTION_TENANT_DAYS');
    expect(problemOf(() => policyOf({ RETENTION_TENANT_DAYS: 'acme=-2' }))).toContain('RETENTION_TENANT_DAYS');
    expect(problemOf(() => policyOf({ RETENTION_TENANT_DAYS: 'Bad Tenant=3' }))).toContain('RETENTION_TENANT_DAYS');
  });

  it('takes per-tenant retention from the tenants file, and RETENTION_TENANT_DAYS over it', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tenants-'));
    const file = join(dir, 'tenants.yaml');
    writeFileSync(file, [
      `acme: { tokens: ["${sha256Hex('a')}"], retention_days: 30 }`,
      `beta: { tokens: ["${sha256Hex('b')}"], retention_days: forever }`,
      `gamma: ["${sha256Hex('c')}"]`,
    ].join('\n'));
    expect(policyOf({ TENANTS_FILE: file, RETENTION_DAYS: '90' })).toEqual({ defaultDays: 90, tenants: { acme: 30, beta: null } });
    expect(policyOf({ TENANTS_FILE: file, RETENTION_TENANT_DAYS: 'acme=7,gamma=forever' })).toEqual({ defaultDays: undefined, tenants: { acme: 7, beta: null, gamma: null } });
    writeFileSync(file, `acme: { tokens: ["${sha256Hex('a')}"], retention_days: -1 }`);
    expect(problemOf(() => policyOf({ TENANTS_FILE: file }))).toMatch(/TENANTS_FILE .*retention_days/);
    writeFileSync(file, `acme: { tokens: ["${sha256Hex('a')}"], keep: 3 }`);
    expect(problemOf(() => policyOf({ TENANTS_FILE: file }))).toMatch(/TENANTS_FILE .*unknown key/);
  });

  it('orders each table\'s tasks: retention before compaction, expiry before orphan removal; never retention on the offsets, whose superseded rows the offsets task drops, nor compaction of the digests, which their own task keeps in one file', () => {
    const cfg = loadConfig({ RETENTION_DAYS: '30' });
    const job = buildJob(cfg, retentionPolicy(cfg), 0) as { tasks: { task: string; table: string }[] };
    expect(job.tasks.map((t) => `${t.table}:${t.task}`)).toEqual([
      'logs:properties', 'logs:retention', 'logs:compact', 'logs:manifests', 'logs:expire', 'logs:orphans',
      'appender_offsets:properties', 'appender_offsets:offsets', 'appender_offsets:compact', 'appender_offsets:manifests', 'appender_offsets:expire', 'appender_offsets:orphans',
      'appender_digests:properties', 'appender_digests:digests', 'appender_digests:manifests', 'appender_digests:expire', 'appender_digests:orphans',
    ]);
  });
});
