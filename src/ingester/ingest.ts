import { PRODUCE_SETTLE_GRACE_MS, type Config } from '../config/schema.js';
import { LakehouseError } from '../core/errors.js';
import { settlesWithin } from '../core/retry.js';
import type { RecordProducer, WriteOutcome } from '../kafka/producer.js';
import { recordHeaders, type Signal } from '../kafka/record.js';
import type { SignalSpec } from '../otlp/signals.js';
import type { Metrics } from '../telemetry/metrics.js';
import type { Lease } from './admission.js';
import type { BodyFormat, DecodeLimits } from './decode.js';
import { InlineDecoder, type Decoder } from './decode-pool.js';
import { UnsettledWrites, type UnsettledWrite } from './unsettled-writes.js';

export type { BodyFormat } from './decode.js';

export interface IngestResult {
  accepted: number;
  rejected: number;
  /** why items were rejected (first reason), when some were */
  errorMessage?: string;
}

export interface Topics {
  logs: string;
  traces: string;
  metrics: string;
}

/** The limits a decode works within, from the settings. */
export function decodeLimits(cfg: Config): DecodeLimits {
  return { maxDepth: cfg.MAX_MESSAGE_DEPTH, maxAttributes: cfg.MAX_ATTRIBUTES, maxRecordBytes: cfg.MAX_RECORD_BYTES };
}

/**
 * Decodes, validates and produces one request of any signal: the transport-independent part of
 * the ingester, used by the HTTP and gRPC receivers alike. Resolves only once every Kafka record
 * of the request is acknowledged by the broker.
 */
export class Ingest {
  constructor(
    private readonly cfg: Config,
    private readonly producer: RecordProducer,
    private readonly metrics: Metrics,
    readonly topics: Topics,
    private readonly decoder: Decoder = new InlineDecoder(decodeLimits(cfg)),
  ) {}

  readonly unsettled = new UnsettledWrites();

  /**
   * One OTLP request of the lease's tenant. Its body is charged to the lease already; what
   * decoding it will hold is charged before the decode, and its records are taken from the
   * tenant's rate before anything is written.
   */
  async otlp(spec: SignalSpec, format: BodyFormat, body: Buffer, lease: Lease, receivedAt: number): Promise<IngestResult> {
    const tenant = lease.tenant;
    const outcome = await this.decoder.run(spec.signal, format, body, (n) => lease.grow(n, format === 'json' ? 'decoding this JSON request' : 'decoding this request'));
    if ('asIs' in outcome) {
      if (outcome.asIs.items === 0) return { accepted: 0, rejected: 0 };
      lease.rate('records', outcome.asIs.accepted);
      await this.produce(spec.signal, this.topics[spec.signal], [body], lease, receivedAt, body);
      this.metrics.ingesterItems.inc({ signal: spec.signal, tenant, outcome: 'accepted' }, outcome.asIs.accepted);
      return { accepted: outcome.asIs.accepted, rejected: 0 };
    }
    const { parts, accepted, rejected, firstProblem } = outcome.decoded;
    this.metrics.ingesterItems.inc({ signal: spec.signal, tenant, outcome: 'rejected' }, rejected);
    if (parts.length === 0) return { accepted: 0, rejected: 0 }; // an empty request: nothing to write
    lease.rate('records', accepted);
    await this.produce(spec.signal, this.topics[spec.signal], parts, lease, receivedAt, body);
    this.metrics.ingesterItems.inc({ signal: spec.signal, tenant, outcome: 'accepted' }, accepted);
    return rejected > 0 ? { accepted, rejected, errorMessage: `${rejected} ${spec.noun} rejected: ${firstProblem}` } : { accepted, rejected };
  }

  /** A Prometheus remote_write 1.0 request (already snappy-decompressed). */
  async promRemoteWrite(body: Buffer, lease: Lease, receivedAt: number): Promise<IngestResult> {
    const outcome = await this.decoder.run('prom-rw', 'protobuf', body, (n) => lease.grow(n, 'decoding this request'));
    if ('asIs' in outcome) throw new LakehouseError('INTERNAL', 'a remote_write body is always decoded');
    const { parts, accepted } = outcome.decoded;
    if (parts.length === 0) return { accepted: 0, rejected: 0 };
    lease.rate('records', accepted);
    await this.produce('prom-rw', this.topics.metrics, parts, lease, receivedAt, body);
    this.metrics.ingesterItems.inc({ signal: 'prom-rw', tenant: lease.tenant, outcome: 'accepted' }, accepted);
    return { accepted, rejected: 0 };
  }

  /**
   * Writes a request's records in order, each acknowledged before the next is sent. A client
   * told 503 while a record could still land, or after some had landed, sends the same body
   * again: that retry waits for the running write and writes only what did not land (see
   * UnsettledWrites).
   */
  private async produce(signal: Signal, topic: string, parts: Uint8Array[], lease: Lease, receivedAt: number, body: Uint8Array): Promise<void> {
    const tenant = lease.tenant;
    let key = this.unsettled.keyOf(tenant, signal, body);
    const earlier = key === undefined ? undefined : this.unsettled.take(tenant, key);
    if (earlier?.running) {
      const ended = await settlesWithin(earlier.running, this.cfg.PRODUCE_TIMEOUT_MS + PRODUCE_SETTLE_GRACE_MS);
      if (!ended) {
        this.unsettled.remember(tenant, key!, earlier);
        throw new LakehouseError('BROKER_UNAVAILABLE', "this request's earlier write is still waiting for the broker; its outcome is unknown", { retryAfterSeconds: 5 });
      }
    }
    const first = earlier?.landed ?? 0;
    if (first === parts.length) {
      this.metrics.ingesterRetriesSettled.inc({ signal });
      return;
    }
    const size = parts.slice(first).reduce((n, p) => n + p.length, 0);
    // Held until every write has ended at the broker, even one this request gave up waiting for.
    const release = lease.pin(size);
    let pending = parts.length - first;
    const settled = () => {
      if (--pending === 0) release();
    };
    const started = process.hrtime.bigint();
    let outcome = 'ok';
    try {
      for (let i = first; i < parts.length; i++) {
        const part = parts[i]!;
        let ended: WriteOutcome | undefined;
        let onEnd: (o: WriteOutcome) => void = () => {};
        const end = new Promise<WriteOutcome>((resolve) => (onEnd = resolve));
        try {
          await this.producer.send(
            topic,
            [{ key: tenant, value: Buffer.from(part.buffer, part.byteOffset, part.byteLength), headers: recordHeaders(tenant, signal, receivedAt) }],
            (o) => {
              ended = o;
              onEnd(o);
              settled();
            },
            tenant,
          );
        } catch (e) {
          for (let j = i + 1; j < parts.length; j++) settled(); // never sent
          if (ended === undefined || i > 0) {
            const entry: UnsettledWrite = { landed: i, at: Date.now() };
            if (ended === undefined) entry.running = end.then((o) => void (o === 'written' && (entry.landed = i + 1)));
            key ??= UnsettledWrites.digest(signal, body);
            this.unsettled.remember(tenant, key, entry);
          }
          throw e;
        }
      }
      this.metrics.ingesterKafkaRecords.inc({ signal }, parts.length - first);
      if (earlier) this.metrics.ingesterRetriesSettled.inc({ signal });
    } catch (e) {
      outcome = 'error';
      throw e;
    } finally {
      this.metrics.ingesterProduceSeconds.observe({ signal, outcome }, Number(process.hrtime.bigint() - started) / 1e9);
    }
  }
}
