import { LAKE_TABLES } from '../schema/tables.js';
import { randomUUID } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DuckDBConnection } from '@duckdb/node-api';
import type { Admin, Consumer, EachBatchPayload, Kafka, KafkaMessage } from 'kafkajs';
import type { Config } from '../config/schema.js';
import { LakehouseError } from '../core/errors.js';
import { Mutex } from '../core/mutex.js';
import { retry } from '../core/retry.js';
import { ConsumerPipeline } from '../kafka/consumer-pipeline.js';
import type { Logger } from '../telemetry/logger.js';
import { createMetrics, type Metrics } from '../telemetry/metrics.js';
import { LogBuffer, type PartitionRange, type SealedBuffer } from './buffer.js';
import { FlushPolicy, type FlushReason } from './flush-policy.js';
import { catalogReachable, CatalogClient } from './catalog-client.js';
import { IcebergCommitter, type CommitResult } from './committer.js';
import { httpStatusOf, isOutOfMemory, isResourceError, isTransientLakeError } from './duckdb-errors.js';
import { ConfigError } from '../config/load.js';
import { OffsetsTable, type PartitionOffsets } from './offsets-table.js';
import { ensureLakeTables, openLakeSession, qualifiedNamespace, type LakeSession } from './session.js';
import { ObjectStore } from './object-store.js';
import { SnapshotRepair } from './snapshot-repair.js';

/**
 * DuckDB threads of the appender unless DUCKDB_THREADS says otherwise. Its statements are many
 * and small (a load per fetched batch), and a second thread made each of them dearer; the
 * commit runs beside the loads on a connection of its own, so two cores are used anyway
 * (docs/benchmarks.md).
 */
export const APPENDER_DUCKDB_THREADS = 1;

/**
 * What the appender's DuckDB may hold beyond the buffer's size, unless DUCKDB_MEMORY_LIMIT_MB
 * says otherwise. DuckDB holds the buffer, and the limit keeps a full buffer from taking the
 * process far past its size (the rest spills to disk); its allocator keeps about as much again in
 * freed pages for a while, so the limit counts about twice in the process's RSS. The commit
 * needs room of its own that spilling cannot give: each file it writes holds a row group of rows
 * until the group is full, and with a Kubernetes resource's attributes on every row a single
 * file's row group did not fit beside the buffers in a limit of the buffer's size, so no commit
 * ever landed (docs/benchmarks.md).
 */
export const APPENDER_COMMIT_MEMORY_MB = 50;

/** DuckDB's memory limit in the appender, in MB: `DUCKDB_MEMORY_LIMIT_MB`, else the buffer's size and the commit's room. */
export function appenderDuckdbMemoryLimitMb(cfg: Pick<Config, 'DUCKDB_MEMORY_LIMIT_MB' | 'BUFFER_SIZE_MB'>): number {
  return cfg.DUCKDB_MEMORY_LIMIT_MB ?? Math.max(100, cfg.BUFFER_SIZE_MB) + APPENDER_COMMIT_MEMORY_MB;
}

/**
 * The lake pipeline: consumes the logs topic in its own consumer group, maps each OTLP request
 * to hybrid-schema rows, buffers them in DuckDB and commits them with their offsets to Iceberg
 * (see IcebergCommitter). Kafka offsets are committed only after the Iceberg commit, and are
 * advisory: on start the pipeline skips whatever the lake already holds.
 */
export class LakePipeline extends ConsumerPipeline {
  private readonly mutex = new Mutex();
  private readonly policy: FlushPolicy;
  private session: LakeSession | undefined;
  private buffer: LogBuffer | undefined;
  private committer: IcebergCommitter | undefined;
  private readonly offsetsTable: OffsetsTable;
  private readonly catalog: CatalogClient;
  private readonly store: ObjectStore;
  private repair: SnapshotRepair | undefined;
  private lakeOffsets: PartitionOffsets = new Map();
  private timer: NodeJS.Timeout | undefined;
  private lagTimer: NodeJS.Timeout | undefined;
  private memoryTimer: NodeJS.Timeout | undefined;
  private admin: Admin | undefined;
  /** A second connection to the buffer's DuckDB, for memory statistics while the first is busy. */
  private statsConnection: DuckDBConnection | undefined;
  /**
   * The connection the buffer loads on. The session's own connection commits, so that a commit
   * runs beside the loads of the next buffer.
   */
  private loadConnection: DuckDBConnection | undefined;
  /** The commit of the sealed buffer, while it runs; never rejects. */
  private inFlight: Promise<void> | undefined;
  /** The commit in flight ran out of memory: loads wait for it rather than compete with it. */
  private commitNeedsMemory = false;
  /** The consumer's heartbeat, kept from the latest batch, so a long flush keeps the membership. */
  private heartbeat: (() => Promise<void>) | undefined;

