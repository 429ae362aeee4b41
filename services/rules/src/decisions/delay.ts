import type { ResponseDelay } from '@parley/contracts';

/** A source of uniform numbers in [0, 1): `Math.random` in production, a fixed sequence in tests. */
export type Random = () => number;

/** The response delay ranges of CONTRACTS.md, in milliseconds (inclusive bounds). */
export const RESPONSE_DELAY_RANGES_MS: Readonly<Record<ResponseDelay, readonly [number, number]>> = {
  instant: [0, 0],
  short: [5_000, 15_000],
  medium: [15_000, 30_000],
  long: [30_000, 60_000],
};

/** Draws a delay within the Page's range, to the millisecond, so answers do not all arrive on the same beat. */
export function drawResponseDelayMs(delay: ResponseDelay, random: Random): number {
  const [min, max] = RESPONSE_DELAY_RANGES_MS[delay];
  // Clamp a misbehaving source (1.0, NaN) into the range rather than trust it.
  const drawn = random();
  const r = Number.isFinite(drawn) ? Math.min(Math.max(drawn, 0), 1) : 0;
  return Math.min(max, min + Math.floor(r * (max - min + 1)));
}
