import type { PartState } from '../scheduling/send.ts';
import { InvalidPartTransition, isSettled, nextPartState } from './part-state.ts';
import type { PartTransition } from './part-state.ts';

const ALL_STATES: PartState[] = ['pending', 'sending', 'unconfirmed', 'sent', 'failed', 'unknown', 'skipped', 'cancelled'];
const ALL_TRANSITIONS: PartTransition[] = ['claim', 'accepted', 'rejected', 'not_taken', 'timed_out', 'orphaned', 'resend', 'abandon', 'echoed', 'skip', 'cancel'];

describe('the state machine of a part', () => {
  it('given a pending part, when claimed and Meta accepts it, then it is sent', () => {
    expect(nextPartState(nextPartState('pending', 'claim'), 'accepted')).toBe('sent');
  });

  it('given a part being sent, when Meta did not take it, then it is pending again (safe to retry)', () => {
    expect(nextPartState('sending', 'not_taken')).toBe('pending');
  });

  it('given a part being sent, when found by a dispatcher that did not send it, then it is unconfirmed: it waits for its echo', () => {
    expect(nextPartState('sending', 'orphaned')).toBe('unconfirmed');
  });

  it('given a part being sent, when Meta does not answer in time, then it is unconfirmed: it waits for its echo', () => {
    expect(nextPartState('sending', 'timed_out')).toBe('unconfirmed');
  });

  it('given an unconfirmed part, when its echo arrives, then it is sent', () => {
    expect(nextPartState('unconfirmed', 'echoed')).toBe('sent');
  });

  it('given an unconfirmed part, when no echo came by the deadline, then it is sent again (claimed anew) or given up as unknown', () => {
    expect(nextPartState('unconfirmed', 'resend')).toBe('sending');
    expect(nextPartState('unconfirmed', 'abandon')).toBe('unknown');
  });

  it('given an unconfirmed part, when the send is cancelled past its deadline, then it is cancelled (not sent again)', () => {
    expect(nextPartState('unconfirmed', 'cancel')).toBe('cancelled');
  });

  it.each(['pending', 'sending', 'unknown'] as const)('given a %s part, when its echo arrives (proof Meta delivered it), then it is sent', (state) => {
    expect(nextPartState(state, 'echoed')).toBe('sent');
  });

  it.each(['failed', 'skipped', 'cancelled'] as const)('given a %s part, when an echo arrives, then it is refused: that record stands', (state) => {
    expect(() => nextPartState(state, 'echoed')).toThrow(InvalidPartTransition);
  });

  it('given a part that was sent, when anything happens (a duplicated echo included), then it is refused: a sent part never changes or goes out again', () => {
    for (const transition of ALL_TRANSITIONS) {
      expect(() => nextPartState('sent', transition)).toThrow(InvalidPartTransition);
    }
  });

  it('given a pending part, when it is marked sent without being claimed first, then it is refused', () => {
    expect(() => nextPartState('pending', 'accepted')).toThrow('A part in state "pending" cannot be accepted');
  });

  it('given a pending part, when it is "sent again", then it is refused: only a part that waited for its echo is resent', () => {
    expect(() => nextPartState('pending', 'resend')).toThrow(InvalidPartTransition);
  });

  it('given a part being sent, when a cancellation arrives, then it is refused (it may already be with the customer)', () => {
    expect(() => nextPartState('sending', 'cancel')).toThrow(InvalidPartTransition);
  });

  it('only `claim` and `resend` lead to sending, so nothing reaches Meta without passing through them', () => {
    const intoSending = ALL_TRANSITIONS.filter((t) => ALL_STATES.some((s) => {
      try {
        return nextPartState(s, t) === 'sending';
      } catch {
        return false;
      }
    }));
    expect(intoSending).toEqual(['claim', 'resend']);
  });

  it('knows which states are settled', () => {
    expect(ALL_STATES.filter((s) => isSettled(s))).toEqual(['sent', 'failed', 'unknown', 'skipped', 'cancelled']);
  });
});