  constructor(cfg: Config, kafka: Kafka, logger: Logger, metrics: Metrics = createMetrics()) {
    super(
      cfg,
      kafka,
      {
        name: 'lake',
        topic: cfg.REDPANDA_TOPIC,
        groupId: cfg.APPENDER_GROUP_ID,
        signals: ['logs'],
        consumer: {
          sessionTimeout: 30_000,
          rebalanceTimeout: 120_000,
          heartbeatInterval: 3000,
          // Small fetches: each batch passes through the NDJSON spool whole, and kafkajs holds the
          // next fetch beside it, so smaller fetches keep the peak RSS down (docs/benchmarks.md).
          // A record larger than this is still fetched.
          maxBytes: 4 * 1024 * 1024,
          maxBytesPerPartition: 2 * 1024 * 1024,
        },
        // One batch at a time: the buffer and the offsets it covers move together.
        concurrency: 1,
        autoResolve: true,
      },
      metrics,
      logger,
    );
    this.catalog = new CatalogClient(cfg);
    this.store = new ObjectStore(cfg);
    this.policy = new FlushPolicy(cfg);
    this.offsetsTable = new OffsetsTable(`${qualifiedNamespace(cfg)}.${LAKE_TABLES.offsets.name}`, cfg.APPENDER_GROUP_ID, cfg.REDPANDA_TOPIC);
  }

  protected override async open(): Promise<void> {
    const cfg = this.cfg;
    const memoryLimitMb = appenderDuckdbMemoryLimitMb(cfg);
    // Spill files go beside the spool files, one directory per pipeline (two in one process must
    // not share one; removed by the buffer once the process is gone), not into the working directory.
    const tempDirectory = join(cfg.LAKE_SPOOL_DIR ?? tmpdir(), `otel-lakehouse-duckdb-${process.pid}-${randomUUID().slice(0, 8)}`);
    // An outage at start is waited out; a catalog that answers no (a wrong URL or token) stops
    // start-up, naming the settings, instead of being retried for ever.
    const refused = (e: unknown): never => {
      const status = httpStatusOf(e);
      if (status === undefined || isTransientLakeError(e)) throw e;
      const token = status === 401 || status === 403 ? ' (check ICEBERG_CATALOG_TOKEN)' : '';
      throw new ConfigError([`ICEBERG_CATALOG_URI=${cfg.ICEBERG_CATALOG_URI}: the Iceberg catalog answered ${status}${token}: ${(e as Error).message.slice(0, 300)}`]);
    };
    this.session = await retry(() => openLakeSession(cfg, { memoryLimitMb, tempDirectory, threads: cfg.DUCKDB_THREADS ?? APPENDER_DUCKDB_THREADS, utcPartitionTransforms: true }), this.retryOptions('open lake session', isTransientLakeError)).catch(refused);
    const changed = await retry(() => ensureLakeTables(this.session!.connection, cfg, this.catalog), this.retryOptions('create lake tables', isTransientLakeError)).catch(refused);
    if (changed.added.length > 0 || changed.renamed.length > 0 || changed.properties.length > 0) this.log.info({ table: LAKE_TABLES.logs.name, ...changed }, 'evolved the lake table (columns added, partition fields renamed, properties set)');
    this.loadConnection = await this.session.instance.connect();
    this.buffer = new LogBuffer(this.loadConnection, cfg.LAKE_SPOOL_DIR, cfg.MAX_MESSAGE_DEPTH, cfg.LAKE_DEDUP_WINDOW > 0);
    await this.buffer.init();
    const dedup = cfg.LAKE_DEDUP_WINDOW > 0 ? { table: `${qualifiedNamespace(cfg)}.${LAKE_TABLES.digests.name}`, windowMs: cfg.LAKE_DEDUP_WINDOW } : undefined;
    this.committer = new IcebergCommitter(this.session.connection, `${qualifiedNamespace(cfg)}.${LAKE_TABLES.logs.name}`, this.offsetsTable, this.catalog, cfg.ICEBERG_NAMESPACE, undefined, undefined, undefined, dedup);
    this.repair = new SnapshotRepair(this.session.connection, this.catalog, this.store, cfg.ICEBERG_NAMESPACE, [LAKE_TABLES.logs.name, LAKE_TABLES.offsets.name], this.log, [LAKE_TABLES.digests.name]);
    // A writer that failed right after a commit whose files were then deleted leaves a broken
    // snapshot behind (see SnapshotRepair): mend it before reading the offsets.
    await retry(() => this.repair!.run(), this.retryOptions('check the current snapshots'));
    this.lakeOffsets = await this.offsetsTable.load(this.session.connection);
    await this.checkOffsetsAgainstKafka();
  }

