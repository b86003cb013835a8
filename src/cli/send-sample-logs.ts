#!/usr/bin/env node
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { gzipSync } from 'node:zlib';
import { encodeLogsRequest, type KeyValue, type LogRecord, type LogsRequest } from '../otlp/codec.js';

/**
 * Sends realistic sample logs to an ingester over OTLP/HTTP protobuf (gzip): several services,
 * severities, trace ids and attributes. Prints one JSON line with what was sent and accepted.
 */
const USAGE = 'usage: send-sample-logs [--url http://127.0.0.1:4318] [--token T] [--requests 10] [--records 50] [--run-id ID]';

const SERVICES = [
  { name: 'checkout', routes: ['/checkout', '/cart'] },
  { name: 'payments', routes: ['/charge', '/refund'] },
  { name: 'catalog', routes: ['/products', '/search'] },
];
const LEVELS: [number, string, string][] = [
  [9, 'INFO', 'request served'],
  [9, 'INFO', 'cache refreshed'],
  [13, 'WARN', 'slow upstream response'],
  [17, 'ERROR', 'upstream returned 502'],
];

const s = (key: string, v: string): KeyValue => ({ key, value: { stringValue: v } });

function buildRequest(runId: string, reqNo: number, records: number): LogsRequest {
  const svc = SERVICES[reqNo % SERVICES.length]!;
  const now = BigInt(Date.now()) * 1_000_000n;
  const logRecords: LogRecord[] = [];
  for (let i = 0; i < records; i++) {
    const [num, , text] = LEVELS[(reqNo * records + i) % LEVELS.length]!;
    const route = svc.routes[i % svc.routes.length]!;
    logRecords.push({
      timeUnixNano: (now + BigInt(i) * 1000n).toString() as never,
      observedTimeUnixNano: (now + BigInt(i) * 1000n + 500_000n).toString() as never,
      severityNumber: num,
      body: { stringValue: `${text}: ${route}` },
      traceId: randomBytes(16),
      spanId: randomBytes(8),
      attributes: [
        s('http.route', route),
        { key: 'http.response.status_code', value: { intValue: num >= 17 ? 502 : 200 } },
        { key: 'duration_ms', value: { doubleValue: Math.round(Math.random() * 5000) / 10 } },
        s('demo.run', runId),
      ],
    });
  }
  return {
    resourceLogs: [
      {
        resource: {
          attributes: [s('service.name', svc.name), s('deployment.environment.name', 'demo'), s('host.name', `node-${reqNo % 2}`), s('service.version', '1.4.2')],
        },
        scopeLogs: [{ scope: { name: 'otel-lakehouse.sample', version: '1.0.0' }, logRecords }],
      },
    ],
  };
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      url: { type: 'string', default: 'http://127.0.0.1:4318' },
      token: { type: 'string', default: process.env.SAMPLE_TOKEN ?? 'demo-token' },
      requests: { type: 'string', default: '10' },
      records: { type: 'string', default: '50' },
      'run-id': { type: 'string', default: randomBytes(4).toString('hex') },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(USAGE + '\n');
    return 0;
  }
  const requests = Number(values.requests);
  const records = Number(values.records);
  if (!Number.isInteger(requests) || requests < 1 || !Number.isInteger(records) || records < 1) {
    process.stderr.write(`send-sample-logs: --requests and --records must be positive integers\n${USAGE}\n`);
    return 2;
  }
  let accepted = 0;
  for (let r = 0; r < requests; r++) {
    const body = gzipSync(encodeLogsRequest(buildRequest(values['run-id']!, r, records)));
    const res = await fetch(`${values.url}/v1/logs`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-protobuf', 'content-encoding': 'gzip', authorization: `Bearer ${values.token}` },
      body,
    });
    if (res.status !== 200) {
      process.stderr.write(`send-sample-logs: request ${r + 1} answered ${res.status}: ${await res.text()}\n`);
      return 1;
    }
    accepted += records;
  }
  process.stdout.write(JSON.stringify({ runId: values['run-id'], requests, records: requests * records, accepted }) + '\n');
  return 0;
}

process.exitCode = await main();
