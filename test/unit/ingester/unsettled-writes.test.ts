import { readFileSync } from 'node:fs';
import { describe, expect, it, vi } from 'vitest';
import { PRODUCE_SETTLE_GRACE_MS } from '../../../src/config/schema.js';
import { loadConfig } from '../../../src/config/load.js';
import { LakehouseError } from '../../../src/core/errors.js';
import { tenantLimitsFromConfig } from '../../../src/config/tenants.js';
import { Admission } from '../../../src/ingester/admission.js';
import { Ingest } from '../../../src/ingester/ingest.js';
import { UNSETTLED_WRITE_TTL_MS, UNSETTLED_WRITES_MAX, UnsettledWrites } from '../../../src/ingester/unsettled-writes.js';
import type { OutgoingRecord, RecordProducer, WriteOutcome } from '../../../src/kafka/producer.js';
import { encodeLogsRequest } from '../../../src/otlp/codec.js';
import { SIGNALS } from '../../../src/otlp/signals.js';
import { createMetrics } from '../../../src/telemetry/metrics.js';
import { logsRequest } from '../../helpers/otlp.js';

describe('UnsettledWrites', () => {
  it('hashes nothing for a tenant it holds nothing of, and gives an entry back once', () => {
    const u = new UnsettledWrites();
    const body = Buffer.from('request');
    expect(u.keyOf('acme', 'logs', body)).toBeUndefined();
    u.remember('acme', UnsettledWrites.digest('logs', body), { landed: 1, at: Date.now() });
    expect(u.keyOf('beta', 'logs', body)).toBeUndefined();
    const key = u.keyOf('acme', 'logs', body)!;
    expect(key).toBe(UnsettledWrites.digest('logs', body));
    expect(u.keyOf('acme', 'traces', body)).not.toBe(key);
    expect(u.take('acme', key)?.landed).toBe(1);
    expect(u.take('acme', key)).toBeUndefined();
    expect(u.size).toBe(0);
    expect(u.keyOf('acme', 'logs', body)).toBeUndefined();
  });

  it('is described with its own figures in docs/sending-data.md', () => {
    const doc = readFileSync(new URL('../../../docs/sending-data.md', import.meta.url), 'utf8').replace(/\s+/g, ' ');
    expect(doc).toContain(`for ${UNSETTLED_WRITE_TTL_MS / 60_000} minutes, at most ${UNSETTLED_WRITES_MAX.toLocaleString('en-US')} of them`);
  });

  it('forgets entries past their time and, past its size, the oldest first', () => {
    let now = 0;
    const u = new UnsettledWrites(1000, 3, () => now);
    u.remember('a', 'k1', { landed: 0, at: now });
    now = 500;
    u.remember('b', 'k2', { landed: 0, at: now });
    now = 600;
    u.remember('a', 'k3', { landed: 0, at: now });
    now = 1200; // k1 expires at the next remember
    u.remember('c', 'k4', { landed: 0, at: now });
    expect(u.size).toBe(3);
    expect(u.take('a', 'k1')).toBeUndefined();
    u.remember('c', 'k5', { landed: 0, at: now });
    expect(u.size).toBe(3);
    expect(u.take('b', 'k2')).toBeUndefined(); // the oldest
    expect(u.take('a', 'k3')).toBeDefined();
    now = 2300; // still held, but past its time when asked for
    expect(u.take('c', 'k4')).toBeUndefined();
  });
});

/** A producer whose writes end as the test says: 'ok', 'fail' (unacknowledged) or 'hang' until released. */
function fakeProducer() {
  const written: string[] = [];
  const plan: ('ok' | 'fail' | 'hang')[] = [];
  const hung: (() => void)[] = [];
  const producer = {
    async send(_topic: string, records: OutgoingRecord[], onSettled?: (o: WriteOutcome) => void): Promise<void> {
      const step = plan.shift() ?? 'ok';
      const value = records[0]!.value.toString('base64');
      if (step === 'fail') {
        onSettled?.('unknown');
        throw new LakehouseError('BROKER_UNAVAILABLE', 'broker did not take the write');
      }
      if (step === 'hang') {
        hung.push(() => {
          written.push(value);
          onSettled?.('written');
        });
        throw new LakehouseError('BROKER_UNAVAILABLE', "the write's outcome is unknown");
      }
      written.push(value);
      onSettled?.('written');
    },
  };
  return { producer: producer as unknown as RecordProducer, written, plan, hung };
}

