import { isUtf8 } from 'node:buffer';
import type protobuf from 'protobufjs';
import { PRODUCE_SETTLE_GRACE_MS, type Config } from '../config/schema.js';
import { LakehouseError } from '../core/errors.js';
import { settlesWithin } from '../core/retry.js';
import type { RecordProducer, WriteOutcome } from '../kafka/producer.js';
import { recordHeaders, type Signal } from '../kafka/record.js';
import { PromWriteRequest } from '../otlp/codec.js';
import { otlpJsonToMessage, OtlpJsonError } from '../otlp/json.js';
import { checkWire, WireError, type ItemReport, type ItemRules, type WireLimits } from '../otlp/wire-check.js';
import { assemble, leaves, type Leaf, type SignalSpec } from '../otlp/signals.js';
import type { Metrics } from '../telemetry/metrics.js';
import type { Lease } from './admission.js';
import { jsonDecodeCost, protobufDecodeCost } from './decode-cost.js';
import { UnsettledWrites, type UnsettledWrite } from './unsettled-writes.js';

export type BodyFormat = 'protobuf' | 'json';

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

type Obj = Record<string, unknown>;

/**
 * Cuts `items` into contiguous parts whose encoding fits in `limit` bytes, halving a part that
 * does not fit. A single item that does not fit cannot be written: 413 naming its size.
 */
