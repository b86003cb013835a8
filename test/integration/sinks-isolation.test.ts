import { afterAll, expect, it } from 'vitest';
import { Ingester } from '../../src/ingester/ingester.js';
import { Appender } from '../../src/appender/appender.js';
import { runQuery } from '../../src/query/query.js';
import { encodeLogsRequest } from '../../src/otlp/codec.js';
import { createLogger } from '../../src/telemetry/logger.js';
import { kv } from '../helpers/otlp.js';
import { runId, stackEnv, testConfig, waitFor, stack } from '../helpers/stack.js';

const logger = createLogger(process.env.TEST_LOG_LEVEL ?? 'warn', 'it');

afterAll(() => stack('up', 'loki'));

it('with Loki down, the lake and the Prometheus sink keep going; Loki catches up when it is back', async () => {
  const id = runId();
  const env = stackEnv();
  const cfg = testConfig(id, {
    PIPELINES: 'lake,loki,prometheus',
    SINK_GROUP_PREFIX: `it-${id}`,
    SINK_RETRY_MAX_MS: '1000',
    REDPANDA_METRICS_TOPIC: `it-metrics-${id}`,
    APPENDER_HOST: '127.0.0.1',
    APPENDER_HTTP_PORT: '0',
  });
  const ingester = new Ingester(cfg, logger);
  const appender = new Appender(cfg, logger);
  await ingester.start();
  await appender.start();
  const base = `http://127.0.0.1:${ingester.http.boundPort}`;
  try {
    stack('down', 'loki');
    const now = BigInt(Date.now()) * 1_000_000n;
    const logs = { resourceLogs: [{ resource: { attributes: [kv('service.name', `iso-${id}`)] }, scopeLogs: [{ logRecords: [{ timeUnixNano: now.toString(), body: { stringValue: 'while loki is down' } }] }] }] };
    expect((await fetch(`${base}/v1/logs`, { method: 'POST', headers: { 'content-type': 'application/x-protobuf', authorization: 'Bearer acme-token' }, body: Buffer.from(encodeLogsRequest(logs as never)) })).status).toBe(200);
    const metric = { resourceMetrics: [{ scopeMetrics: [{ metrics: [{ name: `iso_${id}`, gauge: { dataPoints: [{ asDouble: 1, timeUnixNano: now.toString() }] } }] }] }] };
    expect((await fetch(`${base}/v1/metrics`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: 'Bearer acme-token' }, body: JSON.stringify(metric) })).status).toBe(200);

    // Loki is down: the lake commits and Prometheus receives all the same.
    await waitFor(async () => Number((await runQuery(cfg, 'SELECT count(*) FROM logs')).rows[0]![0]), (n) => n === 1, 60_000, 'the row in the lake');
    await waitFor(async () => ((await (await fetch(`${env.PROMETHEUS_URL}/api/v1/query?query=iso_${id}`)).json()) as { data: { result: unknown[] } }).data.result.length, (n) => n === 1, 60_000, 'the series in Prometheus');

    stack('up', 'loki');
    await waitFor(async () => {
      const q = encodeURIComponent(`{service_name="iso-${id}"}`);
      const res = await fetch(`${env.LOKI_URL}/loki/api/v1/query_range?query=${q}&start=${Number(now) - 3.6e12}&end=${Number(now) + 6e10}`, { headers: { 'x-scope-orgid': 'acme' } });
      return res.ok ? ((await res.json()) as { data: { result: unknown[] } }).data.result.length : 0;
    }, (n) => n === 1, 120_000, 'the line in Loki after it came back');
  } finally {
    await ingester.stop();
    await appender.stop();
  }
});
