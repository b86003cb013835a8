import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seededRandom } from '../helpers/prng.js';
import { loadConfig } from '../../src/config/load.js';
import { runQuery } from '../../src/query/query.js';
import { ExportLogsServiceRequest, ExportMetricsServiceRequest, ExportTraceServiceRequest } from '../../src/otlp/codec.js';
import { runId, stackEnv, stack } from '../helpers/stack.js';
import { S3FaultProxy } from '../helpers/s3-fault-proxy.js';
import { TempoReceiver } from '../helpers/tempo-receiver.js';
import { freePort, report, Service, waitReady } from './processes.js';

/**
 * The reliability run: steady OTLP load of all three signals from two tenants through a real
 * ingester process into a real appender process running every pipeline, while faults are
 * injected one after another (kill -9 of the appender three times and of the ingester once,
 * Kafka, MinIO and the REST catalog stopped and restarted, S3 answering 503 SlowDown and
 * resetting connections on the appender's reads and writes, Loki and the Tempo endpoint down for
 * a while). Then it reconciles what each client was told against what landed: every
 * acknowledged record exactly once in Iceberg and at least once in each hot-path backend.
 * CHAOS_LOAD_SECONDS sets the minimum load time around the faults.
 */

const RECORDS_PER_REQUEST = 20;
const WORKERS = 3;
const PACE_MS = 120;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

type Kind = 'logs' | 'traces' | 'metrics';
interface Slot {
  slot: number;
  kind: Kind;
  tenant: string;
  /** the attempt the ingester acknowledged */
  acked?: number;
  attempts: number;
}

interface FaultRecord {
  fault: string;
  startedAtS: number;
  downMs: number;
  recoveryMs: number;
  recoveredWhen: string;
}

