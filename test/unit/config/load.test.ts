import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../../src/config/load.js';

describe('loadConfig', () => {
  it('applies the documented defaults', () => {
    const cfg = loadConfig({});
    expect(cfg.BUFFER_SIZE_MB).toBe(100);
    expect(cfg.BUFFER_TIME_SECONDS).toBe(300);
    expect(cfg.REDPANDA_BROKERS).toEqual(['127.0.0.1:9092']);
    expect(cfg.REDPANDA_TOPIC).toBe('otel-logs');
    expect(cfg.TOPIC_PARTITIONS).toBe(6);
    expect(cfg.AUTH_MODE).toBe('token');
    expect(Object.isFrozen(cfg)).toBe(true);
  });

  it('parses lists and numbers', () => {
    const cfg = loadConfig({ REDPANDA_BROKERS: 'a:1, b:2', BUFFER_SIZE_MB: '0.5', DUCKDB_ALLOW_EXTENSION_DOWNLOAD: 'true' });
    expect(cfg.REDPANDA_BROKERS).toEqual(['a:1', 'b:2']);
    expect(cfg.BUFFER_SIZE_MB).toBe(0.5);
    expect(cfg.DUCKDB_ALLOW_EXTENSION_DOWNLOAD).toBe(true);
  });

  it('names every bad variable', () => {
    try {
      loadConfig({ BUFFER_SIZE_MB: 'lots', INGESTER_HTTP_PORT: '70000', ICEBERG_CATALOG_URI: 'not a url' });
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(ConfigError);
      const msg = (e as Error).message;
      expect(msg).toContain('BUFFER_SIZE_MB');
      expect(msg).toContain('INGESTER_HTTP_PORT');
      expect(msg).toContain('ICEBERG_CATALOG_URI');
    }
  });

  it('parses PIPELINES and refuses unknown pipelines', () => {
    expect(loadConfig({}).PIPELINES).toEqual(['lake']);
    expect(loadConfig({ PIPELINES: 'lake, prometheus' }).PIPELINES).toEqual(['lake', 'prometheus']);
    expect(() => loadConfig({ PIPELINES: 'lake,kafka-connect' })).toThrow(/PIPELINES/);
    expect(() => loadConfig({ PIPELINES: ',' })).toThrow(/PIPELINES/);
  });

  it('still reads SINKS, the former name of PIPELINES, but not beside it', () => {
    expect(loadConfig({ SINKS: 'lake,loki' }).PIPELINES).toEqual(['lake', 'loki']);
    expect(() => loadConfig({ SINKS: 'lake', PIPELINES: 'lake' })).toThrow(/SINKS: the former name of PIPELINES; set PIPELINES only/);
  });

  it('ignores unrelated and empty variables', () => {
    expect(loadConfig({ PATH: '/bin', BUFFER_SIZE_MB: '' }).BUFFER_SIZE_MB).toBe(100);
  });

  it('requires DEFAULT_TENANT with AUTH_MODE=none, and a valid one', () => {
    expect(() => loadConfig({ AUTH_MODE: 'none' })).toThrow(/DEFAULT_TENANT/);
    expect(() => loadConfig({ AUTH_MODE: 'none', DEFAULT_TENANT: 'Bad Tenant' })).toThrow(/DEFAULT_TENANT/);
    expect(loadConfig({ AUTH_MODE: 'none', DEFAULT_TENANT: 'demo' }).DEFAULT_TENANT).toBe('demo');
  });

  it('refuses a variable close to a setting, or with one of our prefixes, naming the closest setting', () => {
    for (const [typo, closest] of [
      ['BUFFER_SIZE_MBS', 'BUFFER_SIZE_MB'],
      ['BUFER_SIZE_MB', 'BUFFER_SIZE_MB'],
      ['TENANT_TOKEN', 'TENANT_TOKENS'],
      ['ICEBERG_CATALOG_URL', 'ICEBERG_CATALOG_URI'],
      ['MAINTENANCE_EVERY', 'MAINTENANCE_TASKS'],
    ] as const) {
      let err: unknown;
      try {
        loadConfig({ [typo]: '1' });
      } catch (e) {
        err = e;
      }
      expect(err, typo).toBeInstanceOf(ConfigError);
      expect((err as ConfigError).message, typo).toContain(`${typo}: not a setting of this service; did you mean ${closest}?`);
    }
  });

  it('leaves other programs’ variables and Kubernetes service links alone', () => {
    const env = {
      HOME: '/root', HOSTNAME: 'appender-0', NODE_VERSION: '20', JAVA_HOME: '/opt/java', LANG: 'C.UTF-8',
      npm_package_name: 'otel-lakehouse', OPENSEARCH_JAVA_HOME: '/usr/lib/jvm/x', STACK_S3_BUCKET: 'warehouse', TEST_LOG_LEVEL: 'warn',
      LOKI_URL: 'http://127.0.0.1:3100', PROMETHEUS_URL: 'http://127.0.0.1:9090',
      APPENDER_PORT: 'tcp://10.0.0.3:9464', APPENDER_SERVICE_HOST: '10.0.0.3', APPENDER_SERVICE_PORT: '9464',
      REDPANDA_PORT_9092_TCP: 'tcp://10.0.0.4:9092', REDPANDA_PORT_9092_TCP_ADDR: '10.0.0.4', REDPANDA_SERVICE_PORT_KAFKA: '9092',
    };
    expect(loadConfig(env).BUFFER_SIZE_MB).toBe(100);
  });
});
