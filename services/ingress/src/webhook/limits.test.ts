import { RecentEventIds } from './dedupe.ts';
import { SenderRateLimit } from './rate-limit.ts';

describe('sender rate limit (100 webhooks a minute)', () => {
  it('flags the 101st webhook within a minute, and only that sender', () => {
    const limit = new SenderRateLimit();
    const start = 1_000_000;
    for (let i = 0; i < 100; i++) expect(limit.hit('page:alice', start + i)).toBe(false);
    expect(limit.hit('page:alice', start + 100)).toBe(true);
    expect(limit.hit('page:bob', start + 100)).toBe(false);
  });

  it('lets a sender through again once it slows down (sliding window)', () => {
    const limit = new SenderRateLimit({ limit: 3, windowMs: 1_000 });
    expect([0, 10, 20, 30].map((t) => limit.hit('s', t))).toEqual([false, false, false, true]);
    expect(limit.hit('s', 1_015)).toBe(false); // 0 and 10 have left the window: 20, 30, 1015
    expect(limit.hit('s', 1_016)).toBe(true); // 20, 30, 1015, 1016
    expect(limit.hit('s', 2_100)).toBe(false);
  });

  it('keeps a bounded number of senders', () => {
    const limit = new SenderRateLimit({ limit: 1, maxSenders: 2 });
    limit.hit('a', 0);
    limit.hit('b', 0);
    limit.hit('c', 0); // evicts a
    expect(limit.hit('a', 1)).toBe(false);
  });
});

describe('recent event ids (5-minute dedupe window)', () => {
  it('remembers an id for the window, then forgets it', async () => {
    const ids = new RecentEventIds({ windowMs: 300_000 });
    const write = Promise.resolve();
    ids.remember('e1', write, 0);
    expect(ids.seen('e1', 299_999)).toBe(write);
    expect(ids.seen('e1', 300_001)).toBeUndefined();
  });

  it('forgets an id whose write failed, so that Meta\'s retry is published', async () => {
    const ids = new RecentEventIds();
    const failed = Promise.reject(new Error('broker down'));
    ids.remember('e1', failed, 0);
    await failed.catch(() => undefined);
    await new Promise((resolve) => setImmediate(resolve));
    expect(ids.seen('e1', 1)).toBeUndefined();
  });

  it('keeps only the time of an id once its write is acknowledged, and answers a duplicate as written', async () => {
    const ids = new RecentEventIds();
    let acknowledge!: () => void;
    const write = new Promise<void>((resolve) => (acknowledge = resolve));
    ids.rememberAll(['e1', 'e2'], write, 0);
    expect(ids.writing).toBe(2);
    // While the write is in flight, a duplicate waits for that very write.
    expect(ids.seen('e2', 1)).toBe(write);
    acknowledge();
    await write;
    await new Promise((resolve) => setImmediate(resolve));
    expect(ids.writing).toBe(0);
    expect(ids.size).toBe(2);
    await expect(ids.seen('e1', 2)).resolves.toBeUndefined();
  });

  it('forgets only the ids of the write that failed, not those a later write carries again', async () => {
    const ids = new RecentEventIds();
    let fail!: (error: Error) => void;
    const failing = new Promise<void>((_resolve, reject) => (fail = reject));
    ids.rememberAll(['e1', 'e2'], failing, 0);
    const retry = Promise.resolve();
    ids.remember('e2', retry, 1); // e2 came again in another request and is being written by it
    fail(new Error('broker down'));
    await failing.catch(() => undefined);
    await new Promise((resolve) => setImmediate(resolve));
    expect(ids.seen('e1', 2)).toBeUndefined();
    expect(ids.seen('e2', 2)).toBeDefined();
  });

  it('stays within its size bound', () => {
    const ids = new RecentEventIds({ maxEntries: 3 });
    for (let i = 0; i < 10; i++) ids.remember(`e${i}`, Promise.resolve(), i);
    expect(ids.size).toBeLessThanOrEqual(3);
    expect(ids.seen('e9', 10)).toBeDefined();
  });
});
