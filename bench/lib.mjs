// Shared helpers of the benchmark scripts: realistic OTLP log requests, process CPU and
// memory from /proc, percentiles, and the stack environment.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { encodeLogsRequest } from '../dist/otlp/codec.js';

export const root = fileURLToPath(new URL('../', import.meta.url));

/** Starts (or reuses) the local stack and returns its environment. */
export function stackEnv() {
  const out = execFileSync('bash', ['stack/stack.sh', 'up'], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  return Object.fromEntries([...out.matchAll(/^export ([A-Z0-9_]+)=(.*)$/gm)].map((m) => [m[1], m[2]]));
}

const WORDS = 'request served upstream cache miss retry timeout user order payment cart checkout latency db query slow ok failed'.split(' ');
const pick = (a, i) => a[i % a.length];

/**
 * What a Kubernetes pod's resource carries once the Collector's k8sattributes and
 * resourcedetection processors have run (`BENCH_RESOURCE=k8s`): 24 more attributes, about
 * 1.2 KB of JSON.
 */
function k8sResourceAttributes(seed, r) {
  const id = (n) => `${(seed * 7919 + r * 104729 + n).toString(16).padStart(8, '0')}-4f1c-9a2b-${(seed + n).toString(16).padStart(12, '0')}`;
  const s = (key, value) => ({ key, value: { stringValue: value } });
  return [
    s('k8s.namespace.name', `team-${seed % 5}`), s('k8s.pod.uid', id(1)), s('k8s.pod.start_time', '2026-11-30T08:14:03Z'),
    s('k8s.deployment.name', `service-${(seed + r) % 7}`), s('k8s.replicaset.name', `service-${(seed + r) % 7}-7d9f8c6b5d`),
    s('k8s.replicaset.uid', id(2)), s('k8s.node.name', `ip-10-0-${r}-${seed % 250}.eu-west-1.compute.internal`),
    s('k8s.container.name', `service-${(seed + r) % 7}`), s('k8s.cluster.name', 'prod-eu-west-1'),
    s('container.id', id(3).replaceAll('-', '') + id(4).replaceAll('-', '')), s('container.image.name', `registry.example.com/shop/service-${(seed + r) % 7}`),
    s('container.image.tag', '2.3.1'), s('cloud.provider', 'aws'), s('cloud.platform', 'aws_eks'), s('cloud.account.id', '123456789012'),
    s('cloud.availability_zone', `eu-west-1${'abc'[r]}`), s('host.id', `i-0${id(5).slice(0, 16)}`), s('host.type', 'm6i.2xlarge'),
    s('os.type', 'linux'), s('process.runtime.name', 'OpenJDK Runtime Environment'), s('process.runtime.version', '21.0.5+11-LTS'),
    s('telemetry.sdk.name', 'opentelemetry'), s('telemetry.sdk.language', 'java'), s('service.instance.id', id(6)),
  ];
}

/**
 * One ExportLogsServiceRequest of `records` log records: 5-15 attributes each, 100-300 byte
 * bodies, 3 resources of 6 attributes (30 with `BENCH_RESOURCE=k8s`), timestamped from `timeMs`
 * on (1 ns apart).
 */
export function logsRequestBody(records, seed = 0, timeMs = Date.now()) {
  const now = BigInt(timeMs) * 1_000_000n;
  const k8s = process.env.BENCH_RESOURCE === 'k8s';
  const resources = [0, 1, 2].map((r) => ({
    resource: { attributes: [
      { key: 'service.name', value: { stringValue: `service-${(seed + r) % 7}` } },
      { key: 'service.version', value: { stringValue: '2.3.1' } },
      { key: 'deployment.environment.name', value: { stringValue: 'prod' } },
      { key: 'host.name', value: { stringValue: `ip-10-0-${r}-${seed % 250}` } },
      { key: 'k8s.pod.name', value: { stringValue: `pod-${seed % 97}-${r}` } },
      { key: 'cloud.region', value: { stringValue: 'eu-west-1' } },
      ...(k8s ? k8sResourceAttributes(seed, r) : []),
    ] },
    scopeLogs: [{ scope: { name: 'bench', version: '1.0.0' }, logRecords: [] }],
  }));
  for (let i = 0; i < records; i++) {
    const k = seed * records + i;
    let body = '';
    const target = 100 + (k * 37) % 201;
    for (let w = 0; body.length < target; w++) body += pick(WORDS, k + w * 7) + ' ';
    const attrs = [];
    const nAttrs = 5 + (k % 11);
    for (let a = 0; a < nAttrs; a++) {
      attrs.push(a % 3 === 0
        ? { key: `attr.int.${a}`, value: { intValue: k * a } }
        : { key: `attr.${pick(WORDS, a)}.${a}`, value: { stringValue: `${pick(WORDS, k + a)}-${k % 1000}` } });
    }
    resources[i % 3].scopeLogs[0].logRecords.push({
      timeUnixNano: (now + BigInt(i)).toString(),
      observedTimeUnixNano: (now + BigInt(i) + 1000n).toString(),
      severityNumber: [9, 9, 9, 13, 17][k % 5],
      severityText: ['INFO', 'INFO', 'INFO', 'WARN', 'ERROR'][k % 5],
      body: { stringValue: body.trimEnd().slice(0, target) },
      attributes: attrs,
      traceId: randomBytes(16),
      spanId: randomBytes(8),
    });
  }
  return Buffer.from(encodeLogsRequest({ resourceLogs: resources }));
}

/** utime+stime in seconds and peak RSS (VmHWM) in MB of a process, from /proc. */
export function procStats(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = 100; // USER_HZ on Linux
  const cpuSeconds = (Number(fields[11]) + Number(fields[12])) / ticks;
  // Children that have ended and were waited for (cutime + cstime).
  const childCpuSeconds = (Number(fields[13]) + Number(fields[14])) / ticks;
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const hwm = Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
  const rss = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
  return { cpuSeconds, childCpuSeconds, peakRssMb: hwm, rssMb: rss };
}

/**
 * The value of one series in a Prometheus text exposition: `series` is the name with its labels
 * as exposed (e.g. `x_total{sink="loki"}`); 0 when absent.
 */
export function promValue(text, series) {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line ? Number(line.slice(series.length + 1)) : 0;
}

/** The sum of a metric's values over all its label sets. */
export function promSum(text, name) {
  return text.split('\n').filter((l) => l.startsWith(`${name}{`)).reduce((n, l) => n + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
}

export function percentile(sorted, p) {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

export const round = (x, d = 1) => Math.round(x * 10 ** d) / 10 ** d;
