import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/load.js';
import { tenantLimitsFromConfig } from '../../../src/config/tenants.js';
import { decodeContentEncoding } from '../../../src/core/body.js';
import { LakehouseError } from '../../../src/core/errors.js';
import { Admission } from '../../../src/ingester/admission.js';
import { Ingest } from '../../../src/ingester/ingest.js';
import { unsnappy } from '../../../src/ingester/snappy.js';
import type { RecordProducer } from '../../../src/kafka/producer.js';
import { SIGNALS } from '../../../src/otlp/signals.js';
import { createMetrics } from '../../../src/telemetry/metrics.js';
import { otlpInput, remoteWriteInput, type Input } from '../../helpers/otlp-arbitraries.js';

/**
 * Every decoder the ingester exposes, fed generated and mutated inputs: OTLP protobuf and JSON
 * of the three signals, with and without gzip, and remote_write (snappy + protobuf). Whatever
 * the input, the answer is 200 or a 4xx with a message, and a well-formed input is accepted.
 * FUZZ_RUNS inputs per decoder (`npm run test:fuzz` runs many more); FUZZ_SEED repeats a run
 * (fast-check prints the seed of a failure).
 */
const runs = Number(process.env.FUZZ_RUNS ?? 1000);
const seed = process.env.FUZZ_SEED === undefined ? undefined : Number(process.env.FUZZ_SEED);

const cfg = loadConfig({ AUTH_MODE: 'none', DEFAULT_TENANT: 'fuzz', TENANT_INGESTION_BURST_BYTES: String(2 ** 40), TENANT_INGESTION_BURST_RECORDS: String(2 ** 40) });
const producer = { async send(_t: string, _r: unknown[], onSettled?: (o: 'written') => void) { onSettled?.('written'); } } as unknown as RecordProducer;
const ingest = new Ingest(cfg, producer, createMetrics(), { logs: 'l', traces: 't', metrics: 'm' });
const admission = new Admission({ maxRequests: 10, maxBytes: cfg.MAX_INFLIGHT_BYTES, tenant: tenantLimitsFromConfig(cfg) });

/** What the receivers answer for `input`, through the same steps: inflate, charge, decode, write. */
async function answer(input: Input): Promise<{ status: number | 'crash'; message: string }> {
  const lease = admission.enter('fuzz');
  try {
    let body = input.body;
    if (input.encoding === 'gzip') body = await decodeContentEncoding(body, 'gzip', cfg.MAX_BODY_BYTES, (n) => lease.grow(n));
    if (input.encoding === 'snappy') body = unsnappy(body, cfg.MAX_BODY_BYTES, (n) => lease.grow(n));
    if (input.kind === 'prom-rw') await ingest.promRemoteWrite(body, lease, 0);
    else await ingest.otlp(SIGNALS[input.kind], input.format, body, lease, 0);
    return { status: 200, message: '' };
  } catch (e) {
    if (!(e instanceof LakehouseError) || e.status >= 500) return { status: 'crash', message: (e as Error)?.stack ?? String(e) };
    return { status: e.status, message: e.message };
  } finally {
    lease.end();
  }
}

const property = (arbitrary: fc.Arbitrary<Input>) =>
  fc.asyncProperty(arbitrary, async (input) => {
    const a = await answer(input);
    if (a.status === 'crash') throw new Error(`not a 4xx: ${a.message}`);
    if (input.wellFormed && a.status !== 200) throw new Error(`a well-formed ${input.kind} ${input.format} request (${input.encoding}) was refused ${a.status}: ${a.message}`);
    if (a.status !== 200 && !(a.status >= 400 && a.status < 500 && a.message.length > 0)) throw new Error(`refused without a clear 4xx: ${a.status} '${a.message}'`);
  });

describe(`decoders against generated inputs (${runs} each)`, () => {
  for (const signal of ['logs', 'traces', 'metrics'] as const) {
    for (const format of ['protobuf', 'json'] as const) {
      it(`OTLP ${signal} as ${format}, with and without gzip`, async () => {
        await fc.assert(property(otlpInput(signal, format)), { numRuns: runs, seed });
        expect(admission.inflightBytes).toBe(0);
      }, 600_000);
    }
  }
  it('remote_write: snappy + protobuf', async () => {
    await fc.assert(property(remoteWriteInput()), { numRuns: runs, seed });
    expect(admission.inflightBytes).toBe(0);
  }, 600_000);
});
