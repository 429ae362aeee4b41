import { createHmac, timingSafeEqual } from 'node:crypto';

export type SignatureVerdict = 'valid' | 'missing' | 'malformed' | 'mismatch';

const HEADER_FORMAT = /^sha256=([0-9a-fA-F]{64})$/;

/**
 * Checks Meta's `X-Hub-Signature-256: sha256=<hex HMAC-SHA256(app secret, raw body)>` over the
 * exact bytes received (re-serialized JSON would not match: Meta escapes non-ASCII as \uXXXX).
 * Several secrets are accepted so that the app secret can be rotated without dropping webhooks.
 * Comparison is constant-time.
 */
export function verifySignature(rawBody: Buffer, header: string | undefined, secrets: ReadonlyArray<string>): SignatureVerdict {
  if (header === undefined || header === '') return 'missing';
  const match = HEADER_FORMAT.exec(header.trim());
  if (!match) return 'malformed';
  const received = Buffer.from(match[1]!.toLowerCase(), 'hex');
  for (const secret of secrets) {
    const expected = createHmac('sha256', secret).update(rawBody).digest();
    if (timingSafeEqual(expected, received)) return 'valid';
  }
  return 'mismatch';
}

/** The header value Meta would send for this body (for the simulator, tests and benchmarks). */
export function signatureHeader(rawBody: Buffer | string, secret: string): string {
  return `sha256=${createHmac('sha256', secret).update(rawBody).digest('hex')}`;
}
