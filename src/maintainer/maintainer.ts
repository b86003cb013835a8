import type { Config } from '../config/schema.js';
import { catalogReachable } from '../lake/catalog-client.js';
import { HttpServer, sendJson, sendMetrics } from '../core/http-server.js';
import type { Component } from '../core/lifecycle.js';
import type { Logger } from '../telemetry/logger.js';
import { createMetrics, type Metrics } from '../telemetry/metrics.js';
import { buildJob, IcebergProcess, type TaskResult } from './iceberg-tasks.js';
import { retentionPolicy, type RetentionPolicy } from './retention.js';

export interface RunSummary {
  ok: boolean;
  durationMs: number;
  results: TaskResult[];
  error?: string;
}

/**
 * The maintainer: runs the table maintenance of the lake (retention, compaction, manifest
 * rewrite, snapshot expiry, orphan removal) every MAINTENANCE_INTERVAL_SECONDS, one run at a
 * time, in a Java process kept between runs (see iceberg-tasks.ts); serves /metrics, /healthz,
 * /readyz.
 * Every change it makes is an Iceberg commit with requirements, so it is safe beside any number
 * of appenders and readers; run one maintainer per namespace.
 */
export class Maintainer implements Component {
  readonly name = 'maintainer';
  readonly http: HttpServer;
  readonly retention: RetentionPolicy;
  private readonly log: Logger;
  private timer: NodeJS.Timeout | undefined;
  private readonly iceberg: IcebergProcess;
  private running: Promise<RunSummary> | undefined;
  private stopped = false;
  last: RunSummary | undefined;

  constructor(
    private readonly cfg: Config,
    logger: Logger,
    readonly metrics: Metrics = createMetrics(),
  ) {
    this.log = logger.child({ component: this.name });
    this.retention = retentionPolicy(cfg);
    this.iceberg = new IcebergProcess(cfg, this.log);
    this.http = new HttpServer('maintainer.http', cfg.MAINTAINER_HOST, cfg.MAINTAINER_HTTP_PORT, logger)
      .route('GET', '/healthz', async (_req, res) => sendJson(res, 200, { status: 'ok', lastRun: this.lastRunView() }))
      .route('GET', '/readyz', async (_req, res) => {
        const catalog = await catalogReachable(cfg.ICEBERG_CATALOG_URI);
        if (!catalog.ok) return sendJson(res, 503, { status: 'not ready', reasons: [catalog.reason] }, { 'retry-after': '5' });
        sendJson(res, 200, { status: 'ready' });
      })
      .route('GET', '/metrics', (_req, res) => sendMetrics(res, this.metrics.registry));
  }

  private lastRunView() {
    if (!this.last) return null;
    return { ok: this.last.ok, durationMs: this.last.durationMs, error: this.last.error, failedTasks: this.last.results.filter((r) => !r.ok).map((r) => `${r.task}:${r.table}`) };
  }

  /** Starts the HTTP server and the schedule (the first run starts at once). */
  async start(): Promise<void> {
    await this.http.start();
    this.log.info({ intervalSeconds: this.cfg.MAINTENANCE_INTERVAL_SECONDS, tasks: this.cfg.MAINTENANCE_TASKS, retention: this.retention }, 'maintainer started');
    this.schedule(0);
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      void this.runOnce().finally(() => this.schedule(this.cfg.MAINTENANCE_INTERVAL_SECONDS * 1000));
    }, delayMs);
  }

  /** One run of every task; never throws (a failed task is reported and retried at the next run). */
  runOnce(): Promise<RunSummary> {
    this.running ??= this.doRun().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private async doRun(): Promise<RunSummary> {
    const started = Date.now();
    let summary: RunSummary;
    try {
      const results = await this.iceberg.run(buildJob(this.cfg, this.retention, started));
      summary = { ok: results.every((r) => r.ok), durationMs: Date.now() - started, results };
    } catch (e) {
      summary = { ok: false, durationMs: Date.now() - started, results: [], error: (e as Error).message };
    }
    this.record(summary);
    return summary;
  }

  private record(s: RunSummary): void {
    const m = this.metrics;
    m.maintenanceRuns.inc({ outcome: s.ok ? 'ok' : 'failed' });
    m.maintenanceRunSeconds.observe(s.durationMs / 1000);
    if (s.ok) m.maintenanceLastSuccess.set(Date.now() / 1000);
    const totals = { rewritten: 0, written: 0, dropped: 0, regroupedDays: 0, expiredSnapshots: 0, deleted: 0, orphans: 0 };
    for (const r of s.results) {
      const table = r.table;
      if (!r.ok) m.maintenanceTaskFailures.inc({ task: r.task, table });
      m.maintenanceFilesRewritten.inc({ table }, r.filesRewritten ?? 0);
      m.maintenanceBytesRewritten.inc({ table }, r.bytesRewritten ?? 0);
      m.maintenanceFilesWritten.inc({ table }, r.filesWritten ?? 0);
      m.maintenanceFilesRemoved.inc({ table, reason: 'retention' }, r.filesDropped ?? 0);
      m.maintenanceBytesRemoved.inc({ table, reason: 'retention' }, r.bytesDropped ?? 0);
      m.maintenanceFilesRemoved.inc({ table, reason: 'expired' }, r.filesDeleted ?? 0);
      m.maintenanceFilesRemoved.inc({ table, reason: 'orphan' }, r.orphansRemoved ?? 0);
      m.maintenanceBytesRemoved.inc({ table, reason: 'orphan' }, r.orphanBytesRemoved ?? 0);
      m.maintenanceSnapshotsExpired.inc({ table }, r.snapshotsExpired ?? 0);
      if (r.manifestsAfter !== undefined) m.maintenanceManifests.set({ table }, r.manifestsAfter);
      if (r.snapshots !== undefined) m.maintenanceSnapshots.set({ table }, r.snapshots);
      totals.rewritten += r.filesRewritten ?? 0;
      totals.written += r.filesWritten ?? 0;
      totals.dropped += r.filesDropped ?? 0;
      totals.regroupedDays += r.sharedDaysRegrouped ?? 0;
      totals.expiredSnapshots += r.snapshotsExpired ?? 0;
      totals.deleted += r.filesDeleted ?? 0;
      totals.orphans += r.orphansRemoved ?? 0;
    }
    const failed = s.results.filter((r) => !r.ok).map((r) => ({ task: r.task, table: r.table, error: r.error }));
    const line = {
      ok: s.ok,
      durationMs: s.durationMs,
      filesRewritten: totals.rewritten,
      filesWritten: totals.written,
      filesDroppedByRetention: totals.dropped,
      sharedDaysRegrouped: totals.regroupedDays,
      snapshotsExpired: totals.expiredSnapshots,
      filesDeletedWithSnapshots: totals.deleted,
      orphansRemoved: totals.orphans,
      taskMs: Object.fromEntries(s.results.map((r) => [`${r.task}:${r.table}`, r.durationMs])),
      ...(failed.length > 0 ? { failed } : {}),
      ...(s.error ? { error: s.error } : {}),
    };
    this.last = s;
    if (s.ok) this.log.info(line, 'maintenance run');
    else this.log.warn(line, 'maintenance run failed; retried at the next run');
  }

  /** Stops the schedule; a run in progress is stopped (what it committed stays, see iceberg-tasks.ts). */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    if (this.running) this.iceberg.kill();
    await this.running?.catch(() => {});
    this.iceberg.close();
    await this.http.stop();
    this.log.info('maintainer stopped');
  }
}
