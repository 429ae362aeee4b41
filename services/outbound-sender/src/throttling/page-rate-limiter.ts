// How fast each Page may call the Send API: a token bucket per Page (e.g. 20 calls/s), slowed down
// when Meta's usage headers say the Page is close to its limit (over ~80 %), and paused when Meta
// says how long until access is regained. Time is passed in; no timers.
//
// The buckets live in memory, per replica: they shape traffic, they are not a promise. A restart
// starts with full buckets, which is harmless (Meta's own limit is far higher: 300 calls/s per Page).
import type { GraphUsage } from '@parley/graph-api';

export type PageRateLimiterOptions = {
  /** Sustained calls per second per Page. */
  readonly ratePerSecond: number;
  /** Calls a Page may make at once after being idle. Default: one second's worth. */
  readonly burst?: number;
  /** Usage (percent of Meta's limit) above which a Page is slowed down. Default 80. */
  readonly slowDownAbovePercent?: number;
  /** How long a slow-down or pause lasts when Meta does not say. Default 60 s. */
  readonly coolDownMs?: number;
};

export type Reservation = { readonly ok: true } | { readonly ok: false; readonly retryAt: Date };

export type PageRateLimiter = {
  /** Takes `cost` calls from the Page's bucket, or says when enough will be there. */
  reserve(pageId: string, now: Date, cost?: number): Reservation;
  /** Meta's usage headers of a call made for this Page. */
  noteUsage(pageId: string, usage: GraphUsage, now: Date): void;
  /** Meta rate-limited this Page (613, 32…): no calls until `until`. */
  pause(pageId: string, until: Date, now: Date): void;
  /** For metrics and tests: the Page's current rate factor (1 = full speed) and pause. */
  inspect(pageId: string, now: Date): { factor: number; pausedUntil: Date | null };
};

type Bucket = { tokens: number; updatedAt: number; factor: number; slowUntil: number; pausedUntil: number };

const MIN_FACTOR = 0.1;
const IDLE_BUCKET_MS = 10 * 60_000;

export function createPageRateLimiter(options: PageRateLimiterOptions): PageRateLimiter {
  if (!(options.ratePerSecond > 0)) throw new RangeError('ratePerSecond must be positive');
  const capacity = Math.max(1, options.burst ?? options.ratePerSecond);
  const threshold = options.slowDownAbovePercent ?? 80;
  const coolDownMs = options.coolDownMs ?? 60_000;
  const buckets = new Map<string, Bucket>();
  let lastSweep = 0;

  function bucketOf(pageId: string, now: number): Bucket {
    let bucket = buckets.get(pageId);
    if (!bucket) {
      bucket = { tokens: capacity, updatedAt: now, factor: 1, slowUntil: 0, pausedUntil: 0 };
      buckets.set(pageId, bucket);
    }
    if (bucket.slowUntil <= now) bucket.factor = 1;
    const perMs = (options.ratePerSecond * bucket.factor) / 1000;
    bucket.tokens = Math.min(capacity, bucket.tokens + Math.max(0, now - bucket.updatedAt) * perMs);
    bucket.updatedAt = now;
    return bucket;
  }

  function sweep(now: number): void {
    if (now - lastSweep < IDLE_BUCKET_MS) return;
    lastSweep = now;
    for (const [pageId, bucket] of buckets) {
      if (now - bucket.updatedAt > IDLE_BUCKET_MS && bucket.pausedUntil <= now && bucket.slowUntil <= now) buckets.delete(pageId);
    }
  }

  return {
    reserve(pageId, nowDate, cost = 1) {
      const now = nowDate.getTime();
      sweep(now);
      const bucket = bucketOf(pageId, now);
      if (bucket.pausedUntil > now) return { ok: false, retryAt: new Date(bucket.pausedUntil) };
      const needed = Math.min(cost, capacity);
      if (bucket.tokens >= needed) {
        bucket.tokens -= needed;
        return { ok: true };
      }
      const perMs = (options.ratePerSecond * bucket.factor) / 1000;
      return { ok: false, retryAt: new Date(now + Math.ceil((needed - bucket.tokens) / perMs)) };
    },
    noteUsage(pageId, usage, nowDate) {
      const now = nowDate.getTime();
      const bucket = bucketOf(pageId, now);
      const percent = usage.maxUsagePercent;
      if (usage.regainAccessMinutes !== undefined && usage.regainAccessMinutes > 0) {
        bucket.pausedUntil = Math.max(bucket.pausedUntil, now + usage.regainAccessMinutes * 60_000);
      }
      if (percent === undefined || percent < threshold) return;
      if (percent >= 100) {
        bucket.pausedUntil = Math.max(bucket.pausedUntil, now + coolDownMs);
        return;
      }
      // Linear: at the threshold full speed, approaching 100 % down to a tenth.
      const factor = Math.max(MIN_FACTOR, (100 - percent) / (100 - threshold));
      bucket.factor = Math.min(bucket.slowUntil > now ? bucket.factor : 1, factor);
      bucket.slowUntil = now + coolDownMs;
      bucket.tokens = Math.min(bucket.tokens, capacity * bucket.factor);
    },
    pause(pageId, until, now) {
      const bucket = bucketOf(pageId, now.getTime());
      bucket.pausedUntil = Math.max(bucket.pausedUntil, until.getTime());
    },
    inspect(pageId, nowDate) {
      const now = nowDate.getTime();
      const bucket = buckets.get(pageId);
      if (!bucket) return { factor: 1, pausedUntil: null };
      return { factor: bucket.slowUntil > now ? bucket.factor : 1, pausedUntil: bucket.pausedUntil > now ? new Date(bucket.pausedUntil) : null };
    },
  };
}
