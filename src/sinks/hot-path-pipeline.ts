import type { EachBatchPayload, Kafka } from 'kafkajs';
import type { Config } from '../config/schema.js';
import { ConsumerPipeline } from '../kafka/consumer-pipeline.js';
import type { Signal } from '../kafka/record.js';
import type { Logger } from '../telemetry/logger.js';
import type { Metrics } from '../telemetry/metrics.js';
import { Deliverer } from './delivery.js';
import type { Sink, SinkRecord } from './sink.js';

/**
 * One hot-path pipeline: its own consumer group on one topic, delivering each fetched batch to
 * one backend, one request per tenant (see Deliverer for retries and the DLQ). Partitions are
 * delivered side by side, so a batch waiting on the backend holds back only its partition.
 * Offsets are committed only after every record of the batch was acknowledged or dead-lettered:
 * at least once.
 */
export class HotPathPipeline<P> extends ConsumerPipeline {
  private readonly deliverer: Deliverer<P>;

  constructor(cfg: Config, kafka: Kafka, topic: string, signals: readonly Signal[], private readonly sink: Sink<P>, metrics: Metrics, logger: Logger) {
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
    for (const message of batch.messages) {
      const record = await this.accept(message, batch.partition);
      if (!record) continue;
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
    const ctx = {
      deadLetter: (r: SinkRecord, reason: string) => this.deadLetter(messages.get(r.offset)!, batch.partition, r.offset, 'BACKEND_REJECTED', reason),
      heartbeat,
      owned: () => isRunning() && !isStale(),
    };
    const max = this.cfg.SINK_MAX_BATCH_RECORDS;
    for (const [tenant, group] of byTenant) {
      for (let i = 0; i < group.records.length; i += max) {
        const done = await this.deliverer.deliver(tenant, group.prepared.slice(i, i + max), group.records.slice(i, i + max), ctx);
        if (!done) return; // stopping or rebalanced: not acknowledged, read again by the next owner
      }
    }
    resolveOffset(batch.lastOffset());
    await this.commitPositions(new Map([[batch.partition, BigInt(batch.lastOffset()) + 1n]]));
    this.metrics.sinkBatchSeconds.observe({ sink: this.sink.name }, (Date.now() - started) / 1000);
    await heartbeat();
  }
}
