import { mkdtempSync, writeFileSync } from 'node:fs';
import { connect } from 'node:http2';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Config } from '../../src/config/schema.js';
import { sha256Hex } from '../../src/config/tenants.js';
import { Ingester } from '../../src/ingester/ingester.js';
import { encodeLogsRequest, RpcStatus } from '../../src/otlp/codec.js';
import { SIGNALS } from '../../src/otlp/signals.js';
import { createLogger } from '../../src/telemetry/logger.js';
import { logsRequest, type SampleLog } from '../helpers/otlp.js';
import { runId, testConfig, waitFor } from '../helpers/stack.js';

const logger = createLogger(process.env.TEST_LOG_LEVEL ?? 'warn', 'it');
const MiB = 1024 * 1024;

function logs(n: number, bodySize = 20): SampleLog[] {
  return Array.from({ length: n }, (_, i) => ({
    tenant: 'x', service: 'svc', seq: i, body: 'x'.repeat(bodySize), severityNumber: 9,
    timeUnixNano: 1_763_800_000_000_000_000n + BigInt(i), attrs: {},
  }));
}
const protobufLogs = (n: number, bodySize = 20) => Buffer.from(encodeLogsRequest(logsRequest(logs(n, bodySize))));

interface Answer {
  status: number;
  retryAfter: string | null;
  message: string;
  connection: string | null;
}

/** One unary gRPC call on raw HTTP/2; its status and message. */
function grpcCall(port: number, token: string | undefined, message: Buffer): Promise<{ status: number; message: string }> {
  return new Promise((resolve, reject) => {
    const session = connect(`http://127.0.0.1:${port}`);
    session.on('error', reject);
    const headers: Record<string, string> = { ':method': 'POST', ':path': SIGNALS.logs.grpcMethod, 'content-type': 'application/grpc', te: 'trailers' };
    if (token) headers.authorization = `Bearer ${token}`;
    const req = session.request(headers);
    let h: Record<string, unknown> = {};
    req.on('response', (r) => (h = { ...r }));
    req.on('trailers', (t) => (h = { ...h, ...t }));
    req.on('data', () => {});
    req.on('error', () => {});
    req.on('close', () => {
      session.close();
      resolve({ status: Number(h['grpc-status'] ?? -1), message: decodeURIComponent(String(h['grpc-message'] ?? '')) });
    });
    const prefix = Buffer.alloc(5);
    prefix.writeUInt32BE(message.length, 1);
    req.end(Buffer.concat([prefix, message]));
  });
}

