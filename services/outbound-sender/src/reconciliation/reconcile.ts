// Reconciliation with Meta's echoes. Pure: time and policy are passed in.
//
// Every Send API call carries `metadata` = `outboundId:part`, and Meta echoes every message the Page
// sends (`message_echoes`, which auth-token subscribes on every Page) with that metadata and the
// message's mid. So when we do not know whether a part went out — the call timed out, or the process
// died during it — the echo tells us:
//
// - an echo arrives before the deadline (`ECHO_WAIT_MS`) → the part is `sent` with the echo's mid,
//   and the send goes on with its next part;
// - no echo by the deadline → Meta did not deliver it: the part is sent again, once (and the later
//   parts follow).
//
// The residual risk: Meta delivered the part but its echo reaches us only after the deadline (or
// never) — Meta's webhook retries, ingress or Kafka down for longer than ECHO_WAIT_MS, an echo lost
// by Meta — and the customer gets that part twice. We take it because the alternative, never sending
// a part we are unsure of, silently drops an answer the customer is waiting for, and a duplicate
// message is the smaller harm. A late echo of a part that was sent again is noticed
// (`duplicate_delivery`) and counted. `RETRY_TIMED_OUT_SENDS=false` chooses the other side: no echo
// by the deadline → the part is `unknown` and the send fails, never a duplicate.
import type { Failure } from '../scheduling/outbound-events.ts';
import type { PartState, SendPart } from '../scheduling/send.ts';

export type ReconcilePolicy = {
  /** How long a part Meta did not confirm waits for its echo before it is sent again. */
  readonly echoWaitMs: number;
  /** Send a part again when its echo did not come in time (false: give up on it, never a duplicate). */
  readonly resendUnconfirmed: boolean;
  /** Attempts of one part (timeouts and crashes mid-call count) before it is given up. */
  readonly maxAttempts: number;
};

export type ReconcileStep =
  /**
   * Wait for the echo until `until`. `orphaned`: the part is still `sending` — the process that sent
   * it died during the call — so it becomes `unconfirmed` first (and the attempt counts).
   */
  | { readonly kind: 'await_echo'; readonly part: number; readonly until: Date; readonly orphaned: boolean }
  /** The deadline passed without an echo: Meta did not deliver it; send it again. */
  | { readonly kind: 'resend'; readonly part: number }
  /** The deadline passed and the part is not sent again: it becomes `unknown`, the send fails. */
  | { readonly kind: 'give_up'; readonly part: number; readonly failure: Failure };

/**
 * What becomes of a part whose delivery Meta did not confirm: `sending` found by a dispatcher (the
 * one that claimed it died mid-call), or `unconfirmed` (waiting for its echo).
 * An `unconfirmed` part without a deadline (which the schema forbids) counts as past it.
 */
export function decideReconcile(part: Pick<SendPart, 'index' | 'state' | 'attempts' | 'reconcileUntil'>, now: Date, policy: ReconcilePolicy): ReconcileStep {
  switch (part.state) {
    case 'sending':
      return { kind: 'await_echo', part: part.index, until: new Date(now.getTime() + policy.echoWaitMs), orphaned: true };
    case 'unconfirmed': {
      const until = part.reconcileUntil ?? now;
      if (now.getTime() < until.getTime()) return { kind: 'await_echo', part: part.index, until, orphaned: false };
      if (!policy.resendUnconfirmed) return { kind: 'give_up', part: part.index, failure: unconfirmedFailure('resend_off', part.attempts) };
      if (part.attempts >= policy.maxAttempts) return { kind: 'give_up', part: part.index, failure: unconfirmedFailure('attempts', part.attempts) };
      return { kind: 'resend', part: part.index };
    }
    case 'pending':
    case 'sent':
    case 'failed':
    case 'unknown':
    case 'skipped':
    case 'cancelled':
      throw new Error(`A part in state "${part.state}" has nothing to reconcile`);
    default: {
      const unexpected: never = part.state;
      throw new Error(`Unknown part state ${String(unexpected)}`);
    }
  }
}

/** The sentence a person reads when a part Meta never confirmed is given up. */
export function unconfirmedFailure(why: 'resend_off' | 'attempts', attempts: number): Failure {
  const reason =
    why === 'resend_off'
      ? 'Facebook did not confirm this message (no answer, and no copy of it came back in time), so Parley cannot tell whether it reached the customer; it was not sent again, to avoid sending it twice.'
      : `Facebook did not confirm this message after ${attempts} attempts, so Parley stopped trying; it cannot tell whether the last attempt reached the customer.`;
  return { category: 'unknown', reason, graphCode: null, graphSubcode: null };
}

