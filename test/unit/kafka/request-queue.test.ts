import { createRequire } from 'node:module';
import { afterEach, describe, expect, it } from 'vitest';
import { originalScheduleCheck, requestQueuePath, scheduleCheckPendingRequests } from '../../../src/kafka/request-queue.js';
import '../../../src/kafka/client.js';

const require = createRequire(import.meta.url);
type Queue = {
  push(r: { entry: { correlationId: number; resolve: () => void; reject: () => void }; expectResponse: boolean; sendRequest: () => void }): void;
  fulfillRequest(r: { correlationId: number; payload: Buffer; size: number }): void;
  maybeThrottle(ms: number): void;
  checkPendingRequests(): void;
  destroy(): void;
  pending: unknown[];
  scheduleCheckPendingRequests(): void;
};
const RequestQueue = require(requestQueuePath) as new (o: object) => Queue;
const quiet = { debug() {}, info() {}, warn() {}, error() {} };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const queues: Queue[] = [];

function queue(maxInFlightRequests: number | null, schedule?: () => void): { q: Queue; checks: () => number; sent: number[] } {
  const q = new RequestQueue({ maxInFlightRequests, requestTimeout: 30_000, enforceRequestTimeout: false, clientId: 't', broker: 'b', logger: quiet });
  if (schedule) q.scheduleCheckPendingRequests = schedule;
  queues.push(q);
  let checks = 0;
  const check = q.checkPendingRequests.bind(q);
  q.checkPendingRequests = () => {
    checks++;
    check();
  };
  const sent: number[] = [];
  let id = 0;
  const push = q.push.bind(q);
  q.push = () => {
    const correlationId = ++id;
    push({ entry: { correlationId, resolve: () => {}, reject: () => {} }, expectResponse: true, sendRequest: () => sent.push(correlationId) });
  };
  return { q, checks: () => checks, sent };
}

const answer = (q: Queue, correlationId: number) => q.fulfillRequest({ correlationId, payload: Buffer.alloc(0), size: 0 });

afterEach(() => {
  for (const q of queues.splice(0)) {
    q.pending.length = 0;
    q.destroy();
  }
});

describe('kafkajs request queue timer', () => {
  it("kafkajs's own re-arms a 1 ms timer for ever once a request was answered (what request-queue.ts replaces)", async () => {
    const { q, checks } = queue(1, originalScheduleCheck);
    q.push({} as never);
    answer(q, 1);
    await sleep(200);
    expect(checks()).toBeGreaterThan(50);
  });

  it('is installed on the class, and arms no timer while nothing is pending', async () => {
    const { q, checks, sent } = queue(1);
    expect(q.scheduleCheckPendingRequests).toBe(scheduleCheckPendingRequests);
    q.push({} as never);
    answer(q, 1);
    const before = checks();
    await sleep(200);
    expect(sent).toEqual([1]);
    expect(checks()).toBe(before);
  });

  it('sends a request held back by the in-flight limit once the one in flight is answered', async () => {
    const { q, sent } = queue(1);
    q.push({} as never);
    q.push({} as never);
    q.push({} as never);
    expect(sent).toEqual([1]);
    answer(q, 1);
    expect(sent).toEqual([1, 2]);
    answer(q, 2);
    await sleep(20);
    expect(sent).toEqual([1, 2, 3]);
  });

  it('sends a request held back by a throttle the broker asked for when the throttle ends, then stops checking', async () => {
    const { q, checks, sent } = queue(null);
    q.maybeThrottle(60);
    q.push({} as never);
    expect(sent).toEqual([]);
    await sleep(30);
    expect(sent).toEqual([]);
    await sleep(80);
    expect(sent).toEqual([1]);
    const after = checks();
    await sleep(100);
    expect(checks()).toBe(after);
  });
});
