import { commentConversationId, messengerConversationId } from '@parley/contracts';
import type { EventOf, InboundAttachment, OutboundPart, ParleyEvent } from '@parley/contracts';
import type {
  AttachmentType,
  Author,
  Channel,
  Deferral,
  Failure,
  InboxConversation,
  InboxMessage,
  StoredAttachment,
  Watermarks,
} from './model.ts';

// How one conversation's slice of the inbox evolves from events: pure, no I/O, time from the events.
//
// Out-of-order input (topics are read independently, so a delivery can arrive before the message it
// covers) is kept, never dropped:
// - a reaction, an edit or removal of a comment, an echo of one of our sends, a delivery naming a
//   mid, or a failure/deferral/cancellation of a send we do not know yet waits in `pending` under the
//   key it needs (`mid:…`, `msg:…`, `outbound:…`) and is applied as soon as that key exists;
// - delivery and read watermarks are kept per conversation, so a message sent later but covered by
//   an earlier watermark becomes delivered/read when it arrives;
// - a sent event before its scheduled/requested event creates the message from its own content.
// Duplicates change nothing: every merge is set-once, earliest or latest wins.

export type PendingEntry = { eventId: string; waitsFor: string; event: ParleyEvent };

/** Per-send facts kept on the conversation so that parts that appear later get them too. */
export type OutboundFacts = {
  failures: Array<{ part: number | null; failure: Failure }>;
  deferred: Deferral | null;
  cancelled: { reason: string } | null;
};

export type ConversationState = InboxConversation & { outboundFacts: Record<string, OutboundFacts> };

export type ConversationSlice = {
  conversationId: string;
  conversation: ConversationState | null;
  /** The messages loaded for (or created by) this batch: not necessarily all of the conversation's. */
  messages: ReadonlyMap<string, InboxMessage>;
  /** Rows replaced by another (a Page-inbox message that turned out to be our own send). */
  removedMessageIds: ReadonlySet<string>;
  watermarks: Watermarks;
  pending: ReadonlyArray<PendingEntry>;
};

export type EvolveContext = {
  /** Our Meta app id(s): an echo from them is one of our sends, even before we know its mid. */
  ourAppIds: ReadonlySet<string>;
};

/** The events that belong to a conversation's timeline. */
export type TimelineEvent = EventOf<
  | 'messenger.message.received'
  | 'messenger.message.echoed'
  | 'messenger.postback.received'
  | 'messenger.reaction.received'
  | 'messenger.delivery.received'
  | 'messenger.read.received'
  | 'messenger.referral.received'
  | 'messenger.comment.received'
  | 'conversation.escalated'
  | 'conversation.resolved'
  | 'outbound.send.requested'
  | 'outbound.message.cancelled'
  | 'outbound.message.scheduled'
  | 'outbound.message.sent'
  | 'outbound.message.failed'
  | 'outbound.message.deferred'
>;

/** Which part of the inbox an event feeds. */
export function routeOf(event: ParleyEvent): 'timeline' | 'page' | 'customer' | 'none' {
  switch (event.type) {
    case 'messenger.message.received':
    case 'messenger.message.echoed':
    case 'messenger.postback.received':
    case 'messenger.reaction.received':
    case 'messenger.delivery.received':
    case 'messenger.read.received':
    case 'messenger.referral.received':
    case 'messenger.comment.received':
    case 'conversation.escalated':
    case 'conversation.resolved':
    case 'outbound.send.requested':
    case 'outbound.message.cancelled':
    case 'outbound.message.scheduled':
    case 'outbound.message.sent':
    case 'outbound.message.failed':
    case 'outbound.message.deferred':
      return 'timeline';
    case 'page.connected':
    case 'page.connection.changed':
    case 'page.disconnected':
      return 'page';
    case 'messenger.customer.profile.updated':
      return 'customer';
    // Nothing a support tool reads: decisions the assistant acts on, Page settings, token trouble
    // (the Page's status arrives as page.connection.changed), shapes nobody understands yet, and a
    // request to cancel (not a cancellation: outbound-sender says what happened, outbound.message.cancelled).
    case 'conversation.reply.requested':
    case 'conversation.reply.suppressed':
    case 'outbound.send.cancelled':
    case 'outbound.token.rejected':
    case 'page.settings.changed':
    case 'messenger.event.unsupported':
      return 'none';
    default: {
      const unknown: never = event;
      return unknown;
    }
  }
}

