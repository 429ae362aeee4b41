/**
 * The service's notion of "now". Everything that depends on time (due sends, reply windows, token
 * cache, rate limits, backoff) reads it, so tests can move time instead of waiting for it.
 */
export type Clock = { now(): Date };

export const systemClock: Clock = { now: () => new Date() };

/** A clock that follows wall time plus an offset that only grows: tests jump ahead with `advance`. */
export type AdjustableClock = Clock & { advance(ms: number): Date };

export function createAdjustableClock(wall: () => number = Date.now): AdjustableClock {
  let offset = 0;
  return {
    now: () => new Date(wall() + offset),
    advance(ms: number) {
      if (!Number.isFinite(ms) || ms < 0) throw new RangeError('the clock only moves forward');
      offset += ms;
      return new Date(wall() + offset);
    },
  };
}
