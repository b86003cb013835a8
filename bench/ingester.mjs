// bench/ingester: accepted log records per second and request latency of the ingester for
// 1000-record OTLP/HTTP protobuf requests at several concurrencies, against the local broker
// (acks=all). The ingester runs as its own process so its CPU and memory are its own.
//
//   npm run bench:ingester            BENCH_SECONDS (default 10) per level,
//                                     BENCH_CONCURRENCY (default 1,4,16,64), BENCH_RECORDS (1000)
// Prints one JSON document on stdout and a human table on stderr.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { Agent, request } from 'undici';
import { logsRequestBody, percentile, procStats, root, round, stackEnv } from './lib.mjs';

const seconds = Number(process.env.BENCH_SECONDS ?? 10);
const levels = (process.env.BENCH_CONCURRENCY ?? '1,4,16,64').split(',').map(Number);
const recordsPerRequest = Number(process.env.BENCH_RECORDS ?? 1000);
const port = 24318;
const run = randomBytes(3).toString('hex');

const env = { ...process.env, ...stackEnv(), REDPANDA_TOPIC: `bench-logs-${run}`, TENANT_TOKENS: 'bench=bench-token', INGESTER_HOST: '127.0.0.1', INGESTER_HTTP_PORT: String(port), INGESTER_GRPC_PORT: '0', LOG_LEVEL: 'warn', MAX_INFLIGHT_REQUESTS: '100000',
  // one tenant sends everything here: its own limits are not what this measures
  TENANT_INGESTION_RATE_BYTES: String(2 ** 40), TENANT_INGESTION_BURST_BYTES: String(2 ** 40), TENANT_INGESTION_RATE_RECORDS: String(2 ** 40), TENANT_INGESTION_BURST_RECORDS: String(2 ** 40) };
const child = spawn(process.execPath, [...(process.env.BENCH_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`] : []), 'dist/cli/ingester.js'], { cwd: root, env, stdio: ['ignore', 2, 2] });
process.on('exit', () => child.kill('SIGKILL')); // never leave it behind
const url = `http://127.0.0.1:${port}`;
for (let i = 0; ; i++) {
  try {
    const r = await fetch(`${url}/readyz`);
    if (r.status === 200) break;
  } catch {}
  if (i > 300) throw new Error('ingester did not become ready');
  await new Promise((r) => setTimeout(r, 200));
}

const bodies = Array.from({ length: 16 }, (_, i) => logsRequestBody(recordsPerRequest, i));
const bodyBytes = bodies.reduce((n, b) => n + b.length, 0) / bodies.length;
const dispatcher = new Agent({ connections: 256, pipelining: 1, keepAliveTimeout: 30_000 });
const headers = { 'content-type': 'application/x-protobuf', authorization: 'Bearer bench-token' };

async function level(concurrency) {
  const latencies = [];
  let accepted = 0;
  let refused = 0;
  const before = procStats(child.pid);
  const start = performance.now();
  const deadline = start + seconds * 1000;
  await Promise.all(Array.from({ length: concurrency }, async (_, w) => {
    for (let i = w; performance.now() < deadline; i += concurrency) {
      const t0 = performance.now();
      const res = await request(`${url}/v1/logs`, { method: 'POST', headers, body: bodies[i % bodies.length], dispatcher });
      await res.body.dump();
      if (res.statusCode === 200) {
        latencies.push(performance.now() - t0);
        accepted += recordsPerRequest;
      } else refused++;
    }
  }));
  const elapsed = (performance.now() - start) / 1000;
  const after = procStats(child.pid);
  latencies.sort((a, b) => a - b);
  const cpu = after.cpuSeconds - before.cpuSeconds;
  return {
    concurrency,
    requests: latencies.length,
    refused,
    recordsPerSecond: round(accepted / elapsed, 0),
    megabytesPerSecond: round((latencies.length * bodyBytes) / elapsed / 1e6, 2),
    p50Ms: round(percentile(latencies, 50), 2),
    p99Ms: round(percentile(latencies, 99), 2),
    ingesterCpuSecondsPerMillionRecords: accepted > 0 ? round((cpu / accepted) * 1e6, 2) : null,
    ingesterPeakRssMb: round(after.peakRssMb, 0),
  };
}

const results = [];
try {
  await level(4); // warm-up: JIT, connections, producer
  for (const c of levels) results.push(await level(c));
} finally {
  child.kill('SIGTERM');
  await dispatcher.close();
}
const doc = { bench: 'ingester', recordsPerRequest, requestBytes: Math.round(bodyBytes), secondsPerLevel: seconds, cores: (await import('node:os')).cpus().length, results };
process.stdout.write(JSON.stringify(doc) + '\n');
process.stderr.write(`\ningester, ${recordsPerRequest}-record OTLP/HTTP protobuf requests (${Math.round(bodyBytes / 1024)} KiB), acks=all\n`);
process.stderr.write('concurrency  records/s   MB/s   p50 ms   p99 ms  cpu s/M rec  peak RSS MB\n');
for (const r of results) {
  process.stderr.write(`${String(r.concurrency).padStart(11)} ${String(r.recordsPerSecond).padStart(10)} ${String(r.megabytesPerSecond).padStart(6)} ${String(r.p50Ms).padStart(8)} ${String(r.p99Ms).padStart(8)} ${String(r.ingesterCpuSecondsPerMillionRecords).padStart(12)} ${String(r.ingesterPeakRssMb).padStart(12)}\n`);
}
