import type { EachBatchPayload, Kafka } from 'kafkajs';
import type { Config } from '../config/schema.js';
import { ByteBudget } from '../core/byte-budget.js';
import { ConsumerPipeline } from '../kafka/consumer-pipeline.js';
import type { Signal } from '../kafka/record.js';
import { PromWriteRequest } from '../otlp/codec.js';
import { protobufDecodeCost } from '../otlp/decode-cost.js';
import { SIGNALS } from '../otlp/signals.js';
import { checkWire, type WireLimits } from '../otlp/wire-check.js';
import type { Logger } from '../telemetry/logger.js';
import type { Metrics } from '../telemetry/metrics.js';
import { Deliverer } from './delivery.js';
import type { Sink, SinkRecord } from './sink.js';

/**
 * What a record holds while a sink has it: the objects its decode makes, and the sink's own form
 * of them (rows, documents), about as much again.
 */
const HELD_PER_DECODED = 2;

/**
 * The heap a record will hold once a sink has decoded and prepared it, estimated by a walk of its
 * wire form that allocates nothing (the ingester's estimate, see decode-cost.ts). The walk also
 * refuses what no decode should be asked to do: nesting deeper than `MAX_MESSAGE_DEPTH`.
 */
export function heldBytes(record: SinkRecord, limits: WireLimits): number {
  const type = record.signal === 'prom-rw' ? PromWriteRequest : SIGNALS[record.signal].request;
  return HELD_PER_DECODED * protobufDecodeCost(checkWire(type, record.value, limits), record.value.length);
}

/**
 * One hot-path pipeline: its own consumer group on one topic, delivering each fetched batch to
 * one backend, one request per tenant (see Deliverer for retries and the DLQ). Partitions are
 * delivered side by side, so a batch waiting on the backend holds back only its partition.
 * Offsets are committed only after every record of the batch was acknowledged or dead-lettered:
 * at least once.
 *
 * What a batch holds decoded is taken from the pipeline's budget (`SINK_MAX_DECODED_BYTES`, its
 * partitions together) before each record is decoded. A record that does not fit makes the
 * batch deliver what it holds and give it back before it waits; a record larger than the whole
 * budget goes to the DLQ (TOO_LARGE). Each sink has a budget of its own: a backend that is down
 * holds its own sink's batches, never another's.
 */
export class HotPathPipeline<P> extends ConsumerPipeline {
  private readonly deliverer: Deliverer<P>;
  private readonly wireLimits: WireLimits;
  private readonly budget: ByteBudget;

  constructor(
    cfg: Config,
    kafka: Kafka,
    topic: string,
    signals: readonly Signal[],
    private readonly sink: Sink<P>,
    metrics: Metrics,
    logger: Logger,
  ) {
    super(
      cfg,
      kafka,
      {
        name: sink.name,
        topic,
        groupId: `${cfg.SINK_GROUP_PREFIX}-${sink.name}`,
        signals,
        consumer: {
          sessionTimeout: 30_000,
          heartbeatInterval: 3000,
          // A fetch waits up to SINK_LINGER_MS for SINK_MIN_BATCH_BYTES, and brings at most
          // SINK_MAX_BATCH_BYTES per partition; requests carry at most SINK_MAX_BATCH_RECORDS.
          maxWaitTimeInMs: cfg.SINK_LINGER_MS,
          minBytes: cfg.SINK_MIN_BATCH_BYTES,
          maxBytesPerPartition: cfg.SINK_MAX_BATCH_BYTES,
        },
        concurrency: Math.max(1, cfg.TOPIC_PARTITIONS),
        autoResolve: false,
      },
      metrics,
      logger,
    );
    // the ingester's nesting limit; attributes are not limited here (a backend refuses what it must)
    this.wireLimits = { maxDepth: cfg.MAX_MESSAGE_DEPTH, maxAttributes: Number.MAX_SAFE_INTEGER };
    this.budget = new ByteBudget(cfg.SINK_MAX_DECODED_BYTES);
    const labels = { sink: sink.name };
    this.deliverer = new Deliverer(sink, {
      retryMaxMs: cfg.SINK_RETRY_MAX_MS,
      signal: this.abort.signal,
      hooks: {
        requested: (kind) => metrics.sinkRequests.inc({ ...labels, outcome: kind }),
        delivered: (items, records) => {
          metrics.sinkItems.inc(labels, items);
          const now = Date.now();
          for (const r of records) metrics.sinkHotPathSeconds.observe(labels, Math.max(0, now - r.kafkaTimestampMs) / 1000);
        },
        retrying: (tenant, attempt, delayMs, reason) => {
          if (attempt % 10 === 0) this.log.warn({ tenant, attempt, delayMs, reason }, 'delivery failed; retrying');
        },
      },
    });
  }