  /**
   * Two operator moves that would double or skip records without a word, refused at start:
   * a renamed consumer group (the lake's offsets are kept per group: a group it has none for
   * would read everything still in Kafka again), and a topic deleted and created again (its
   * offsets start below what the lake holds, and the appender would pass over its records).
   */
  private async checkOffsetsAgainstKafka(): Promise<void> {
    const cfg = this.cfg;
    if (this.lakeOffsets.size === 0 && !cfg.APPENDER_ALLOW_NEW_GROUP) {
      const others = await this.offsetsTable.otherGroups(this.session!.connection);
      if (others.length > 0) {
        throw new ConfigError([
          `the lake holds offsets of topic ${cfg.REDPANDA_TOPIC} for consumer group(s) ${others.join(', ')} and none for APPENDER_GROUP_ID=${cfg.APPENDER_GROUP_ID}: ` +
            `a new group would store again every record still in Kafka. If the group was renamed, set APPENDER_GROUP_ID back to ${others.length === 1 ? others[0] : 'the old one'}; ` +
            `to store the topic again on purpose, set APPENDER_ALLOW_NEW_GROUP=true (docs/operating-the-lake.md, "Moving consumer groups and topics")`,
        ]);
      }
    }
    if (this.lakeOffsets.size === 0) return;
    const admin = this.kafka.admin();
    const behind: string[] = [];
    try {
      await admin.connect();
      for (const o of await admin.fetchTopicOffsets(cfg.REDPANDA_TOPIC)) {
        const lake = this.lakeOffsets.get(o.partition);
        if (lake !== undefined && lake > BigInt(o.high)) behind.push(`partition ${o.partition}: the lake is at ${lake}, the topic ends at ${o.high}`);
      }
    } finally {
      await admin.disconnect().catch(() => {});
    }
    if (behind.length > 0) {
      throw new ConfigError([
        `topic ${cfg.REDPANDA_TOPIC} ends before the offsets the lake holds for group ${cfg.APPENDER_GROUP_ID} (${behind.join('; ')}): it was deleted and created again, ` +
          `and its records would be passed over. To store the new topic from its start, set a new APPENDER_GROUP_ID and APPENDER_ALLOW_NEW_GROUP=true (docs/operating-the-lake.md, "Moving consumer groups and topics")`,
      ]);
    }
  }

  protected override watch(consumer: Consumer): void {
    // A rebalance may hand our partitions to another member: commit what we hold for them first.
    consumer.on(consumer.events.REBALANCING, () => {
      void this.mutex.run(() => this.flush('rebalance')).catch((err) => this.log.error({ err }, 'flush before rebalance failed'));
    });
    consumer.on(consumer.events.GROUP_JOIN, (e) => {
      this.log.info({ assignment: e.payload.memberAssignment }, 'partitions assigned');
      // The lake is the source of truth for positions: reload them for the new assignment.
      void this.mutex.run(async () => {
        // After the commit in flight, which moves them and uses the session's connection.
        await this.settle();
        if (this.session && !this.stopping) this.lakeOffsets = await this.offsetsTable.load(this.session.connection);
      }).catch((err) => this.log.warn({ err }, 'reloading lake offsets failed'));
    });
  }

