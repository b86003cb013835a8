import { Worker } from 'node:worker_threads';
import { compiledBeside } from '../core/compiled.js';
import { LakehouseError, type ErrorCode } from '../core/errors.js';
import type { Component } from '../core/lifecycle.js';
import type { Logger } from '../telemetry/logger.js';
import { DECODE_THREAD_REPLACE_BYTES } from './memory-bound.js';
import { decode, inspect, type BodyFormat, type Decoded, type DecodeLimits, type RequestKind } from './decode.js';

/** What a decode gave: the body as it came (no decode was needed), or the records to write. */
export type DecodeOutcome = { asIs: { items: number; accepted: number } } | { decoded: Decoded };

/**
 * Runs inspect → charge → decode for one body. `charge` is called with the bytes the decode
 * will hold (and any copy of the body) before they are allocated, and throws to refuse them.
 */
export interface Decoder {
  run(kind: RequestKind, format: BodyFormat, body: Uint8Array, charge: (bytes: number) => void): Promise<DecodeOutcome>;
}

/** Decodes on the calling thread. */
export class InlineDecoder implements Decoder {
  constructor(private readonly limits: DecodeLimits) {}

  async run(kind: RequestKind, format: BodyFormat, body: Uint8Array, charge: (bytes: number) => void): Promise<DecodeOutcome> {
    const inspection = inspect(kind, format, body, this.limits);
    if (inspection.asIs) return { asIs: inspection.asIs };
    charge(inspection.cost);
    return { decoded: decode(kind, format, body, this.limits) };
  }
}

/** protobuf bodies up to this size are walked on the main thread first: less work than the hand-off */
export const INLINE_PROTOBUF_BYTES = 64 * 1024;

export type WorkerRequest =
  | { id: number; op: 'inspect'; kind: RequestKind; format: BodyFormat; body: Uint8Array }
  | { id: number; op: 'decode' | 'drop' };
export type WorkerReply = (
  | { id: number; inspection: { cost: number; asIs?: { items: number; accepted: number } } }
  | { id: number; decoded: Decoded }
  | { id: number; error: { code: ErrorCode; message: string } }
) & {
  /** the thread's V8 heap after a decode */
  heapBytes?: number;
};

interface Job {
  resolve: (r: WorkerReply) => void;
  reject: (e: unknown) => void;
}

interface Thread {
  worker: Worker;
  jobs: Map<number, Job>;
  /** bodies inspected and kept for their decode */
  held: number;
  /** its heap after its last decode */
  heapBytes: number;
  /** it has ended: nothing more is asked of it */
  ended: boolean;
}

/**
 * Decode threads (INGESTER_DECODE_THREADS): a JSON body or a protobuf body that needs more than a
 * wire check is inspected and decoded off the main thread, so that one tenant's large requests
 * do not stall everyone's small ones on the event loop. The two steps are two messages, so the
 * main thread charges the decode's memory between them.
 */
export class DecodePool implements Decoder, Component {
  readonly name = 'ingester.decode-threads';
  private readonly threads: Thread[] = [];
  private readonly inline: InlineDecoder;
  private nextId = 1;
  private stopping = false;
  private file = '';
  private readonly log: Logger;

  constructor(
    private readonly size: number,
    private readonly limits: DecodeLimits,
    /** a thread's heap limits (memory-bound.ts) */
    private readonly heapLimits: { maxOldGenerationSizeMb: number; maxYoungGenerationSizeMb: number },
    logger: Logger,
  ) {
    this.inline = new InlineDecoder(limits);
    this.log = logger.child({ component: this.name });
  }

  async start(): Promise<void> {
    const file = (this.file = compiledBeside(import.meta.url, 'decode-worker.js'));
    for (let i = 0; i < this.size; i++) this.threads.push(this.spawn(file, i));
    await Promise.all(this.threads.map((t) => new Promise<void>((resolve, reject) => t.worker.once('online', resolve).once('error', reject))));
  }

