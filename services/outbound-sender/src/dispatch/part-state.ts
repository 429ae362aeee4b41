// The life of one part of a send. The ledger applies the same transitions in SQL (`where state in …`),
// so a part can never move in a way this table does not allow, even with two replicas racing, or
// with the dispatcher and an echo racing for the same part.
//
//   pending ──claim──▶ sending ──accepted──▶ sent
//      ▲                  │ ├──rejected──▶ failed
//      └────not_taken─────┘ └──timed_out / orphaned──▶ unconfirmed ──resend──▶ sending
//                                                          │ └──abandon──▶ unknown
//   an echo (Meta's copy of what the Page sent): pending | sending | unconfirmed | unknown ──echoed──▶ sent
//   pending ──skip──▶ skipped;  pending | unconfirmed ──cancel──▶ cancelled
import type { PartState } from '../scheduling/send.ts';

export type PartTransition =
  /** The dispatcher is about to call Meta (committed before the call: see recovery). */
  | 'claim'
  /** Meta accepted it and gave a mid. */
  | 'accepted'
  /** Meta refused it for good. */
  | 'rejected'
  /** Meta said it did not take it (a transient error, rate limit, bad token): safe to try again. */
  | 'not_taken'
  /** Meta did not answer in time: it may have delivered the part; wait for its echo. */
  | 'timed_out'
  /** Found in `sending` by a dispatcher that did not send it: the previous one died mid-call; wait for the echo. */
  | 'orphaned'
  /** No echo came before the deadline: Meta did not deliver it, so it is sent again. */
  | 'resend'
  /** No echo came and the part will not be sent again (re-sending is off, attempts are used up, the send cannot go out any more). */
  | 'abandon'
  /**
   * Meta's echo of the part arrived: it was delivered. This is evidence, so it settles the part whatever
   * we believed (`pending` after a 5xx that was delivered after all, `sending` when the echo beats the
   * Send API's answer, `unconfirmed`, or `unknown` after we gave up waiting).
   */
  | 'echoed'
  /** An earlier part failed, so this one never goes out (parts are strictly in order). */
  | 'skip'
  | 'cancel';

const TRANSITIONS: Record<PartTransition, { from: ReadonlyArray<PartState>; to: PartState }> = {
  claim: { from: ['pending'], to: 'sending' },
  accepted: { from: ['sending'], to: 'sent' },
  rejected: { from: ['sending'], to: 'failed' },
  not_taken: { from: ['sending'], to: 'pending' },
  timed_out: { from: ['sending'], to: 'unconfirmed' },
  orphaned: { from: ['sending'], to: 'unconfirmed' },
  resend: { from: ['unconfirmed'], to: 'sending' },
  abandon: { from: ['unconfirmed'], to: 'unknown' },
  echoed: { from: ['pending', 'sending', 'unconfirmed', 'unknown'], to: 'sent' },
  skip: { from: ['pending'], to: 'skipped' },
  // A part waiting for its echo is not sent again once the send is cancelled (if it did go out, the
  // cancellation came too late for it, as for any part already sent).
  cancel: { from: ['pending', 'unconfirmed'], to: 'cancelled' },
};

export class InvalidPartTransition extends Error {
  constructor(state: PartState, transition: PartTransition) {
    super(`A part in state "${state}" cannot be ${transition}`);
    this.name = 'InvalidPartTransition';
  }
}

/** The state after a transition; throws on a transition the state machine does not allow. */
export function nextPartState(state: PartState, transition: PartTransition): PartState {
  const rule = TRANSITIONS[transition];
  if (!rule.from.includes(state)) throw new InvalidPartTransition(state, transition);
  return rule.to;
}

/** The states a transition may start from, for the ledger's guarded update. */
export function requiredPartStates(transition: PartTransition): ReadonlyArray<PartState> {
  return TRANSITIONS[transition].from;
}

/** Where a transition leads. */
export function targetPartState(transition: PartTransition): PartState {
  return TRANSITIONS[transition].to;
}

/**
 * Settled parts never change again — except `unknown`, which an echo can still turn into `sent`
 * (that only corrects the record: the send it belongs to stays failed).
 */
export function isSettled(state: PartState): boolean {
  switch (state) {
    case 'sent':
    case 'failed':
    case 'unknown':
    case 'skipped':
    case 'cancelled':
      return true;
    case 'pending':
    case 'sending':
    case 'unconfirmed':
      return false;
    default: {
      const unexpected: never = state;
      throw new Error(`Unknown part state ${String(unexpected)}`);
    }
  }
}
