import { describe, expect, it } from 'vitest';
import {
  anyValueToString,
  mapLogsRequest,
  nanosToMicros,
  severityFromNumber,
} from '../../../src/otlp/logs-mapping.js';
import { decodeLogsRequest } from '../../../src/otlp/codec.js';
import { kv, viaWire } from '../../helpers/otlp.js';

const RECEIVED = 1_700_000_000_000_000n; // µs

function oneRecord(record: Record<string, unknown>, resource: unknown[] = [], scope: unknown = { name: 's', version: 'v' }, more: { resource?: object; resourceLogs?: object; scopeLogs?: object } = {}) {
  return viaWire({
    resourceLogs: [{ resource: { attributes: resource, ...more.resource }, scopeLogs: [{ scope, logRecords: [record], ...more.scopeLogs }], ...more.resourceLogs }],
  } as never);
}

describe('mapLogsRequest', () => {
  it('maps every column of a full record', () => {
    const req = oneRecord(
      {
        timeUnixNano: '1700000000123456789',
        observedTimeUnixNano: '1700000001000000000',
        severityNumber: 17,
        severityText: 'Err',
        body: { stringValue: 'boom' },
        traceId: Buffer.from('0102030405060708090a0b0c0d0e0f10', 'hex'),
        spanId: Buffer.from('1112131415161718', 'hex'),
        attributes: [kv('http.route', '/x')],
        droppedAttributesCount: 2,
        flags: 0x101,
        eventName: 'checkout.failed',
      },
      [kv('service.name', 'api'), kv('host.name', 'h1'), kv('deployment.environment.name', 'prod'), kv('k8s.pod.name', 'p')],
      { name: 'lib', version: '2.0', attributes: [kv('lib.feature', 'on')], droppedAttributesCount: 3 },
      { resource: { droppedAttributesCount: 4 }, resourceLogs: { schemaUrl: 'https://opentelemetry.io/schemas/1.26.0' }, scopeLogs: { schemaUrl: 'https://opentelemetry.io/schemas/1.21.0' } },
    );
    const [row] = mapLogsRequest(req, 'acme', RECEIVED);
    expect(row).toEqual({
      timestamp: 1_700_000_000_123_456n,
      observedTimestamp: 1_700_000_001_000_000n,
      tenantId: 'acme',
      severity: 'Err',
      severityNumber: 17,
      eventName: 'checkout.failed',
      body: 'boom',
      bodyType: 'string',
      traceId: '0102030405060708090a0b0c0d0e0f10',
      spanId: '1112131415161718',
      traceFlags: 0x101,
      serviceName: 'api',
      deploymentEnvironment: 'prod',
      hostName: 'h1',
      scopeName: 'lib',
      scopeVersion: '2.0',
      attributes: new Map([['http.route', '/x']]),
      droppedAttributesCount: 2,
      resourceAttributes: new Map([['k8s.pod.name', 'p']]),
      resourceDroppedAttributesCount: 4,
      resourceSchemaUrl: 'https://opentelemetry.io/schemas/1.26.0',
      scopeAttributes: new Map([['lib.feature', 'on']]),
      scopeDroppedAttributesCount: 3,
      scopeSchemaUrl: 'https://opentelemetry.io/schemas/1.21.0',
    });
  });

  it('writes non-string attribute values as JSON', () => {
    const req = oneRecord({
      attributes: [
        kv('int', { intValue: 502 }),
        kv('big', { intValue: '9007199254740993' }),
        kv('neg', { intValue: -5 }),
        kv('bool', { boolValue: false }),
        kv('double', { doubleValue: 1.5 }),
        kv('empty-string', { stringValue: '' }),
        kv('array', { arrayValue: { values: [{ stringValue: 'a' }, { intValue: 1 }] } }),
        kv('map', { kvlistValue: { values: [kv('k', { boolValue: true })] } }),
        kv('bytes', { bytesValue: Buffer.from([1, 2, 3]) }),
        { key: 'unset' },
      ],
    });
    const [row] = mapLogsRequest(req, 't', RECEIVED);
    expect(Object.fromEntries(row!.attributes)).toEqual({
      int: '502',
      big: '"9007199254740993"',
      neg: '-5',
      bool: 'false',
      double: '1.5',
      'empty-string': '',
      array: '["a",1]',
      map: '{"k":true}',
      bytes: '"AQID"',
      unset: '',
    });
  });

  it('keeps the last value of a repeated attribute key', () => {
    const [row] = mapLogsRequest(oneRecord({ attributes: [kv('k', '1'), kv('k', '2')] }), 't', RECEIVED);
    expect(row!.attributes).toEqual(new Map([['k', '2']]));
  });

  it('falls back to the observed time, then to the receive time', () => {
    const observedOnly = oneRecord({ observedTimeUnixNano: '1700000005000000000' });
    expect(mapLogsRequest(observedOnly, 't', RECEIVED)[0]!.timestamp).toBe(1_700_000_005_000_000n);
    const neither = oneRecord({ body: { stringValue: 'x' } });
    const [row] = mapLogsRequest(neither, 't', RECEIVED);
    expect(row!.timestamp).toBe(RECEIVED);
    expect(row!.observedTimestamp).toBeNull();
  });

  it('derives severity from severity_number when there is no text', () => {
    const cases: [number, string | null][] = [[0, null], [1, 'TRACE'], [5, 'DEBUG'], [9, 'INFO'], [12, 'INFO'], [13, 'WARN'], [17, 'ERROR'], [24, 'FATAL']];
    for (const [n, text] of cases) {
      const [row] = mapLogsRequest(oneRecord({ severityNumber: n }), 't', RECEIVED);
      expect(row!.severity).toBe(text);
      expect(row!.severityNumber).toBe(n === 0 ? null : n);
    }
    expect(severityFromNumber(25)).toBeNull();
  });

  it('maps bodies: absent is null, empty string stays, structured becomes JSON', () => {
    expect(mapLogsRequest(oneRecord({}), 't', RECEIVED)[0]!.body).toBeNull();
    expect(mapLogsRequest(oneRecord({ body: { stringValue: '' } }), 't', RECEIVED)[0]!.body).toBe('');
    const structured = oneRecord({ body: { kvlistValue: { values: [kv('a', { intValue: 1 }), kv('b', 'x')] } } });
    expect(mapLogsRequest(structured, 't', RECEIVED)[0]!.body).toBe('{"a":1,"b":"x"}');
  });

  it('prefers deployment.environment.name over deployment.environment, and keeps the other in the map', () => {
    const both = oneRecord({}, [kv('deployment.environment', 'old'), kv('deployment.environment.name', 'new')]);
    const [a] = mapLogsRequest(both, 't', RECEIVED);
    expect(a!.deploymentEnvironment).toBe('new');
    expect(Object.fromEntries(a!.resourceAttributes)).toEqual({ 'deployment.environment': 'old' });
    // a promoted key without a value fills no column, so it stays in the map
    const unset = oneRecord({}, [{ key: 'service.name' }, kv('host.name', 'h')]);
    const [u] = mapLogsRequest(unset, 't', RECEIVED);
    expect([u!.serviceName, u!.hostName, Object.fromEntries(u!.resourceAttributes)]).toEqual([null, 'h', { 'service.name': '' }]);
    const legacy = oneRecord({}, [kv('deployment.environment', 'staging')]);
    expect(mapLogsRequest(legacy, 't', RECEIVED)[0]!.deploymentEnvironment).toBe('staging');
  });

  it('names the kind of every body in body_type', () => {
    const kinds: [unknown, string | null, string | null][] = [
      [{ stringValue: '42' }, '42', 'string'],
      [{ intValue: 42 }, '42', 'int'],
      [{ intValue: '-9223372036854775808' }, '"-9223372036854775808"', 'int'],
      [{ doubleValue: 0.5 }, '0.5', 'double'],
      [{ doubleValue: Number.NaN }, '"NaN"', 'double'],
      [{ boolValue: true }, 'true', 'bool'],
      [{ bytesValue: Buffer.from('hi') }, '"aGk="', 'bytes'],
      [{ arrayValue: { values: [{ stringValue: 'a' }, { intValue: 1 }, {}] } }, '["a",1,null]', 'array'],
      [{ kvlistValue: { values: [kv('k', { boolValue: false })] } }, '{"k":false}', 'kvlist'],
      [{}, null, null],
      [undefined, null, null],
    ];
    for (const [body, text, kind] of kinds) {
      const [row] = mapLogsRequest(oneRecord(body === undefined ? {} : { body }), 't', RECEIVED);
      expect([row!.body, row!.bodyType], JSON.stringify(body)).toEqual([text, kind]);
    }
  });

  it('leaves empty ids, scope and resource as nulls', () => {
    const req = viaWire({ resourceLogs: [{ scopeLogs: [{ logRecords: [{ traceId: new Uint8Array(0) }] }] }] } as never);
    const [row] = mapLogsRequest(req, 't', RECEIVED);
    expect([row!.traceId, row!.spanId, row!.scopeName, row!.scopeVersion, row!.serviceName]).toEqual([null, null, null, null, null]);
  });

  it('maps every record of every resource and scope', () => {
    const req = viaWire({
      resourceLogs: [
        { resource: { attributes: [kv('service.name', 'a')] }, scopeLogs: [{ logRecords: [{}, {}] }, { logRecords: [{}] }] },
        { resource: { attributes: [kv('service.name', 'b')] }, scopeLogs: [{ logRecords: [{}] }] },
      ],
    } as never);
    expect(mapLogsRequest(req, 't', RECEIVED).map((r) => r.serviceName)).toEqual(['a', 'a', 'a', 'b']);
  });

  it('rejects a truncated request at decode', () => {
    expect(() => decodeLogsRequest(Buffer.from([0x0a, 0xff, 0x01]))).toThrow();
  });
});

describe('helpers', () => {
  it('converts nanoseconds to microseconds without losing precision', () => {
    expect(nanosToMicros({ low: 0xffffffff, high: 0x7fffffff, toString: () => '' })).toBe(((2n ** 63n) - 1n) / 1000n);
    expect(nanosToMicros(0)).toBeNull();
    expect(nanosToMicros(undefined)).toBeNull();
  });
  it('anyValueToString of nothing is null', () => {
    expect(anyValueToString(undefined)).toBeNull();
    expect(anyValueToString({})).toBeNull();
  });
});
