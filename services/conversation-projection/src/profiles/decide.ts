import { fallbackCustomerName } from '../inbox/model.ts';

// What to do with one answer about a customer's profile: pure, time passed in.
// - a name: publish it (available);
// - Meta's 2018218 "No profile available for this user" (accounts made with a phone number): publish
//   that there is none (available=false, reason no_profile): the stable fallback name stays, for good;
// - anything else (the Page's token is not available right now, Meta is down or rate-limiting, an
//   empty profile because access is not granted yet): try again later, backing off; after the last
//   attempt publish available=false with the reason, so that the customer is not asked about forever.
// Never a made-up name: without a profile the name is the fallback derived from the PSID.

export type ProfileAnswer =
  | { kind: 'profile'; firstName?: string | undefined; lastName?: string | undefined; name?: string | undefined }
  | { kind: 'no_profile' }
  | { kind: 'not_yet'; reason: string };

export type ProfileOutcome =
  | {
      kind: 'publish';
      available: boolean;
      firstName: string | null;
      lastName: string | null;
      displayName: string;
      reason: string | null;
    }
  | { kind: 'retry'; at: number; reason: string };

/** Waits between attempts: a minute, then longer, up to a day. */
export const PROFILE_RETRY_DELAYS_MS = [60_000, 5 * 60_000, 30 * 60_000, 2 * 3_600_000, 12 * 3_600_000, 24 * 3_600_000];

export function decideProfile(psid: string, answer: ProfileAnswer, attemptsBefore: number, now: number): ProfileOutcome {
  switch (answer.kind) {
    case 'profile': {
      const firstName = clean(answer.firstName);
      const lastName = clean(answer.lastName);
      const displayName = [firstName, lastName].filter(Boolean).join(' ') || clean(answer.name);
      if (displayName) return { kind: 'publish', available: true, firstName, lastName, displayName, reason: null };
      return retryOrGiveUp(psid, 'Meta returned a profile without a name (access may not be granted yet)', attemptsBefore, now);
    }
    case 'no_profile':
      return { kind: 'publish', available: false, firstName: null, lastName: null, displayName: fallbackCustomerName(psid), reason: 'no_profile' };
    case 'not_yet':
      return retryOrGiveUp(psid, answer.reason, attemptsBefore, now);
    default: {
      const unknown: never = answer;
      return unknown;
    }
  }
}

function retryOrGiveUp(psid: string, reason: string, attemptsBefore: number, now: number): ProfileOutcome {
  const delay = PROFILE_RETRY_DELAYS_MS[attemptsBefore];
  if (delay === undefined) {
    return { kind: 'publish', available: false, firstName: null, lastName: null, displayName: fallbackCustomerName(psid), reason: `gave_up: ${reason}` };
  }
  return { kind: 'retry', at: now + delay, reason };
}

function clean(value: string | undefined): string | null {
  const trimmed = value?.trim();
  return trimmed ? trimmed : null;
}
