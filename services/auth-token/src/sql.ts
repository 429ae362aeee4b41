// Small helpers for raw SQL through @parley/persistence (whose driver interpolates parameters on the
// client side: arrays would be spread into lists, so they travel as JSON instead).

/** A timestamptz as PostgreSQL returns it (`2026-11-26 04:27:54.835+00`) → epoch ms, or null. */
export function epochOf(value: unknown): number | null {
  if (value === null || value === undefined) return null;
  if (value instanceof Date) return value.getTime();
  const text = String(value).replace(' ', 'T').replace(/([+-]\d{2})$/, '$1:00');
  const ms = Date.parse(text);
  if (Number.isNaN(ms)) throw new Error(`Unreadable timestamp from the database: ${String(value).slice(0, 40)}`);
  return ms;
}

/** Like epochOf, as an ISO-8601 string. */
export function isoOf(value: unknown): string | null {
  const ms = epochOf(value);
  return ms === null ? null : new Date(ms).toISOString();
}

/** An epoch-ms time as a query parameter. */
export function at(ms: number): string {
  return new Date(ms).toISOString();
}

/** A list as a query parameter: use it as `array(select jsonb_array_elements_text(?::jsonb))`. */
export function jsonList(values: readonly string[]): string {
  return JSON.stringify(values);
}

export const TEXT_ARRAY = 'array(select jsonb_array_elements_text(?::jsonb))';
