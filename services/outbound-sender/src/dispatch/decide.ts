// What the dispatcher does next with a due send: the pure decision, given the send, its parts, the
// Page's connection, a cancellation and the time. The dispatcher carries it out and asks again,
// part after part, until the send is settled or has to wait.
import { connectionVerdict } from '../page-connections/page-connection.ts';
import type { PageConnection } from '../page-connections/page-connection.ts';
import { decideReconcile } from '../reconciliation/reconcile.ts';
import type { ReconcilePolicy } from '../reconciliation/reconcile.ts';
import type { Failure } from '../scheduling/outbound-events.ts';
import type { Send, SendPart } from '../scheduling/send.ts';
import type { TokenResult } from '../page-tokens/token-provider.ts';

const HOUR_MS = 60 * 60 * 1000;
const DAY_MS = 24 * HOUR_MS;

export type ReplyWindow = {
  readonly kind: 'standard' | 'human_agent' | 'private_reply';
  readonly closesAt: Date;
  /** False when `closesAt` is only an upper bound (the command did not say when the customer last wrote). */
  readonly exact: boolean;
};

/**
 * Until when Meta lets this send out (meta-platform.md §8, §3e):
 * - standard: 24 h after the customer's last message (`replyWindowClosesAt`);
 * - human_agent (MESSAGE_TAG + HUMAN_AGENT, a person's reply): 7 days after it, i.e. 6 days after the 24-hour window;
 * - private_reply (Page comments): 7 days after the comment.
 * When the command does not carry the window, `sendAt` bounds it: the customer wrote at or before
 * `sendAt`, so the window cannot close later than `sendAt` + 24 h (+ 7 days for the others). Meta
 * still has the last word (10/2018278 → window_closed) when the real window closed earlier.
 */
export function replyWindowOf(send: Pick<Send, 'channel' | 'tag' | 'sendAt' | 'replyWindowClosesAt'>): ReplyWindow {
  if (send.channel === 'page_comment') {
    return { kind: 'private_reply', closesAt: new Date(send.sendAt.getTime() + 7 * DAY_MS), exact: false };
  }
  if (send.tag === 'HUMAN_AGENT') {
    return send.replyWindowClosesAt
      ? { kind: 'human_agent', closesAt: new Date(send.replyWindowClosesAt.getTime() + 6 * DAY_MS), exact: true }
      : { kind: 'human_agent', closesAt: new Date(send.sendAt.getTime() + 7 * DAY_MS), exact: false };
  }
  return send.replyWindowClosesAt
    ? { kind: 'standard', closesAt: send.replyWindowClosesAt, exact: true }
    : { kind: 'standard', closesAt: new Date(send.sendAt.getTime() + DAY_MS), exact: false };
}

/** The sentence a person reads when a send missed its window. */
export function windowClosedReason(kind: ReplyWindow['kind']): string {
  switch (kind) {
    case 'standard':
      return "The customer's 24-hour reply window closed before this was sent.";
    case 'human_agent':
      return "The 7-day window for a person's reply (human-agent tag) closed before this was sent; the customer has to write again first.";
    case 'private_reply':
      return 'A private reply to a comment must go out within 7 days of the comment, and that time had passed.';
    default: {
      const unexpected: never = kind;
      throw new Error(`Unknown window kind ${String(unexpected)}`);
    }
  }
}

export function isWindowOpen(window: ReplyWindow, now: Date): boolean {
  return now.getTime() < window.closesAt.getTime();
}

export const PAGE_DISCONNECTED_REASON = 'The Page is no longer connected to Parley, so this was not sent.';

export type DispatchInput = {
  readonly send: Send;
  readonly parts: ReadonlyArray<SendPart>;
  readonly cancellation: { readonly reason: string } | null;
  readonly page: PageConnection;
  readonly now: Date;
  /** What to do with a part Meta did not confirm (see reconciliation/reconcile.ts). */
  readonly reconcile: ReconcilePolicy;
};

export type DispatchStep =
  /**
   * A part Meta did not confirm waits for its echo until `until`. `orphaned`: it was found in
   * `sending` — the dispatcher that sent it died mid-call — and becomes `unconfirmed` first.
   */
  | { readonly kind: 'await_echo'; readonly part: number; readonly until: Date; readonly orphaned: boolean }
  /** No echo came and the part is not sent again: it becomes `unknown`, the send fails, later parts are skipped. */
  | { readonly kind: 'give_up'; readonly part: number; readonly skip: ReadonlyArray<number>; readonly failure: Failure }
  /** Every part is settled (and announced): record the send's final status. */
  | { readonly kind: 'close'; readonly status: 'sent' | 'failed' | 'cancelled' }
  /** `cancel`: the parts that never go out (pending ones, and one whose echo did not come). */
  | { readonly kind: 'cancel'; readonly reason: string; readonly partsSent: number; readonly cancel: ReadonlyArray<number> }
  /**
   * Do not call Meta at all: the Page is gone or the window is closed. Every pending part is skipped;
   * `abandon`: a part whose echo did not come becomes `unknown` (it may have gone out).
   */
  | { readonly kind: 'fail'; readonly part: number | null; readonly skip: ReadonlyArray<number>; readonly abandon: number | null; readonly failure: Failure }
  /** The Page needs reconnecting. `probe`: the send was already held and is due for a re-check of the token. */
  | { readonly kind: 'hold'; readonly probe: boolean }
  /** `resend`: the part was `unconfirmed` and its echo did not come by the deadline: Meta did not deliver it. */
  | { readonly kind: 'send'; readonly part: number; readonly typing: boolean; readonly resend: boolean };

