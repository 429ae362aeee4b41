// The life of one part of a send. The ledger applies the same transitions in SQL (`where state = …`),
// so a part can never move in a way this table does not allow, even with two replicas racing.
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
  /** Found in `sending` by a dispatcher that did not send it: the previous one died mid-call. */
  | 'orphaned'
  /** An earlier part failed, so this one never goes out (parts are strictly in order). */
  | 'skip'
  | 'cancel';

const TRANSITIONS: Record<PartTransition, { from: PartState; to: PartState }> = {
  claim: { from: 'pending', to: 'sending' },
  accepted: { from: 'sending', to: 'sent' },
  rejected: { from: 'sending', to: 'failed' },
  not_taken: { from: 'sending', to: 'pending' },
  orphaned: { from: 'sending', to: 'unknown' },
  skip: { from: 'pending', to: 'skipped' },
  cancel: { from: 'pending', to: 'cancelled' },
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
  if (rule.from !== state) throw new InvalidPartTransition(state, transition);
  return rule.to;
}

/** The state a transition starts from, for the ledger's guarded update. */
export function requiredPartState(transition: PartTransition): PartState {
  return TRANSITIONS[transition].from;
}

/** Settled parts never change again. */
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
      return false;
    default: {
      const unexpected: never = state;
      throw new Error(`Unknown part state ${String(unexpected)}`);
    }
  }
}
