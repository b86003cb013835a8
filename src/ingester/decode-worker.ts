import { getHeapStatistics } from 'node:v8';
import { parentPort, workerData } from 'node:worker_threads';
import { isLakehouseError } from '../core/errors.js';
import { decode, inspect, type DecodeLimits } from './decode.js';
import type { WorkerReply, WorkerRequest } from './decode-pool.js';

/**
 * A decode thread (see DecodePool): keeps each body between its inspection and its decode, and
 * answers every request with a result or a registry error; nothing it is sent can end it.
 */
const limits = workerData as DecodeLimits;
const port = parentPort!;
const inspected = new Map<number, WorkerRequest & { op: 'inspect' }>();

function reply(r: WorkerReply): void {
  port.postMessage(r);
}

function failure(id: number, e: unknown): WorkerReply {
  if (isLakehouseError(e)) return { id, error: { code: e.code, message: e.message } };
  return { id, error: { code: 'INTERNAL', message: `decode failed: ${(e as Error)?.stack ?? String(e)}` } };
}

port.on('message', (m: WorkerRequest) => {
  if (m.op === 'inspect') {
    try {
      const inspection = inspect(m.kind, m.format, m.body, limits);
      if (!inspection.asIs) inspected.set(m.id, m);
      reply({ id: m.id, inspection });
    } catch (e) {
      reply(failure(m.id, e));
    }
    return;
  }
  const held = inspected.get(m.id);
  inspected.delete(m.id);
  if (m.op === 'drop') return;
  if (!held) return reply(failure(m.id, new Error('no body to decode')));
  try {
    reply({ id: m.id, decoded: decode(held.kind, held.format, held.body, limits), heapBytes: getHeapStatistics().total_heap_size });
  } catch (e) {
    reply({ ...failure(m.id, e), heapBytes: getHeapStatistics().total_heap_size });
  }
});
