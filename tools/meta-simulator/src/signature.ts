// How Meta serialises and signs webhook bodies (meta-platform.md §1b): the signature is an HMAC of
// the exact bytes sent, and those bytes carry non-ASCII as lowercase `\uXXXX` escapes and `/` as
// `\/` (PHP json_encode style). A receiver that re-serialises the JSON before hashing fails here as it
// would against Meta.
import { createHmac } from 'node:crypto';

/** `sha256=<lowercase hex HMAC-SHA256(secret, rawBody)>`: the `X-Hub-Signature-256` header value. */
export function signMetaPayload(rawBody: string | Uint8Array, secret: string): string {
  return `sha256=${createHmac('sha256', secret).update(rawBody).digest('hex')}`;
}

/** `sha1=<hex HMAC-SHA1>`: the legacy `X-Hub-Signature` header Meta still sends alongside. */
export function signMetaPayloadSha1(rawBody: string | Uint8Array, secret: string): string {
  return `sha1=${createHmac('sha1', secret).update(rawBody).digest('hex')}`;
}

/**
 * JSON the way Meta writes webhook bodies: every character outside printable ASCII becomes a
 * lowercase `\uXXXX` escape (astral characters as their surrogate pair) and, unless turned off,
 * `/` becomes `\/`. Both only occur inside JSON strings, so replacing on the serialised text is safe.
 */
export function encodeMetaJson(value: unknown, options: { escapeSlashes?: boolean } = {}): string {
  const json = JSON.stringify(value).replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  return options.escapeSlashes === false ? json : json.replace(/\//g, '\\/');
}
