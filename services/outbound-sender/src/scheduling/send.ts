// A send as the ledger keeps it, and the pure rules that turn an `outbound.send.requested` command
// into one. No I/O: time is passed in.
import { createHash } from 'node:crypto';
import { messengerConversationId } from '@parley/contracts';
import type { EventOf, OutboundPart } from '@parley/contracts';

export type Author = 'assistant' | 'agent' | 'page';
export type Channel = 'messenger' | 'page_comment';
export type MessagingType = 'RESPONSE' | 'UPDATE' | 'MESSAGE_TAG';
export type DeferReason = 'page_needs_reconnect' | 'graph_unavailable' | 'rate_limited';

/**
 * `scheduled`: waits for `nextAttemptAt` (its `sendAt`, or a retry). `held`: the Page needs
 * reconnecting; it goes out when the Page is back (if its window is still open). The rest are final.
 */
export type SendStatus = 'scheduled' | 'held' | 'sent' | 'failed' | 'cancelled';

/**
 * pending → sending → sent | failed | pending (Meta said it did not take it) | unconfirmed (no answer:
 * waiting for Meta's echo) → sent (echo) | sending (no echo by the deadline: sent again) | unknown
 * (no echo, and not sent again); pending → skipped (an earlier part failed) | cancelled. See part-state.ts.
 */
export type PartState = 'pending' | 'sending' | 'unconfirmed' | 'sent' | 'failed' | 'unknown' | 'skipped' | 'cancelled';

export type SendPart = {
  readonly index: number;
  readonly content: OutboundPart;
  readonly state: PartState;
  readonly mid: string | null;
  /** Failed attempts so far (transient errors, timeouts, crashes mid-call), for the backoff and the cap. */
  readonly attempts: number;
  /** While `unconfirmed`: until when its echo is awaited before it is sent again (or given up). */
  readonly reconcileUntil: Date | null;
};

export type Send = {
  readonly outboundId: string;
  readonly pageId: string;
  readonly accountId: string | null;
  /** The conversation the command belongs to: it keys our events and orders sends of one conversation. */
  readonly conversationId: string;
  readonly customer: { readonly psid: string; readonly name: string | null };
  readonly channel: Channel;
  readonly commentId: string | null;
  readonly author: Author;
  readonly purpose: 'reply' | 'greeting' | 'away' | 'manual';
  readonly messagingType: MessagingType;
  readonly tag: 'HUMAN_AGENT' | null;
  readonly typingIndicator: boolean;
  readonly agentId: string | null;
  readonly sendAt: Date;
  readonly replyWindowClosesAt: Date | null;
  readonly status: SendStatus;
  readonly nextAttemptAt: Date;
  /** The reason of the last `outbound.message.deferred` we emitted, so a repeated deferral is not re-announced. */
  readonly deferredReason: DeferReason | null;
  /** How many deferrals were announced (it makes each deferred event's id unique). */
  readonly deferrals: number;
  /** The command's event id: the causation of every event about this send. */
  readonly commandEventId: string;
  readonly correlationId: string;
};

/** Meta takes text "less than 2000 characters", counted as people see them (code points). */
export const MAX_TEXT_CHARS = 2000;
/** More parts than this is a producer bug, not an answer: refuse instead of flooding a customer. */
export const MAX_PARTS = 20;

export type PlannedSend =
  | { readonly kind: 'schedule'; readonly send: Send; readonly parts: ReadonlyArray<SendPart> }
  /** Stored too (so a replay stays a no-op), as failed with `invalid_request`. */
  | { readonly kind: 'refuse'; readonly send: Send; readonly parts: ReadonlyArray<SendPart>; readonly reason: string };

/**
 * What to do with a send command. A command that breaks Meta's or Parley's rules is refused (never
 * sent, reported as failed/invalid_request): an assistant's or the Page's message with the
 * human-agent tag, a tag without MESSAGE_TAG (or the reverse), attachments or a missing comment id
 * on a Page comment, text Meta would reject, non-http(s) attachment URLs, too many parts.
 * A Page comment allows one private reply, so several text parts are joined into one message.
 */
