// kafkajs 2.2.4 keeps every broker connection's request queue spinning on a 1 ms timer forever
// (https://github.com/tulios/kafkajs/issues/1704, still open; kafkajs has had no release since).
// After each response, `checkPendingRequests` calls `scheduleCheckPendingRequests`, which arms a
// timer even when no request waits; with no throttling its delay is `-1 - Date.now()`, which Node
// turns into 1 ms (and, since Node 24, a TimeoutNegativeWarning). Measured here: an idle service
// woke about 1,700 times a second and used 3–5 % of a core doing nothing; the whole idle stack
// about a quarter of a core. This replaces that one method, once per process (per thread), with
// the fix proposed upstream: a timer only when a request waits or a throttle is to end.
import { createRequire } from 'node:module';

/** The part of kafkajs's RequestQueue this touches (src/network/requestQueue/index.js). */
type RequestQueue = {
  pending: unknown[];
  throttledUntil: number;
  throttleCheckTimeoutId: ReturnType<typeof setTimeout> | null;
  checkPendingRequests(): void;
  scheduleCheckPendingRequests(): void;
};

/** kafkajs's own interval for re-checking a queue whose requests wait on in-flight ones. */
const CHECK_PENDING_REQUESTS_INTERVAL_MS = 10;

/**
 * When to look at the queue again: never while nothing waits and no throttle runs (a new request
 * or the next response looks anyway); at the throttle's end while one runs; else soon.
 */
export function nextPendingCheckInMs(queue: Pick<RequestQueue, 'pending' | 'throttledUntil'>, now: number): number | null {
  const untilUnthrottled = queue.throttledUntil - now;
  if (untilUnthrottled > 0) return untilUnthrottled;
  return queue.pending.length > 0 ? CHECK_PENDING_REQUESTS_INTERVAL_MS : null;
}

function scheduleCheckPendingRequests(this: RequestQueue): void {
  if (this.throttleCheckTimeoutId) return;
  const delay = nextPendingCheckInMs(this, Date.now());
  if (delay === null) return;
  this.throttleCheckTimeoutId = setTimeout(() => {
    this.throttleCheckTimeoutId = null;
    this.checkPendingRequests();
  }, delay);
}

const RequestQueueClass = createRequire(import.meta.url)('kafkajs/src/network/requestQueue/index.js') as { prototype: RequestQueue };
if (typeof RequestQueueClass.prototype.scheduleCheckPendingRequests !== 'function') {
  // A kafkajs whose request queue looks different: fail loudly rather than patch the wrong thing.
  throw new Error('kafkajs RequestQueue has no scheduleCheckPendingRequests: review libs/messaging/src/request-queue-fix.ts for this kafkajs version');
}
RequestQueueClass.prototype.scheduleCheckPendingRequests = scheduleCheckPendingRequests;

/** The class patched (tests look at it). */
export const KafkaRequestQueue = RequestQueueClass;