// ---------------------------------------------------------------------------------------------
// Echoes
// ---------------------------------------------------------------------------------------------

export type EchoTarget = { readonly outboundId: string; readonly part: number };

/**
 * The part an echo's metadata names: `outboundId:part` (see dispatch/send-body.ts). The outboundId
 * may itself contain colons (callers choose manual reply ids), so the part is after the last one; it
 * must be written as we write it (digits, no sign, no leading zero), or the echo is not ours.
 */
export function parseEchoMetadata(metadata: string | null): EchoTarget | null {
  if (metadata === null) return null;
  const colon = metadata.lastIndexOf(':');
  if (colon <= 0) return null;
  const outboundId = metadata.slice(0, colon);
  const partText = metadata.slice(colon + 1);
  if (!/^(0|[1-9][0-9]{0,5})$/.test(partText)) return null;
  return { outboundId, part: Number(partText) };
}

export type EchoFacts = {
  readonly pageId: string;
  /** The app that sent the message (null when Meta did not say). */
  readonly appId: string | null;
  readonly metadata: string | null;
  readonly mid: string;
};

export type EchoMatch = { readonly kind: 'match'; readonly target: EchoTarget } | { readonly kind: 'not_ours'; readonly why: 'no_metadata' | 'other_app' };

/**
 * Whether an echo can be one of our sends, before looking anything up: a person's reply from Meta's
 * inbox or another app's message has no metadata of ours, or another app id. (Another app could
 * write metadata that looks like ours; its app id gives it away.)
 */
export function matchEcho(echo: EchoFacts, ourAppId: string): EchoMatch {
  if (echo.appId !== null && echo.appId !== ourAppId) return { kind: 'not_ours', why: 'other_app' };
  const target = parseEchoMetadata(echo.metadata);
  return target ? { kind: 'match', target } : { kind: 'not_ours', why: 'no_metadata' };
}

export type EchoDecision =
  /** Nothing in our ledger is this part (another app's, another environment's, or a send we never stored). */
  | { readonly kind: 'ignore'; readonly why: 'unknown_send' | 'other_page' }
  /**
   * The part went out: it becomes `sent` with the echo's mid and `outbound.message.sent` is emitted.
   * `resume`: the send goes on with its next part (not for an `unknown` part: that send already
   * failed and was announced; the echo only corrects the record of what the customer got).
   */
  | { readonly kind: 'confirm'; readonly from: PartState; readonly resume: boolean }
  /** Already recorded as sent with this mid (the normal case: the Send API answered first), or a duplicated echo. */
  | { readonly kind: 'already_sent' }
  /** Recorded as sent with another mid: the customer got this part twice (a late echo of a part sent again). */
  | { readonly kind: 'duplicate_delivery'; readonly recordedMid: string }
  /** The part was settled otherwise (failed, skipped, cancelled) and yet Meta delivered it: recorded in the log only. */
  | { readonly kind: 'contradicts'; readonly state: PartState };

/** What an echo naming one of our parts changes. Duplicated or late echoes change nothing. */
export function decideOnEcho(input: {
  readonly echo: Pick<EchoFacts, 'pageId' | 'mid'>;
  readonly send: { readonly pageId: string } | null;
  readonly part: Pick<SendPart, 'state' | 'mid'> | null;
}): EchoDecision {
  const { echo, send, part } = input;
  if (!send || !part) return { kind: 'ignore', why: 'unknown_send' };
  if (send.pageId !== echo.pageId) return { kind: 'ignore', why: 'other_page' };
  switch (part.state) {
    case 'pending':
    case 'sending':
    case 'unconfirmed':
      return { kind: 'confirm', from: part.state, resume: true };
    case 'unknown':
      return { kind: 'confirm', from: part.state, resume: false };
    case 'sent':
      return part.mid !== null && part.mid !== echo.mid ? { kind: 'duplicate_delivery', recordedMid: part.mid } : { kind: 'already_sent' };
    case 'failed':
    case 'skipped':
    case 'cancelled':
      return { kind: 'contradicts', state: part.state };
    default: {
      const unexpected: never = part.state;
      throw new Error(`Unknown part state ${String(unexpected)}`);
    }
  }
}
