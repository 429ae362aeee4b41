import { createHash } from 'node:crypto';

// The inbox read model, as plain data. Times are epoch milliseconds so that every rule stays pure
// arithmetic; the adapter turns them into timestamptz columns for queries.
//
// Every field is merged so that the result does not depend on the order in which the topics are
// read (Kafka orders one conversation within a topic, never across topics): earliest/latest wins,
// set-once facts, and a message's status derived from its facts. That is what lets a rebuild from
// the log answer every API call exactly as the live projection did.

export type Channel = 'messenger' | 'page_comment';
/** `page_inbox`: a person (or another app) writing from Meta's own inbox: an echo that is not ours. */
export type Author = 'customer' | 'assistant' | 'agent' | 'page' | 'page_inbox';
export type MessageStatus = 'received' | 'scheduled' | 'sent' | 'delivered' | 'read' | 'failed' | 'cancelled';
export type MessageKind = 'message' | 'postback' | 'comment';
export type ConversationStatus = 'open' | 'escalated' | 'resolved';
export type AttachmentType = 'image' | 'video' | 'audio' | 'file' | 'sticker' | 'fallback';

export type StoredAttachment = {
  type: AttachmentType;
  /** Meta's own type name (`reel`, `location`, `template`…) when `type` is only an approximation. */
  metaType: string | null;
  /** Meta's link, kept as it was (never downloaded); it may expire, see `attachmentExpiry`. */
  url: string | null;
  title: string | null;
};

export type Failure = { reason: string; category: string; graphCode: number | null };
export type Deferral = { reason: string; detail: string | null; retryAt: number | null };
export type Reaction = { reaction: string | null; emoji: string | null; at: number };

export type InboxMessage = {
  /** Meta's `mid` for what Meta told us, the comment id for comments, `{outboundId}:{part}` for our sends. */
  id: string;
  conversationId: string;
  mid: string | null;
  direction: 'inbound' | 'outbound';
  author: Author;
  kind: MessageKind;
  text: string | null;
  attachments: StoredAttachment[];
  createdAt: number;
  // Facts; `statusOf` derives the status from them.
  /** When Meta accepted our send (outbound.message.sent), or the echo's time for other senders. */
  sentAt: number | null;
  /** Meta's own timestamp from the echo: the clock Meta's delivery and read watermarks use. */
  metaTimestamp: number | null;
  deliveredAt: number | null;
  /** The earliest delivery that named this mid explicitly. */
  deliveredByMidAt: number | null;
  readAt: number | null;
  scheduledFor: number | null;
  failure: Failure | null;
  deferred: Deferral | null;
  cancelled: { reason: string } | null;
  // Our sends.
  outboundId: string | null;
  part: number | null;
  purpose: string | null;
  messagingType: string | null;
  tag: string | null;
  agentId: string | null;
  // Customer side.
  reaction: Reaction | null;
  replyToMid: string | null;
  quickReplyPayload: string | null;
  editedAt: number | null;
  removed: boolean;
  echoed: boolean;
};

export type Escalation = { reason: string; detail: string | null; by: string; at: number };

export type InboxConversation = {
  id: string;
  pageId: string;
  channel: Channel;
  customerPsid: string;
  /** A name an event carried (comment authors); the profile, when known, wins over it. */
  customerEventName: string | null;
  customerEventNameAt: number | null;
  /** For comment threads: the time of the comment the customer was taken from (the earliest wins). */
  customerFromAt: number | null;
  rootCommentId: string | null;
  postId: string | null;
  /** The customer's latest comment: what a reply to a comment thread answers. */
  lastCommentId: string | null;
  lastCommentAt: number | null;
  createdAt: number;
  /** The customer's latest action that opens Meta's reply window (message, postback, reaction, referral). */
  lastInboundAt: number | null;
  /** The customer's latest message (not a reaction): reopens a resolved conversation. */
  lastInboundMessageAt: number | null;
  escalation: Escalation | null;
  lastResolvedAt: number | null;
  resolvedBy: string | null;
};

/** Meta's watermarks for one conversation, in the order Meta sent them (one partition: always the same order). */
export type Watermarks = {
  /** `[watermark, reportedAt]`, each watermark higher than the one before. */
  delivered: Array<[number, number]>;
  read: Array<[number, number]>;
};