  protected override async consuming(): Promise<void> {
    const cfg = this.cfg;
    this.timer = setInterval(() => {
      // With a commit in flight the next check comes soon enough; waiting here would hold the loads.
      const reason = this.buffer && !this.inFlight && this.policy.due(this.buffer);
      if (reason) void this.mutex.run(() => this.startFlush(reason)).catch((err) => this.log.error({ err }, 'flush failed'));
    }, this.policy.ageCheckIntervalMs);
    this.admin = this.kafka.admin();
    this.statsConnection = await this.session!.instance.connect();
    this.lagTimer = setInterval(() => void this.updateLag(), 10_000);
    this.memoryTimer = setInterval(() => void this.updateDuckdbMemory(), 5000);
    this.log.info({ bufferMb: cfg.BUFFER_SIZE_MB, bufferSeconds: cfg.BUFFER_TIME_SECONDS }, 'buffering');
  }

  /** Stops fetching, then flushes and commits what is buffered. */
  protected override async drain(consumer: Consumer | undefined): Promise<void> {
    clearInterval(this.timer);
    clearInterval(this.lagTimer);
    clearInterval(this.memoryTimer);
    await this.admin?.disconnect().catch(() => {});
    if (consumer) consumer.pause([{ topic: this.cfg.REDPANDA_TOPIC }]);
    await this.mutex.run(() => this.flush('shutdown'));
  }

  protected override async close(): Promise<void> {
    this.statsConnection?.closeSync();
    this.statsConnection = undefined;
    this.loadConnection?.closeSync();
    this.loadConnection = undefined;
    this.session?.close();
    this.session = undefined;
    this.store.close();
  }

  /** The catalog must answer for the lake pipeline to commit. */
  async notReadyReason(): Promise<string | undefined> {
    return (await catalogReachable(this.cfg.ICEBERG_CATALOG_URI)).reason;
  }

  private retryOptions(what: string, shouldRetry: (e: unknown) => boolean = () => true) {
    return {
      initialMs: 200,
      maxMs: 30_000,
      shouldRetry: (e: unknown) => !this.abort.signal.aborted && shouldRetry(e),
      signal: this.abort.signal,
      onRetry: (err: unknown, attempt: number, delayMs: number) =>
        this.log.warn({ err, attempt, delayMs }, `${what} failed; retrying`),
    };
  }

  protected onBatch(payload: EachBatchPayload): Promise<void> {
    return this.mutex.run(() => this.takeBatch(payload));
  }

  private async takeBatch({ batch, heartbeat, resolveOffset }: EachBatchPayload): Promise<void> {
    this.heartbeat = heartbeat;
    // Stopping: leave the batch unbuffered; nothing of it is committed, so the next owner reads it.
    if (this.stopping) return;
    if (this.commitNeedsMemory) await this.settle();
    const buffer = this.buffer!;
    const partition = batch.partition;
    const lakeNext = this.lakeOffsets.get(partition) ?? 0n;
    const taken = new Map<bigint, KafkaMessage>();
    for (const message of batch.messages) {
      const offset = BigInt(message.offset);
      const buffered = buffer.lastOffset(partition);
      // Already in the lake, or already buffered (a batch fetched again after a retry).
      if (offset < lakeNext || (buffered !== undefined && offset <= buffered)) {
        this.metrics.lakeRowsSkipped.inc();
        continue;
      }
      await this.stage(buffer, partition, offset, message);
      taken.set(offset, message);
    }
    // One load for the batch; a record DuckDB refuses goes to the DLQ whole, the rest stay.
    let rejected;
    try {
      rejected = await buffer.load();
    } catch (e) {
      // Out of memory or disk: commit what is buffered to make room, and fetch the batch again.
      // With a commit in flight, waiting for it frees its buffer; otherwise commit this one.
      if (isResourceError(e)) await (this.inFlight ? this.settle() : this.flush('resources'));
      throw e;
    }
    for (const r of rejected) {
      await this.deadLetter(taken.get(r.offset)!, r.partition, r.offset, 'APPEND_FAILED', r.error.message);
    }
    for (const offset of taken.keys()) resolveOffset(String(offset));
    await heartbeat();
    this.updateBufferGauges(buffer);
    const reason = this.policy.due(buffer);
    if (reason) await this.startFlush(reason);
  }

