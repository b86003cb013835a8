import { describe, expect, it } from 'vitest';
import type { LogRow } from '../../../src/otlp/logs-mapping.js';
import { streamLabels, structuredMetadata, toStreams } from '../../../src/sinks/loki/sink.js';

function row(over: Partial<LogRow>): LogRow {
  return {
    timestamp: 1_700_000_000_000_000n, observedTimestamp: null, tenantId: 'acme', severity: 'ERROR', severityNumber: 17, eventName: null, body: 'boom', bodyType: 'string',
    traceId: null, spanId: null, traceFlags: null, serviceName: 'api', deploymentEnvironment: 'prod', hostName: 'h1', scopeName: null, scopeVersion: null,
    attributes: new Map(), droppedAttributesCount: null, resourceAttributes: new Map(), resourceDroppedAttributesCount: null, resourceSchemaUrl: null,
    scopeAttributes: new Map(), scopeDroppedAttributesCount: null, scopeSchemaUrl: null, ...over,
  };
}

describe('Loki streams', () => {
  it('labels streams only with service, environment and severity', () => {
    expect(streamLabels(row({}))).toEqual({ service_name: 'api', deployment_environment: 'prod', severity: 'error' });
    expect(streamLabels(row({ serviceName: null, deploymentEnvironment: null, severity: null }))).toEqual({ service_name: 'unknown_service' });
  });

  it('keeps ids, host and attributes as structured metadata with sanitized names', () => {
    const md = structuredMetadata(row({ traceId: 'ab', spanId: 'cd', attributes: new Map([['http.route', '/x'], ['user-id', '7']]) }));
    expect(md).toEqual({ http_route: '/x', user_id: '7', trace_id: 'ab', span_id: 'cd', host_name: 'h1' });
  });

  it('carries the event name, flags, scope, dropped count and a non-string body kind; record attributes win over scope attributes', () => {
    const md = structuredMetadata(row({
      eventName: 'checkout.failed', traceFlags: 1, scopeName: 'lib', scopeVersion: '2.0', droppedAttributesCount: 3, bodyType: 'kvlist',
      scopeAttributes: new Map([['lib.feature', 'on'], ['k', 'scope']]), attributes: new Map([['k', 'record']]),
    }));
    expect(md).toEqual({ lib_feature: 'on', k: 'record', trace_flags: '1', event_name: 'checkout.failed', host_name: 'h1', scope_name: 'lib', scope_version: '2.0', dropped_attributes_count: '3', body_type: 'kvlist' });
  });

  it('groups rows by labels and orders each stream by time, in nanoseconds', () => {
    const streams = toStreams([
      row({ timestamp: 3n, body: 'c' }),
      row({ timestamp: 1n, body: 'a', severity: 'INFO' }),
      row({ timestamp: 2n, body: 'b' }),
    ]);
    expect(streams.map((s) => [s.stream.severity, s.values.map((v) => [v[0], v[1]])])).toEqual([
      ['error', [['2000', 'b'], ['3000', 'c']]],
      ['info', [['1000', 'a']]],
    ]);
  });
});
