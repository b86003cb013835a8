import { LAKE_TABLES, SHARED_SHARD_PREFIX, TENANT_SHARD_COLUMN } from '../schema/tables.js';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import type { Config } from '../config/schema.js';
import type { Logger } from '../telemetry/logger.js';
import type { RetentionPolicy } from './retention.js';

export type TaskName = 'properties' | 'retention' | 'offsets' | 'digests' | 'compact' | 'manifests' | 'expire' | 'orphans';

/** What one task did to one table, as the Java side reports it. */
export interface TaskResult {
  task: TaskName;
  table: string;
  ok: boolean;
  error?: string;
  durationMs: number;
  filesDropped?: number;
  bytesDropped?: number;
  recordsDropped?: number;
  offsetRowsRead?: number;
  offsetRowsDropped?: number;
  digestRowsRead?: number;
  digestRowsDropped?: number;
  groupsCompacted?: number;
  /** days that had ended whose files shared by tenants were regrouped into sorted tenant ranges */
  sharedDaysRegrouped?: number;
  filesRewritten?: number;
  bytesRewritten?: number;
  filesWritten?: number;
  bytesWritten?: number;
  commits?: number;
  manifestsBefore?: number;
  manifestsAfter?: number;
  snapshotsExpired?: number;
  filesDeleted?: number;
  snapshots?: number;
  orphansRemoved?: number;
  orphanBytesRemoved?: number;
  filesListed?: number;
}

/**
 * How compaction regroups the files tenants share once their day has ended (see
 * TENANT_SHARD_COLUMN and IcebergMaintenance.Shards): ranges of at most `maxRows` rows, each one
 * file sorted by tenant and time, in row groups of about `rowGroupBytes`. A range's rows are
 * sorted in the maintainer's memory, so `maxRows` bounds what one range takes there.
 */
export const SHARED_REGROUP = {
  column: TENANT_SHARD_COLUMN,
  sharedPrefix: SHARED_SHARD_PREFIX,
  tenantColumn: 'tenant_id',
  timeColumn: 'timestamp',
  maxRows: 20_000,
  rowGroupBytes: 1024 * 1024,
} as const;

/**
 * The tables the service keeps, and the tasks each gets. Offsets rows are never dropped by
 * retention. The digests table is trimmed to LAKE_DEDUP_WINDOW into one file by its own task,
 * which compaction would only undo part of.
 */
export const MAINTAINED_TABLES = [
  { table: LAKE_TABLES.logs.name, retention: true, offsets: false, digests: false, compact: true, shards: SHARED_REGROUP },
  { table: LAKE_TABLES.offsets.name, retention: false, offsets: true, digests: false, compact: true, shards: undefined },
  { table: LAKE_TABLES.digests.name, retention: false, offsets: false, digests: true, compact: false, shards: undefined },
] as const;

const distDir = fileURLToPath(new URL('../', import.meta.url));

/** Where the compiled maintenance class and its jars are (scripts/build-maintainer.sh puts them there). */
export function defaultClasspath(): string {
  return `${distDir}maintainer/classes:${distDir}maintainer/lib/*`;
}

/** The job for one run: every table, each enabled task in a safe order. */
export function buildJob(cfg: Config, retention: RetentionPolicy, now = Date.now()): object {
  const tasks: object[] = [];
  const enabled = new Set(cfg.MAINTENANCE_TASKS);
  for (const { table, retention: hasRetention, offsets, digests, compact, shards } of MAINTAINED_TABLES) {
    tasks.push({ task: 'properties', table });
    // Retention first, so nothing about to be dropped is compacted; expiry before orphan
    // removal, so the files of expired snapshots are deleted by expiry, which knows them.
    if (hasRetention && enabled.has('retention') && (retention.defaultDays !== undefined || Object.keys(retention.tenants).length > 0)) {
      tasks.push({ task: 'retention', table, defaultDays: retention.defaultDays ?? null, tenants: retention.tenants });
    }
    // The offsets table's superseded rows go before compaction, which then has less to merge.
    if (offsets && enabled.has('offsets')) tasks.push({ task: 'offsets', table, keepMs: cfg.MAINTENANCE_OFFSETS_KEEP });
    // With deduplication off, every digest is past the window.
    if (digests && enabled.has('digests')) tasks.push({ task: 'digests', table, keepMs: cfg.LAKE_DEDUP_WINDOW });
    if (compact && enabled.has('compact')) {
      tasks.push({ task: 'compact', table, targetBytes: cfg.MAINTENANCE_TARGET_FILE_MB * 1024 * 1024, minFiles: cfg.MAINTENANCE_MIN_INPUT_FILES, shards: shards ?? null });
    }
    if (enabled.has('manifests')) tasks.push({ task: 'manifests', table, maxManifests: cfg.MAINTENANCE_MAX_MANIFESTS });
    if (enabled.has('expire')) {
      tasks.push({ task: 'expire', table, keepLast: cfg.MAINTENANCE_KEEP_SNAPSHOTS, maxAgeMs: cfg.MAINTENANCE_SNAPSHOT_MAX_AGE });
    }
    if (enabled.has('orphans')) tasks.push({ task: 'orphans', table, minAgeMs: cfg.MAINTENANCE_ORPHAN_MIN_AGE });
  }
  return {
    now,
    namespace: cfg.ICEBERG_NAMESPACE,
    catalog: { uri: cfg.ICEBERG_CATALOG_URI, warehouse: cfg.ICEBERG_WAREHOUSE, token: cfg.ICEBERG_CATALOG_TOKEN ?? null },
    s3: {
      endpoint: cfg.S3_ENDPOINT,
      accessKey: cfg.S3_ACCESS_KEY,
      secretKey: cfg.S3_SECRET_KEY,
      region: cfg.S3_REGION,
      pathStyle: cfg.S3_URL_STYLE === 'path',
    },
    tasks,
  };
}