export function planSend(command: EventOf<'outbound.send.requested'>): PlannedSend {
  const data = command.data;
  const sendAt = new Date(data.sendAt);
  const send: Send = {
    outboundId: data.outboundId,
    pageId: command.pageId,
    accountId: command.accountId,
    conversationId: command.conversationId ?? messengerConversationId(command.pageId, data.customer.psid),
    customer: { psid: data.customer.psid, name: data.customer.name ?? null },
    channel: data.channel,
    commentId: data.commentId,
    author: data.author,
    purpose: data.purpose,
    messagingType: data.messagingType,
    tag: data.tag,
    typingIndicator: data.typingIndicator,
    agentId: data.agentId,
    sendAt,
    replyWindowClosesAt: data.replyWindowClosesAt ? new Date(data.replyWindowClosesAt) : null,
    status: 'scheduled',
    nextAttemptAt: sendAt,
    deferredReason: null,
    deferrals: 0,
    commandEventId: command.id,
    correlationId: command.correlationId ?? command.id,
  };
  const asParts = (contents: ReadonlyArray<OutboundPart>): SendPart[] =>
    contents.map((content, index) => ({ index, content, state: 'pending', mid: null, attempts: 0, reconcileUntil: null }));
  const refuse = (reason: string): PlannedSend => ({
    kind: 'refuse',
    send: { ...send, status: 'failed' },
    parts: asParts(data.parts).map((p) => ({ ...p, state: 'skipped' })),
    reason,
  });

  if (data.tag !== null && data.author !== 'agent') {
    return refuse('An automated message may not use the human-agent tag (only a person may answer after the 24-hour window), so it was not sent.');
  }
  if (data.messagingType === 'MESSAGE_TAG' && data.tag === null) {
    return refuse('A message of type MESSAGE_TAG needs a tag, so it was not sent.');
  }
  if (data.tag !== null && data.messagingType !== 'MESSAGE_TAG') {
    return refuse('The human-agent tag must be sent with messaging type MESSAGE_TAG, so the message was not sent.');
  }
  if (data.parts.length > MAX_PARTS) {
    return refuse(`A send may have at most ${MAX_PARTS} parts; this one had ${data.parts.length}, so nothing was sent.`);
  }
  for (const part of data.parts) {
    if ('text' in part && charCount(part.text) >= MAX_TEXT_CHARS) {
      return refuse(`Messenger takes messages of less than ${MAX_TEXT_CHARS} characters; a part was longer, so nothing was sent.`);
    }
    if ('attachment' in part && !/^https?:\/\//i.test(part.attachment.url)) {
      return refuse('Facebook can only fetch attachments from http(s) addresses, so nothing was sent.');
    }
  }

  if (data.channel === 'page_comment') {
    if (data.commentId === null) return refuse('A reply to a Page comment needs the comment it answers, so nothing was sent.');
    if (data.parts.some((p) => 'attachment' in p)) {
      return refuse('Replies to Page comments can only be text, so this reply with an attachment was not sent.');
    }
    const texts = data.parts.map((p) => ('text' in p ? p.text : ''));
    const joined = texts.join('\n\n');
    if (charCount(joined) >= MAX_TEXT_CHARS) {
      return refuse(`A comment gets one private reply of less than ${MAX_TEXT_CHARS} characters; this reply was longer, so it was not sent.`);
    }
    return { kind: 'schedule', send, parts: asParts([{ text: joined }]) };
  }
  return { kind: 'schedule', send, parts: asParts(data.parts) };
}

/** A fingerprint of what a command asks for, to notice (and log) a different command reusing an outboundId. */
export function commandFingerprint(command: EventOf<'outbound.send.requested'>): string {
  const { outboundId, customer, channel, commentId, author, parts, messagingType, tag } = command.data;
  return createHash('sha256')
    .update(JSON.stringify([command.pageId, outboundId, customer.psid, channel, commentId, author, parts, messagingType, tag]))
    .digest('hex')
    .slice(0, 32);
}

export function charCount(text: string): number {
  let n = 0;
  for (const _ of text) n++;
  return n;
}

/** Final statuses: nothing more happens to such a send. */
export function isFinal(status: SendStatus): boolean {
  return status === 'sent' || status === 'failed' || status === 'cancelled';
}
