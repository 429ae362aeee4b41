import { createLogger } from '@parley/observability';
import { testKafkaBrokers } from '@parley/testing';
import { createKafkaClient } from './index.ts';
import { KafkaRequestQueue, nextPendingCheckInMs } from './request-queue-fix.ts';

const logger = createLogger({ service: 'messaging-test', level: 'silent' });

describe('when kafkajs looks at a connection’s request queue again', () => {
  const now = 1_000_000;
  it('does not while nothing waits and no throttle runs (the upstream code re-armed a 1 ms timer here)', () => {
    expect(nextPendingCheckInMs({ pending: [], throttledUntil: -1 }, now)).toBeNull();
    expect(nextPendingCheckInMs({ pending: [], throttledUntil: now - 5 }, now)).toBeNull();
  });
  it('does at the throttle’s end while the broker throttles us', () => {
    expect(nextPendingCheckInMs({ pending: [], throttledUntil: now + 250 }, now)).toBe(250);
    expect(nextPendingCheckInMs({ pending: [{}], throttledUntil: now + 40 }, now)).toBe(40);
  });
  it('does soon while a request waits for a free in-flight slot', () => {
    expect(nextPendingCheckInMs({ pending: [{}], throttledUntil: -1 }, now)).toBe(10);
  });

  it('still sends a request that waited out a throttle (the patched method on the real class)', async () => {
    const queue = Object.create(KafkaRequestQueue.prototype) as {
      pending: unknown[];
      throttledUntil: number;
      throttleCheckTimeoutId: ReturnType<typeof setTimeout> | null;
      checkPendingRequests: () => void;
      scheduleCheckPendingRequests: () => void;
    };
    let checked = 0;
    Object.assign(queue, { pending: [{}], throttledUntil: Date.now() + 30, throttleCheckTimeoutId: null, checkPendingRequests: () => (checked += 1) });
    queue.scheduleCheckPendingRequests();
    expect(queue.throttleCheckTimeoutId).not.toBeNull();
    await new Promise((resolve) => setTimeout(resolve, 80));
    expect(checked).toBe(1);
    expect(queue.throttleCheckTimeoutId).toBeNull();
  });
});

describe('an idle connection to the real broker', () => {
  it('arms no timer loop after its last response', async () => {
    const admin = createKafkaClient({ brokers: testKafkaBrokers(), clientId: 'idle-test', logger }).admin();
    await admin.connect();
    try {
      // Responses have come back on the connection: that is when kafkajs started its loop.
      await admin.listTopics();
      const delays: number[] = [];
      const original = globalThis.setTimeout;
      const spy = jest.spyOn(globalThis, 'setTimeout').mockImplementation(((handler: () => void, delay?: number) => {
        delays.push(delay ?? 0);
        return original(handler, delay);
      }) as typeof setTimeout);
      await new Promise((resolve) => original(resolve, 300));
      spy.mockRestore();
      // With the loop, about 300 timers of "-Date.now()" ms (run after 1 ms) were armed here.
      expect(delays.filter((delay) => delay < 1)).toEqual([]);
      expect(delays.length).toBeLessThan(10);
    } finally {
      await admin.disconnect();
    }
  });
});
