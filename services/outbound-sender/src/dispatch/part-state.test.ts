import { InvalidPartTransition, isSettled, nextPartState } from './part-state.ts';

describe('the state machine of a part', () => {
  it('given a pending part, when claimed and Meta accepts it, then it is sent', () => {
    expect(nextPartState(nextPartState('pending', 'claim'), 'accepted')).toBe('sent');
  });

  it('given a part being sent, when Meta did not take it, then it is pending again (safe to retry)', () => {
    expect(nextPartState('sending', 'not_taken')).toBe('pending');
  });

  it('given a part being sent, when found by a dispatcher that did not send it, then it is unknown (never re-sent)', () => {
    expect(nextPartState('sending', 'orphaned')).toBe('unknown');
  });

  it('given a part that was sent, when anything happens, then it is refused: a sent part never goes out again', () => {
    for (const transition of ['claim', 'accepted', 'rejected', 'not_taken', 'orphaned', 'skip', 'cancel'] as const) {
      expect(() => nextPartState('sent', transition)).toThrow(InvalidPartTransition);
    }
  });

  it('given a pending part, when it is marked sent without being claimed first, then it is refused', () => {
    expect(() => nextPartState('pending', 'accepted')).toThrow('A part in state "pending" cannot be accepted');
  });

  it('given a part being sent, when a cancellation arrives, then it is refused (it may already be with the customer)', () => {
    expect(() => nextPartState('sending', 'cancel')).toThrow(InvalidPartTransition);
  });

  it('knows which states are settled', () => {
    expect(['pending', 'sending', 'sent', 'failed', 'unknown', 'skipped', 'cancelled'].filter((s) => isSettled(s as never))).toEqual(['sent', 'failed', 'unknown', 'skipped', 'cancelled']);
  });
});