describe('ingester limits: per-tenant rates and in-flight shares, bytes charged as they arrive', () => {
  const id = runId();
  let cfg: Config;
  let ingester: Ingester;
  let base: string;

  beforeAll(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'limits-'));
    const file = join(dir, 'tenants.yaml');
    writeFileSync(
      file,
      [
        'slow:',
        `  tokens: [${sha256Hex('slow-token')}]`,
        '  ingestion_rate_bytes: 20000',
        '  ingestion_burst_bytes: 40000',
        '  ingestion_rate_records: 100',
        '  ingestion_burst_records: 150',
        'narrow:',
        `  tokens: [${sha256Hex('narrow-token')}]`,
        `  max_inflight_bytes: ${2 * MiB}`,
        '',
      ].join('\n'),
    );
    cfg = testConfig(id, { TENANTS_FILE: file, GRPC_MAX_MESSAGE_BYTES: String(256 * 1024) });
    ingester = new Ingester(cfg, logger);
    await ingester.start();
    base = `http://127.0.0.1:${ingester.http.boundPort}`;
  });

  afterAll(async () => {
    await ingester?.stop();
  });

  const post = async (token: string, body: Buffer, headers: Record<string, string> = {}): Promise<Answer> => {
    const res = await fetch(`${base}/v1/logs`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-protobuf', authorization: `Bearer ${token}`, ...headers },
      body,
    });
    const bytes = Buffer.from(await res.arrayBuffer());
    const message =
      res.status === 200
        ? ''
        : (res.headers.get('content-type') ?? '').includes('protobuf')
          ? String((RpcStatus.toObject(RpcStatus.decode(bytes)) as { message?: string }).message ?? '')
          : String((JSON.parse(bytes.toString('utf8')) as { message?: string }).message ?? '');
    return { status: res.status, retryAfter: res.headers.get('retry-after'), message, connection: res.headers.get('connection') };
  };
  const postJson = async (token: string, text: string, headers: Record<string, string> = {}) => post(token, Buffer.from(text), { 'content-type': 'application/json', ...headers });

  it('a tenant over its rate gets 429 with Retry-After naming the rate, while another tenant is answered 200', async () => {
    const body = protobufLogs(40, 500); // about 22 KB
    const answers: Answer[] = [];
    for (let i = 0; i < 4; i++) answers.push(await post('slow-token', body));
    expect(answers[0]!.status).toBe(200);
    const refused = answers.find((a) => a.status === 429);
    expect(refused, JSON.stringify(answers)).toBeDefined();
    expect(refused!.message).toMatch(/tenant 'slow' is over its ingestion rate of .*ingestion_rate_bytes/);
    expect(Number(refused!.retryAfter)).toBeGreaterThanOrEqual(1);
    // another tenant within its limits does not notice
    for (let i = 0; i < 4; i++) expect((await post('acme-token', body)).status).toBe(200);
  });

  it('a request larger than the tenant\'s burst gets 413 naming the burst; so does one of more records than its record burst', async () => {
    const big = await post('slow-token', protobufLogs(60, 1000)); // about 62 KB over a 40 KB burst
    expect(big.status).toBe(413);
    expect(big.message).toMatch(/ingestion burst .*ingestion_burst_bytes/);
    const many = await post('slow-token', protobufLogs(200, 1));
    expect(many.status).toBe(413);
    expect(many.message).toMatch(/200 records are over tenant 'slow''s ingestion burst of 150 records/);
  });

  it('what decoding a request would hold is charged before the decode: past the tenant\'s in-flight share, 413', async () => {
    // 15,000 records of a few JSON values each: a 1 MB body whose decode would hold far more
    const records = Array.from({ length: 15_000 }, () => ({ timeUnixNano: '1763800000000000000', body: { stringValue: 'x' } }));
    const text = JSON.stringify({ resourceLogs: [{ scopeLogs: [{ logRecords: records }] }] });
    const narrow = await postJson('narrow-token', text);
    expect(narrow.status).toBe(413);
    expect(narrow.message).toMatch(/decoding this JSON request would hold about .* MiB in memory, over the tenant's in-flight limit of 2 MiB \(max_inflight_bytes\)/);
    // the same request from a tenant with the default share is taken
    expect((await postJson('acme-token', text)).status).toBe(200);
    expect(ingester['admission'].inflightBytes).toBe(0);
  });

  it('a gzip body is charged as it inflates: a bomb is stopped while inflating, and the answer closes the connection rather than read on', async () => {
    const bomb = gzipSync(Buffer.alloc(8 * MiB, 0x20));
    const answer = await postJson('narrow-token', '', {});
    expect(answer.status).toBe(400); // an empty JSON body: not a request
    const refused = await post('narrow-token', bomb, { 'content-encoding': 'gzip', 'content-type': 'application/json' });
    expect(refused.status).toBe(413);
    expect(refused.message).toMatch(/this request, inflated, would hold about .* over the tenant's in-flight limit/);
    expect(ingester['admission'].inflightBytes).toBe(0);
  });

  it('an over-limit body is refused before it is read: the client still reads its answer', async () => {
    const body = protobufLogs(2000, 1000); // about 2 MB, over the slow tenant's burst by its Content-Length
    const answer = await post('slow-token', body);
    expect(answer.status).toBe(413);
    expect(answer.connection).toBe('close');
  });

  it('gRPC: a call is admitted from its headers: no token, UNAUTHENTICATED; over the tenant\'s share, RESOURCE_EXHAUSTED or 413; and nothing stays held', async () => {
    const port = ingester.grpc.boundPort;
    const message = protobufLogs(10);
    expect(await grpcCall(port, undefined, message)).toMatchObject({ status: 16 });
    expect(await grpcCall(port, 'wrong', message)).toMatchObject({ status: 16 });
    expect(await grpcCall(port, 'acme-token', message)).toMatchObject({ status: 0 });
    // over GRPC_MAX_MESSAGE_BYTES: grpc-js refuses it
    expect((await grpcCall(port, 'acme-token', protobufLogs(400, 1000))).status).toBe(8);
    const calls = await Promise.all(Array.from({ length: 20 }, () => grpcCall(port, 'acme-token', message)));
    for (const c of calls) expect([0, 8], c.message).toContain(c.status);
    expect(ingester['admission'].inflightBytes).toBe(0);
    expect(ingester['admission'].inflightRequests).toBe(0);
  });

  it('gRPC: a call cancelled before its handler ran, one without a message and one with two give back what they reserved', async () => {
    const port = ingester.grpc.boundPort;
    const message = protobufLogs(10);
    const frame = (m: Buffer) => Buffer.concat([Buffer.from([0, ...[24, 16, 8, 0].map((s) => (m.length >>> s) & 0xff)]), m]);
    const session = connect(`http://127.0.0.1:${port}`);
    const open = () =>
      session.request({ ':method': 'POST', ':path': SIGNALS.logs.grpcMethod, 'content-type': 'application/grpc', te: 'trailers', authorization: 'Bearer acme-token' });
    const ended = (req: ReturnType<typeof open>) => new Promise<void>((r) => req.on('close', () => r()).on('error', () => {}).resume());
    // the message sent, the call never half-closed, then cancelled
    const cancelled = open();
    cancelled.write(frame(message));
    await new Promise((r) => setTimeout(r, 200));
    cancelled.close(8); // NGHTTP2_CANCEL
    // half-closed without a message, and two messages in one unary call
    const empty = open();
    empty.end();
    const two = open();
    two.end(Buffer.concat([frame(message), frame(message)]));
    await Promise.all([ended(cancelled), ended(empty), ended(two)]);
    session.close();
    await waitFor(async () => ingester['admission'].inflightBytes, (n) => n === 0, 5000, 'the reservations to be given back');
    expect(ingester['admission'].inflightRequests).toBe(0);
  });
});
