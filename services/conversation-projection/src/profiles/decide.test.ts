import { fallbackCustomerName } from '../inbox/model.ts';
import { PROFILE_RETRY_DELAYS_MS, decideProfile } from './decide.ts';

const NOW = 1_000_000;

describe('what to do with Meta\'s answer about a customer', () => {
  it('a profile with a name: publish it', () => {
    expect(decideProfile('p1', { kind: 'profile', firstName: ' Ana ', lastName: 'Silva' }, 0, NOW)).toEqual({
      kind: 'publish',
      available: true,
      firstName: 'Ana',
      lastName: 'Silva',
      displayName: 'Ana Silva',
      reason: null,
    });
    expect(decideProfile('p1', { kind: 'profile', name: 'Ana' }, 0, NOW)).toMatchObject({ kind: 'publish', displayName: 'Ana' });
  });

  it('2018218 (no profile): publish that there is none, with the fallback name', () => {
    expect(decideProfile('p1', { kind: 'no_profile' }, 0, NOW)).toEqual({
      kind: 'publish',
      available: false,
      firstName: null,
      lastName: null,
      displayName: fallbackCustomerName('p1'),
      reason: 'no_profile',
    });
  });

  it('not available yet (or a profile without a name): ask again later, waiting longer each time', () => {
    expect(decideProfile('p1', { kind: 'not_yet', reason: 'page_needs_reconnect' }, 0, NOW)).toEqual({ kind: 'retry', at: NOW + PROFILE_RETRY_DELAYS_MS[0]!, reason: 'page_needs_reconnect' });
    expect(decideProfile('p1', { kind: 'profile' }, 2, NOW)).toMatchObject({ kind: 'retry', at: NOW + PROFILE_RETRY_DELAYS_MS[2]! });
  });

  it('after the last attempt: publish that there is none, with why (never a made-up name)', () => {
    expect(decideProfile('p1', { kind: 'not_yet', reason: 'transient: Meta is unavailable' }, PROFILE_RETRY_DELAYS_MS.length, NOW)).toEqual({
      kind: 'publish',
      available: false,
      firstName: null,
      lastName: null,
      displayName: fallbackCustomerName('p1'),
      reason: 'gave_up: transient: Meta is unavailable',
    });
  });
});
