import { createRequire } from 'node:module';

/**
 * kafkajs 2.2.4 re-arms a timer on every connection's request queue for ever: once anything
 * has checked the queue, `scheduleCheckPendingRequests` sets a timeout of (-1 - now) ms, that is
 * 1 ms, whose callback schedules the next, whether or not a request waits (kafkajs issues #1556
 * and #1704, unreleased upstream). Each connection of each producer and consumer then wakes
 * the event loop about a thousand times a second: CPU, and garbage, taken from the requests.
 *
 * This replaces the method on kafkajs's RequestQueue with one that arms a timer only while a
 * request waits: at the end of a throttle the broker asked for, else every 10 ms (kafkajs's own
 * interval) while the in-flight limit holds requests back. A queue with nothing pending needs
 * no timer: `push` schedules a check when it queues a request, and a fulfilled request checks
 * the queue. test/unit/kafka/request-queue.test.ts pins both the loop without this and its end
 * with it.
 */
const require = createRequire(import.meta.url);
export const requestQueuePath = require.resolve('kafkajs/src/network/requestQueue/index.js');
const RequestQueue = require(requestQueuePath) as { prototype: Record<string, unknown> };

/** kafkajs's CHECK_PENDING_REQUESTS_INTERVAL */
const CHECK_PENDING_MS = 10;

interface Queue {
  pending: unknown[];
  throttledUntil: number;
  throttleCheckTimeoutId: NodeJS.Timeout | null;
  checkPendingRequests(): void;
}

export const originalScheduleCheck = RequestQueue.prototype.scheduleCheckPendingRequests as (this: Queue) => void;

export function scheduleCheckPendingRequests(this: Queue): void {
  if (this.throttleCheckTimeoutId || this.pending.length === 0) return;
  const untilUnthrottled = this.throttledUntil - Date.now();
  this.throttleCheckTimeoutId = setTimeout(
    () => {
      this.throttleCheckTimeoutId = null;
      this.checkPendingRequests();
    },
    untilUnthrottled > 0 ? untilUnthrottled : CHECK_PENDING_MS,
  );
}

RequestQueue.prototype.scheduleCheckPendingRequests = scheduleCheckPendingRequests;
