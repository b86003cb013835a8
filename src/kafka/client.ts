import './crc32c.js'; // before kafkajs: see crc32c.ts
import './zstd.js'; // kafkajs's zstd codec: see zstd.ts
import './request-queue.js'; // before any connection: see request-queue.ts
import { Kafka, logLevel, type LogEntry } from 'kafkajs';
import type { Logger } from '../telemetry/logger.js';

const LEVELS: Record<number, 'error' | 'warn' | 'info' | 'debug'> = {
  [logLevel.ERROR]: 'error',
  [logLevel.WARN]: 'warn',
  [logLevel.INFO]: 'info',
  [logLevel.DEBUG]: 'debug',
};

/** How long the same kafkajs message is not repeated (a down broker makes one per retry). */
const REPEAT_WINDOW_MS = 10_000;

/**
 * The kafkajs log function: its lines through pino (component `kafka`), repeats of one message
 * within REPEAT_WINDOW_MS folded into a count, and an Error among its fields (as kafkajs passes
 * the error it reports, e.g. of an eachBatch) written as its name and message.
 */
export function kafkaLog(logger: Logger): (entry: LogEntry) => void {
  const log = logger.child({ component: 'kafka' });
  const lastSeen = new Map<string, { at: number; suppressed: number }>();
  return ({ level, log: entry }: LogEntry) => {
    const { message, ...rest } = entry;
    // The ingester bounds each write (PRODUCE_TIMEOUT_MS, bounded retries) and answers 503
    // when it ends unacknowledged; kafkajs warns about that choice on every start.
    if (message.startsWith('Limiting retries for the idempotent producer')) return;
    const now = Date.now();
    const seen = lastSeen.get(message);
    if (seen && now - seen.at < REPEAT_WINDOW_MS) {
      seen.suppressed++;
      return;
    }
    if (lastSeen.size > 1000) lastSeen.clear();
    lastSeen.set(message, { at: now, suppressed: 0 });
    const repeated = seen?.suppressed ? { repeatedSinceLastLine: seen.suppressed } : {};
    // JSON shows an Error as {}
    for (const [k, v] of Object.entries(rest)) if (v instanceof Error) rest[k] = `${v.name}: ${v.message}`;
    log[LEVELS[level] ?? 'info']({ kafkajs: rest, ...repeated }, message);
  };
}

/** A kafkajs client whose own log lines go through pino (see kafkaLog). */
export function createKafka(brokers: string[], clientId: string, logger: Logger): Kafka {
  return new Kafka({
    clientId,
    brokers,
    connectionTimeout: 3000,
    requestTimeout: 30_000,
    retry: { initialRetryTime: 200, retries: 8, maxRetryTime: 5000 },
    logLevel: logLevel.WARN,
    logCreator: () => kafkaLog(logger),
  });
}
