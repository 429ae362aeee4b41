import { FernetError, createKeyring, fernetDecrypt, fernetEncrypt, generateFernetKey } from './index.ts';
import type { FernetErrorReason } from './index.ts';

const KEY = 'cw_0x689RpI-jtRR7oE8h_eQsKImvJapLeSbXpwF4e4=';
const OTHER_KEY = generateFernetKey();
const T0 = new Date('2026-03-01T12:00:00Z');
const seconds = (n: number) => new Date(T0.getTime() + n * 1000);

function reasonOf(run: () => unknown): FernetErrorReason | 'accepted' {
  try {
    run();
    return 'accepted';
  } catch (error) {
    if (error instanceof FernetError) return error.reason;
    throw error;
  }
}

function caught(run: () => unknown): FernetError {
  try {
    run();
  } catch (error) {
    if (error instanceof FernetError) return error;
    throw error;
  }
  throw new Error('expected a FernetError');
}

describe('fernetEncrypt / fernetDecrypt', () => {
  it('round-trips strings as UTF-8 and buffers as bytes', () => {
    expect(fernetDecrypt(KEY, fernetEncrypt(KEY, 'page token ✓ EAAB…')).toString('utf8')).toBe('page token ✓ EAAB…');
    const bytes = Buffer.from([0, 255, 1, 254, 16]);
    expect(fernetDecrypt(KEY, fernetEncrypt(KEY, bytes))).toEqual(bytes);
  });

  it('encrypts the empty plaintext into one full padding block', () => {
    const token = fernetEncrypt(KEY, '');
    expect(Buffer.from(token, 'base64url')).toHaveLength(1 + 8 + 16 + 16 + 32);
    expect(fernetDecrypt(KEY, token)).toEqual(Buffer.alloc(0));
  });

  it('uses a fresh random IV for every token', () => {
    expect(fernetEncrypt(KEY, 'same', { now: T0 })).not.toBe(fernetEncrypt(KEY, 'same', { now: T0 }));
  });

  it('produces canonical padded url-safe base64', () => {
    for (let length = 0; length < 40; length++) {
      const token = fernetEncrypt(KEY, 'x'.repeat(length));
      expect(token).toMatch(/^[A-Za-z0-9_-]+={0,2}$/);
      expect(token.length % 4).toBe(0);
    }
  });

  it('rejects a token made with another key as a bad signature', () => {
    expect(reasonOf(() => fernetDecrypt(KEY, fernetEncrypt(OTHER_KEY, 'secret')))).toBe('bad_signature');
  });

  it('rejects any single flipped byte', () => {
    const bytes = Buffer.from(fernetEncrypt(KEY, 'hello', { now: T0 }), 'base64url');
    for (let i = 0; i < bytes.length; i++) {
      const tampered = Buffer.from(bytes);
      tampered[i] = (tampered[i] as number) ^ 0x01;
      const token = tampered.toString('base64').replaceAll('+', '-').replaceAll('/', '_');
      // Byte 0 is the version; every other byte is covered by the HMAC.
      expect(reasonOf(() => fernetDecrypt(KEY, token))).toBe(i === 0 ? 'invalid_token' : 'bad_signature');
    }
  });

  describe('strict decoding (textual variants of a valid token are not the token)', () => {
    const token = fernetEncrypt(KEY, 'hello', { now: T0 }); // 57 + 16 = 73 bytes → ends in '=='
    const cases: Array<[string, string]> = [
      ['padding removed', token.replace(/=+$/, '')],
      ['extra padding', `${token}=`],
      ['leading whitespace', ` ${token}`],
      ['trailing newline', `${token}\n`],
      ['standard-alphabet characters', token.replaceAll('-', '+').replaceAll('_', '/') + (/[-_]/.test(token) ? '' : '+')],
      ['padding in the middle', `${token.slice(0, 8)}=${token.slice(9)}`],
      ['empty string', ''],
    ];
    it.each(cases)('%s → invalid_token', (_label, variant) => {
      expect(reasonOf(() => fernetDecrypt(KEY, variant))).toBe('invalid_token');
    });

    it('rejects non-zero unused bits before the padding (a second spelling of the same bytes)', () => {
      expect(token).toMatch(/[A-Za-z0-9_-]==$/);
      const last = token.at(-3) as string;
      const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
      // Before '==' the last character carries 4 unused bits; setting the lowest keeps the decoded bytes.
      const sibling = alphabet[alphabet.indexOf(last) | 1] as string;
      expect(sibling).not.toBe(last);
      const variant = `${token.slice(0, -3)}${sibling}==`;
      expect(Buffer.from(variant, 'base64url')).toEqual(Buffer.from(token, 'base64url'));
      expect(reasonOf(() => fernetDecrypt(KEY, variant))).toBe('invalid_token');
    });

    it('rejects a non-string token', () => {
      expect(reasonOf(() => fernetDecrypt(KEY, 42 as unknown as string))).toBe('invalid_token');
    });
  });

  it('rejects an unknown version byte', () => {
    const bytes = Buffer.from(fernetEncrypt(KEY, 'hello'), 'base64url');
    bytes[0] = 0x81;
    const token = bytes.toString('base64').replaceAll('+', '-').replaceAll('/', '_');
    expect(reasonOf(() => fernetDecrypt(KEY, token))).toBe('invalid_token');
  });

  describe('time-to-live', () => {
    const token = fernetEncrypt(KEY, 'hello', { now: T0 });
    it.each([
      ['at issue time', 0, 'accepted'],
      ['exactly at the TTL', 60, 'accepted'],
      ['one second past the TTL', 61, 'expired'],
      ['60 s before issue (allowed clock skew)', -60, 'accepted'],
      ['61 s before issue (clock skew too large)', -61, 'future_timestamp'],
    ] as const)('decrypting %s → %s', (_label, offset, expected) => {
      expect(reasonOf(() => fernetDecrypt(KEY, token, { ttlSeconds: 60, now: seconds(offset) }))).toBe(expected);
    });

    it('ignores the timestamp entirely when no TTL is given (stored secrets do not expire)', () => {
      expect(fernetDecrypt(KEY, token, { now: seconds(10 * 365 * 24 * 3600) }).toString()).toBe('hello');
      expect(fernetDecrypt(KEY, token, { now: seconds(-3600) }).toString()).toBe('hello');
    });

    it('reports a forged token as a bad signature even when it is also expired', () => {
      expect(reasonOf(() => fernetDecrypt(OTHER_KEY, token, { ttlSeconds: 1, now: seconds(3600) }))).toBe('bad_signature');
    });

    it('rejects a negative or fractional TTL as a bad argument', () => {
      expect(reasonOf(() => fernetDecrypt(KEY, token, { ttlSeconds: -1 }))).toBe('bad_argument');
      expect(reasonOf(() => fernetDecrypt(KEY, token, { ttlSeconds: 1.5 }))).toBe('bad_argument');
    });
  });

  describe('keys and arguments', () => {
    it.each([
      ['too short', KEY.slice(0, 40) + '='],
      ['unpadded', KEY.replace(/=$/, '')],
      ['standard alphabet', 'cw/0x689RpI+jtRR7oE8h/eQsKImvJapLeSbXpwF4e4='],
      ['16 bytes', Buffer.alloc(16).toString('base64url') + '=='],
      ['empty', ''],
      ['not a string', undefined as unknown as string],
    ])('rejects a %s key as bad_key', (_label, key) => {
      expect(reasonOf(() => fernetEncrypt(key, 'x'))).toBe('bad_key');
      expect(reasonOf(() => fernetDecrypt(key, fernetEncrypt(KEY, 'x')))).toBe('bad_key');
    });

    it('rejects an IV that is not 16 bytes and a time before 1970', () => {
      expect(reasonOf(() => fernetEncrypt(KEY, 'x', { iv: Buffer.alloc(8) }))).toBe('bad_argument');
      expect(reasonOf(() => fernetEncrypt(KEY, 'x', { now: new Date(-1000) }))).toBe('bad_argument');
      expect(reasonOf(() => fernetEncrypt(KEY, 'x', { now: new Date(Number.NaN) }))).toBe('bad_argument');
    });

    it('generates distinct valid keys', () => {
      const a = generateFernetKey();
      expect(a).toMatch(/^[A-Za-z0-9_-]{43}=$/);
      expect(a).not.toBe(generateFernetKey());
      expect(fernetDecrypt(a, fernetEncrypt(a, 'ok')).toString()).toBe('ok');
    });
  });

  it('never puts the key, the plaintext or the token into an error message', () => {
    const plaintext = 'EAAB-secret-page-token';
    const token = fernetEncrypt(KEY, plaintext, { now: T0 });
    const errors = [
      caught(() => fernetDecrypt(OTHER_KEY, token)),
      caught(() => fernetDecrypt(KEY, token, { ttlSeconds: 1, now: seconds(100) })),
      caught(() => fernetDecrypt(KEY, `${token}x`)),
      caught(() => fernetEncrypt(KEY.slice(1), plaintext)),
      caught(() => createKeyring([KEY, `${OTHER_KEY}x`])),
    ];
    for (const error of errors) {
      const text = `${error.message} ${error.stack ?? ''} ${JSON.stringify(error)}`;
      for (const secret of [KEY, KEY.slice(1), OTHER_KEY, plaintext, token]) expect(text).not.toContain(secret);
      expect(error).toBeInstanceOf(Error);
      expect(error.name).toBe('FernetError');
    }
  });
});

