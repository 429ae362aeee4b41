// Graph API usage headers (meta-platform.md §5). Their exact JSON is not confirmed by Meta's docs,
// so parsing is tolerant: a header that is missing, not JSON, or of an unexpected shape contributes
// nothing instead of failing the call that carried it.
//   X-App-Usage:               {"call_count":28,"total_time":25,"total_cputime":25}
//   X-Page-Usage:              same fields, per Page
//   X-Business-Use-Case-Usage: {"<id>":[{"type":"pages","call_count":1,"total_cputime":1,"total_time":1,"estimated_time_to_regain_access":0}]}

export interface GraphUsage {
  /** Highest percentage of any limit reported (Meta throttles at 100); undefined when no header was readable. */
  maxUsagePercent: number | undefined;
  /** Longest `estimated_time_to_regain_access` reported, in minutes. */
  regainAccessMinutes?: number;
}

export type HeaderSource =
  | { get(name: string): string | null }
  | Readonly<Record<string, string | readonly string[] | undefined>>;

const PERCENT_FIELDS = ['call_count', 'total_time', 'total_cputime'] as const;

function readHeader(headers: HeaderSource, name: string): string | undefined {
  if (typeof (headers as { get?: unknown }).get === 'function') {
    return (headers as { get(name: string): string | null }).get(name) ?? undefined;
  }
  const record = headers as Readonly<Record<string, string | readonly string[] | undefined>>;
  const key = Object.keys(record).find((k) => k.toLowerCase() === name);
  const value = key === undefined ? undefined : record[key];
  return Array.isArray(value) ? value.join(',') : (value as string | undefined);
}

function parseJson(text: string | undefined): unknown {
  if (text === undefined || text.trim() === '') return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function finiteNumber(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0 ? value : undefined;
}

/** Reads X-App-Usage, X-Page-Usage and X-Business-Use-Case-Usage into one "how close to throttling" figure. */
export function parseUsageHeaders(headers: HeaderSource): GraphUsage {
  const percents: number[] = [];
  const regain: number[] = [];

  const collect = (entry: unknown): void => {
    if (!isRecord(entry)) return;
    for (const field of PERCENT_FIELDS) {
      const n = finiteNumber(entry[field]);
      if (n !== undefined) percents.push(n);
    }
    const minutes = finiteNumber(entry['estimated_time_to_regain_access']);
    if (minutes !== undefined) regain.push(minutes);
  };

  collect(parseJson(readHeader(headers, 'x-app-usage')));
  collect(parseJson(readHeader(headers, 'x-page-usage')));
  const business = parseJson(readHeader(headers, 'x-business-use-case-usage'));
  if (isRecord(business)) {
    for (const entries of Object.values(business)) {
      if (Array.isArray(entries)) entries.forEach(collect);
    }
  }

  const usage: GraphUsage = { maxUsagePercent: percents.length > 0 ? Math.max(...percents) : undefined };
  if (regain.length > 0) usage.regainAccessMinutes = Math.max(...regain);
  return usage;
}