/**
 * The conversation an event belongs to: the envelope's, else derived from the Page and the
 * customer (Messenger) or the root comment (comments). Null when it cannot be known (an outbound
 * event of a comment thread without its conversation id): the caller records it as skipped.
 */
export function conversationIdOf(event: TimelineEvent): string | null {
  if (event.conversationId) return event.conversationId;
  if (event.type === 'messenger.comment.received') return commentConversationId(event.pageId, event.data.rootCommentId);
  if (event.data.channel === 'page_comment') return null;
  return messengerConversationId(event.pageId, event.data.customer.psid);
}

/** The keys (`mid:…`, `outbound:…`, `msg:…`) an event needs or touches: what the adapter loads. */
export function referencesOf(event: TimelineEvent): { ids: string[]; mids: string[]; outboundIds: string[]; watermark: boolean } {
  const refs = { ids: [] as string[], mids: [] as string[], outboundIds: [] as string[], watermark: false };
  switch (event.type) {
    case 'messenger.message.received':
      refs.ids.push(event.data.mid);
      break;
    case 'messenger.message.echoed': {
      refs.ids.push(event.data.mid);
      refs.mids.push(event.data.mid);
      const ours = ourMessageIdOf(event);
      if (ours !== null) refs.ids.push(ours);
      break;
    }
    case 'messenger.reaction.received':
      refs.ids.push(event.data.mid);
      refs.mids.push(event.data.mid);
      break;
    case 'messenger.postback.received':
      refs.ids.push(postbackId(event));
      break;
    case 'messenger.delivery.received':
      refs.mids.push(...event.data.mids);
      refs.watermark = true;
      break;
    case 'messenger.read.received':
      refs.watermark = true;
      break;
    case 'messenger.comment.received':
      refs.ids.push(event.data.commentId);
      refs.mids.push(event.data.commentId);
      break;
    case 'outbound.send.requested':
    case 'outbound.message.cancelled':
    case 'outbound.message.scheduled':
    case 'outbound.message.failed':
    case 'outbound.message.deferred':
      refs.outboundIds.push(event.data.outboundId);
      break;
    case 'outbound.message.sent':
      refs.outboundIds.push(event.data.outboundId);
      if (event.data.mid) refs.mids.push(event.data.mid);
      break;
    case 'messenger.referral.received':
    case 'conversation.escalated':
    case 'conversation.resolved':
      break;
    default: {
      // Refers to nothing we know how to load (applying it fails, and that event alone is set aside).
      const unknown: never = event;
      void unknown;
    }
  }
  return refs;
}

export function emptySlice(conversationId: string): ConversationSlice {
  return {
    conversationId,
    conversation: null,
    messages: new Map(),
    removedMessageIds: new Set(),
    watermarks: { delivered: [], read: [] },
    pending: [],
  };
}

/** Applies one event, then everything pending that it made applicable. */
export function applyEvent(slice: ConversationSlice, event: TimelineEvent, context: EvolveContext): ConversationSlice {
  return drainPending(evolve(slice, event, context), context);
}

/** Applies pending entries whose key now exists, until none does. */
export function drainPending(slice: ConversationSlice, context: EvolveContext): ConversationSlice {
  let current = slice;
  for (;;) {
    const ready = current.pending.find((entry) => keyExists(current, entry.waitsFor));
    if (!ready) return current;
    const rest = current.pending.filter((entry) => entry !== ready);
    current = evolve({ ...current, pending: rest }, ready.event as TimelineEvent, context);
  }
}

function keyExists(slice: ConversationSlice, key: string): boolean {
  const separator = key.indexOf(':');
  const kind = key.slice(0, separator);
  const value = key.slice(separator + 1);
  if (kind === 'mid') return findByMid(slice, value) !== undefined;
  if (kind === 'outbound') return [...slice.messages.values()].some((m) => m.outboundId === value);
  if (kind === 'msg') return slice.messages.has(value);
  return false;
}

