// Who is calling: an account (API key, `Authorization: Bearer <key>`), or another Parley service
// (`Authorization: Bearer <INTERNAL_API_TOKEN>`). Secrets are compared in constant time, over
// SHA-256 digests so that lengths do not leak either; every key is compared, none short-circuits.
import { createHash, timingSafeEqual } from 'node:crypto';
import { HttpProblem } from '@parley/http';

function digest(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}

/** The bearer credential of an Authorization header, or null. */
export function bearerOf(header: string | undefined): string | null {
  if (header === undefined) return null;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return match ? match[1]! : null;
}

export function secretMatches(expected: string, given: string | null): boolean {
  if (given === null) return false;
  return timingSafeEqual(digest(expected), digest(given));
}

/** Resolves API keys (key → accountId) to the caller's account. */
export function createApiKeyAuthenticator(keys: ReadonlyMap<string, string>): (header: string | undefined) => string {
  const entries = [...keys].map(([key, accountId]) => ({ digest: digest(key), accountId }));
  return (header) => {
    const given = bearerOf(header);
    if (given === null) {
      throw new HttpProblem({ status: 401, code: 'unauthorized', title: 'API key required', detail: 'Send your API key as `Authorization: Bearer <key>`.' });
    }
    const givenDigest = digest(given);
    let accountId: string | null = null;
    for (const entry of entries) {
      if (timingSafeEqual(entry.digest, givenDigest)) accountId = entry.accountId;
    }
    if (accountId === null) throw new HttpProblem({ status: 401, code: 'unauthorized', title: 'Unknown API key', detail: 'The API key is not valid.' });
    return accountId;
  };
}