  private spawn(file: string, slot: number): Thread {
    // The second wall: were a decode to hold more than its charge said, its thread runs out of
    // heap and ends (its requests answered 500), not the ingester.
    const worker = new Worker(file, { workerData: this.limits, resourceLimits: this.heapLimits });
    const thread: Thread = { worker, jobs: new Map(), held: 0, heapBytes: 0, ended: false };
    worker.on('message', (reply: WorkerReply) => {
      const job = thread.jobs.get(reply.id);
      thread.jobs.delete(reply.id);
      if ('inspection' in reply && !reply.inspection.asIs) thread.held++;
      if (reply.heapBytes !== undefined) thread.heapBytes = reply.heapBytes;
      job?.resolve(reply);
      this.replaceIfGrown(file, thread);
    });
    const fail = (why: string) => {
      thread.ended = true;
      for (const job of thread.jobs.values()) job.reject(new LakehouseError('INTERNAL', `a decode thread ${why}`));
      thread.jobs.clear();
      if (!this.stopping && this.threads[slot] === thread) {
        this.log.error({ why }, 'a decode thread ended; starting another');
        this.threads[slot] = this.spawn(file, slot);
      }
    };
    worker.on('error', (e) => fail(`failed: ${e.message}`));
    worker.on('exit', (code) => fail(`exited with ${code}`));
    return thread;
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await Promise.all(this.threads.splice(0).map((t) => t.worker.terminate()));
  }

  private ask(thread: Thread, message: WorkerRequest): Promise<WorkerReply> {
    if (message.op !== 'inspect') thread.held--;
    // a thread that ended (past its heap, say) while a request waited between its two steps
    if (thread.ended) return Promise.reject(new LakehouseError('INTERNAL', 'the decode thread of this request ended'));
    return new Promise((resolve, reject) => {
      thread.jobs.set(message.id, { resolve, reject });
      thread.worker.postMessage(message);
    });
  }

  /**
   * A thread with nothing to do whose heap has grown past DECODE_THREAD_REPLACE_BYTES is
   * replaced: V8 keeps a grown heap long after the decode that grew it, and a thread that ends
   * gives it all back.
   */
  private replaceIfGrown(file: string, thread: Thread): void {
    if (this.stopping || thread.jobs.size > 0 || thread.held > 0 || thread.heapBytes <= DECODE_THREAD_REPLACE_BYTES) return;
    const slot = this.threads.indexOf(thread);
    if (slot < 0) return;
    this.threads[slot] = this.spawn(file, slot);
    void thread.worker.terminate();
  }

  async run(kind: RequestKind, format: BodyFormat, body: Uint8Array, charge: (bytes: number) => void): Promise<DecodeOutcome> {
    if (this.threads.length === 0) return this.inline.run(kind, format, body, charge);
    // A small protobuf body whose items are all fine needs only the wire walk, which allocates
    // nothing: done here. Every decode is done on a thread.
    if (format === 'protobuf' && kind !== 'prom-rw' && body.length <= INLINE_PROTOBUF_BYTES) {
      const inspection = inspect(kind, format, body, this.limits);
      if (inspection.asIs) return { asIs: inspection.asIs };
    }
    // the thread with the fewest jobs; the body is copied to it
    const thread = this.threads.reduce((a, b) => (b.jobs.size < a.jobs.size ? b : a));
    charge(body.length);
    const id = this.nextId++;
    const inspected = unwrap(await this.ask(thread, { id, op: 'inspect', kind, format, body }));
    if (!('inspection' in inspected)) throw new LakehouseError('INTERNAL', 'a decode thread answered out of turn');
    if (inspected.inspection.asIs) return { asIs: inspected.inspection.asIs };
    try {
      charge(inspected.inspection.cost);
    } catch (e) {
      thread.held--;
      thread.worker.postMessage({ id, op: 'drop' } satisfies WorkerRequest);
      this.replaceIfGrown(this.file, thread);
      throw e;
    }
    const decoded = unwrap(await this.ask(thread, { id, op: 'decode' }));
    if (!('decoded' in decoded)) throw new LakehouseError('INTERNAL', 'a decode thread answered out of turn');
    return { decoded: decoded.decoded };
  }
}

function unwrap(reply: WorkerReply): WorkerReply {
  if ('error' in reply) throw new LakehouseError(reply.error.code, reply.error.message);
  return reply;
}