  private async stage(buffer: LogBuffer, partition: number, offset: bigint, message: KafkaMessage): Promise<void> {
    const record = await this.accept(message, partition);
    if (!record) {
      buffer.skip(partition, offset);
      return;
    }
    try {
      buffer.stage(record.value, { tenant: record.tenant, fallbackMicros: BigInt(Math.trunc(record.receivedAtMs)) * 1000n, partition, offset });
    } catch (e) {
      await this.deadLetter(message, partition, offset, 'DECODE_FAILED', (e as Error).message);
      buffer.skip(partition, offset);
    }
  }

  /** Commits the buffer to Iceberg and waits until it has landed, with the commit before it. Caller holds the mutex. */
  private async flush(reason: FlushReason): Promise<void> {
    await this.startFlush(reason);
    await this.settle();
  }

  /**
   * Seals the buffer and commits it in the background while the next one loads. One commit at a
   * time, in order: this waits for the one before (and so holds the consumer when commits fall
   * behind the loads). Caller holds the mutex.
   */
  private async startFlush(reason: FlushReason): Promise<void> {
    await this.settle();
    const buffer = this.buffer;
    if (!buffer || buffer.isEmpty || !this.committer || !this.session) return;
    const sealed = await buffer.seal();
    this.updateBufferGauges(buffer);
    this.inFlight = this.commitSealed(buffer, sealed, reason).finally(() => {
      this.inFlight = undefined;
    });
  }

  /** Waits for the commit in flight, if any, heartbeating for the consumer loop it may hold. */
  private async settle(): Promise<void> {
    if (!this.inFlight) return;
    // A commit that retries through a catalog outage must not cost the group membership.
    const beat = setInterval(() => void this.heartbeat?.().catch(() => {}), 3000);
    try {
      while (this.inFlight) await this.inFlight;
    } finally {
      clearInterval(beat);
    }
  }

  /**
   * Commits a sealed buffer to Iceberg (retrying until it lands), releases it, then commits the
   * Kafka offsets. Its rows' offsets stay "buffered" until then, so they are neither loaded
   * twice nor passed over. Gives up only when the pipeline stops (the retries are aborted):
   * nothing of the buffer is acknowledged then, and the next owner reads it again.
   */
  private async commitSealed(buffer: LogBuffer, sealed: SealedBuffer, reason: FlushReason): Promise<void> {
    const started = Date.now();
    const batchId = randomUUID();
    for (;;) {
      try {
        await this.commitAndAdvance(buffer, sealed, reason, batchId, started);
        this.commitNeedsMemory = false;
        return;
      } catch (err) {
        if (this.abort.signal.aborted) {
          this.log.warn({ err, batchId }, 'stopping: the buffer in commit was left to be read again');
          return;
        }
        // Out of memory with one file per INSERT already: only a higher limit lets it land.
        const more = isOutOfMemory(err) && this.committer?.partitionsPerWrite === 1 ? ' (out of memory writing one file at a time: raise DUCKDB_MEMORY_LIMIT_MB)' : '';
        this.log.error({ err, batchId }, `Iceberg commit failed; retrying${more}`);
        await new Promise((r) => setTimeout(r, 1000));
      }
    }
  }

