import type { KeyValue } from '../../otlp/codec.js';
import { anyValueToString, nanosToMicros } from '../../otlp/logs-mapping.js';

/** A remote_write time series (labels sorted by name, as remote_write 1.0 requires). */
export interface TimeSeries {
  labels: { name: string; value: string }[];
  samples: { value: number; timestamp: number }[];
}

export interface Conversion {
  series: TimeSeries[];
  /** data points that have no Prometheus equivalent here, by reason */
  dropped: Record<string, number>;
}

const UNIT_WORDS: Record<string, string> = {
  s: 'seconds', ms: 'milliseconds', us: 'microseconds', ns: 'nanoseconds', min: 'minutes', h: 'hours', d: 'days',
  By: 'bytes', KiBy: 'kibibytes', MiBy: 'mebibytes', GiBy: 'gibibytes', KBy: 'kilobytes', MBy: 'megabytes', GBy: 'gigabytes',
  m: 'meters', V: 'volts', A: 'amperes', J: 'joules', W: 'watts', g: 'grams', Cel: 'celsius', Hz: 'hertz', '%': 'percent',
};

/** A metric or label name with every character outside [a-zA-Z0-9_] (and ':' for metrics) made '_'. */
export function sanitizeName(name: string, allowColon: boolean): string {
  let out = name.replace(allowColon ? /[^a-zA-Z0-9_:]/g : /[^a-zA-Z0-9_]/g, '_').replace(/__+/g, '_');
  if (out === '' || /^[0-9]/.test(out)) out = (allowColon ? '_' : 'key_') + out;
  return out;
}

/** The unit as a name suffix: 's' → 'seconds', 'By/s' → 'bytes_per_second'; annotations in braces are dropped. */
export function unitSuffix(unit: string, isGauge: boolean): string {
  const u = unit.replace(/\{[^}]*\}/g, '').trim();
  if (u === '') return '';
  if (u === '1') return isGauge ? 'ratio' : '';
  const [num, per] = u.split('/', 2);
  const word = (x: string | undefined) => (x ? UNIT_WORDS[x] ?? sanitizeName(x, false) : '');
  const perWord = per ? (UNIT_WORDS[per] ?? per).replace(/s$/, '') : '';
  return [word(num), perWord ? `per_${sanitizeName(perWord, false)}` : ''].filter(Boolean).join('_');
}

/** The Prometheus metric name of an OTLP metric, following the OpenTelemetry compatibility rules. */
export function metricName(name: string, unit: string, kind: 'gauge' | 'counter' | 'histogram' | 'summary'): string {
  let out = sanitizeName(name, true);
  const suffix = unitSuffix(unit, kind === 'gauge');
  if (suffix && !out.endsWith(`_${suffix}`)) out += `_${suffix}`;
  if (kind === 'counter' && !out.endsWith('_total')) out += '_total';
  return out;
}

function attrsToLabels(attrs: KeyValue[] | undefined): Map<string, string> {
  const m = new Map<string, string>();
  for (const kv of attrs ?? []) {
    const name = sanitizeName(kv.key, false);
    const value = anyValueToString(kv.value) ?? '';
    // Two keys that sanitize alike are joined with ';', as the compatibility rules ask.
    m.set(name, m.has(name) ? `${m.get(name)};${value}` : value);
  }
  return m;
}

function ms(nanos: unknown): number {
  const micros = nanosToMicros(nanos as never);
  return micros === null ? Date.now() : Number(micros / 1000n);
}

type Obj = Record<string, unknown>;
const has = (o: Obj, k: string) => Object.hasOwn(o, k) && o[k] !== undefined && o[k] !== null;

function num(p: Obj): number {
  if (has(p, 'asDouble')) return p.asDouble as number;
  if (has(p, 'asInt')) return Number(String(p.asInt));
  return NaN;
}

/**
 * OTLP metrics to remote_write series. Gauges stay gauges; cumulative monotonic sums become
 * counters (`_total`); other cumulative sums become gauges; histograms become `_bucket` (with
 * cumulative `le`), `_sum` and `_count`; summaries become quantiles, `_sum`, `_count`. Delta
 * sums and histograms, exponential histograms and points without a recorded value are dropped
 * and counted. Resource attributes become `job` (service.namespace/service.name), `instance`
 * (service.instance.id) and a `target_info` series with the rest; every series carries
 * `tenant_id`.
 */
