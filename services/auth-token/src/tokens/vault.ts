// Page and user tokens at rest: Fernet with the keys of TOKEN_ENCRYPTION_KEYS, newest first. A token
// is sealed as soon as it arrives and opened only for the one call that needs it; neither the plain
// token nor the Fernet text is ever logged, put in an event or in an error message.
import { FernetError, createKeyring } from '@parley/fernet';

export type TokenVault = {
  /** Encrypts with the newest key. */
  seal(token: string): string;
  /** Decrypts with whichever key of the ring made it. */
  open(sealed: string): string;
  /** True when `sealed` was made with an older key (rotate-keys re-encrypts it). */
  needsRotation(sealed: string): boolean;
  /** Re-encrypts with the newest key. */
  reseal(sealed: string): string;
};

/** A stored token none of the configured keys can open (a key was removed too early, or the row is damaged). */
export class UnreadableTokenError extends Error {
  readonly retriable = false as const;
  constructor(what: string, reason: string) {
    super(`The stored ${what} cannot be decrypted with any key of TOKEN_ENCRYPTION_KEYS (${reason}); the Page must be reconnected, or the key that made it restored.`);
    this.name = 'UnreadableTokenError';
  }
}

export function createTokenVault(keys: readonly string[]): TokenVault {
  const ring = createKeyring(keys);
  const guard = <T>(what: string, work: () => T): T => {
    try {
      return work();
    } catch (error) {
      if (error instanceof FernetError) throw new UnreadableTokenError(what, error.reason);
      throw error;
    }
  };
  return {
    seal: (token) => ring.encrypt(token),
    open: (sealed) => guard('token', () => ring.decrypt(sealed).toString('utf8')),
    needsRotation: (sealed) => guard('token', () => ring.needsRotation(sealed)),
    reseal: (sealed) => guard('token', () => ring.rotate(sealed)),
  };
}