  private async commitAndAdvance(buffer: LogBuffer, sealed: SealedBuffer, reason: string, batchId: string, started: number): Promise<void> {
    const result = await retry(
      async () => {
        try {
          return await this.committer!.commit(sealed.tables, sealed.ranges, batchId);
        } catch (e) {
          // An unknown outcome may have landed, and DuckDB deletes the data files of a commit it
          // saw fail: roll back a snapshot left without its files, else look before writing again.
          if (e instanceof LakehouseError && e.kind === 'unknown-outcome' && (await this.rolledBackBrokenCommit())) throw e;
          if (e instanceof LakehouseError && e.kind === 'unknown-outcome' && (await this.batchLanded(batchId))) {
            return { rows: sealed.records, committed: nextOffsets(sealed.ranges), alreadyCommitted: [] };
          }
          // Over DuckDB's memory limit beside the next buffer's loads: hold the loads, try again.
          if (isOutOfMemory(e) && !this.commitNeedsMemory) {
            this.commitNeedsMemory = true;
            throw e;
          }
          // Still over it (or out of disk): the same commit would fail again. Commit the
          // partitions one at a time instead, each with its own offsets, so each needs less.
          if (isOutOfMemory(e) && sealed.ranges.size > 1) {
            this.log.warn({ err: e, partitions: sealed.ranges.size, duckdbMemory: await this.duckdbMemory() }, 'the commit ran out of memory; committing partition by partition');
            return await this.commitByPartition(sealed, batchId);
          }
          throw e;
        }
      },
      {
        ...this.retryOptions('Iceberg commit'),
        onRetry: (err: unknown, attempt: number, delayMs: number) => {
          const kind = err instanceof LakehouseError ? (err.code === 'COMMIT_CONFLICT' ? 'conflict' : 'unknown_outcome') : 'unavailable';
          this.metrics.lakeCommitRetries.inc({ kind });
          this.log.warn({ err, attempt, delayMs, kind }, 'Iceberg commit failed; retrying');
        },
      },
    );
    this.metrics.lakeCommits.inc();
    this.metrics.lakeRowsCommitted.inc(result.rows);
    if (result.copies) this.metrics.lakeCopiesSkipped.inc(result.copies);
    if (result.rows > 0) void this.countDataFiles(result.rows);
    for (const [p, next] of result.committed) this.lakeOffsets.set(p, next);
    const positions = nextOffsets(sealed.ranges);
    buffer.release(sealed);
    // Its tables go on the buffer's own connection, between loads.
    void this.mutex.run(() => buffer.collect()).catch((err) => this.log.warn({ err }, 'dropping the committed buffer tables failed'));
    try {
      await this.commitPositions(positions);
    } catch (err) {
      // Advisory only: the lake holds the authoritative offsets.
      this.log.warn({ err }, 'committing Kafka offsets failed; the lake offsets stay authoritative');
    }
    const stats = { reason, rows: result.rows, records: sealed.records, bytes: sealed.bytes, durationMs: Date.now() - started };
    this.metrics.lakeFlushSeconds.observe({ reason }, stats.durationMs / 1000);
    this.updateBufferGauges(buffer);
    this.log.info({ ...stats, batchId, partitions: Object.fromEntries([...result.committed].map(([p, n]) => [p, String(n)])), alreadyCommitted: result.alreadyCommitted, ...(result.copies ? { copiesSkipped: result.copies } : {}), ...(result.dedupMs === undefined ? {} : { dedupMs: result.dedupMs }) }, 'flushed to Iceberg');
  }

  /**
   * Counts the data files of the commit just made, from the table's current snapshot summary;
   * only when that snapshot added exactly our rows (another writer may have committed since).
   */
  private async countDataFiles(rows: number): Promise<void> {
    try {
      const summary = await this.catalog.currentSnapshotSummary(this.cfg.ICEBERG_NAMESPACE, LAKE_TABLES.logs.name);
      if (summary && Number(summary['added-records']) === rows) this.metrics.lakeDataFiles.inc(Number(summary['added-data-files'] ?? 0));
    } catch (err) {
      this.log.debug({ err }, 'reading the snapshot summary failed');
    }
  }

  private updateBufferGauges(buffer: LogBuffer): void {
    this.metrics.lakeBufferedBytes.set(buffer.byteSize + (buffer.pending?.bytes ?? 0));
    this.metrics.lakeBufferedRecords.set(buffer.recordCount + (buffer.pending?.records ?? 0));
    this.metrics.lakeBufferAge.set(buffer.ageMs() / 1000);
  }

