// Fernet (https://github.com/fernet/spec, Spec.md) with node:crypto only.
//
// Token = base64url(0x80 ‖ timestamp(u64 BE seconds) ‖ IV(16) ‖ AES-128-CBC ciphertext ‖ HMAC-SHA256(32)).
// Key   = base64url(signing key(16) ‖ encryption key(16)).
//
// What happens with bad input (every case is a FernetError with a stable `reason`, never a crash):
// - malformed key (wrong length, not canonical padded base64url)      → 'bad_key' (at createKeyring/encrypt/decrypt)
// - token that is not canonical padded base64url: non-alphabet or non-url-safe characters ('+', '/'),
//   characters after the padding, missing/extra padding, non-zero unused bits, whitespace → 'invalid_token'.
//   Lenient decoders (Python's, Node's Buffer.from) silently skip such characters; we do not, so one
//   ciphertext has exactly one textual form.
// - wrong version byte, too short, ciphertext not a whole number of AES blocks → 'invalid_token'
// - HMAC mismatch (tampered, truncated, or made with another key)     → 'bad_signature'
// - authentic token older than the TTL                                 → 'expired'
// - authentic token stamped more than 60 s in the future (TTL checks only) → 'future_timestamp'
// - authentic token whose plaintext padding is broken (a buggy producer) → 'bad_padding'
// - oversized input: no limit here; callers bound request sizes before tokens reach this code.
// Error messages name the failed check only: never the key, the plaintext or the token.
import { createCipheriv, createDecipheriv, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

export type FernetErrorReason =
  | 'bad_key'
  | 'invalid_token'
  | 'bad_signature'
  | 'expired'
  | 'future_timestamp'
  | 'bad_padding'
  | 'bad_argument';

/** The one error type of this library; `reason` is stable and safe to log or export as a metric label. */
export class FernetError extends Error {
  readonly reason: FernetErrorReason;

  constructor(reason: FernetErrorReason, message: string) {
    super(message);
    this.name = 'FernetError';
    this.reason = reason;
  }
}

export interface FernetEncryptOptions {
  /** Timestamp written into the token; defaults to the current time. */
  now?: Date;
  /** 16-byte IV; defaults to random. Only test vectors should pass one: an IV must never repeat. */
  iv?: Buffer;
}

export interface FernetDecryptOptions {
  /** Maximum token age in seconds; without it the timestamp is not checked at all (like pyca). */
  ttlSeconds?: number;
  /** The current time, for the TTL check; defaults to now. */
  now?: Date;
}

const VERSION = 0x80;
const HEADER_LENGTH = 1 + 8 + 16; // version ‖ timestamp ‖ IV
const HMAC_LENGTH = 32;
const BLOCK = 16;
// The spec's vectors reject a token 60+ s in the future; pyca and the Go implementation use the same.
const MAX_CLOCK_SKEW_SECONDS = 60;

interface FernetKey {
  readonly signing: Buffer;
  readonly encryption: Buffer;
}

interface ParsedToken {
  readonly signed: Buffer; // version ‖ timestamp ‖ IV ‖ ciphertext: what the HMAC covers
  readonly mac: Buffer;
  readonly timestamp: bigint;
  readonly iv: Buffer;
  readonly ciphertext: Buffer;
}

const BASE64URL_PADDED = /^(?:[A-Za-z0-9_-]{4})*(?:[A-Za-z0-9_-]{2}==|[A-Za-z0-9_-]{3}=)?$/;

/**
 * Strict RFC 4648 §5 decoding: only the canonical padded encoding of some byte string is accepted.
 * The regex rejects foreign characters and misplaced padding; the round trip rejects non-zero
 * unused bits, so a token cannot be altered textually without altering its bytes.
 */
function decodeBase64UrlStrict(text: string): Buffer | undefined {
  if (!BASE64URL_PADDED.test(text)) return undefined;
  const bytes = Buffer.from(text, 'base64url');
  return encodeBase64UrlPadded(bytes) === text ? bytes : undefined;
}

function encodeBase64UrlPadded(bytes: Buffer): string {
  const unpadded = bytes.toString('base64url');
  return unpadded + '='.repeat((4 - (unpadded.length % 4)) % 4);
}

function parseKey(key: string): FernetKey {
  const bytes = typeof key === 'string' ? decodeBase64UrlStrict(key) : undefined;
  if (bytes === undefined || bytes.length !== 32) {
    throw new FernetError('bad_key', 'Fernet key must be 32 bytes in padded url-safe base64 (44 characters)');
  }
  return { signing: bytes.subarray(0, 16), encryption: bytes.subarray(16) };
}

function parseToken(token: string): ParsedToken {
  if (typeof token !== 'string') throw new FernetError('invalid_token', 'Fernet token must be a string');
  const bytes = decodeBase64UrlStrict(token);
  if (bytes === undefined) throw new FernetError('invalid_token', 'Fernet token is not canonical url-safe base64');
  if (bytes.length < HEADER_LENGTH + HMAC_LENGTH) throw new FernetError('invalid_token', 'Fernet token is too short');
  if (bytes[0] !== VERSION) throw new FernetError('invalid_token', 'Fernet token has an unknown version');
  const signed = bytes.subarray(0, bytes.length - HMAC_LENGTH);
  const ciphertext = signed.subarray(HEADER_LENGTH);
  if (ciphertext.length % BLOCK !== 0) {
    throw new FernetError('invalid_token', 'Fernet token ciphertext is not a whole number of blocks');
  }
  // PKCS#7 always adds at least one block, even to an empty plaintext.
  if (ciphertext.length === 0) throw new FernetError('invalid_token', 'Fernet token is too short');
  return {
    signed,
    mac: bytes.subarray(bytes.length - HMAC_LENGTH),
    timestamp: bytes.readBigUInt64BE(1),
    iv: bytes.subarray(9, HEADER_LENGTH),
    ciphertext,
  };
}

function sign(key: FernetKey, data: Buffer): Buffer {
  return createHmac('sha256', key.signing).update(data).digest();
}

function isSignedBy(key: FernetKey, token: ParsedToken): boolean {
  return timingSafeEqual(sign(key, token.signed), token.mac);
}

function toUnixSeconds(now: Date): bigint {
  const ms = now.getTime();
  if (!Number.isFinite(ms) || ms < 0) throw new FernetError('bad_argument', 'now must be a valid date after 1970');
  return BigInt(Math.floor(ms / 1000));
}

function checkTimestamp(token: ParsedToken, opts: FernetDecryptOptions | undefined): void {
  const ttl = opts?.ttlSeconds;
  if (ttl === undefined) return;
  if (!Number.isInteger(ttl) || ttl < 0) throw new FernetError('bad_argument', 'ttlSeconds must be a non-negative integer');
  const now = toUnixSeconds(opts?.now ?? new Date());
  if (token.timestamp + BigInt(ttl) < now) throw new FernetError('expired', 'Fernet token has expired');
  if (now + BigInt(MAX_CLOCK_SKEW_SECONDS) < token.timestamp) {
    throw new FernetError('future_timestamp', 'Fernet token timestamp is too far in the future');
  }
}

function decryptVerified(key: FernetKey, token: ParsedToken): Buffer {
  try {
    const decipher = createDecipheriv('aes-128-cbc', key.encryption, token.iv);
    return Buffer.concat([decipher.update(token.ciphertext), decipher.final()]);
  } catch {
    // The HMAC matched, so the producer itself wrote bad padding; OpenSSL's message adds nothing.
    throw new FernetError('bad_padding', 'Fernet token plaintext padding is invalid');
  }
}

function encryptWith(key: FernetKey, plaintext: string | Buffer, timestamp: bigint, iv: Buffer | undefined): string {
  if (typeof plaintext !== 'string' && !Buffer.isBuffer(plaintext)) {
    throw new FernetError('bad_argument', 'plaintext must be a string or a Buffer');
  }
  const useIv = iv ?? randomBytes(16);
  if (!Buffer.isBuffer(useIv) || useIv.length !== 16) throw new FernetError('bad_argument', 'iv must be 16 bytes');
  const cipher = createCipheriv('aes-128-cbc', key.encryption, useIv);
  const data = typeof plaintext === 'string' ? Buffer.from(plaintext, 'utf8') : plaintext;
  const ciphertext = Buffer.concat([cipher.update(data), cipher.final()]);
  const header = Buffer.alloc(9);
  header[0] = VERSION;
  header.writeBigUInt64BE(timestamp, 1);
  const signed = Buffer.concat([header, useIv, ciphertext]);
  return encodeBase64UrlPadded(Buffer.concat([signed, sign(key, signed)]));
}

/**
 * Verification order: decode → version/shape → HMAC → timestamp → decrypt → unpad. The spec lists
 * the TTL check before the HMAC; checking the HMAC first accepts and rejects exactly the same tokens
 * but means 'expired' and 'future_timestamp' are only ever reported for authentic tokens.
 */
function decryptParsed(keys: readonly FernetKey[], token: ParsedToken, opts: FernetDecryptOptions | undefined) {
  const index = keys.findIndex((key) => isSignedBy(key, token));
  const key = keys[index];
  if (key === undefined) throw new FernetError('bad_signature', 'Fernet token signature does not match any key');
  checkTimestamp(token, opts);
  return { plaintext: decryptVerified(key, token), keyIndex: index };
}

/** Encrypts `plaintext` (strings as UTF-8) into a Fernet token under `key`. */
export function fernetEncrypt(key: string, plaintext: string | Buffer, opts?: FernetEncryptOptions): string {
  return encryptWith(parseKey(key), plaintext, toUnixSeconds(opts?.now ?? new Date()), opts?.iv);
}

/** Verifies and decrypts a Fernet token; throws FernetError on any failure. */
export function fernetDecrypt(key: string, token: string, opts?: FernetDecryptOptions): Buffer {
  return decryptParsed([parseKey(key)], parseToken(token), opts).plaintext;
}

/** A new random Fernet key (padded url-safe base64 of 32 random bytes). */
export function generateFernetKey(): string {
  return encodeBase64UrlPadded(randomBytes(32));
}

export interface FernetKeyring {
  /** Encrypts with the newest key. */
  encrypt(plaintext: string | Buffer): string;
  /** Decrypts a token made with any key of the ring. */
  decrypt(token: string, opts?: FernetDecryptOptions): Buffer;
  /** True when the token is valid but was not made with the newest key. */
  needsRotation(token: string): boolean;
  /** Re-encrypts a valid token under the newest key, keeping its original timestamp (so TTLs still mean the same). */
  rotate(token: string): string;
}

/**
 * A ring of keys, newest first (as in TOKEN_ENCRYPTION_KEYS): rotation adds a key at the front,
 * re-encrypts stored tokens with `rotate`, then drops the old key from the end.
 */
export function createKeyring(keys: readonly string[]): FernetKeyring {
  if (!Array.isArray(keys) || keys.length === 0) {
    throw new FernetError('bad_key', 'A Fernet keyring needs at least one key');
  }
  const parsed = keys.map((key, i) => {
    try {
      return parseKey(key);
    } catch (error) {
      // Position only: the key itself must not reach a log.
      throw new FernetError('bad_key', `Fernet key #${i + 1} of the keyring is malformed: ${(error as Error).message}`);
    }
  });
  const newest = parsed[0] as FernetKey;
  return {
    encrypt: (plaintext) => encryptWith(newest, plaintext, toUnixSeconds(new Date()), undefined),
    decrypt: (token, opts) => decryptParsed(parsed, parseToken(token), opts).plaintext,
    needsRotation: (token) => decryptParsed(parsed, parseToken(token), undefined).keyIndex !== 0,
    rotate: (token) => {
      const parsedToken = parseToken(token);
      const { plaintext } = decryptParsed(parsed, parsedToken, undefined);
      return encryptWith(newest, plaintext, parsedToken.timestamp, undefined);
    },
  };
}
