import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import type { Config } from '../config/schema.js';
import type { Logger } from '../telemetry/logger.js';
import type { RetentionPolicy } from './retention.js';

export type TaskName = 'properties' | 'retention' | 'compact' | 'manifests' | 'expire' | 'orphans';

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
  groupsCompacted?: number;
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

/** The tables the service keeps, and the tasks each gets. Offsets rows are never dropped by retention. */
export const MAINTAINED_TABLES = [
  { table: 'logs', retention: true },
  { table: 'appender_offsets', retention: false },
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
  for (const { table, retention: hasRetention } of MAINTAINED_TABLES) {
    tasks.push({ task: 'properties', table });
    // Retention first, so nothing about to be dropped is compacted; expiry before orphan
    // removal, so the files of expired snapshots are deleted by expiry, which knows them.
    if (hasRetention && enabled.has('retention') && (retention.defaultDays !== undefined || Object.keys(retention.tenants).length > 0)) {
      tasks.push({ task: 'retention', table, defaultDays: retention.defaultDays ?? null, tenants: retention.tenants });
    }
    if (enabled.has('compact')) {
      tasks.push({ task: 'compact', table, targetBytes: cfg.MAINTENANCE_TARGET_FILE_MB * 1024 * 1024, minFiles: cfg.MAINTENANCE_MIN_INPUT_FILES });
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

export interface RunHandle {
  results: Promise<TaskResult[]>;
  /** Stops the run: its Java process is killed; what it committed stays, the rest is orphaned. */
  kill(): void;
}

/**
 * Runs one job in Apache Iceberg's Java library (src/maintainer/java/IcebergMaintenance.java).
 * The job, which holds the S3 secret, goes over stdin, never on the command line; stdin stays
 * open for the run, and the Java side stops when it closes, so a maintainer that dies takes
 * its run with it.
 */
export function runIcebergTasks(cfg: Config, job: object, log: Logger): RunHandle {
  const args = [...cfg.MAINTAINER_JAVA_OPTS.split(/\s+/).filter(Boolean), '-cp', cfg.MAINTAINER_CLASSPATH ?? defaultClasspath(), 'IcebergMaintenance'];
  const child = spawn(cfg.MAINTAINER_JAVA, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  const results: TaskResult[] = [];
  const stderrTail: string[] = [];
  createInterface({ input: child.stdout! }).on('line', (line) => {
    try {
      results.push(JSON.parse(line) as TaskResult);
    } catch {
      log.warn({ line: line.slice(0, 500) }, 'unexpected output from the maintenance process');
    }
  });
  createInterface({ input: child.stderr! }).on('line', (line) => {
    stderrTail.push(line);
    if (stderrTail.length > 40) stderrTail.shift();
    log.debug({ java: line }, 'maintenance process');
  });
  child.stdin!.on('error', () => {});
  child.stdin!.write(`${JSON.stringify(job)}\n`);
  const done = new Promise<TaskResult[]>((resolve, reject) => {
    child.once('error', (e) => reject(new Error(`could not start the maintenance process (${cfg.MAINTAINER_JAVA}): ${e.message}; set MAINTAINER_JAVA or MAINTAINER_CLASSPATH`)));
    child.once('close', (code, signal) => {
      child.stdin!.end();
      if (code === 0) return resolve(results);
      reject(new Error(`the maintenance process ended with ${signal ?? `exit code ${code}`} after ${results.length} task(s): ${stderrTail.slice(-8).join(' | ').slice(0, 2000)}`));
    });
  });
  return {
    results: done,
    kill: () => {
      child.kill('SIGKILL');
    },
  };
}
