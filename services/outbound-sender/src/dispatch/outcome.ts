// What to do with Meta's answer to a typing indicator or a message part. Pure: the error's
// classification comes from @parley/graph-api (meta-platform.md §4b), time and randomness are passed in.
import { GraphApiError } from '@parley/graph-api';
import { backoffMs } from '@parley/messaging';
import type { Failure } from '../scheduling/outbound-events.ts';
import type { Send } from '../scheduling/send.ts';
import { replyWindowOf, windowClosedReason } from './decide.ts';

export type RetryPolicy = {
  /** Transient failures of one part before it fails for good (rate limits wait without a cap: the window bounds them). */
  readonly maxAttempts: number;
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
  /** How long to wait before trying again while the breaker is open. */
  readonly breakerRetryMs: number;
};

export const DEFAULT_RETRY_POLICY: RetryPolicy = {
  maxAttempts: 8,
  baseDelayMs: 1_000,
  maxDelayMs: 5 * 60_000,
  breakerRetryMs: 30_000,
};

export type GraphOutcome = { readonly ok: true; readonly mid: string | null } | { readonly ok: false; readonly error: unknown };

export type OutcomeInput = {
  readonly step: 'typing' | 'message';
  readonly outcome: GraphOutcome;
  readonly send: Pick<Send, 'channel' | 'tag' | 'sendAt' | 'replyWindowClosesAt'>;
  /** Failed attempts of this part so far. */
  readonly attempts: number;
  readonly now: Date;
  readonly policy: RetryPolicy;
  readonly random: () => number;
};

export type OutcomeDecision =
  | { readonly kind: 'sent'; readonly mid: string }
  /** Typing went out (or failed in a way that does not matter): go on with the message. */
  | { readonly kind: 'continue' }
  /** Meta did not take it; try again at `retryAt` (durably) and tell the world once why it waits. */
  | {
      readonly kind: 'retry';
      readonly retryAt: Date;
      readonly reason: 'graph_unavailable' | 'rate_limited';
      readonly detail: string;
      /** Counts against maxAttempts and grows the backoff (not for our own open breaker). */
      readonly countsAsAttempt: boolean;
    }
  /** Meta rejected the Page's token (190): announce it and hold the Page's sends until it is reconnected. */
  | { readonly kind: 'hold'; readonly graphCode: number; readonly graphSubcode: number | null; readonly detail: string }
  | { readonly kind: 'fail'; readonly failure: Failure; readonly tokenRejected: boolean }
  /**
   * Meta did not answer in time: it may have delivered the part. Do not retry blindly: the part waits
   * for its echo (reconciliation/reconcile.ts), and is sent again only if none comes. Counts as an attempt.
   */
  | { readonly kind: 'unconfirmed'; readonly detail: string };

export function decideOutcome(input: OutcomeInput): OutcomeDecision {
  const { outcome, step, policy, now } = input;
  if (outcome.ok) {
    if (step === 'typing') return { kind: 'continue' };
    // The client refuses a 2xx without message_id (invalid_response), so a message always has its mid.
    return { kind: 'sent', mid: outcome.mid ?? '' };
  }
  const error = outcome.error;
  const later = (reason: 'graph_unavailable' | 'rate_limited', detail: string, minDelayMs = 0): OutcomeDecision => ({
    kind: 'retry',
    reason,
    detail,
    retryAt: new Date(now.getTime() + Math.max(minDelayMs, backoffMs(input.attempts + 1, policy.baseDelayMs, policy.maxDelayMs, input.random))),
    countsAsAttempt: true,
  });

  if (!(error instanceof GraphApiError)) {
    // Not an answer from Meta (a bug or an unexpected failure before the request): nothing was sent.
    return exhausted(input) ? giveUp(input, null, null) : later('graph_unavailable', `Parley could not call Facebook: ${String((error as Error)?.message ?? error)}`);
  }
  const code = error.code ?? null;
  const subcode = error.subcode ?? null;

  if (error.kind === 'breaker_open') {
    const jittered = policy.breakerRetryMs * (0.5 + input.random());
    return { kind: 'retry', reason: 'graph_unavailable', detail: error.reason, retryAt: new Date(now.getTime() + jittered), countsAsAttempt: false };
  }
  if (error.category === 'auth_invalid') {
    return { kind: 'hold', graphCode: code ?? 190, graphSubcode: subcode, detail: error.reason };
  }
  if (step === 'typing') {
    // A typing indicator is a courtesy: the message's own call gives the real answer (window, recipient…).
    return { kind: 'continue' };
  }
  if (error.kind === 'timeout') {
    // meta-platform.md §4b retries timeouts; but a timed-out call may have been delivered, so the
    // retry waits for the echo first (and happens only without one).
    return { kind: 'unconfirmed', detail: error.reason };
  }
  switch (error.category) {
    case 'transient':
      return exhausted(input) ? giveUp(input, code, subcode) : later('graph_unavailable', error.reason, error.retryAfterMs ?? 0);
    case 'rate_limited':
      return later('rate_limited', error.reason, error.retryAfterMs ?? 0);
    case 'window_closed':
      return {
        kind: 'fail',
        tokenRejected: false,
        failure: { category: 'window_closed', reason: windowClosedReason(replyWindowOf(input.send).kind), graphCode: code, graphSubcode: subcode },
      };
    case 'permission':
      // A missing permission is the connection's problem: auth-token re-checks it; this send fails.
      return { kind: 'fail', tokenRejected: true, failure: { category: 'permission', reason: error.reason, graphCode: code, graphSubcode: subcode } };
    case 'recipient_unavailable':
    case 'invalid_request':
    case 'policy':
    case 'unknown':
      return { kind: 'fail', tokenRejected: false, failure: { category: error.category, reason: error.reason, graphCode: code, graphSubcode: subcode } };
    default: {
      const unexpected: never = error.category;
      throw new Error(`Unknown Graph error category ${String(unexpected)}`);
    }
  }
}

function exhausted(input: OutcomeInput): boolean {
  return input.attempts + 1 >= input.policy.maxAttempts;
}

function giveUp(input: OutcomeInput, code: number | null, subcode: number | null): OutcomeDecision {
  return {
    kind: 'fail',
    tokenRejected: false,
    failure: {
      category: 'transient',
      reason: `Facebook kept failing (${input.attempts + 1} attempts), so this was not sent.`,
      graphCode: code,
      graphSubcode: subcode,
    },
  };
}