/**
 * The next step for a claimed send. Order matters: a part Meta did not confirm (left in `sending` by
 * a dispatcher that died, or `unconfirmed` after a timeout) is dealt with before anything else — it
 * may have reached the customer, so it waits for its echo whatever else happened (a cancellation, a
 * closed window: the echo only settles the record); past the deadline it is sent again, subject to
 * the same checks as any part. Then settled sends are closed; a cancellation wins over sending; a
 * gone Page or a closed window fail without calling Meta (a closed window also wins over holding:
 * there is no point holding what can no longer go out); then hold or send the next part. Parts go
 * strictly in order.
 */
export function decideNext(input: DispatchInput): DispatchStep {
  const { send, parts, page, now } = input;
  const pending = parts.filter((p) => p.state === 'pending').map((p) => p.index);
  let resend: SendPart | undefined;
  const unsure = parts.find((p) => p.state === 'sending' || p.state === 'unconfirmed');
  if (unsure) {
    const step = decideReconcile(unsure, now, input.reconcile);
    switch (step.kind) {
      case 'await_echo':
        return step;
      case 'give_up':
        return { kind: 'give_up', part: step.part, skip: pending.filter((i) => i > step.part), failure: step.failure };
      case 'resend':
        resend = unsure;
        break;
      default: {
        const unexpected: never = step;
        throw new Error(`Unknown reconcile step ${String(unexpected)}`);
      }
    }
  }

  if (parts.some((p) => p.state === 'cancelled')) return { kind: 'close', status: 'cancelled' };
  if (parts.some((p) => p.state === 'failed' || p.state === 'unknown' || p.state === 'skipped')) {
    return { kind: 'close', status: 'failed' };
  }
  const next = resend ?? parts.find((p) => p.state === 'pending');
  if (!next) return { kind: 'close', status: 'sent' };
  const partsSent = parts.filter((p) => p.state === 'sent').length;

  if (input.cancellation) return { kind: 'cancel', reason: input.cancellation.reason, partsSent, cancel: resend ? [resend.index, ...pending] : pending };

  const failWith = (failure: Failure): DispatchStep => ({
    kind: 'fail',
    // null says "nothing was sent": not so when a part may have gone out.
    part: partsSent > 0 || resend ? next.index : null,
    skip: pending,
    abandon: resend ? resend.index : null,
    failure,
  });
  const verdict = connectionVerdict(page.status);
  if (verdict === 'disconnected') {
    return failWith({ category: 'page_disconnected', reason: PAGE_DISCONNECTED_REASON, graphCode: null, graphSubcode: null });
  }
  const window = replyWindowOf(send);
  if (!isWindowOpen(window, now)) {
    return failWith({ category: 'window_closed', reason: windowClosedReason(window.kind), graphCode: null, graphSubcode: null });
  }
  if (verdict === 'hold') return { kind: 'hold', probe: send.status === 'held' };

  // A part sent again had its typing indicator the first time.
  const typing = !resend && next.index === 0 && send.typingIndicator && send.author === 'assistant' && send.channel === 'messenger';
  return { kind: 'send', part: next.index, typing, resend: resend !== undefined };
}

export type TokenStep =
  | { readonly kind: 'use'; readonly accessToken: string; readonly fingerprint: string; readonly accountId: string | null }
  | { readonly kind: 'hold' }
  | { readonly kind: 'fail'; readonly failure: Failure }
  /** auth-token did not answer usefully: try again a little later, without announcing anything. */
  | { readonly kind: 'wait'; readonly detail: string };

/** What auth-token's token API answer means for a send about to go out. */
export function decideOnToken(result: TokenResult): TokenStep {
  switch (result.kind) {
    case 'token':
      return { kind: 'use', accessToken: result.accessToken, fingerprint: result.fingerprint, accountId: result.accountId };
    case 'needs_reconnect':
      return { kind: 'hold' };
    case 'not_connected':
      return { kind: 'fail', failure: { category: 'page_disconnected', reason: PAGE_DISCONNECTED_REASON, graphCode: null, graphSubcode: null } };
    case 'unavailable':
      return { kind: 'wait', detail: result.detail };
    default: {
      const unexpected: never = result;
      throw new Error(`Unknown token result ${String((unexpected as { kind: string }).kind)}`);
    }
  }
}

/**
 * A held send is due for a re-check (every HOLD_RECHECK_MS): ask auth-token for the Page's token.
 * - 200: auth-token has a new token (the Page was reconnected and we missed or have not yet seen the
 *   event), or it re-checked the token we reported as rejected and still vouches for it: try again.
 *   If Meta rejects it once more, the send is held again — one call per re-check at most.
 * - 409 or no answer: keep holding. 404: the Page is gone, the send fails.
 */
export function decideProbe(result: TokenResult): 'release' | 'keep' | 'disconnected' {
  switch (result.kind) {
    case 'token':
      return 'release';
    case 'needs_reconnect':
    case 'unavailable':
      return 'keep';
    case 'not_connected':
      return 'disconnected';
    default: {
      const unexpected: never = result;
      throw new Error(`Unknown token result ${String((unexpected as { kind: string }).kind)}`);
    }
  }
}
