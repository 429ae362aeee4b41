// The simulator's notion of "now": the 24-hour window, token expiry and webhook timestamps all read it.
// Running (default): wall time plus an offset that `advance` grows, so a person at the chat page sees
// time pass. Frozen (tests): time moves only when told, so windows are exact.

export interface SimClock {
  /** Epoch milliseconds as the simulated Meta sees them. */
  now(): number;
  /** Moves time forward (never backward: Meta's clock does not run back). */
  advance(ms: number): number;
  /** Frozen clocks: jump to an absolute time; running clocks: shift the offset so now() ≈ ms. */
  set(ms: number): number;
  readonly frozen: boolean;
  /** Back to where it started. */
  reset(): void;
}

export function createSimClock(options: { frozenAt?: number; wallClock?: () => number } = {}): SimClock {
  const wall = options.wallClock ?? Date.now;
  const frozenStart = options.frozenAt;
  let offset = 0;
  let frozenNow = frozenStart ?? 0;
  const frozen = frozenStart !== undefined;
  return {
    frozen,
    now: () => (frozen ? frozenNow : wall() + offset),
    advance(ms: number): number {
      if (!Number.isFinite(ms) || ms < 0) throw new RangeError('the clock only moves forward by a finite number of ms');
      if (frozen) frozenNow += ms;
      else offset += ms;
      return this.now();
    },
    set(ms: number): number {
      if (!Number.isFinite(ms)) throw new RangeError('time must be a finite number of ms');
      if (frozen) frozenNow = ms;
      else offset = ms - wall();
      return this.now();
    },
    reset(): void {
      offset = 0;
      frozenNow = frozenStart ?? 0;
    },
  };
}