export function convertOtlpMetrics(request: Obj, tenant: string): Conversion {
  const series: TimeSeries[] = [];
  const dropped: Record<string, number> = {};
  const drop = (reason: string, n = 1) => (dropped[reason] = (dropped[reason] ?? 0) + n);
  for (const rm of (request.resourceMetrics as Obj[] | undefined) ?? []) {
    const rattrs = ((rm.resource as Obj | undefined)?.attributes as KeyValue[] | undefined) ?? [];
    const r = new Map(rattrs.map((kv) => [kv.key, anyValueToString(kv.value) ?? '']));
    const base = new Map<string, string>();
    const svc = r.get('service.name');
    if (svc) base.set('job', r.get('service.namespace') ? `${r.get('service.namespace')}/${svc}` : svc);
    if (r.get('service.instance.id')) base.set('instance', r.get('service.instance.id')!);
    base.set('tenant_id', tenant);
    const promoted = new Set(['service.name', 'service.namespace', 'service.instance.id']);
    const info = attrsToLabels(rattrs.filter((kv) => !promoted.has(kv.key)));
    let latest = 0;
    for (const sm of (rm.scopeMetrics as Obj[] | undefined) ?? []) {
      for (const metric of (sm.metrics as Obj[] | undefined) ?? []) {
        const name = String(metric.name ?? '');
        const unit = String(metric.unit ?? '');
        const emit = (metricName: string, pointAttrs: KeyValue[] | undefined, extra: [string, string][], value: number, t: number) => {
          const labels = new Map([...attrsToLabels(pointAttrs), ...base]);
          for (const [k, v] of extra) labels.set(k, v);
          labels.set('__name__', metricName);
          series.push({ labels: [...labels].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([n, v]) => ({ name: n, value: v })), samples: [{ value, timestamp: t }] });
          latest = Math.max(latest, t);
        };
        const points = (kind: string) => ((metric[kind] as Obj).dataPoints as Obj[] | undefined) ?? [];
        const noValue = (p: Obj) => ((Number(p.flags ?? 0) & 1) === 1 ? (drop('no_recorded_value'), true) : false);
        if (has(metric, 'gauge')) {
          for (const p of points('gauge')) if (!noValue(p)) emit(metricName(name, unit, 'gauge'), p.attributes as KeyValue[], [], num(p), ms(p.timeUnixNano));
        } else if (has(metric, 'sum')) {
          const sum = metric.sum as Obj;
          if (Number(sum.aggregationTemporality) !== 2) { drop('delta_temporality', points('sum').length); continue; }
          const kind = sum.isMonotonic ? 'counter' : 'gauge';
          for (const p of points('sum')) if (!noValue(p)) emit(metricName(name, unit, kind), p.attributes as KeyValue[], [], num(p), ms(p.timeUnixNano));
        } else if (has(metric, 'histogram')) {
          const h = metric.histogram as Obj;
          if (Number(h.aggregationTemporality) !== 2) { drop('delta_temporality', points('histogram').length); continue; }
          const n = metricName(name, unit, 'histogram');
          for (const p of points('histogram')) {
            if (noValue(p)) continue;
            const t = ms(p.timeUnixNano);
            const bounds = (p.explicitBounds as number[] | undefined) ?? [];
            const counts = ((p.bucketCounts as unknown[] | undefined) ?? []).map((c) => Number(String(c)));
            let cumulative = 0;
            bounds.forEach((b, i) => {
              cumulative += counts[i] ?? 0;
              emit(`${n}_bucket`, p.attributes as KeyValue[], [['le', String(b)]], cumulative, t);
            });
            const count = Number(String(p.count ?? 0));
            emit(`${n}_bucket`, p.attributes as KeyValue[], [['le', '+Inf']], count, t);
            if (has(p, 'sum')) emit(`${n}_sum`, p.attributes as KeyValue[], [], p.sum as number, t);
            emit(`${n}_count`, p.attributes as KeyValue[], [], count, t);
          }
        } else if (has(metric, 'summary')) {
          const n = metricName(name, unit, 'summary');
          for (const p of points('summary')) {
            if (noValue(p)) continue;
            const t = ms(p.timeUnixNano);
            for (const q of (p.quantileValues as Obj[] | undefined) ?? []) emit(n, p.attributes as KeyValue[], [['quantile', String(q.quantile ?? 0)]], Number(q.value ?? 0), t);
            emit(`${n}_sum`, p.attributes as KeyValue[], [], Number(p.sum ?? 0), t);
            emit(`${n}_count`, p.attributes as KeyValue[], [], Number(String(p.count ?? 0)), t);
          }
        } else if (has(metric, 'exponentialHistogram')) {
          drop('exponential_histogram', points('exponentialHistogram').length);
        }
      }
    }
    if (info.size > 0 && latest > 0) {
      const labels = new Map([...info, ...base, ['__name__', 'target_info']]);
      series.push({ labels: [...labels].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([n, v]) => ({ name: n, value: v })), samples: [{ value: 1, timestamp: latest }] });
    }
  }
  return { series, dropped };
}

/** A remote_write series with `tenant_id` set to the tenant (replacing any such label), labels re-sorted. */
export function withTenant(ts: TimeSeries, tenant: string): TimeSeries {
  const labels = ts.labels.filter((l) => l.name !== 'tenant_id');
  labels.push({ name: 'tenant_id', value: tenant });
  labels.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return { ...ts, labels };
}
