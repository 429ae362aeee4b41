import type { DataOf, ParleyEvent } from '@parley/contracts';

export type Channel = DataOf<'messenger.message.received'>['channel'];
export type CustomerRef = DataOf<'messenger.message.received'>['customer'];
export type EscalationReason = DataOf<'conversation.escalated'>['reason'];

/** Meta's standard messaging window: automated answers must go out within 24 h of the customer's last action. */
export const MESSENGER_REPLY_WINDOW_MS = 24 * 60 * 60 * 1000;
/** A Page comment can be answered privately within 7 days of its creation. */
export const COMMENT_REPLY_WINDOW_MS = 7 * 24 * 60 * 60 * 1000;
/** How many of our own sent mids a conversation remembers (to recognise our echoes). */
export const OUR_MIDS_KEPT = 100;
/** How many recent customer messages a conversation remembers (for the repeated-question signal). */
export const RECENT_MESSAGES_KEPT = 10;

export type RecentMessage = { eventId: string; text: string; at: string };

/**
 * What rules knows about one conversation, built only from events. Every field is updated so that
 * applying an event twice, or an older event after a newer one, changes nothing: instants only move
 * forward (`max`), lists are deduplicated by id.
 */
export type ConversationState = {
  conversationId: string;
  pageId: string;
  channel: Channel;
  customer: CustomerRef;
  /** The customer's latest action that opens Meta's reply window (message, postback, referral, reaction, comment). */
  lastInboundAt: string | null;
  lastInboundEventId: string | null;
  /** A customer message (or Get Started) was seen: later ones are not a first contact. */
  firstContactSeen: boolean;
  /** The latest answer by the assistant or a person (`outbound.message.sent` by assistant/agent). Greetings and away messages do not count. */
  lastAnsweredAt: string | null;
  /** Set while a person should handle the conversation: the assistant does not answer it. */
  escalation: { reason: EscalationReason; by: 'rules' | 'agent' | 'page_inbox'; at: string; eventId: string } | null;
  lastResolvedAt: string | null;
  awayMessageSentAt: string | null;
  /** The `lastInboundAt` whose window-closing alert was raised (or made moot by a person resolving). Once per streak. */
  windowAlertedFor: string | null;
  /** Mids Meta gave our latest sends: an echo with one of these is ours, not a person in Meta's inbox. */
  ourMids: Array<{ mid: string; sentAt: string }>;
  recentMessages: RecentMessage[];
};

/** The state a conversation starts from, should this event (of it) be its first. */
export function seedOf(event: { conversationId: string; pageId: string; data: { channel: Channel; customer: CustomerRef } }): ConversationState {
  return initialConversation({ conversationId: event.conversationId, pageId: event.pageId, channel: event.data.channel, customer: event.data.customer });
}

export function initialConversation(fields: { conversationId: string; pageId: string; channel: Channel; customer: CustomerRef }): ConversationState {
  return {
    conversationId: fields.conversationId,
    pageId: fields.pageId,
    channel: fields.channel,
    customer: { psid: fields.customer.psid, name: fields.customer.name ?? null },
    lastInboundAt: null,
    lastInboundEventId: null,
    firstContactSeen: false,
    lastAnsweredAt: null,
    escalation: null,
    lastResolvedAt: null,
    awayMessageSentAt: null,
    windowAlertedFor: null,
    ourMids: [],
    recentMessages: [],
  };
}

/** The send with this mid is one of ours (recently). */
export function isOurMid(state: ConversationState, mid: string): boolean {
  return state.ourMids.some((m) => m.mid === mid);
}

export function replyWindowMs(channel: Channel): number {
  switch (channel) {
    case 'messenger':
      return MESSENGER_REPLY_WINDOW_MS;
    case 'page_comment':
      return COMMENT_REPLY_WINDOW_MS;
    default: {
      const unknown: never = channel;
      throw new Error(`Unknown channel ${String(unknown)}`);
    }
  }
}

/** When the reply window closes, from the customer's latest action; null before any. */
export function replyWindowClosesAt(state: ConversationState): string | null {
  return state.lastInboundAt === null ? null : addMs(state.lastInboundAt, replyWindowMs(state.channel));
}

/** The customer's latest action has not been answered yet by the assistant or a person. */
export function isAwaitingAnswer(state: ConversationState): boolean {
  if (state.lastInboundAt === null) return false;
  return state.lastAnsweredAt === null || ms(state.lastAnsweredAt) < ms(state.lastInboundAt);
}

/**
 * The instant the reply window closes, if the window-closing alert is still owed for the current
 * inbound streak (customer waiting, not escalated, not alerted yet); null otherwise. Stored as a
 * column so the scheduler finds due conversations with an index.
 */
export function pendingWindowAlertClosesAt(state: ConversationState): string | null {
  if (state.escalation !== null || !isAwaitingAnswer(state) || state.lastInboundAt === null) return null;
  if (state.windowAlertedFor !== null && ms(state.windowAlertedFor) >= ms(state.lastInboundAt)) return null;
  return replyWindowClosesAt(state);
}