/** The state after one event (pending entries are not retried here: see applyEvent). */
export function evolve(slice: ConversationSlice, event: TimelineEvent, context: EvolveContext): ConversationSlice {
  switch (event.type) {
    case 'messenger.message.received':
      return onMessageReceived(slice, event);
    case 'messenger.message.echoed':
      return onEchoed(slice, event, context);
    case 'messenger.postback.received':
      return onPostback(slice, event);
    case 'messenger.reaction.received':
      return onReaction(slice, event);
    case 'messenger.delivery.received':
      return onDelivery(slice, event);
    case 'messenger.read.received':
      return onRead(slice, event);
    case 'messenger.referral.received':
      return withConversation(slice, event, (c) => ({ ...c, lastInboundAt: latest(c.lastInboundAt, event.data.timestamp) }));
    case 'messenger.comment.received':
      return onComment(slice, event);
    case 'conversation.escalated':
      return onEscalated(slice, event);
    case 'conversation.resolved':
      return onResolved(slice, event);
    case 'outbound.send.requested':
      return onSendRequested(slice, event);
    case 'outbound.message.scheduled':
      return onScheduled(slice, event);
    case 'outbound.message.sent':
      return onSent(slice, event);
    case 'outbound.message.cancelled':
      return onOutboundFact(slice, event, (facts) => ({ ...facts, cancelled: facts.cancelled ?? { reason: event.data.reason } }));
    case 'outbound.message.failed': {
      const failure: Failure = { reason: event.data.reason, category: event.data.category, graphCode: event.data.graphCode };
      return onOutboundFact(slice, event, (facts) =>
        facts.failures.some((f) => f.part === event.data.part && sameFailure(f.failure, failure))
          ? facts
          : { ...facts, failures: [...facts.failures, { part: event.data.part, failure }] },
      );
    }
    case 'outbound.message.deferred':
      return onOutboundFact(slice, event, (facts) => ({
        ...facts,
        deferred: { reason: event.data.reason, detail: event.data.detail, retryAt: event.data.retryAt ? Date.parse(event.data.retryAt) : null },
      }));
    default: {
      const unknown: never = event;
      throw new Error(`not a timeline event: ${JSON.stringify((unknown as { type?: unknown }).type)}`);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Customer side
// ---------------------------------------------------------------------------------------------

function onMessageReceived(slice: ConversationSlice, event: EventOf<'messenger.message.received'>): ConversationSlice {
  const at = event.data.timestamp;
  let next = withConversation(slice, event, (c) => ({
    ...withEventName(c, event.data.customer.name, at),
    lastInboundAt: latest(c.lastInboundAt, at),
    lastInboundMessageAt: latest(c.lastInboundMessageAt, at),
  }));
  if (!next.messages.has(event.data.mid)) {
    next = putMessage(next, {
      ...blankMessage(event.data.mid, slice.conversationId, at),
      mid: event.data.mid,
      direction: 'inbound',
      author: 'customer',
      text: event.data.text,
      attachments: event.data.attachments.map(fromInboundAttachment),
      replyToMid: event.data.replyToMid,
      quickReplyPayload: event.data.quickReplyPayload,
    });
  }
  return next;
}

function postbackId(event: EventOf<'messenger.postback.received'>): string {
  return event.data.mid ?? `postback:${event.id}`;
}

function onPostback(slice: ConversationSlice, event: EventOf<'messenger.postback.received'>): ConversationSlice {
  const at = event.data.timestamp;
  const id = postbackId(event);
  let next = withConversation(slice, event, (c) => ({
    ...withEventName(c, event.data.customer.name, at),
    lastInboundAt: latest(c.lastInboundAt, at),
    lastInboundMessageAt: latest(c.lastInboundMessageAt, at),
  }));
  if (!next.messages.has(id)) {
    next = putMessage(next, {
      ...blankMessage(id, slice.conversationId, at),
      mid: event.data.mid,
      direction: 'inbound',
      author: 'customer',
      kind: 'postback',
      text: event.data.title ?? event.data.payload,
      quickReplyPayload: event.data.payload,
    });
  }
  return next;
}

function onReaction(slice: ConversationSlice, event: EventOf<'messenger.reaction.received'>): ConversationSlice {
  const at = event.data.timestamp;
  // A reaction renews Meta's reply window even before we know the message it is about.
  const next = withConversation(slice, event, (c) => ({ ...c, lastInboundAt: latest(c.lastInboundAt, at) }));
  const target = findByMid(next, event.data.mid);
  if (!target) return pend(next, event, `mid:${event.data.mid}`);
  if (target.reaction !== null && target.reaction.at > at) return next;
  const reaction =
    event.data.action === 'react' ? { reaction: event.data.reaction, emoji: event.data.emoji, at } : { reaction: null, emoji: null, at };
  return putMessage(next, { ...target, reaction });
}

function onComment(slice: ConversationSlice, event: EventOf<'messenger.comment.received'>): ConversationSlice {
  const at = event.data.timestamp;
  const { commentId, verb } = event.data;
  if (verb === 'add') {
    if (event.data.fromPage) return onPageComment(slice, event);
    let next = withConversation(slice, event, (c) => {
      const earliest = c.customerFromAt === null || at < c.customerFromAt;
      const newest = c.lastCommentAt === null || at >= c.lastCommentAt;
      return {
        ...c,
        customerPsid: earliest ? event.data.customer.psid : c.customerPsid,
        customerEventName: earliest ? (event.data.customer.name ?? null) : c.customerEventName,
        customerEventNameAt: earliest ? at : c.customerEventNameAt,
        customerFromAt: earliest ? at : c.customerFromAt,
        rootCommentId: event.data.rootCommentId,
        postId: c.postId ?? event.data.postId,
        lastCommentId: newest ? commentId : c.lastCommentId,
        lastCommentAt: newest ? at : c.lastCommentAt,
        lastInboundAt: latest(c.lastInboundAt, at),
        lastInboundMessageAt: latest(c.lastInboundMessageAt, at),
      };
    });
    if (!next.messages.has(commentId)) {
      next = putMessage(next, {
        ...blankMessage(commentId, slice.conversationId, at),
        mid: commentId,
        direction: 'inbound',
        author: 'customer',
        kind: 'comment',
        text: event.data.message,
      });
    }
    return next;
  }
  if (verb === 'edited' || verb === 'edit' || verb === 'remove' || verb === 'delete') {
    const target = slice.messages.get(commentId) ?? findByMid(slice, commentId);
    if (!target) return pend(slice, event, `msg:${commentId}`);
    if (verb === 'remove' || verb === 'delete') return target.removed ? slice : putMessage(slice, { ...target, removed: true });
    if (target.editedAt !== null && target.editedAt > at) return slice;
    return putMessage(slice, { ...target, text: event.data.message, editedAt: at });
  }
  // Other feed verbs (hide, unhide, …) do not change what a support tool reads.
  return slice;
}

/** The Page's own comment: our public reply (matched by id once we know it) or a person on the Page. */
function onPageComment(slice: ConversationSlice, event: EventOf<'messenger.comment.received'>): ConversationSlice {
  const at = event.data.timestamp;
  const ours = findByMid(slice, event.data.commentId);
  if (ours) return putIfChanged(slice, ours, withReceipts(mergeEcho(ours, at), slice.watermarks));
  let next = withConversation(slice, event, (c) => ({ ...c, rootCommentId: event.data.rootCommentId, postId: c.postId ?? event.data.postId }));
  next = putMessage(next, {
    ...blankMessage(event.data.commentId, slice.conversationId, at),
    mid: event.data.commentId,
    direction: 'outbound',
    author: 'page_inbox',
    kind: 'comment',
    text: event.data.message,
    sentAt: at,
    metaTimestamp: at,
    echoed: true,
  });
  return next;
}

// ---------------------------------------------------------------------------------------------
// The Page's side: echoes and our sends
// ---------------------------------------------------------------------------------------------

function onEchoed(slice: ConversationSlice, event: EventOf<'messenger.message.echoed'>, context: EvolveContext): ConversationSlice {
  const at = event.data.timestamp;
  const known = findByMid(slice, event.data.mid);
  if (known) return putIfChanged(slice, known, withReceipts(mergeEcho(known, at), slice.watermarks));
  if (event.data.appId !== null && context.ourAppIds.has(event.data.appId)) {
    // One of our sends. outbound-sender puts `{outboundId}:{part}` in the metadata Meta echoes: that
    // names the message even before (or without: a crash after Meta accepted it) outbound.message.sent.
    const target = ourMessageIdOf(event);
    if (target !== null) {
      const message = slice.messages.get(target);
      if (!message) return pend(slice, event, `msg:${target}`);
      return putIfChanged(slice, message, withReceipts(mergeEcho({ ...message, mid: message.mid ?? event.data.mid }, at), slice.watermarks));
    }
    // No metadata: wait for outbound.message.sent with this mid.
    return pend(slice, event, `mid:${event.data.mid}`);
  }
  // Someone else wrote from the Page (Meta's inbox, another app).
  const next = withConversation(slice, event, (c) => c);
  const message: InboxMessage = {
    ...blankMessage(event.data.mid, slice.conversationId, at),
    mid: event.data.mid,
    direction: 'outbound',
    author: 'page_inbox',
    text: event.data.text,
    attachments: event.data.attachments.map(fromInboundAttachment),
    sentAt: at,
    metaTimestamp: at,
    echoed: true,
  };
  return putMessage(next, withReceipts(message, next.watermarks));
}

function mergeEcho(message: InboxMessage, at: number): InboxMessage {
  const merged = { ...message, echoed: true, metaTimestamp: message.metaTimestamp ?? at, sentAt: earliest(message.sentAt, at) };
  return deepEqual(merged, message) ? message : merged;
}

/** The message an echo of our own send names in its metadata (`{outboundId}:{part}`), if it does. */
export function ourMessageIdOf(event: EventOf<'messenger.message.echoed'>): string | null {
  const metadata = event.data.metadata;
  return metadata !== null && /^[^:\s]{1,200}:\d{1,4}$/.test(metadata) ? metadata : null;
}

function onSendRequested(slice: ConversationSlice, event: EventOf<'outbound.send.requested'>): ConversationSlice {
  const sendAt = Date.parse(event.data.sendAt);
  let next = withConversation(slice, event, (c) => c);
  event.data.parts.forEach((part, index) => {
    next = upsertOutboundPart(next, event.data.outboundId, index, event.data.author, part, sendAt, (m) => ({
      ...m,
      scheduledFor: earliest(m.scheduledFor, sendAt),
      purpose: m.purpose ?? event.data.purpose,
      messagingType: m.messagingType ?? event.data.messagingType,
      tag: m.tag ?? event.data.tag,
      agentId: m.agentId ?? event.data.agentId,
    }));
  });
  return next;
}

function onScheduled(slice: ConversationSlice, event: EventOf<'outbound.message.scheduled'>): ConversationSlice {
  const sendAt = Date.parse(event.data.sendAt);
  let next = withConversation(slice, event, (c) => c);
  event.data.parts.forEach((part, index) => {
    next = upsertOutboundPart(next, event.data.outboundId, index, event.data.author, part, sendAt, (m) => ({
      ...m,
      scheduledFor: earliest(m.scheduledFor, sendAt),
    }));
  });
  return next;
}

function onSent(slice: ConversationSlice, event: EventOf<'outbound.message.sent'>): ConversationSlice {
  const sentAt = Date.parse(event.data.sentAt);
  const { outboundId, part, mid } = event.data;
  let next = withConversation(slice, event, (c) => c);
  // A message we took for a person in Meta's inbox was our own (a Page comment has no app id).
  const adopted = mid ? findByMid(next, mid) : undefined;
  const adopt = adopted && adopted.id !== outboundMessageId(outboundId, part) && adopted.author === 'page_inbox' ? adopted : undefined;
  if (adopt) {
    const messages = new Map(next.messages);
    messages.delete(adopt.id);
    next = { ...next, messages, removedMessageIds: new Set([...next.removedMessageIds, adopt.id]) };
  }
  next = upsertOutboundPart(next, outboundId, part, event.data.author, event.data.content, sentAt, (m) => ({
    ...m,
    mid: m.mid ?? mid,
    sentAt: earliest(m.sentAt, sentAt),
    messagingType: m.messagingType ?? event.data.messagingType,
    tag: m.tag ?? event.data.tag,
    echoed: m.echoed || adopt !== undefined,
    metaTimestamp: m.metaTimestamp ?? adopt?.metaTimestamp ?? null,
  }));
  return next;
}

/** Failure, deferral or cancellation of a send: kept per send so parts that appear later get it too. */
function onOutboundFact(
  slice: ConversationSlice,
  event: EventOf<'outbound.message.cancelled' | 'outbound.message.failed' | 'outbound.message.deferred'>,
  change: (facts: OutboundFacts) => OutboundFacts,
): ConversationSlice {
  const outboundId = event.data.outboundId;
  const parts = [...slice.messages.values()].filter((m) => m.outboundId === outboundId);
  if (parts.length === 0 || slice.conversation === null) return pend(slice, event, `outbound:${outboundId}`);
  const before = slice.conversation.outboundFacts[outboundId] ?? { failures: [], deferred: null, cancelled: null };
  const facts = change(before);
  let next: ConversationSlice = {
    ...slice,
    conversation: facts === before ? slice.conversation : { ...slice.conversation, outboundFacts: { ...slice.conversation.outboundFacts, [outboundId]: facts } },
  };
  for (const message of parts) {
    const updated = withFacts(message, facts);
    if (updated !== message) next = putMessage(next, updated);
  }
  return next;
}

function withFacts(message: InboxMessage, facts: OutboundFacts | undefined): InboxMessage {
  if (!facts) return message;
  const failure = facts.failures.find((f) => f.part === null || f.part === message.part)?.failure ?? null;
  const same =
    sameFailure(message.failure, failure) &&
    sameDeferral(message.deferred, facts.deferred) &&
    (message.cancelled?.reason ?? null) === (facts.cancelled?.reason ?? null);
  return same ? message : { ...message, failure, deferred: facts.deferred, cancelled: facts.cancelled };
}

function upsertOutboundPart(
  slice: ConversationSlice,
  outboundId: string,
  part: number,
  author: Author,
  content: OutboundPart,
  at: number,
  merge: (message: InboxMessage) => InboxMessage,
): ConversationSlice {
  const id = outboundMessageId(outboundId, part);
  const existing = slice.messages.get(id);
  const base: InboxMessage = existing
    ? { ...existing, createdAt: Math.min(existing.createdAt, at) }
    : withFacts(
        {
          ...blankMessage(id, slice.conversationId, at),
          direction: 'outbound',
          author,
          outboundId,
          part,
          ...contentOf(content),
        },
        slice.conversation?.outboundFacts[outboundId],
      );
  const merged = withReceipts(merge(base), slice.watermarks);
  return existing && sameMessage(existing, merged) ? slice : putMessage(slice, merged);
}

/** The id of one part of one of our sends. */
export function outboundMessageId(outboundId: string, part: number): string {
  return `${outboundId}:${part}`;
}

function contentOf(part: OutboundPart): { text: string | null; attachments: StoredAttachment[] } {
  if ('text' in part) return { text: part.text, attachments: [] };
  return { text: null, attachments: [{ type: part.attachment.type, metaType: null, url: part.attachment.url, title: null }] };
}

// ---------------------------------------------------------------------------------------------
// Deliveries and reads
// ---------------------------------------------------------------------------------------------

function onDelivery(slice: ConversationSlice, event: EventOf<'messenger.delivery.received'>): ConversationSlice {
  const at = event.data.timestamp;
  let next = withWatermark(slice, 'delivered', event.data.watermark, at);
  for (const mid of new Set(event.data.mids)) {
    const message = findByMid(next, mid);
    if (!message) {
      next = pend(next, event, `mid:${mid}`);
      continue;
    }
    const byMid = earliest(message.deliveredByMidAt, at);
    if (byMid !== message.deliveredByMidAt) next = putMessage(next, withReceipts({ ...message, deliveredByMidAt: byMid }, next.watermarks));
  }
  return next;
}

function onRead(slice: ConversationSlice, event: EventOf<'messenger.read.received'>): ConversationSlice {
  return withWatermark(slice, 'read', event.data.watermark, event.data.timestamp);
}

function withWatermark(slice: ConversationSlice, kind: 'delivered' | 'read', watermark: number, at: number): ConversationSlice {
  const list = slice.watermarks[kind];
  const last = list[list.length - 1];
  // A watermark that does not advance says nothing new (Meta sends them in order, per conversation).
  if (last && watermark <= last[0]) return slice;
  let next: ConversationSlice = { ...slice, watermarks: { ...slice.watermarks, [kind]: [...list, [watermark, at]] } };
  for (const message of next.messages.values()) {
    if (message.direction !== 'outbound') continue;
    const updated = withReceipts(message, next.watermarks);
    if (updated !== message) next = putMessage(next, updated);
  }
  return next;
}

/** The time Meta's watermarks compare with: Meta's own timestamp from the echo, else when Meta accepted the send. */
function effectiveSentAt(message: InboxMessage): number | null {
  return message.metaTimestamp ?? message.sentAt;
}

/** The first report whose watermark covers `sentAt` (watermarks and report times both increase). */
function coveredAt(list: ReadonlyArray<[number, number]>, sentAt: number): number | null {
  for (const [watermark, at] of list) if (watermark >= sentAt) return at;
  return null;
}

/** Delivered/read times derived from every fact we have, so that they never depend on arrival order. */
function withReceipts(message: InboxMessage, watermarks: Watermarks): InboxMessage {
  if (message.direction !== 'outbound') return message;
  const sentAt = effectiveSentAt(message);
  const readAt = sentAt === null ? null : coveredAt(watermarks.read, sentAt);
  const deliveredAt = earliestOf(sentAt === null ? null : coveredAt(watermarks.delivered, sentAt), message.deliveredByMidAt, readAt);
  if (readAt === message.readAt && deliveredAt === message.deliveredAt) return message;
  return { ...message, readAt, deliveredAt };
}

// ---------------------------------------------------------------------------------------------
// Escalation and resolution
// ---------------------------------------------------------------------------------------------

function onEscalated(slice: ConversationSlice, event: EventOf<'conversation.escalated'>): ConversationSlice {
  const at = Date.parse(event.occurredAt);
  return withConversation(slice, event, (c) =>
    c.escalation !== null && c.escalation.at > at ? c : { ...c, escalation: { reason: event.data.reason, detail: event.data.detail, by: event.data.by, at } },
  );
}

function onResolved(slice: ConversationSlice, event: EventOf<'conversation.resolved'>): ConversationSlice {
  const at = Date.parse(event.occurredAt);
  return withConversation(slice, event, (c) =>
    c.lastResolvedAt !== null && c.lastResolvedAt > at ? c : { ...c, lastResolvedAt: at, resolvedBy: event.data.agentId },
  );
}

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

function withConversation(
  slice: ConversationSlice,
  event: TimelineEvent,
  change: (conversation: ConversationState) => ConversationState,
): ConversationSlice {
  const at = eventTime(event);
  const current =
    slice.conversation === null
      ? newConversation(slice.conversationId, event, at)
      : slice.conversation.createdAt <= at
        ? slice.conversation
        : { ...slice.conversation, createdAt: at };
  const changed = change(current);
  // A duplicate must not even look like a change (no write, no inbox notification).
  return changed === slice.conversation || deepEqual(changed, slice.conversation) ? slice : { ...slice, conversation: changed };
}

function newConversation(id: string, event: TimelineEvent, at: number): ConversationState {
  const channel: Channel = 'channel' in event.data ? event.data.channel : id.includes(':comment:') ? 'page_comment' : 'messenger';
  return {
    id,
    pageId: event.pageId,
    channel,
    customerPsid: event.data.customer.psid,
    customerEventName: null,
    customerEventNameAt: null,
    customerFromAt: null,
    rootCommentId: null,
    postId: null,
    lastCommentId: null,
    lastCommentAt: null,
    createdAt: at,
    lastInboundAt: null,
    lastInboundMessageAt: null,
    escalation: null,
    lastResolvedAt: null,
    resolvedBy: null,
    outboundFacts: {},
  };
}

/** Meta's time for what Meta reported, the recorded time for our own facts. */
export function eventTime(event: TimelineEvent): number {
  switch (event.type) {
    case 'messenger.message.received':
    case 'messenger.message.echoed':
    case 'messenger.postback.received':
    case 'messenger.reaction.received':
    case 'messenger.delivery.received':
    case 'messenger.read.received':
    case 'messenger.referral.received':
    case 'messenger.comment.received':
      return event.data.timestamp;
    case 'outbound.send.requested':
    case 'outbound.message.scheduled':
      return Date.parse(event.data.sendAt);
    case 'outbound.message.sent':
      return Date.parse(event.data.sentAt);
    case 'conversation.escalated':
    case 'conversation.resolved':
    case 'outbound.message.cancelled':
    case 'outbound.message.failed':
    case 'outbound.message.deferred':
      return Date.parse(event.occurredAt);
    default: {
      const unknown: never = event;
      return unknown;
    }
  }
}

function withEventName(conversation: ConversationState, name: string | null | undefined, at: number): ConversationState {
  if (!name || (conversation.customerEventNameAt !== null && conversation.customerEventNameAt > at)) return conversation;
  return { ...conversation, customerEventName: name, customerEventNameAt: at };
}

function pend(slice: ConversationSlice, event: ParleyEvent, waitsFor: string): ConversationSlice {
  if (slice.pending.some((entry) => entry.eventId === event.id && entry.waitsFor === waitsFor)) return slice;
  return { ...slice, pending: [...slice.pending, { eventId: event.id, waitsFor, event }] };
}

function putIfChanged(slice: ConversationSlice, before: InboxMessage, after: InboxMessage): ConversationSlice {
  return after === before ? slice : putMessage(slice, after);
}

function putMessage(slice: ConversationSlice, message: InboxMessage): ConversationSlice {
  const messages = new Map(slice.messages);
  messages.set(message.id, message);
  return { ...slice, messages };
}

function findByMid(slice: ConversationSlice, mid: string): InboxMessage | undefined {
  for (const message of slice.messages.values()) if (message.mid === mid) return message;
  return undefined;
}

/** A message with every fact still unknown: each event fills in what it says. */
export function blankMessage(id: string, conversationId: string, createdAt: number): InboxMessage {
  return {
    id,
    conversationId,
    mid: null,
    direction: 'inbound',
    author: 'customer',
    kind: 'message',
    text: null,
    attachments: [],
    createdAt,
    sentAt: null,
    metaTimestamp: null,
    deliveredAt: null,
    deliveredByMidAt: null,
    readAt: null,
    scheduledFor: null,
    failure: null,
    deferred: null,
    cancelled: null,
    outboundId: null,
    part: null,
    purpose: null,
    messagingType: null,
    tag: null,
    agentId: null,
    reaction: null,
    replyToMid: null,
    quickReplyPayload: null,
    editedAt: null,
    removed: false,
    echoed: false,
  };
}

const API_ATTACHMENT_TYPES = new Set<string>(['image', 'video', 'audio', 'file', 'sticker', 'fallback']);

function fromInboundAttachment(attachment: InboundAttachment): StoredAttachment {
  const known = API_ATTACHMENT_TYPES.has(attachment.type);
  const title =
    attachment.title ?? (attachment.coordinates ? `${attachment.coordinates.lat},${attachment.coordinates.long}` : null);
  return {
    type: (known ? attachment.type : 'fallback') as AttachmentType,
    metaType: attachment.metaType,
    url: attachment.url,
    title,
  };
}

function latest(a: number | null, b: number): number {
  return a === null || b > a ? b : a;
}

function earliest(a: number | null, b: number): number {
  return a === null || b < a ? b : a;
}

function earliestOf(...values: Array<number | null>): number | null {
  let result: number | null = null;
  for (const value of values) if (value !== null && (result === null || value < result)) result = value;
  return result;
}

function sameFailure(a: Failure | null, b: Failure | null): boolean {
  return a === b || (a !== null && b !== null && a.reason === b.reason && a.category === b.category && a.graphCode === b.graphCode);
}

function sameDeferral(a: Deferral | null, b: Deferral | null): boolean {
  return a === b || (a !== null && b !== null && a.reason === b.reason && a.detail === b.detail && a.retryAt === b.retryAt);
}

function sameMessage(a: InboxMessage, b: InboxMessage): boolean {
  return deepEqual(a, b);
}

/** Structural equality that ignores key order (rows read back from jsonb come with their keys reordered). */
export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((value, index) => deepEqual(value, b[index]));
  const left = a as Record<string, unknown>;
  const right = b as Record<string, unknown>;
  const keys = Object.keys(left);
  if (keys.length !== Object.keys(right).length) return false;
  return keys.every((key) => Object.prototype.hasOwnProperty.call(right, key) && deepEqual(left[key], right[key]));
}