export const HOUR_MS = 60 * 60 * 1000;
export const DAY_MS = 24 * HOUR_MS;
/** Meta's standard messaging window after the customer's last action. */
export const REPLY_WINDOW_MS = DAY_MS;
/** A person may answer with the HUMAN_AGENT tag up to 7 days after the customer's last message. */
export const HUMAN_AGENT_WINDOW_MS = 7 * DAY_MS;
/** A private reply to a comment must go within 7 days of it. */
export const COMMENT_REPLY_WINDOW_MS = 7 * DAY_MS;

/** A stable, readable name for a customer whose profile we do not have: never a made-up person. */
export function fallbackCustomerName(psid: string): string {
  return `Customer ${createHash('sha256').update(psid).digest('hex').slice(0, 4)}`;
}

/** The status a support tool sees, derived from the facts so that it never depends on arrival order. */
export function statusOf(message: InboxMessage): MessageStatus {
  if (message.direction === 'inbound') return 'received';
  if (message.readAt !== null) return 'read';
  if (message.deliveredAt !== null) return 'delivered';
  if (message.sentAt !== null) return 'sent';
  if (message.failure !== null) return 'failed';
  if (message.cancelled !== null) return 'cancelled';
  return 'scheduled';
}

/**
 * Resolved when the latest resolution is at least as recent as the latest escalation and the
 * customer's latest message; escalated while the latest escalation is not resolved; else open.
 */
export function conversationStatusOf(conversation: InboxConversation): ConversationStatus {
  const escalatedAt = conversation.escalation?.at ?? null;
  const resolvedAt = conversation.lastResolvedAt;
  if (resolvedAt !== null && resolvedAt >= (escalatedAt ?? -Infinity) && resolvedAt >= (conversation.lastInboundMessageAt ?? -Infinity)) {
    return 'resolved';
  }
  if (escalatedAt !== null && escalatedAt > (resolvedAt ?? -Infinity)) return 'escalated';
  return 'open';
}

/** When the standard reply window closes (null: the customer never wrote). */
export function replyWindowClosesAt(conversation: Pick<InboxConversation, 'channel' | 'lastInboundAt' | 'lastCommentAt'>): number | null {
  if (conversation.channel === 'page_comment') {
    return conversation.lastCommentAt === null ? null : conversation.lastCommentAt + COMMENT_REPLY_WINDOW_MS;
  }
  return conversation.lastInboundAt === null ? null : conversation.lastInboundAt + REPLY_WINDOW_MS;
}

/** When a person can no longer answer with the HUMAN_AGENT tag (Messenger only). */
export function humanAgentWindowClosesAt(conversation: Pick<InboxConversation, 'channel' | 'lastInboundAt'>): number | null {
  if (conversation.channel === 'page_comment' || conversation.lastInboundAt === null) return null;
  return conversation.lastInboundAt + HUMAN_AGENT_WINDOW_MS;
}

/**
 * When a Meta CDN link stops working. Meta's links carry their expiry in the query string: `oe`
 * (hex epoch seconds, scontent/fbcdn) or `ext` (decimal epoch seconds, lookaside.fbsbx.com).
 * Null when the link says nothing (or is not a URL): it may or may not still work.
 */
export function attachmentExpiry(url: string | null): number | null {
  if (url === null) return null;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return null;
  }
  const oe = parsed.searchParams.get('oe');
  if (oe !== null && /^[0-9a-f]{1,12}$/i.test(oe)) return parseInt(oe, 16) * 1000;
  const ext = parsed.searchParams.get('ext');
  if (ext !== null && /^\d{1,12}$/.test(ext)) return Number(ext) * 1000;
  return null;
}

const PREVIEW_CHARS = 140;
const ATTACHMENT_WORDS: Record<AttachmentType, string> = {
  image: 'Photo',
  video: 'Video',
  audio: 'Voice message',
  file: 'File',
  sticker: 'Sticker',
  fallback: 'Shared content',
};

/** One line for the conversation list: the text, else what was attached. */
export function previewOf(message: Pick<InboxMessage, 'text' | 'attachments' | 'removed'>): string {
  if (message.removed) return 'Comment removed';
  const text = message.text?.replace(/\s+/g, ' ').trim();
  if (text) return text.length > PREVIEW_CHARS ? `${text.slice(0, PREVIEW_CHARS - 1)}…` : text;
  const first = message.attachments[0];
  if (!first) return '';
  const word = first.metaType === 'location' ? 'Location' : ATTACHMENT_WORDS[first.type];
  return message.attachments.length > 1 ? `${word} and ${message.attachments.length - 1} more` : word;
}
