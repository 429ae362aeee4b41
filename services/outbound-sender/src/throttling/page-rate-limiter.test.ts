import { createPageRateLimiter } from './page-rate-limiter.ts';

const t0 = new Date('2026-11-26T10:00:00.000Z');
const at = (ms: number) => new Date(t0.getTime() + ms);

describe('the per-Page rate limit', () => {
  it('given 20 calls/s, when a Page makes 20 calls at once, then the 21st waits for the bucket to refill', () => {
    const limiter = createPageRateLimiter({ ratePerSecond: 20 });
    for (let i = 0; i < 20; i++) expect(limiter.reserve('p1', t0)).toEqual({ ok: true });
    expect(limiter.reserve('p1', t0)).toEqual({ ok: false, retryAt: at(50) });
    expect(limiter.reserve('p1', at(50))).toEqual({ ok: true });
  });

  it('given one Page is busy, then another Page is not slowed down', () => {
    const limiter = createPageRateLimiter({ ratePerSecond: 2 });
    limiter.reserve('busy', t0);
    limiter.reserve('busy', t0);
    expect(limiter.reserve('busy', t0).ok).toBe(false);
    expect(limiter.reserve('quiet', t0).ok).toBe(true);
  });

  it('given a typing indicator and a message, then both calls count', () => {
    const limiter = createPageRateLimiter({ ratePerSecond: 2 });
    expect(limiter.reserve('p1', t0, 2).ok).toBe(true);
    expect(limiter.reserve('p1', t0).ok).toBe(false);
  });

  it("given Meta's usage headers say a Page is at 90 %, then it is slowed down for a while, then back to full speed", () => {
    const limiter = createPageRateLimiter({ ratePerSecond: 20, coolDownMs: 60_000 });
    limiter.noteUsage('p1', { maxUsagePercent: 90 }, t0);
    expect(limiter.inspect('p1', t0).factor).toBeCloseTo(0.5);
    // Half speed: 10 calls/s, and the bucket was cut to half.
    for (let i = 0; i < 10; i++) expect(limiter.reserve('p1', t0).ok).toBe(true);
    expect(limiter.reserve('p1', t0)).toEqual({ ok: false, retryAt: at(100) });
    expect(limiter.inspect('p1', at(60_001)).factor).toBe(1);
  });

  it('given usage under 80 %, then nothing changes', () => {
    const limiter = createPageRateLimiter({ ratePerSecond: 20 });
    limiter.noteUsage('p1', { maxUsagePercent: 79 }, t0);
    expect(limiter.inspect('p1', t0)).toEqual({ factor: 1, pausedUntil: null });
  });

  it('given usage at 100 % or a time to regain access, then the Page pauses', () => {
    const limiter = createPageRateLimiter({ ratePerSecond: 20, coolDownMs: 60_000 });
    limiter.noteUsage('p1', { maxUsagePercent: 100 }, t0);
    expect(limiter.reserve('p1', t0)).toEqual({ ok: false, retryAt: at(60_000) });
    limiter.noteUsage('p2', { maxUsagePercent: 50, regainAccessMinutes: 5 }, t0);
    expect(limiter.reserve('p2', t0)).toEqual({ ok: false, retryAt: at(300_000) });
  });

  it('given Meta rate-limited a Page, then it pauses until the retry time', () => {
    const limiter = createPageRateLimiter({ ratePerSecond: 20 });
    limiter.pause('p1', at(30_000), t0);
    expect(limiter.reserve('p1', at(1_000))).toEqual({ ok: false, retryAt: at(30_000) });
    expect(limiter.reserve('p1', at(30_000)).ok).toBe(true);
  });
});
