import { createHash } from 'node:crypto';
import { z } from 'zod';

/** Epoch milliseconds, as Meta sends `time` and `timestamp`. */
export const epochMillis = z.number().int().nonnegative();
/** An ISO-8601 instant in UTC (`2026-11-26T04:00:00.000Z`). */
export const isoInstant = z.iso.datetime({ offset: true });

/**
 * The fields every event carries besides `type` and `data`. One envelope for every event so that
 * consumers can route, order, trace and deduplicate without knowing the event's kind.
 */
export const envelopeFields = {
  /** Unique and deterministic where the source allows it: the same fact always gets the same id. */
  id: z.string().min(1),
  /** Schema version of this `type`; additive changes keep it, breaking ones make a new type. */
  version: z.literal(1),
  /** When the fact happened (Meta's timestamp for inbound events). */
  occurredAt: isoInstant,
  /** When Parley recorded it. */
  recordedAt: isoInstant,
  /** The account that owns the Page, when the producer knows it (ingress does not: it is stateless). */
  accountId: z.string().nullable(),
  pageId: z.string().min(1),
  /** `{pageId}:{psid}` for Messenger threads, `{pageId}:comment:{rootCommentId}` for comment threads. */
  conversationId: z.string().nullable(),
  /** The id of the event or command that caused this one. */
  causationId: z.string().nullable(),
  /** Shared by every event of one causal chain (e.g. webhook → decision → send → delivery). */
  correlationId: z.string().nullable(),
} as const;

export type EnvelopeFields = {
  [K in keyof typeof envelopeFields]: z.infer<(typeof envelopeFields)[K]>;
};

/**
 * A deterministic, UUID-shaped id from its parts: a fact seen twice (a webhook Meta delivers twice,
 * a command replayed) gets the same id, so every consumer can apply it once.
 */
export function deterministicId(...parts: ReadonlyArray<string | number>): string {
  const hex = createHash('sha256').update(parts.map(String).join('\u0000')).digest('hex');
  // Shape it as an RFC 9562 version-8 (custom) UUID so that tools that expect UUIDs accept it.
  const variant = ((parseInt(hex.slice(16, 17), 16) & 0x3) | 0x8).toString(16);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-8${hex.slice(13, 16)}-${variant}${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

/** The conversation id of a Messenger thread between a Page and one customer. */
export function messengerConversationId(pageId: string, psid: string): string {
  return `${pageId}:${psid}`;
}

/** The conversation id of a Page comment thread, named after its top-level comment. */
export function commentConversationId(pageId: string, rootCommentId: string): string {
  return `${pageId}:comment:${rootCommentId}`;
}