describe('createKeyring', () => {
  const NEW = generateFernetKey();
  const OLD = generateFernetKey();

  it('encrypts with the newest key and decrypts with any key', () => {
    const ring = createKeyring([NEW, OLD]);
    const fresh = ring.encrypt('hello');
    expect(fernetDecrypt(NEW, fresh).toString()).toBe('hello');
    expect(ring.decrypt(fernetEncrypt(OLD, 'legacy')).toString()).toBe('legacy');
  });

  it('rejects a token no key of the ring signed', () => {
    const ring = createKeyring([NEW, OLD]);
    expect(reasonOf(() => ring.decrypt(fernetEncrypt(generateFernetKey(), 'x')))).toBe('bad_signature');
    expect(reasonOf(() => ring.needsRotation(fernetEncrypt(generateFernetKey(), 'x')))).toBe('bad_signature');
    expect(reasonOf(() => ring.rotate('not a token'))).toBe('invalid_token');
  });

  it('applies the TTL to tokens of any key', () => {
    const ring = createKeyring([NEW, OLD]);
    const token = fernetEncrypt(OLD, 'x', { now: T0 });
    expect(reasonOf(() => ring.decrypt(token, { ttlSeconds: 10, now: seconds(11) }))).toBe('expired');
  });

  it('says which tokens need rotation and rotates them under the newest key, keeping the timestamp', () => {
    const ring = createKeyring([NEW, OLD]);
    const old = fernetEncrypt(OLD, 'page token', { now: T0 });
    expect(ring.needsRotation(old)).toBe(true);
    const rotated = ring.rotate(old);
    expect(ring.needsRotation(rotated)).toBe(false);
    expect(fernetDecrypt(NEW, rotated).toString()).toBe('page token');
    expect(reasonOf(() => fernetDecrypt(OLD, rotated))).toBe('bad_signature');
    expect(Buffer.from(rotated, 'base64url').subarray(1, 9)).toEqual(Buffer.from(old, 'base64url').subarray(1, 9));
    // Rotating a current token is harmless: same plaintext, fresh IV.
    const again = ring.rotate(rotated);
    expect(again).not.toBe(rotated);
    expect(fernetDecrypt(NEW, again).toString()).toBe('page token');
  });

  it('after the old key is dropped, rotated tokens still decrypt and unrotated ones do not', () => {
    const before = createKeyring([NEW, OLD]);
    const stored = fernetEncrypt(OLD, 'x');
    const rotated = before.rotate(stored);
    const after = createKeyring([NEW]);
    expect(after.decrypt(rotated).toString()).toBe('x');
    expect(reasonOf(() => after.decrypt(stored))).toBe('bad_signature');
  });

  it('refuses an empty ring and names a malformed key by position only', () => {
    expect(reasonOf(() => createKeyring([]))).toBe('bad_key');
    const error = caught(() => createKeyring([NEW, 'not-a-key']));
    expect(error.reason).toBe('bad_key');
    expect(error.message).toContain('#2');
    expect(error.message).not.toContain('not-a-key');
  });
});
