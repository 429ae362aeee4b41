// Fault injection: make the simulated Meta slow, flaky, rate-limited or hung, for the next N matching
// requests (or until cleared). Matching is pure; the HTTP layer applies what matches.
import { graphErrors, type GraphError } from './graph-errors.ts';

export type FaultKind = 'latency' | 'serverError' | 'timeout' | 'rateLimit' | 'graphError' | 'subscriptionFailure';
export const FAULT_KINDS: readonly FaultKind[] = ['latency', 'serverError', 'timeout', 'rateLimit', 'graphError', 'subscriptionFailure'];

/** Which requests a fault applies to; every given field must match. */
export interface FaultMatch {
  /** Glob on the path without the version prefix, `*` matching anything: `/me/messages`, `*\/messages`, `/oauth/*`. */
  readonly path?: string;
  readonly method?: string;
  /** The Page the request is about: the `{page-id}` in the path, or the Page of the token. */
  readonly pageId?: string;
}

export interface FaultSpec {
  readonly kind: FaultKind;
  readonly match?: FaultMatch;
  /** How many matching requests it affects; omitted: 1, except latency which stays until cleared. null: until cleared. */
  readonly count?: number | null;
  /** latency: added delay in ms. */
  readonly ms?: number;
  /** serverError: Graph code 1 (unknown) or 2 (service), default 2; answered with HTTP 500. */
  readonly code?: 1 | 2;
  /** graphError / subscriptionFailure: the error to answer with. */
  readonly error?: { code: number; subcode?: number; message?: string; type?: string; httpStatus?: number };
}

export interface ActiveFault extends FaultSpec {
  readonly id: string;
  /** null: unlimited. */
  remaining: number | null;
  hits: number;
}

export interface RequestFacts {
  readonly method: string;
  /** Path without the `/vNN.N` prefix. */
  readonly path: string;
  readonly pageId?: string;
}

/** Checks a fault spec from the control API; returns a message when it is unusable. */
export function validateFaultSpec(spec: unknown): string | null {
  if (typeof spec !== 'object' || spec === null) return 'a fault must be an object';
  const s = spec as Record<string, unknown>;
  if (!FAULT_KINDS.includes(s['kind'] as FaultKind)) return `kind must be one of ${FAULT_KINDS.join(', ')} (revokeToken is also accepted by the control API)`;
  if (s['count'] !== undefined && s['count'] !== null && (!Number.isInteger(s['count']) || (s['count'] as number) < 1)) {
    return 'count must be a positive integer or null';
  }
  if (s['kind'] === 'latency' && (typeof s['ms'] !== 'number' || s['ms'] < 0)) return 'latency needs ms >= 0';
  if (s['kind'] === 'serverError' && s['code'] !== undefined && s['code'] !== 1 && s['code'] !== 2) return 'serverError code must be 1 or 2';
  if (s['kind'] === 'graphError') {
    const e = s['error'] as Record<string, unknown> | undefined;
    if (!e || typeof e['code'] !== 'number') return 'graphError needs error.code';
  }
  if (s['match'] !== undefined && (typeof s['match'] !== 'object' || s['match'] === null)) return 'match must be an object';
  return null;
}

export function activateFault(spec: FaultSpec, id: string): ActiveFault {
  const remaining = spec.count === null ? null : spec.count ?? (spec.kind === 'latency' ? null : 1);
  return { ...spec, id, remaining, hits: 0 };
}

/** Glob match with `*` as "anything"; everything else literal. */
export function globMatches(pattern: string, path: string): boolean {
  const regex = new RegExp(`^${pattern.split('*').map(escapeRegExp).join('.*')}$`);
  return regex.test(path);
}

function escapeRegExp(s: string): string {
  return s.replace(/[.+?^${}()|[\]\\]/g, '\\$&');
}

export function faultApplies(fault: ActiveFault, request: RequestFacts): boolean {
  if (fault.remaining !== null && fault.remaining <= 0) return false;
  if (fault.kind === 'subscriptionFailure' && !(request.method === 'POST' && /\/subscribed_apps$/.test(request.path))) return false;
  const m = fault.match ?? {};
  if (m.method && m.method.toUpperCase() !== request.method.toUpperCase()) return false;
  if (m.path && !globMatches(m.path, request.path)) return false;
  if (m.pageId && m.pageId !== request.pageId) return false;
  return true;
}

/** What to do with a request: total added latency, and at most one failure (the oldest matching fault wins). */
export interface FaultDecision {
  readonly latencyMs: number;
  readonly failure?: { kind: 'timeout' } | { kind: 'error'; error: GraphError };
}

/** Picks the faults for a request and counts them down (mutates `remaining`/`hits` of the chosen ones). */
export function takeFaults(faults: ActiveFault[], request: RequestFacts): FaultDecision {
  let latencyMs = 0;
  let failure: FaultDecision['failure'];
  for (const fault of faults) {
    if (!faultApplies(fault, request)) continue;
    if (fault.kind === 'latency') {
      latencyMs += fault.ms ?? 0;
      consume(fault);
      continue;
    }
    if (failure) continue;
    failure = failureOf(fault);
    consume(fault);
  }
  return failure ? { latencyMs, failure } : { latencyMs };
}

function consume(fault: ActiveFault): void {
  fault.hits++;
  if (fault.remaining !== null) fault.remaining--;
}

function failureOf(fault: ActiveFault): NonNullable<FaultDecision['failure']> {
  switch (fault.kind) {
    case 'timeout':
      return { kind: 'timeout' };
    case 'serverError':
      return { kind: 'error', error: fault.code === 1 ? graphErrors.unknownError() : graphErrors.serviceUnavailable() };
    case 'rateLimit':
      return { kind: 'error', error: graphErrors.rateLimited() };
    case 'subscriptionFailure':
    case 'graphError': {
      const e = fault.error;
      if (!e) return { kind: 'error', error: graphErrors.missingMetadataPermission() };
      return {
        kind: 'error',
        error: {
          httpStatus: e.httpStatus ?? (e.code === 1 || e.code === 2 ? 500 : 400),
          code: e.code,
          message: e.message ?? `(#${e.code}) Injected failure`,
          type: e.type ?? 'OAuthException',
          ...(e.subcode === undefined ? {} : { subcode: e.subcode }),
        },
      };
    }
    case 'latency':
      throw new Error('latency is not a failure');
    default: {
      const unreachable: never = fault.kind;
      throw new Error(`unknown fault kind ${String(unreachable)}`);
    }
  }
}
