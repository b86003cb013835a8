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

/** One ExportLogsServiceRequest of `records` log records: 5-15 attributes each, 100-300 byte bodies, 3 resources, timestamped from `timeMs` on (1 ns apart). */
export function logsRequestBody(records, seed = 0, timeMs = Date.now()) {
  const now = BigInt(timeMs) * 1_000_000n;
  const resources = [0, 1, 2].map((r) => ({
    resource: { attributes: [
      { key: 'service.name', value: { stringValue: `service-${(seed + r) % 7}` } },
      { key: 'service.version', value: { stringValue: '2.3.1' } },
      { key: 'deployment.environment.name', value: { stringValue: 'prod' } },
      { key: 'host.name', value: { stringValue: `ip-10-0-${r}-${seed % 250}` } },
      { key: 'k8s.pod.name', value: { stringValue: `pod-${seed % 97}-${r}` } },
      { key: 'cloud.region', value: { stringValue: 'eu-west-1' } },
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