describe('Ingest: a retry of a request answered 503 with its write unsettled', () => {
  const setup = (overrides: Record<string, string> = {}) => {
    const cfg = loadConfig({ PRODUCE_TIMEOUT_MS: '100', ...overrides });
    const f = fakeProducer();
    const metrics = createMetrics();
    const ingest = new Ingest(cfg, f.producer, metrics, { logs: 'l', traces: 't', metrics: 'm' });
    const admission = new Admission({ maxRequests: 1000, maxBytes: 1 << 30, tenant: tenantLimitsFromConfig(cfg) });
    return { ...f, ingest, metrics, lease: (tenant: string) => admission.enter(tenant) };
  };
  const body = (n: number, records = 1) =>
    Buffer.from(encodeLogsRequest(logsRequest(Array.from({ length: records }, (_, i) => ({ tenant: 'acme', service: 's', seq: n * 1000 + i, body: `r${n}-${i} ${'x'.repeat(200)}`, severityNumber: 9, timeUnixNano: 1n, attrs: {} })))));
  const settledRetries = async (m: ReturnType<typeof createMetrics>) => (await m.ingesterRetriesSettled.get()).values.reduce((n, v) => n + v.value, 0);

  it('waits for the write it was answered about and does not write it again when it landed', async () => {
    const s = setup();
    s.plan.push('hang');
    await expect(s.ingest.otlp(SIGNALS.logs, 'protobuf', body(1), s.lease('acme'), 0)).rejects.toThrow(/unknown/);
    const retry = s.ingest.otlp(SIGNALS.logs, 'protobuf', body(1), s.lease('acme'), 0);
    s.hung.shift()!();
    await expect(retry).resolves.toEqual({ accepted: 1, rejected: 0 });
    expect(s.written).toHaveLength(1);
    expect(await settledRetries(s.metrics)).toBe(1);
    // a later, different request is written as usual
    await s.ingest.otlp(SIGNALS.logs, 'protobuf', body(2), s.lease('acme'), 0);
    expect(s.written).toHaveLength(2);
    expect(s.ingest.unsettled.size).toBe(0);
  });

  it('answers 503 again while the earlier write is still running, and writes it when it ended unacknowledged', async () => {
    const s = setup();
    s.plan.push('hang');
    await expect(s.ingest.otlp(SIGNALS.logs, 'protobuf', body(1), s.lease('acme'), 0)).rejects.toThrow(/unknown/);
    vi.useFakeTimers();
    try {
      const again = expect(s.ingest.otlp(SIGNALS.logs, 'protobuf', body(1), s.lease('acme'), 0)).rejects.toThrow(/earlier write is still waiting for the broker/);
      await vi.advanceTimersByTimeAsync(100 + PRODUCE_SETTLE_GRACE_MS);
      await again;
    } finally {
      vi.useRealTimers();
    }
    expect(s.ingest.unsettled.size).toBe(1);
    s.plan.push('fail');
    await expect(s.ingest.otlp(SIGNALS.logs, 'protobuf', body(3), s.lease('beta'), 0)).rejects.toThrow(/did not take/);
    expect(s.ingest.unsettled.size, 'a write that ended unacknowledged is not waited for').toBe(1);
    s.hung.shift()!(); // the earlier write lands after all: its retry then writes nothing
    await s.ingest.otlp(SIGNALS.logs, 'protobuf', body(1), s.lease('acme'), 0);
    expect(s.written).toHaveLength(1);
  });

  it('writes only the records of a split request that did not land', async () => {
    const s = setup({ MAX_RECORD_BYTES: '2000' });
    const big = body(5, 40);
    s.plan.push('ok', 'ok', 'fail');
    await expect(s.ingest.otlp(SIGNALS.logs, 'protobuf', big, s.lease('acme'), 0)).rejects.toThrow(/did not take/);
    expect(s.written).toHaveLength(2);
    await expect(s.ingest.otlp(SIGNALS.logs, 'protobuf', big, s.lease('acme'), 0)).resolves.toEqual({ accepted: 40, rejected: 0 });
    const parts = s.written.length;
    expect(parts).toBeGreaterThan(3);
    expect(new Set(s.written).size, 'no record written twice').toBe(parts);
  });
});
