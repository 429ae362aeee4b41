// The OAuth `state` parameter: `v1.<nonce>.<expiresAtSeconds>.<signature>`, the signature being
// HMAC-SHA256 over the rest with a server secret. The signature and expiry are checked here (pure);
// the nonce is stored with the account that asked, and consumed atomically on the callback, which
// makes the state single-use and binds it to that account (see connect-store.ts). The account id is
// deliberately not in the state: it travels through Facebook and the person's browser.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/** Ten minutes: long enough to pick Pages in Facebook's dialog, short enough that a leaked link is useless. */
export const STATE_TTL_MS = 10 * 60 * 1000;

const FORMAT = /^v1\.([A-Za-z0-9_-]{22,64})\.(\d{1,12})\.([A-Za-z0-9_-]{43})$/;

export type IssuedState = { state: string; nonce: string; expiresAt: number };

/** A new signed state. `now` is epoch ms; `random` is injectable for tests. */
export function issueState(secret: string, now: number, random: (size: number) => Buffer = randomBytes): IssuedState {
  const nonce = random(24).toString('base64url');
  const expiresAt = now + STATE_TTL_MS;
  const unsigned = `v1.${nonce}.${Math.floor(expiresAt / 1000)}`;
  return { state: `${unsigned}.${sign(secret, unsigned)}`, nonce, expiresAt: Math.floor(expiresAt / 1000) * 1000 };
}

export type StateCheck =
  | { ok: true; nonce: string; expiresAt: number }
  | { ok: false; problem: 'missing' | 'forged' | 'expired' };

/**
 * Checks the shape, the signature (constant time) and the expiry. A state that is malformed, or
 * signed with another secret, is `forged`: we never issued it. Reuse is detected by the store.
 */
export function checkState(secret: string, state: string | undefined, now: number): StateCheck {
  if (state === undefined || state === '') return { ok: false, problem: 'missing' };
  if (state.length > 200) return { ok: false, problem: 'forged' };
  const match = FORMAT.exec(state);
  if (!match) return { ok: false, problem: 'forged' };
  const [, nonce, expiresSeconds, signature] = match as unknown as [string, string, string, string];
  const expected = Buffer.from(sign(secret, `v1.${nonce}.${expiresSeconds}`));
  const given = Buffer.from(signature);
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return { ok: false, problem: 'forged' };
  const expiresAt = Number(expiresSeconds) * 1000;
  if (now >= expiresAt) return { ok: false, problem: 'expired' };
  return { ok: true, nonce, expiresAt };
}

function sign(secret: string, text: string): string {
  return createHmac('sha256', secret).update(text).digest('base64url');
}

/** An opaque, unguessable id (the page-selection id). */
export function newOpaqueId(random: (size: number) => Buffer = randomBytes): string {
  return random(32).toString('base64url');
}