/** Applies one event to a conversation's state. Pure; idempotent; order-tolerant (see ConversationState). */
export function evolveConversation(state: ConversationState, event: ParleyEvent): ConversationState {
  switch (event.type) {
    case 'messenger.message.received': {
      const next = openWindow(withCustomerName(state, event.data.customer), event.occurredAt, event.id);
      const text = event.data.text?.trim();
      return {
        ...next,
        firstContactSeen: true,
        recentMessages: text ? remember(next.recentMessages, { eventId: event.id, text, at: event.occurredAt }) : next.recentMessages,
      };
    }
    case 'messenger.postback.received':
      return { ...openWindow(withCustomerName(state, event.data.customer), event.occurredAt, event.id), firstContactSeen: state.firstContactSeen || event.data.isGetStarted };
    case 'messenger.referral.received':
      return openWindow(state, event.occurredAt, event.id);
    case 'messenger.reaction.received':
      // Meta: reacting to a message renews the window; removing a reaction is not a customer action we rely on.
      return event.data.action === 'react' ? openWindow(state, event.occurredAt, event.id) : state;
    case 'messenger.comment.received':
      if (event.data.fromPage || event.data.verb !== 'add') return state;
      return openWindow(withCustomerName(state, event.data.customer), event.occurredAt, event.id);
    case 'messenger.customer.profile.updated':
      return withCustomerName(state, { psid: event.data.customer.psid, name: event.data.displayName });
    case 'outbound.message.sent': {
      const mid = event.data.mid;
      // Kept in time order, the latest only: a replayed old send falls off again and changes nothing.
      const ourMids =
        mid && !state.ourMids.some((m) => m.mid === mid)
          ? [...state.ourMids, { mid, sentAt: event.data.sentAt }].sort((a, b) => ms(a.sentAt) - ms(b.sentAt)).slice(-OUR_MIDS_KEPT)
          : state.ourMids;
      // Greetings and away messages (author page) do not answer what the customer asked.
      const answers = event.data.author === 'assistant' || event.data.author === 'agent';
      return { ...state, ourMids, lastAnsweredAt: answers ? maxInstant(state.lastAnsweredAt, event.data.sentAt) : state.lastAnsweredAt };
    }
    case 'outbound.send.requested':
      if (event.data.purpose !== 'away') return state;
      return { ...state, awayMessageSentAt: maxInstant(state.awayMessageSentAt, event.data.sendAt) };
    case 'conversation.escalated': {
      // An escalation older than the latest resolution is history (a replay or a late event).
      if (state.lastResolvedAt !== null && ms(event.occurredAt) <= ms(state.lastResolvedAt)) return state;
      const windowAlertedFor = event.data.reason === 'reply_window_closing' ? maxInstant(state.windowAlertedFor, state.lastInboundAt) : state.windowAlertedFor;
      if (state.escalation !== null) return { ...state, windowAlertedFor };
      return { ...state, windowAlertedFor, escalation: { reason: event.data.reason, by: event.data.by, at: event.occurredAt, eventId: event.id } };
    }
    case 'conversation.resolved': {
      const lastResolvedAt = maxInstant(state.lastResolvedAt, event.occurredAt);
      // A resolution made before the current escalation happened does not end it.
      const ends = state.escalation !== null && ms(event.occurredAt) >= ms(state.escalation.at);
      return {
        ...state,
        lastResolvedAt,
        escalation: ends ? null : state.escalation,
        // A person looked at the conversation: no window alert for the messages they already saw.
        windowAlertedFor: ends ? maxInstant(state.windowAlertedFor, state.lastInboundAt) : state.windowAlertedFor,
      };
    }
    case 'messenger.message.echoed':
    case 'messenger.delivery.received':
    case 'messenger.read.received':
    case 'messenger.event.unsupported':
    case 'conversation.reply.requested':
    case 'conversation.reply.suppressed':
    case 'outbound.send.cancelled':
    case 'outbound.message.scheduled':
    case 'outbound.message.failed':
    case 'outbound.message.deferred':
    case 'outbound.message.cancelled':
    case 'outbound.token.rejected':
    case 'page.connected':
    case 'page.connection.changed':
    case 'page.disconnected':
    case 'page.settings.changed':
      // Echoes change nothing by themselves: a person replying from Meta's inbox is recorded by the
      // escalation `decide` emits for it. The rest is not about the conversation's rules state.
      return state;
    default: {
      const unknown: never = event;
      throw new Error(`Unhandled event ${(unknown as { type: string }).type}`);
    }
  }
}

function openWindow(state: ConversationState, at: string, eventId: string): ConversationState {
  if (state.lastInboundAt !== null && ms(at) <= ms(state.lastInboundAt)) return state; // older or the same: the window does not move back
  return { ...state, lastInboundAt: at, lastInboundEventId: eventId };
}

function withCustomerName(state: ConversationState, customer: CustomerRef): ConversationState {
  const name = customer.name ?? null;
  return name && name !== state.customer.name ? { ...state, customer: { ...state.customer, name } } : state;
}

function remember(list: RecentMessage[], message: RecentMessage): RecentMessage[] {
  if (list.some((m) => m.eventId === message.eventId)) return list;
  return [...list, message].sort((a, b) => ms(a.at) - ms(b.at)).slice(-RECENT_MESSAGES_KEPT);
}

export function ms(iso: string): number {
  return Date.parse(iso);
}

export function addMs(iso: string, delta: number): string {
  return new Date(Date.parse(iso) + delta).toISOString();
}

export function maxInstant(a: string | null, b: string | null): string | null {
  if (a === null) return b;
  if (b === null) return a;
  return ms(b) > ms(a) ? b : a;
}
