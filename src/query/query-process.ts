import type { Config } from '../config/schema.js';
import { asLakehouseError, type ErrorCode } from '../core/errors.js';
import { createLogger } from '../telemetry/logger.js';
import type { AnswerFormat } from './answer.js';
import { QueryRunner, type Outcome, type StopReason } from './query-runner.js';
import type { Walls } from './tenant-query.js';

/**
 * A query process: runs the query service's tenant queries one at a time, each with its DuckDB
 * instances, and streams the answers back over IPC. The service watches its memory from outside
 * and ends it when a query takes it past its bound (query-processes.ts): DuckDB's strings and
 * hash tables are not all within its memory_limit, and a process that ends gives back all of
 * its memory, as a query stopped inside the service's own process would not.
 */

export type ToQueryProcess =
  | { type: 'init'; config: Config; walls: Walls }
  | { type: 'query'; id: number; tenant: string; sql: string; format: AnswerFormat }
  | { type: 'ack'; id: number }
  | { type: 'stop'; id: number; why: StopReason }
  | { type: 'close' };

export type FromQueryProcess =
  | { type: 'ready'; warm: boolean }
  | { type: 'head'; id: number; headers: Record<string, string> }
  | { type: 'data'; id: number; text: string }
  | { type: 'end'; id: number; text: string; trailers: Record<string, string> | undefined; outcome: Outcome }
  | { type: 'error'; id: number; error: { code: ErrorCode; message: string; retryAfterSeconds?: number } };

function send(m: FromQueryProcess): void {
  process.send?.(m);
}

let runner: QueryRunner | undefined;
let running: { id: number; stop?: (why: StopReason) => void; acked?: () => void } | undefined;

process.on('message', (m: ToQueryProcess) => {
  if (m.type === 'init') {
    const log = createLogger(m.config.LOG_LEVEL, 'query-process');
    runner = new QueryRunner(m.config, log, m.walls);
    runner.warm().then(
      () => send({ type: 'ready', warm: true }),
      (err: unknown) => {
        log.warn({ err }, 'opening the lake ahead of the first query failed; the query will try again');
        send({ type: 'ready', warm: false });
      },
    );
  } else if (m.type === 'query') {
    void query(m.id, m.tenant, m.sql, m.format);
  } else if (m.type === 'ack') {
    if (running?.id === m.id) running.acked?.();
  } else if (m.type === 'stop') {
    if (running?.id === m.id) running.stop?.(m.why);
  } else if (m.type === 'close') {
    runner?.close();
    process.exit(0);
  }
});
// the service went away: so does this process
process.on('disconnect', () => process.exit(0));

async function query(id: number, tenant: string, sql: string, format: AnswerFormat): Promise<void> {
  const state: NonNullable<typeof running> = { id };
  running = state;
  let last: { text: string; trailers: Record<string, string> | undefined } | undefined;
  try {
    const sink = {
      head: (headers: Record<string, string>) => send({ type: 'head', id, headers }),
      // one piece in flight at a time: the next waits for the service to have written this one
      write: (text: string) =>
        new Promise<void>((resolve) => {
          state.acked = resolve;
          send({ type: 'data', id, text });
        }),
      end: (text: string, trailers: Record<string, string> | undefined) => (last = { text, trailers }),
    };
    const outcome = await runner!.run(tenant, sql, format, sink, (stop) => (state.stop = stop));
    send({ type: 'end', id, text: last?.text ?? '', trailers: last?.trailers, outcome });
  } catch (e) {
    const err = asLakehouseError(e);
    send({ type: 'error', id, error: { code: err.code, message: err.message, ...(err.retryAfterSeconds === undefined ? {} : { retryAfterSeconds: err.retryAfterSeconds }) } });
  } finally {
    if (running === state) running = undefined;
  }
}
