import { classifyGraphError } from './classify.ts';
import type { GraphErrorCategory, GraphErrorKind } from './classify.ts';

export interface GraphApiErrorInit {
  kind: GraphErrorKind;
  /** Already redacted: must not contain tokens or secrets. */
  message: string;
  /** `METHOD /path` without the query string (which carries tokens). */
  operation: string;
  httpStatus?: number | undefined;
  code?: number | undefined;
  subcode?: number | undefined;
  type?: string | undefined;
  fbtraceId?: string | undefined;
  isTransient?: boolean | undefined;
  retryAfterMs?: number | undefined;
  userTitle?: string | undefined;
  userMessage?: string | undefined;
}

/**
 * Every failure of a Graph API call: Meta's error object (`kind: 'graph'`), or no usable answer
 * (`network`, `timeout`, `breaker_open`, `invalid_response`). Carries its classification so a
 * consumer can choose between retry with backoff and the dead-letter topic without parsing codes.
 */
export class GraphApiError extends Error {
  readonly kind: GraphErrorKind;
  readonly operation: string;
  readonly httpStatus: number | undefined;
  readonly code: number | undefined;
  readonly subcode: number | undefined;
  readonly type: string | undefined;
  readonly fbtraceId: string | undefined;
  /** Meta's `is_transient`; always true for network, timeout and breaker_open failures. */
  readonly isTransient: boolean;
  /** From `Retry-After` or, for rate limits, the usage headers' time to regain access. */
  readonly retryAfterMs: number | undefined;
  /** Meta's `error_user_title` / `error_user_msg`, meant for end users. */
  readonly userTitle: string | undefined;
  readonly userMessage: string | undefined;
  readonly category: GraphErrorCategory;
  readonly retriable: boolean;
  /** A sentence a Page admin understands (see classifyGraphError). */
  readonly reason: string;

  constructor(init: GraphApiErrorInit) {
    super(init.message);
    this.name = 'GraphApiError';
    this.kind = init.kind;
    this.operation = init.operation;
    this.httpStatus = init.httpStatus;
    this.code = init.code;
    this.subcode = init.subcode;
    this.type = init.type;
    this.fbtraceId = init.fbtraceId;
    this.isTransient = init.kind === 'graph' || init.kind === 'invalid_response' ? init.isTransient === true : true;
    this.retryAfterMs = init.retryAfterMs;
    this.userTitle = init.userTitle;
    this.userMessage = init.userMessage;
    const { category, retriable, reason } = classifyGraphError({
      kind: init.kind,
      httpStatus: init.httpStatus,
      code: init.code,
      subcode: init.subcode,
      isTransient: init.isTransient,
    });
    this.category = category;
    this.retriable = retriable;
    this.reason = reason;
  }
}

/** True for an error that should count against the circuit breaker: Meta (or the path to it) is unhealthy. */
export function isBreakerFailure(error: unknown): boolean {
  if (!(error instanceof GraphApiError)) return true;
  // Code 4 is the app-wide limit: every call this client makes would fail, so stop calling for a while.
  // Page- and user-level limits (17, 32, 613) concern one Page and must not pause every other Page.
  return error.category === 'transient' || (error.category === 'rate_limited' && error.code === 4);
}