describe('chaos: faults under load, then reconciliation', () => {
  /** seeded inside the test (printed when it fails) */
  let random: () => number = () => 0.5;
  const id = runId();
  const tenants = [`chaos-${id}-a`, `chaos-${id}-b`];
  const tokens = tenants.map(() => randomBytes(12).toString('hex'));
  const names = { logs: `chaos-${id}-logs`, traces: `chaos-${id}-traces`, metrics: `chaos-${id}-metrics` };
  const namespace = `chaos_${id}`;
  const tempo = new TempoReceiver();
  /** between the appender and MinIO: S3 that sheds load when told to */
  let s3: S3FaultProxy;
  let ingester: Service;
  let appender: Service;
  let ingesterUrl = '';
  let appenderUrl = '';
  const runStartNs = BigInt(Date.now()) * 1_000_000n;

  beforeAll(async () => {
    const env = stackEnv();
    await tempo.start();
    s3 = new S3FaultProxy(env.S3_ENDPOINT!, () => random());
    await s3.start();
    const [httpPort, grpcPort, appenderPort] = [await freePort(), await freePort(), await freePort()];
    const common = {
      REDPANDA_TOPIC: names.logs,
      REDPANDA_TRACES_TOPIC: names.traces,
      REDPANDA_METRICS_TOPIC: names.metrics,
      TOPIC_PARTITIONS: '3',
      LOG_LEVEL: 'debug',
    };
    ingester = new Service('ingester', {
      ...common,
      INGESTER_HOST: '127.0.0.1',
      INGESTER_HTTP_PORT: String(httpPort),
      INGESTER_GRPC_PORT: String(grpcPort),
      TENANT_TOKENS: tenants.map((t, i) => `${t}=${tokens[i]}`).join(','),
      PRODUCE_TIMEOUT_MS: '5000',
    });
    appender = new Service('appender', {
      ...common,
      APPENDER_HOST: '127.0.0.1',
      APPENDER_HTTP_PORT: String(appenderPort),
      APPENDER_GROUP_ID: `chaos-${id}-lake`,
      SINK_GROUP_PREFIX: `chaos-${id}`,
      ICEBERG_NAMESPACE: namespace,
      S3_ENDPOINT: s3.url,
      PIPELINES: 'lake,loki,opensearch,tempo,prometheus',
      TEMPO_OTLP_URL: `${tempo.url}/v1/traces`,
      BUFFER_TIME_SECONDS: '2',
      SINK_RETRY_MAX_MS: '2000',
    });
    ingesterUrl = `http://127.0.0.1:${httpPort}`;
    appenderUrl = `http://127.0.0.1:${appenderPort}`;
    ingester.start();
    await waitReady(`${ingesterUrl}/readyz`, 60_000, ingester);
    appender.start();
    await waitReady(`${appenderUrl}/readyz`, 120_000, appender);
    expect(env.LOKI_URL).toBeTruthy();
  });

  afterAll(async () => {
    stack('up'); // whatever a fault left stopped
    await ingester?.stop('SIGKILL');
    await appender?.stop('SIGKILL');
    await tempo.stop();
    await s3?.stop();
  });

  // ---- load ------------------------------------------------------------------------------

  /** The trace id of one traces request attempt: the run id, the slot and the attempt. */
  function traceIdOf(slot: number, attempt: number): Buffer {
    const b = Buffer.alloc(16);
    b.write(id, 0, 'hex');
    b.writeUInt32BE(slot, 8);
    b.writeUInt32BE(attempt, 12);
    return b;
  }

  const slots: Slot[] = [];
  const answers: Record<string, number> = {};
  let lastAckAt = 0;
  let stopping = false;

  function request(s: Slot, attempt: number): { path: string; body: Buffer } {
    const now = BigInt(Date.now()) * 1_000_000n;
    const resource = { attributes: [{ key: 'service.name', value: { stringValue: 'chaos' } }] };
    if (s.kind === 'logs') {
      const logRecords = Array.from({ length: RECORDS_PER_REQUEST }, (_, i) => {
        const seq = s.slot * RECORDS_PER_REQUEST + i;
        return {
          // unique per (seq, attempt), and behind the wall clock, for Loki's paging
          timeUnixNano: (runStartNs + BigInt(seq) * 1000n + BigInt(attempt)).toString(),
          severityNumber: 9,
          body: { stringValue: `chaos ${seq} ${attempt}` },
          attributes: [{ key: 'seq', value: { stringValue: String(seq) } }, { key: 'attempt', value: { stringValue: String(attempt) } }],
        };
      });
      return { path: '/v1/logs', body: Buffer.from(ExportLogsServiceRequest.encode({ resourceLogs: [{ resource, scopeLogs: [{ logRecords }] }] } as never).finish()) };
    }
    if (s.kind === 'traces') {
      const traceId = traceIdOf(s.slot, attempt);
      const span = { traceId, spanId: randomBytes(8), name: `chaos ${s.slot} ${attempt}`, kind: 2, startTimeUnixNano: now.toString(), endTimeUnixNano: (now + 1000n).toString() };
      return { path: '/v1/traces', body: Buffer.from(ExportTraceServiceRequest.encode({ resourceSpans: [{ resource, scopeSpans: [{ spans: [span] }] }] } as never).finish()) };
    }
    const point = { timeUnixNano: now.toString(), asDouble: s.slot, attributes: [{ key: 'req', value: { stringValue: String(s.slot) } }, { key: 'attempt', value: { stringValue: String(attempt) } }] };
    return { path: '/v1/metrics', body: Buffer.from(ExportMetricsServiceRequest.encode({ resourceMetrics: [{ resource, scopeMetrics: [{ metrics: [{ name: 'chaos.probe', gauge: { dataPoints: [point] } }] }] }] } as never).finish()) };
  }

  async function deliver(s: Slot): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      s.attempts = attempt + 1;
      const { path, body } = request(s, attempt);
      let outcome: string;
      try {
        const res = await fetch(`${ingesterUrl}${path}`, {
          method: 'POST',
          headers: { 'content-type': 'application/x-protobuf', authorization: `Bearer ${tokens[tenants.indexOf(s.tenant)]}` },
          body,
          signal: AbortSignal.timeout(15_000),
        });
        await res.arrayBuffer();
        outcome = String(res.status);
      } catch (e) {
        outcome = (e as Error).name === 'TimeoutError' ? 'timeout' : 'connection error';
      }
      answers[outcome] = (answers[outcome] ?? 0) + 1;
      if (outcome === '200') {
        s.acked = attempt;
        lastAckAt = Date.now();
        return;
      }
      await sleep(250 + Math.floor(random() * 250)); // the client retries what was not acknowledged
    }
  }

  async function worker(w: number): Promise<void> {
    for (let n = w; !stopping; n += WORKERS) {
      const kind: Kind = n % 10 === 3 ? 'traces' : n % 10 === 7 ? 'metrics' : 'logs';
      const s: Slot = { slot: n, kind, tenant: tenants[n % 2]!, attempts: 0 };
      slots.push(s);
      await deliver(s);
      await sleep(PACE_MS);
    }
  }

  // ---- observation -----------------------------------------------------------------------

  async function appenderMetric(name: string, labels = ''): Promise<number> {
    try {
      const text = await (await fetch(`${appenderUrl}/metrics`, { signal: AbortSignal.timeout(2000) })).text();
      const line = text.split('\n').find((l) => l.startsWith(`${name}${labels} `));
      return line ? Number(line.split(' ')[1]) : 0;
    } catch {
      return -1;
    }
  }

  const commits = () => appenderMetric('otel_lakehouse_lake_commits_total');
  const sinkOk = (sink: string) => appenderMetric('otel_lakehouse_sink_requests_total', `{sink="${sink}",outcome="ok"}`);

  /** Milliseconds until `probe` holds, polling every 100 ms; fails after `timeoutMs`. */
  async function until(what: string, probe: () => Promise<boolean> | boolean, timeoutMs = 180_000): Promise<number> {
    const start = Date.now();
    while (Date.now() - start < timeoutMs) {
      if (await probe()) return Date.now() - start;
      await sleep(100);
    }
    throw new Error(`no recovery after ${timeoutMs} ms: ${what}\n--- appender ---\n${appender.output.slice(-4000)}\n--- ingester ---\n${ingester.output.slice(-2000)}`);
  }

  /** Waits until `probe`'s counter is above what it was when called. */
  async function counterGrows(probe: () => Promise<number>, what: string): Promise<number> {
    const before = Math.max(0, await probe());
    return until(what, async () => (await probe()) > before);
  }

  // ---- the run ---------------------------------------------------------------------------

  it('loses nothing acknowledged, writes nothing twice to the lake, and recovers from every fault', async () => {
    random = seededRandom('client retries and fault timings');
    const t0 = Date.now();
    const faults: FaultRecord[] = [];
    const workers = Array.from({ length: WORKERS }, (_, w) => worker(w));
    const at = () => Math.round((Date.now() - t0) / 100) / 10;

    async function fault(name: string, inject: () => Promise<void> | void, downMs: number, lift: () => Promise<void> | void, recovered: () => Promise<number>, recoveredWhen: string) {
      const startedAtS = at();
      await inject();
      await sleep(downMs);
      const liftStart = Date.now();
      await lift();
      const recoveryMs = Date.now() - liftStart + (await recovered());
      faults.push({ fault: name, startedAtS, downMs, recoveryMs, recoveredWhen });
      await sleep(2000 + Math.floor(random() * 2000)); // steady load between faults
    }

    const killAppender = (n: number) =>
      fault(`kill -9 appender (#${n})`, () => appender.stop('SIGKILL').then(() => undefined), 1000, () => void appender.start(), () => counterGrows(commits, 'a commit by the restarted appender'), 'the restarted appender committed to Iceberg');

    await sleep(5000 + Math.floor(random() * 2000));
    await killAppender(1);
    await fault('kill -9 ingester under load', () => ingester.stop('SIGKILL').then(() => undefined), 1000, () => void ingester.start(), () => { const since = Date.now(); return until('an acknowledged request after the ingester restart', () => lastAckAt > since); }, 'the restarted ingester acknowledged a request');
    await fault('Kafka broker stopped', () => void stack('down', 'kafka'), 6000, () => void stack('up', 'kafka'), async () => { const since = Date.now(); const ack = await until('an acknowledgement after the broker restart', () => lastAckAt > since); return ack + (await counterGrows(commits, 'a commit after the broker restart')); }, 'requests acknowledged again and the lake committed');
    await killAppender(2);
    await fault('MinIO stopped during flushes', () => void stack('down', 'minio'), 6000, () => void stack('up', 'minio'), () => counterGrows(commits, 'a commit after MinIO came back'), 'the lake committed again');
    await fault('S3 answering 503 SlowDown and resetting connections', () => void (s3.failing = true), 8000, () => void (s3.failing = false), () => counterGrows(commits, 'a commit after S3 answered again'), 'the lake committed again');
    await fault('REST catalog stopped during commits', () => void stack('down', 'iceberg'), 6000, () => void stack('up', 'iceberg'), () => counterGrows(commits, 'a commit after the catalog came back'), 'the lake committed again');
    await killAppender(3);
    await fault('Loki unavailable', () => void stack('down', 'loki'), 8000, () => void stack('up', 'loki'), () => counterGrows(() => sinkOk('loki'), 'a Loki push after it came back'), 'Loki accepted a push again');
    await fault('Tempo endpoint unavailable', () => void (tempo.up = false), 5000, () => void (tempo.up = true), () => counterGrows(() => sinkOk('tempo'), 'a Tempo push after it came back'), 'Tempo accepted a push again');
    const minLoad = Number(process.env.CHAOS_LOAD_SECONDS ?? 0) * 1000;
    if (Date.now() - t0 < minLoad) await sleep(minLoad - (Date.now() - t0));
    stopping = true;
    await Promise.all(workers);
    const loadSeconds = (Date.now() - t0) / 1000;

    // ---- reconcile -----------------------------------------------------------------------
    const acked = slots.filter((s) => s.acked !== undefined);
    expect(acked.length).toBe(slots.length); // every slot was retried until acknowledged
    const logSlots = acked.filter((s) => s.kind === 'logs');
    const expectedLogs = new Map<number, { attempt: number; tenant: string }>();
    for (const s of logSlots) for (let i = 0; i < RECORDS_PER_REQUEST; i++) expectedLogs.set(s.slot * RECORDS_PER_REQUEST + i, { attempt: s.acked!, tenant: s.tenant });
    const sentRecords = slots.reduce((n, s) => n + s.attempts * (s.kind === 'logs' ? RECORDS_PER_REQUEST : 1), 0);

    const cfg = loadConfig({ ...stackEnv(), ICEBERG_NAMESPACE: namespace });
    const lakeRows = async () => {
      const r = await runQuery(cfg, `SELECT tenant_id, attributes['seq'], attributes['attempt'], count(*) FROM logs GROUP BY ALL`);
      return r.rows.map(([tenant, seq, attempt, n]) => ({ tenant: String(tenant), seq: Number(seq), attempt: Number(attempt), n: Number(n) }));
    };
    const drainStart = Date.now();
    let rows = await lakeRows();
    const ackedInLake = (rs: typeof rows) => rs.filter((r) => expectedLogs.get(r.seq)?.attempt === r.attempt).length;
    while (ackedInLake(rows) < expectedLogs.size && Date.now() - drainStart < 180_000) {
      await sleep(2000);
      rows = await lakeRows();
    }
    const lakeDrainMs = Date.now() - drainStart;
    await sleep(3000); // a late duplicate would show here
    rows = await lakeRows();
    const lake = {
      acknowledged: expectedLogs.size,
      landed: ackedInLake(rows),
      missing: expectedLogs.size - ackedInLake(rows),
      duplicates: rows.filter((r) => r.n > 1).reduce((n, r) => n + r.n - 1, 0),
      wrongTenant: rows.filter((r) => expectedLogs.has(r.seq) && expectedLogs.get(r.seq)!.tenant !== r.tenant).length,
      unacknowledgedAttemptsLanded: rows.filter((r) => expectedLogs.get(r.seq)?.attempt !== r.attempt).reduce((n, r) => n + r.n, 0),
      drainSeconds: lakeDrainMs / 1000,
    };

    // Hot path: at least once.
    const env = stackEnv();
    const lokiLines = async (tenant: string): Promise<Set<string>> => {
      const seen = new Set<string>();
      let start = runStartNs;
      const end = BigInt(Date.now() + 60_000) * 1_000_000n;
      for (;;) {
        const url = `${env.LOKI_URL}/loki/api/v1/query_range?query=${encodeURIComponent('{service_name="chaos"}')}&start=${start}&end=${end}&limit=5000&direction=forward`;
        const res = await fetch(url, { headers: { 'x-scope-orgid': tenant } });
        if (!res.ok) throw new Error(`loki answered ${res.status}: ${await res.text()}`);
        const result = ((await res.json()) as { data: { result: { values: [string, string][] }[] } }).data.result;
        const values = result.flatMap((r) => r.values);
        for (const [, line] of values) seen.add(line);
        if (values.length < 5000) return seen;
        start = values.reduce((m, [ts]) => (BigInt(ts) > m ? BigInt(ts) : m), 0n) + 1n;
      }
    };
    const openSearchBodies = async (tenant: string): Promise<Set<string>> => {
      const seen = new Set<string>();
      await fetch(`${env.OPENSEARCH_URL}/logs-tenant-${tenant}/_refresh`, { method: 'POST' });
      let res = await fetch(`${env.OPENSEARCH_URL}/logs-tenant-${tenant}/_search?scroll=1m`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ size: 5000, _source: ['body'] }) });
      for (;;) {
        if (!res.ok) return seen;
        const page = (await res.json()) as { _scroll_id: string; hits: { hits: { _source: { body: string } }[] } };
        for (const h of page.hits.hits) seen.add(h._source.body);
        if (page.hits.hits.length === 0) return seen;
        res = await fetch(`${env.OPENSEARCH_URL}/_search/scroll`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ scroll: '1m', scroll_id: page._scroll_id }) });
      }
    };
    const promSeries = async (tenant: string): Promise<Set<string>> => {
      const q = new URLSearchParams({ 'match[]': `chaos_probe{tenant_id="${tenant}"}`, start: String(Math.floor(t0 / 1000) - 60), end: String(Math.floor(Date.now() / 1000) + 60) });
      const res = await fetch(`${env.PROMETHEUS_URL}/api/v1/series?${q}`);
      const data = ((await res.json()) as { data: Record<string, string>[] }).data ?? [];
      return new Set(data.map((s) => `${s.req} ${s.attempt}`));
    };
    const expectedLines = new Map<string, Set<string>>(tenants.map((t) => [t, new Set()]));
    for (const [seq, { attempt, tenant }] of expectedLogs) expectedLines.get(tenant)!.add(`chaos ${seq} ${attempt}`);
    const missingIn = async (fetchSeen: (tenant: string) => Promise<Set<string>>, expected: Map<string, Set<string>>) => {
      let missing = 0;
      for (const [tenant, want] of expected) {
        const seen = await fetchSeen(tenant);
        for (const w of want) if (!seen.has(w)) missing++;
      }
      return missing;
    };
    const byTenant = (kind: Kind, key: (s: Slot) => string) => {
      const m = new Map<string, Set<string>>(tenants.map((t) => [t, new Set()]));
      for (const s of acked.filter((x) => x.kind === kind)) m.get(s.tenant)!.add(key(s));
      return m;
    };
    const traceKey = (s: Slot) => traceIdOf(s.slot, s.acked!).toString('hex');
    const expectedTraces = byTenant('traces', traceKey);
    const expectedSeries = byTenant('metrics', (s) => `${s.slot} ${s.acked}`);
    const hotStart = Date.now();
    const hot = { loki: -1, opensearch: -1, tempo: -1, prometheus: -1 };
    while (Date.now() - hotStart < 180_000) {
      hot.loki = await missingIn(lokiLines, expectedLines);
      hot.opensearch = await missingIn(openSearchBodies, expectedLines);
      hot.tempo = await missingIn(async (t) => new Set(tempo.traces.get(t)?.keys() ?? []), expectedTraces);
      hot.prometheus = await missingIn(promSeries, expectedSeries);
      if (Object.values(hot).every((m) => m === 0)) break;
      await sleep(3000);
    }
    const hotDrainSeconds = (Date.now() - hotStart) / 1000;

    // Clean shutdown after all of it.
    const ingesterExit = await ingester.stop('SIGTERM');
    const appenderExit = await appender.stop('SIGTERM');
    const secrets = [env.S3_SECRET_KEY!, ...tokens];
    const leaked = secrets.filter((s) => ingester.output.includes(s) || appender.output.includes(s)).length;

    const summary = {
      loadSeconds,
      requests: { slots: slots.length, attempts: slots.reduce((n, s) => n + s.attempts, 0), answers },
      records: {
        sent: sentRecords,
        acknowledged: { logs: expectedLogs.size, traces: [...expectedTraces.values()].reduce((n, s) => n + s.size, 0), metrics: [...expectedSeries.values()].reduce((n, s) => n + s.size, 0) },
      },
      lake,
      hotPath: {
        missing: hot,
        landed: {
          loki: expectedLogs.size - hot.loki,
          opensearch: expectedLogs.size - hot.opensearch,
          tempo: [...expectedTraces.values()].reduce((n, s) => n + s.size, 0) - hot.tempo,
          prometheus: [...expectedSeries.values()].reduce((n, s) => n + s.size, 0) - hot.prometheus,
        },
        drainSeconds: hotDrainSeconds,
      },
      faults,
      faultsInjected: faults.length,
      s3Faults: s3.counts,
      restarts: { appender: appender.starts - 1, ingester: ingester.starts - 1 },
      peakRssMb: { ingester: Math.round(ingester.peakRssBytes / 2 ** 20), appender: Math.round(appender.peakRssBytes / 2 ** 20) },
      cleanExit: { ingester: ingesterExit, appender: appenderExit },
      secretsInLogs: leaked,
      logBytes: { ingester: ingester.output.length, appender: appender.output.length },
    };
    report('chaos-faults', summary);

    expect(lake.missing).toBe(0);
    expect(lake.duplicates).toBe(0);
    expect(lake.wrongTenant).toBe(0);
    expect(hot).toEqual({ loki: 0, opensearch: 0, tempo: 0, prometheus: 0 });
    expect(faults.length).toBe(10);
    // the S3 fault met requests: answered SlowDown, reset, and some let through
    expect(s3.counts.slowDown).toBeGreaterThan(0);
    expect(s3.counts.reset).toBeGreaterThan(0);
    expect(leaked).toBe(0);
    expect(ingesterExit).toBe(0);
    expect(appenderExit).toBe(0);
  });
});