  protected async onBatch({ batch, resolveOffset, heartbeat, isRunning, isStale }: EachBatchPayload): Promise<void> {
    const started = Date.now();
    const byTenant = new Map<string, { prepared: P[]; records: SinkRecord[] }>();
    const messages = new Map(batch.messages.map((m) => [m.offset, m]));
    const ctx = {
      deadLetter: (r: SinkRecord, reason: string) => this.deadLetter(messages.get(r.offset)!, batch.partition, r.offset, 'BACKEND_REJECTED', reason),
      heartbeat,
      owned: () => isRunning() && !isStale(),
    };
    const maxRecords = this.cfg.SINK_MAX_BATCH_RECORDS;
    const maxBytes = this.cfg.SINK_MAX_REQUEST_BYTES;
    /** Delivers what the batch holds, in order per tenant; false when stopping or rebalanced. */
    const deliverHeld = async (): Promise<boolean> => {
      for (const [tenant, group] of byTenant) {
        // requests of at most maxRecords records and maxBytes Kafka bytes (one record at least)
        for (let i = 0; i < group.records.length; ) {
          let end = i + 1;
          let bytes = group.records[i]!.value.length;
          while (end < group.records.length && end - i < maxRecords && bytes + group.records[end]!.value.length <= maxBytes) bytes += group.records[end++]!.value.length;
          if (!(await this.deliverer.deliver(tenant, group.prepared.slice(i, end), group.records.slice(i, end), ctx))) return false;
          i = end;
        }
      }
      byTenant.clear();
      return true;
    };
    let held = 0;
    try {
      for (const message of batch.messages) {
        const record = await this.accept(message, batch.partition);
        if (!record) continue;
        let bytes: number;
        try {
          bytes = heldBytes(record, this.wireLimits);
        } catch (e) {
          await this.deadLetter(message, batch.partition, message.offset, 'DECODE_FAILED', (e as Error).message);
          continue;
        }
        if (bytes > this.budget.total) {
          const mib = (n: number) => `${Math.ceil(n / 1024 / 1024)} MiB`;
          await this.deadLetter(message, batch.partition, message.offset, 'TOO_LARGE', `decoded, the record would hold about ${mib(bytes)}; the hot-path sinks may hold ${mib(this.budget.total)} (SINK_MAX_DECODED_BYTES)`);
          continue;
        }
        if (!this.budget.tryTake(bytes)) {
          // deliver and let go of what this batch holds before waiting for room, so that no two
          // batches wait on each other's holdings
          if (!(await deliverHeld())) return; // stopping or rebalanced: not acknowledged, read again by the next owner
          this.budget.give(held);
          held = 0;
          // the batches holding it are delivering (and heartbeating); this one heartbeats too
          const beat = setInterval(() => void heartbeat().catch(() => {}), 3000);
          try {
            await this.budget.take(bytes, this.abort.signal);
          } finally {
            clearInterval(beat);
          }
        }
        held += bytes;
        let prepared: P;
        try {
          prepared = this.sink.prepare(record);
        } catch (e) {
          await this.deadLetter(message, batch.partition, message.offset, 'ENCODE_FAILED', (e as Error).message);
          continue;
        }
        const group = byTenant.get(record.tenant) ?? { prepared: [], records: [] };
        group.prepared.push(prepared);
        group.records.push(record);
        byTenant.set(record.tenant, group);
      }
      if (!(await deliverHeld())) return;
    } finally {
      this.budget.give(held);
    }
    resolveOffset(batch.lastOffset());
    await this.commitPositions(new Map([[batch.partition, BigInt(batch.lastOffset()) + 1n]]));
    this.metrics.sinkBatchSeconds.observe({ sink: this.sink.name }, (Date.now() - started) / 1000);
    await heartbeat();
  }
}