  /** Lag per partition: the topic's high watermark minus what the lake holds. */
  private async updateLag(): Promise<void> {
    try {
      if (!this.admin) return;
      await this.admin.connect();
      for (const o of await this.admin.fetchTopicOffsets(this.cfg.REDPANDA_TOPIC)) {
        const lake = this.lakeOffsets.get(o.partition) ?? BigInt(o.low);
        const lag = BigInt(o.high) - lake;
        this.metrics.lakeLag.set({ topic: this.cfg.REDPANDA_TOPIC, partition: String(o.partition) }, Number(lag > 0n ? lag : 0n));
      }
      if (this.buffer) this.updateBufferGauges(this.buffer);
    } catch (err) {
      this.log.debug({ err }, 'lag update failed');
    }
  }

  /** DuckDB's memory by tag: bytes in memory and spilled (on the statistics connection). */
  private async readDuckdbMemory(): Promise<{ tag: string; used: number; spilled: number }[]> {
    if (!this.statsConnection) return [];
    const reader = await this.statsConnection.runAndReadAll('SELECT tag, memory_usage_bytes, temporary_storage_bytes FROM duckdb_memory()');
    return reader.getRows().map(([tag, used, temp]) => ({ tag: String(tag).toLowerCase(), used: Number(used), spilled: Number(temp) }));
  }

  /** DuckDB's memory by tag (MB in memory / spilled), for a log line. */
  private async duckdbMemory(): Promise<Record<string, string> | undefined> {
    try {
      const tags = (await this.readDuckdbMemory()).filter((m) => m.used + m.spilled > 0);
      return Object.fromEntries(tags.map((m) => [m.tag, `${Math.round(m.used / 1e6)}/${Math.round(m.spilled / 1e6)}`]));
    } catch {
      return undefined;
    }
  }

  /** DuckDB's own account of its memory, by tag, and what it has spilled. */
  private async updateDuckdbMemory(): Promise<void> {
    try {
      let spilled = 0;
      for (const m of await this.readDuckdbMemory()) {
        this.metrics.lakeDuckdbMemory.set({ tag: m.tag }, m.used);
        spilled += m.spilled;
      }
      this.metrics.lakeDuckdbSpilled.set(spilled);
    } catch (err) {
      this.log.debug({ err }, 'reading DuckDB memory statistics failed');
    }
  }

  /**
   * One commit per partition, each with that partition's offsets. A failure part-way is retried
   * whole: the partitions already in the lake are then skipped by the committer.
   */
  private async commitByPartition(sealed: SealedBuffer, batchId: string): Promise<CommitResult> {
    const total: CommitResult = { rows: 0, committed: new Map(), alreadyCommitted: [] };
    for (const [partition, range] of sealed.ranges) {
      const part = await this.committer!.commit(sealed.tables, new Map([[partition, range]]), `${batchId}-p${partition}`);
      total.rows += part.rows;
      for (const [p, next] of part.committed) total.committed.set(p, next);
      total.alreadyCommitted.push(...part.alreadyCommitted);
      if (part.copies) total.copies = (total.copies ?? 0) + part.copies;
    }
    // The caller counts one commit; the others are counted here.
    if (sealed.ranges.size > 1) this.metrics.lakeCommits.inc(sealed.ranges.size - 1);
    return total;
  }

  /** Whether a snapshot without its data files was found and rolled back (see SnapshotRepair). */
  private async rolledBackBrokenCommit(): Promise<boolean> {
    try {
      const tables = (await this.repair?.run()) ?? [];
      if (tables.length > 0) this.metrics.lakeCommitRetries.inc({ kind: 'rolled_back' });
      return tables.length > 0;
    } catch (err) {
      this.log.warn({ err }, 'checking the current snapshots failed');
      return false;
    }
  }

  private async batchLanded(batchId: string): Promise<boolean> {
    try {
      return await this.committer!.landed(batchId);
    } catch {
      return false;
    }
  }
}

function nextOffsets(ranges: ReadonlyMap<number, PartitionRange>): Map<number, bigint> {
  const m = new Map<number, bigint>();
  for (const [p, r] of ranges) m.set(p, r.last + 1n);
  return m;
}