export function splitToFit<T>(items: T[], limit: number, encode: (part: T[], start: number) => Uint8Array, noun: string): Uint8Array[] {
  const out: Uint8Array[] = [];
  const visit = (start: number, end: number) => {
    const bytes = encode(items.slice(start, end), start);
    if (bytes.length <= limit) {
      out.push(bytes);
      return;
    }
    if (end - start === 1) {
      throw new LakehouseError('PAYLOAD_TOO_LARGE', `one of the ${noun} alone encodes to ${bytes.length} bytes, over the broker's record limit of ${limit} bytes`);
    }
    const mid = start + Math.floor((end - start) / 2);
    visit(start, mid);
    visit(mid, end);
  };
  if (items.length > 0) visit(0, items.length);
  return out;
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
  ) {
    this.limits = { maxDepth: cfg.MAX_MESSAGE_DEPTH, maxAttributes: cfg.MAX_ATTRIBUTES };
  }

  private readonly limits: WireLimits;
  readonly unsettled = new UnsettledWrites();

  /**
   * Refuses (400) what is not a well-formed `type` message within the limits: checked on the
   * wire before decoding, since the decoder is lenient (see wire-check.ts).
   */
  private check(type: protobuf.Type, bytes: Uint8Array, what: string, items?: ItemRules): ItemReport {
    try {
      return checkWire(type, bytes, this.limits, items);
    } catch (e) {
      if (e instanceof WireError) throw new LakehouseError('DECODE_FAILED', `body is not a valid ${what}: ${e.message}`);
      throw e;
    }
  }

  /**
   * One OTLP request of the lease's tenant. Its body is charged to the lease already; what
   * decoding it will hold is charged before the decode, and its records are taken from the
   * tenant's rate before anything is written.
   */
  async otlp(spec: SignalSpec, format: BodyFormat, body: Buffer, lease: Lease, receivedAt: number): Promise<IngestResult> {
    const tenant = lease.tenant;
    let msg: protobuf.Message;
    let encoded: Uint8Array | undefined;
    if (format === 'protobuf') {
      const report = this.check(spec.request, body, spec.request.name, spec.items);
      // The common case: every item fine and one Kafka record. The wire walk has judged it all,
      // so the body is written as it came, without a decode.
      if (report.rejected === 0 && !report.undecided && body.length <= this.cfg.MAX_RECORD_BYTES) {
        if (report.items === 0) return { accepted: 0, rejected: 0 };
        lease.rate('records', report.accepted);
        await this.produce(spec.signal, this.topics[spec.signal], [body], lease, receivedAt, body);
        this.metrics.ingesterItems.inc({ signal: spec.signal, tenant, outcome: 'accepted' }, report.accepted);
        return { accepted: report.accepted, rejected: 0 };
      }
      lease.grow(protobufDecodeCost(report, body.length), 'decoding this request');
    } else {
      if (!isUtf8(body)) throw new LakehouseError('DECODE_FAILED', 'JSON body is not valid UTF-8');
      lease.grow(jsonDecodeCost(body), 'decoding this JSON request');
    }
    try {
      if (format === 'json') {
        msg = otlpJsonToMessage(spec.request, body.toString('utf8'));
        encoded = spec.request.encode(msg).finish();
      } else {
        msg = spec.request.decode(body);
      }
    } catch (e) {
      const problem = e instanceof OtlpJsonError ? e.message : `body is not a valid ${spec.request.name}: ${(e as Error).message}`;
      throw new LakehouseError('DECODE_FAILED', problem);
    }
    if (encoded) this.check(spec.request, encoded, `${spec.request.name} (as JSON)`);
    const all = leaves(spec, msg as unknown as Obj);
    const valid: Leaf[] = [];
    let accepted = 0;
    let rejected = 0;
    let firstProblem: string | undefined;
    for (const leaf of all) {
      const problem = spec.invalid(leaf.item);
      if (problem === null) {
        valid.push(leaf);
        accepted += spec.weight(leaf.item);
      } else {
        rejected += Math.max(1, spec.weight(leaf.item));
        firstProblem ??= problem;
      }
    }
    this.metrics.ingesterItems.inc({ signal: spec.signal, tenant, outcome: 'rejected' }, rejected);
    if (valid.length === 0) {
      if (rejected > 0) throw new LakehouseError('BAD_REQUEST', `all ${rejected} ${spec.noun} are invalid: ${firstProblem}`);
      return { accepted: 0, rejected: 0 }; // an empty request: nothing to write
    }
    lease.rate('records', accepted);
    const limit = this.cfg.MAX_RECORD_BYTES;
    const whole =
      rejected === 0
        ? (encoded ?? body)
        : spec.request.encode(assemble(spec, msg as unknown as Obj, valid)).finish();
    const parts =
      whole.length <= limit
        ? [whole]
        : splitToFit(valid, limit, (part) => spec.request.encode(assemble(spec, msg as unknown as Obj, part)).finish(), spec.noun);
    await this.produce(spec.signal, this.topics[spec.signal], parts, lease, receivedAt, body);
    this.metrics.ingesterItems.inc({ signal: spec.signal, tenant, outcome: 'accepted' }, accepted);
    return rejected > 0 ? { accepted, rejected, errorMessage: `${rejected} ${spec.noun} rejected: ${firstProblem}` } : { accepted, rejected };
  }

  /** A Prometheus remote_write 1.0 request (already snappy-decompressed). */
  async promRemoteWrite(body: Buffer, lease: Lease, receivedAt: number): Promise<IngestResult> {
    let msg: { timeseries?: { samples?: unknown[] }[]; metadata?: unknown[] };
    const report = this.check(PromWriteRequest, body, 'prometheus WriteRequest');
    lease.grow(protobufDecodeCost(report, body.length), 'decoding this request');
    try {
      msg = PromWriteRequest.decode(body) as never;
    } catch (e) {
      throw new LakehouseError('DECODE_FAILED', `body is not a valid prometheus WriteRequest: ${(e as Error).message}`);
    }
    const series = msg.timeseries ?? [];
    const samples = series.reduce((n, ts) => n + (ts.samples?.length ?? 0), 0);
    if (series.length === 0 && (msg.metadata?.length ?? 0) === 0) return { accepted: 0, rejected: 0 };
    lease.rate('records', samples);
    const limit = this.cfg.MAX_RECORD_BYTES;
    const parts =
      body.length <= limit
        ? [body]
        : splitToFit(series, limit, (part, start) => PromWriteRequest.encode({ timeseries: part, metadata: start === 0 ? msg.metadata : [] }).finish(), 'time series');
    await this.produce('prom-rw', this.topics.metrics, parts, lease, receivedAt, body);
    this.metrics.ingesterItems.inc({ signal: 'prom-rw', tenant: lease.tenant, outcome: 'accepted' }, samples);
    return { accepted: samples, rejected: 0 };
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
          await this.producer.send(topic, [{ key: tenant, value: Buffer.from(part.buffer, part.byteOffset, part.byteLength), headers: recordHeaders(tenant, signal, receivedAt) }], (o) => {
            ended = o;
            onEnd(o);
            settled();
          });
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
