import { describe, expect, it } from 'vitest';
import { ExportMetricsServiceRequest } from '../../../src/otlp/codec.js';
import { convertOtlpMetrics, metricName, sanitizeName, unitSuffix, withTenant } from '../../../src/sinks/prometheus/convert.js';

const T = '1763800000000000000'; // ns → 1763800000000 ms
const kv = (key: string, v: string) => ({ key, value: { stringValue: v } });

function convert(metrics: unknown[], resource = [kv('service.name', 'api'), kv('service.instance.id', 'i-1'), kv('region', 'eu')]) {
  const req = ExportMetricsServiceRequest.decode(ExportMetricsServiceRequest.encode(ExportMetricsServiceRequest.fromObject({
    resourceMetrics: [{ resource: { attributes: resource }, scopeMetrics: [{ metrics }] }],
  })).finish());
  return convertOtlpMetrics(req as never, 'acme');
}
const labels = (s: { labels: { name: string; value: string }[] }) => Object.fromEntries(s.labels.map((l) => [l.name, l.value]));

describe('names', () => {
  it('sanitizes, adds unit and _total suffixes', () => {
    expect(sanitizeName('http.server.duration', true)).toBe('http_server_duration');
    expect(sanitizeName('9lives', false)).toBe('key_9lives');
    expect(unitSuffix('ms', false)).toBe('milliseconds');
    expect(unitSuffix('By/s', false)).toBe('bytes_per_second');
    expect(unitSuffix('{requests}', false)).toBe('');
    expect(unitSuffix('1', true)).toBe('ratio');
    expect(metricName('http.server.requests', '{request}', 'counter')).toBe('http_server_requests_total');
    expect(metricName('process.cpu.time', 's', 'counter')).toBe('process_cpu_time_seconds_total');
    expect(metricName('latency_seconds', 's', 'histogram')).toBe('latency_seconds');
  });
});

describe('convertOtlpMetrics', () => {
  it('turns a cumulative monotonic sum into a counter with job, instance and tenant labels, sorted', () => {
    const { series } = convert([{ name: 'requests', unit: '1', sum: { aggregationTemporality: 2, isMonotonic: true, dataPoints: [{ asInt: 7, timeUnixNano: T, attributes: [kv('http.route', '/x')] }] } }]);
    const counter = series.find((s) => labels(s).__name__ === 'requests_total')!;
    expect(labels(counter)).toEqual({ __name__: 'requests_total', http_route: '/x', instance: 'i-1', job: 'api', tenant_id: 'acme' });
    expect(counter.labels.map((l) => l.name)).toEqual([...counter.labels.map((l) => l.name)].sort());
    expect(counter.samples).toEqual([{ value: 7, timestamp: 1763800000000 }]);
    const info = series.find((s) => labels(s).__name__ === 'target_info')!;
    expect(labels(info)).toMatchObject({ region: 'eu', job: 'api', tenant_id: 'acme' });
  });

  it('writes histograms as cumulative buckets with +Inf, _sum and _count', () => {
    const { series } = convert([{ name: 'latency', unit: 'ms', histogram: { aggregationTemporality: 2, dataPoints: [{ timeUnixNano: T, count: 6, sum: 300, bucketCounts: [1, 2, 3], explicitBounds: [10, 100] }] } }]);
    const byName = series.filter((s) => labels(s).__name__ !== 'target_info').map((s) => [labels(s).__name__, labels(s).le ?? '', s.samples[0]!.value]);
    expect(byName).toEqual([
      ['latency_milliseconds_bucket', '10', 1],
      ['latency_milliseconds_bucket', '100', 3],
      ['latency_milliseconds_bucket', '+Inf', 6],
      ['latency_milliseconds_sum', '', 300],
      ['latency_milliseconds_count', '', 6],
    ]);
  });

  it('keeps gauges and non-monotonic sums as gauges; drops and counts what Prometheus cannot take', () => {
    const { series, dropped } = convert([
      { name: 'temp', unit: 'Cel', gauge: { dataPoints: [{ asDouble: 21.5, timeUnixNano: T }, { asDouble: 1, timeUnixNano: T, flags: 1 }] } },
      { name: 'queue', sum: { aggregationTemporality: 2, isMonotonic: false, dataPoints: [{ asInt: -3, timeUnixNano: T }] } },
      { name: 'delta', sum: { aggregationTemporality: 1, isMonotonic: true, dataPoints: [{ asInt: 1 }, { asInt: 2 }] } },
      { name: 'exp', exponentialHistogram: { aggregationTemporality: 2, dataPoints: [{ count: 1 }] } },
    ], [kv('service.name', 'api')]);
    expect(series.map((s) => [labels(s).__name__, s.samples[0]!.value])).toEqual([['temp_celsius', 21.5], ['queue', -3]]);
    expect(dropped).toEqual({ no_recorded_value: 1, delta_temporality: 2, exponential_histogram: 1 });
  });

  it('sets the tenant label on forwarded remote_write series, replacing a claimed one', () => {
    const ts = withTenant({ labels: [{ name: '__name__', value: 'up' }, { name: 'tenant_id', value: 'evil' }, { name: 'zone', value: 'a' }], samples: [] }, 'acme');
    expect(ts.labels).toEqual([{ name: '__name__', value: 'up' }, { name: 'tenant_id', value: 'acme' }, { name: 'zone', value: 'a' }]);
  });
});