/** A nice value for the Java process: maintenance yields the CPU to ingestion on a shared host. */
const MAINTENANCE_NICENESS = 10;
/** Jobs one Java process runs before it is replaced, so nothing it accumulates lives for months. */
const JOBS_PER_PROCESS = 100;

interface Pending {
  child: ChildProcess;
  results: TaskResult[];
  resolve: (r: TaskResult[]) => void;
  reject: (e: Error) => void;
}

/**
 * Runs jobs in Apache Iceberg's Java library (src/maintainer/java/IcebergMaintenance.java), one
 * job at a time, in one Java process kept between runs: starting the JVM and compiling the
 * library's Parquet code again at every run would cost more CPU than most runs' work. A job,
 * which holds the S3 secret, goes over stdin, never on the command line; the Java side stops
 * when stdin closes (even mid-job), so a maintainer that dies takes its run with it. The
 * process runs at a lower CPU priority (through `nice` when the system has it).
 */
export class IcebergProcess {
  private child: ChildProcess | undefined;
  private pending: Pending | undefined;
  private jobs = 0;
  private readonly stderrTail: string[] = [];

  constructor(
    private readonly cfg: Config,
    private readonly log: Logger,
    private readonly jobsPerProcess = JOBS_PER_PROCESS,
  ) {}

  /** The Java process's pid, while one runs. */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** Runs one job; rejects if the process cannot start or ends before the job is done. */
  run(job: object): Promise<TaskResult[]> {
    if (this.pending) return Promise.reject(new Error('a maintenance job is already running'));
    const child = this.child ?? this.spawn();
    return new Promise<TaskResult[]>((resolve, reject) => {
      this.pending = { child, results: [], resolve, reject };
      child.stdin!.write(`${JSON.stringify(job)}\n`);
    });
  }

  /** Stops the process at once; a job in progress fails (what it committed stays, the rest is orphaned). */
  kill(): void {
    this.child?.kill('SIGKILL');
  }

  /** Ends the process once it is idle (it exits when its stdin closes). */
  close(): void {
    this.child?.stdin!.end();
    this.child = undefined;
  }

  private spawn(): ChildProcess {
    const java = [this.cfg.MAINTAINER_JAVA, ...this.cfg.MAINTAINER_JAVA_OPTS.split(/\s+/).filter(Boolean), '-cp', this.cfg.MAINTAINER_CLASSPATH ?? defaultClasspath(), 'IcebergMaintenance'];
    const command = niceCommand() ? [niceCommand()!, '-n', String(MAINTENANCE_NICENESS), ...java] : java;
    const child = spawn(command[0]!, command.slice(1), { stdio: ['pipe', 'pipe', 'pipe'] });
    this.child = child;
    this.jobs = 0;
    this.stderrTail.length = 0;
    createInterface({ input: child.stdout! }).on('line', (line) => this.onLine(child, line));
    createInterface({ input: child.stderr! }).on('line', (line) => {
      this.stderrTail.push(line);
      if (this.stderrTail.length > 40) this.stderrTail.shift();
      this.log.debug({ java: line }, 'maintenance process');
    });
    child.stdin!.on('error', () => {});
    child.once('error', (e) => {
      this.fail(child, new Error(`could not start the maintenance process (${this.cfg.MAINTAINER_JAVA}): ${e.message}; set MAINTAINER_JAVA or MAINTAINER_CLASSPATH`));
    });
    child.once('close', (code, signal) => {
      const said = this.stderrTail.slice(-8).join(' | ').slice(0, 2000);
      // `nice` answers 126/127 when it cannot run the Java command it was given.
      if ((code === 126 || code === 127) && command[0] !== java[0]) {
        this.fail(child, new Error(`could not start the maintenance process (${this.cfg.MAINTAINER_JAVA}): ${said}; set MAINTAINER_JAVA or MAINTAINER_CLASSPATH`));
      }
      this.fail(child, new Error(`the maintenance process ended with ${signal ?? `exit code ${code}`} after ${this.pending?.results.length ?? 0} task(s): ${said}`));
    });
    return child;
  }

  private onLine(child: ChildProcess, line: string): void {
    let parsed: (TaskResult & { done?: undefined }) | { done: true; error?: string };
    try {
      parsed = JSON.parse(line);
    } catch {
      this.log.warn({ line: line.slice(0, 500) }, 'unexpected output from the maintenance process');
      return;
    }
    const pending = this.pending;
    if (!pending || pending.child !== child) return;
    if (parsed.done !== true) {
      pending.results.push(parsed as TaskResult);
      return;
    }
    this.pending = undefined;
    if (++this.jobs >= this.jobsPerProcess) this.close();
    if (parsed.error) pending.reject(new Error(`the maintenance job could not run: ${parsed.error}`));
    else pending.resolve(pending.results);
  }

  /** The process is gone (or never started): fail the job in progress, start afresh next time. */
  private fail(child: ChildProcess, error: Error): void {
    if (child === this.child) this.child = undefined;
    child.stdin!.end();
    const pending = this.pending;
    if (!pending || pending.child !== child) return;
    this.pending = undefined;
    pending.reject(error);
  }
}

let nicePath: string | null | undefined;
/** `nice` from coreutils, if this system has it (looked up once). */
function niceCommand(): string | undefined {
  if (nicePath === undefined) nicePath = ['/usr/bin/nice', '/bin/nice'].find((p) => existsSync(p)) ?? null;
  return nicePath ?? undefined;
}
