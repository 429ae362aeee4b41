import { z } from 'zod';
import { defineEvent } from './define.ts';
import { epochMillis, isoInstant } from './envelope.ts';
import { TOPICS } from './topics.ts';

// ---------------------------------------------------------------------------------------------
// Shared value shapes
// ---------------------------------------------------------------------------------------------

export const channel = z.enum(['messenger', 'page_comment']);

/** The customer on the other side of a conversation. For Page comments, `psid` is Meta's id of the commenter. */
export const customerRef = z.object({
  psid: z.string().min(1),
  name: z.string().nullable().optional(),
});

/**
 * An attachment as Meta described it. Meta's links are kept (never downloaded) and expire; `metaType`
 * keeps Meta's own type name so that new types (reels, posts, bookings) are not lost when `type` is `other`.
 */
export const inboundAttachment = z.object({
  type: z.enum(['image', 'video', 'audio', 'file', 'sticker', 'fallback', 'location', 'template', 'other']),
  metaType: z.string(),
  url: z.string().nullable(),
  title: z.string().nullable(),
  stickerId: z.string().nullable(),
  coordinates: z.object({ lat: z.number(), long: z.number() }).nullable(),
});
export type InboundAttachment = z.infer<typeof inboundAttachment>;

/** Fields every normalized inbound event carries. */
const inboundCommon = {
  channel,
  customer: customerRef,
  /** Meta's timestamp of the event (epoch ms). */
  timestamp: epochMillis,
  /** Delivered under `standby`: another app (e.g. Meta's Page inbox) controls this thread. */
  standby: z.boolean(),
  /** The sender went over 100 webhooks a minute: recorded, but no automated replies. */
  throttled: z.boolean(),
  /** The Meta object this event was normalized from, exactly as received. */
  raw: z.unknown(),
};

// ---------------------------------------------------------------------------------------------
// messenger.inbound.v1 — produced by ingress
// ---------------------------------------------------------------------------------------------

export const MessageReceived = defineEvent(
  'messenger.message.received',
  TOPICS.inbound,
  'A customer sent the Page a message: text, attachments, a quick-reply answer or a reply to an earlier message.',
  z.object({
    ...inboundCommon,
    mid: z.string().min(1),
    text: z.string().nullable(),
    attachments: z.array(inboundAttachment),
    quickReplyPayload: z.string().nullable(),
    replyToMid: z.string().nullable(),
  }),
);

export const MessageEchoed = defineEvent(
  'messenger.message.echoed',
  TOPICS.inbound,
  'The Page sent a message (from Parley, another app, or a person in Meta\'s inbox); `appId` tells which app.',
  z.object({
    ...inboundCommon,
    mid: z.string().min(1),
    appId: z.string().nullable(),
    metadata: z.string().nullable(),
    text: z.string().nullable(),
    attachments: z.array(inboundAttachment),
  }),
);

export const PostbackReceived = defineEvent(
  'messenger.postback.received',
  TOPICS.inbound,
  'A customer tapped a postback button, a persistent-menu item or Get Started.',
  z.object({
    ...inboundCommon,
    mid: z.string().nullable(),
    title: z.string().nullable(),
    payload: z.string().nullable(),
    referral: z.object({ ref: z.string().nullable(), source: z.string().nullable(), type: z.string().nullable() }).nullable(),
    isGetStarted: z.boolean(),
  }),
);

export const ReactionReceived = defineEvent(
  'messenger.reaction.received',
  TOPICS.inbound,
  'A customer reacted to (or removed a reaction from) a message.',
  z.object({
    ...inboundCommon,
    mid: z.string().min(1),
    reaction: z.string().nullable(),
    emoji: z.string().nullable(),
    action: z.enum(['react', 'unreact']),
  }),
);

export const DeliveryReceived = defineEvent(
  'messenger.delivery.received',
  TOPICS.inbound,
  'Every message the Page sent before `watermark` was delivered to the customer.',
  z.object({ ...inboundCommon, mids: z.array(z.string()), watermark: epochMillis }),
);

export const ReadReceived = defineEvent(
  'messenger.read.received',
  TOPICS.inbound,
  'The customer read every message the Page sent up to and including `watermark`.',
  z.object({ ...inboundCommon, watermark: epochMillis }),
);

export const ReferralReceived = defineEvent(
  'messenger.referral.received',
  TOPICS.inbound,
  'A customer came into an existing thread through an m.me link, an ad or a plugin.',
  z.object({ ...inboundCommon, ref: z.string().nullable(), source: z.string().nullable(), referralType: z.string().nullable() }),
);

export const CommentReceived = defineEvent(
  'messenger.comment.received',
  TOPICS.inbound,
  'Someone commented on a Page post (the `feed` field): added, edited or removed. Replies on comments are text only.',
  z.object({
    ...inboundCommon,
    commentId: z.string().min(1),
    postId: z.string().nullable(),
    parentId: z.string().nullable(),
    rootCommentId: z.string().min(1),
    verb: z.string(),
    message: z.string().nullable(),
    /** The Page's own comment (its replies): recorded, never answered. */
    fromPage: z.boolean(),
  }),
);

export const EventUnsupported = defineEvent(
  'messenger.event.unsupported',
  TOPICS.inbound,
  'Something Meta sent that Parley does not understand yet. Kept whole so nothing is lost and it can be replayed once supported.',
  z.object({
    reason: z.string(),
    field: z.string().nullable(),
    timestamp: epochMillis.nullable(),
    raw: z.unknown(),
  }),
);

export const CustomerProfileUpdated = defineEvent(
  'messenger.customer.profile.updated',
  TOPICS.inbound,
  'What Meta\'s User Profile API said about a customer: their name, or that no profile is available (a stable fallback name is used then).',
  z.object({
    customer: customerRef,
    channel,
    available: z.boolean(),
    firstName: z.string().nullable(),
    lastName: z.string().nullable(),
    /** A readable name: the profile's, or a stable fallback such as "Customer 4f2a" — never a made-up person. */
    displayName: z.string().min(1),
    /** Meta's picture URL expires; kept for display only. */
    profilePicUrl: z.string().nullable(),
    reason: z.string().nullable(),
  }),
);

// ---------------------------------------------------------------------------------------------
// conversation.decisions.v1 — produced by rules (and by people through the projection API)
// ---------------------------------------------------------------------------------------------

export const responseDelay = z.enum(['instant', 'short', 'medium', 'long']);
export type ResponseDelay = z.infer<typeof responseDelay>;

export const ReplyRequested = defineEvent(
  'conversation.reply.requested',
  TOPICS.decisions,
  'The assistant should answer the customer\'s latest messages at `replyAt` (the Page\'s response delay drawn at random within its range).',
  z.object({
    customer: customerRef,
    channel,
    assistantId: z.string().min(1),
    responseDelay,
    replyAt: isoInstant,
    replyWindowClosesAt: isoInstant,
    triggerEventIds: z.array(z.string()).min(1),
  }),
);

export const suppressionReason = z.enum([
  'escalated',
  'outside_reply_window',
  'throttled_sender',
  'page_echo',
  'auto_reply_off',
  'no_assistant',
  'assistant_private',
  'page_disconnected',
  'page_needs_reconnect',
  'standby',
  'not_answerable',
]);

export const ReplySuppressed = defineEvent(
  'conversation.reply.suppressed',
  TOPICS.decisions,
  'The assistant will not answer this inbound event, and why.',
  z.object({ customer: customerRef, channel, triggerEventId: z.string(), reason: suppressionReason, detail: z.string().nullable() }),
);

export const escalationReason = z.enum([
  'keyword',
  'human_requested',
  'frustration',
  'reply_window_closing',
  'human_took_over',
  'agent',
]);

export const ConversationEscalated = defineEvent(
  'conversation.escalated',
  TOPICS.decisions,
  'The conversation needs a person; the assistant stops answering it until a person resolves it.',
  z.object({
    customer: customerRef,
    channel,
    reason: escalationReason,
    detail: z.string().nullable(),
    by: z.enum(['rules', 'agent', 'page_inbox']),
    triggerEventId: z.string().nullable(),
  }),
);

export const ConversationResolved = defineEvent(
  'conversation.resolved',
  TOPICS.decisions,
  'A person resolved the conversation; the assistant may answer it again.',
  z.object({ customer: customerRef, channel, by: z.enum(['agent']), agentId: z.string().nullable() }),
);

// ---------------------------------------------------------------------------------------------
// outbound.commands.v1 — produced by responder, rules (greeting, away) and the projection (manual replies)
// ---------------------------------------------------------------------------------------------

export const outboundAttachment = z.object({
  type: z.enum(['image', 'video', 'audio', 'file']),
  url: z.url(),
});

/** One message of a send; a long answer is several parts sent in order. */
export const outboundPart = z.union([
  z.object({ text: z.string().min(1).max(2000) }),
  z.object({ attachment: outboundAttachment }),
]);
export type OutboundPart = z.infer<typeof outboundPart>;

export const SendRequested = defineEvent(
  'outbound.send.requested',
  TOPICS.outboundCommands,
  'Send these parts to the customer at `sendAt`. Idempotent by `outboundId`: a replayed command never messages the customer twice.',
  z.object({
    outboundId: z.string().min(1),
    customer: customerRef,
    channel,
    /** For Page comments: the comment to reply to privately or publicly. */
    commentId: z.string().nullable(),
    author: z.enum(['assistant', 'agent', 'page']),
    purpose: z.enum(['reply', 'greeting', 'away', 'manual']),
    parts: z.array(outboundPart).min(1),
    messagingType: z.enum(['RESPONSE', 'UPDATE', 'MESSAGE_TAG']),
    /** Only a person's reply after the 24-hour window carries HUMAN_AGENT; never an automated one. */
    tag: z.enum(['HUMAN_AGENT']).nullable(),
    sendAt: isoInstant,
    typingIndicator: z.boolean(),
    agentId: z.string().nullable(),
    /**
     * When the customer's 24-hour reply window closes (their last message + 24 h), if the producer
     * knows it; the human-agent window closes 6 days later. outbound-sender checks it before calling
     * Meta (and when releasing held sends); without it, `sendAt` + 24 h is used as an upper bound.
     */
    replyWindowClosesAt: isoInstant.nullable().optional(),
  }),
);

export const SendCancelled = defineEvent(
  'outbound.send.cancelled',
  TOPICS.outboundCommands,
  'Do not send a scheduled send that has not gone out yet (e.g. the conversation was escalated meanwhile).',
  z.object({ outboundId: z.string().min(1), customer: customerRef, reason: z.string() }),
);

// ---------------------------------------------------------------------------------------------
// outbound.events.v1 — produced by outbound-sender
// ---------------------------------------------------------------------------------------------

export const failureCategory = z.enum([
  'window_closed',
  'auth_invalid',
  'page_disconnected',
  'recipient_unavailable',
  'permission',
  'invalid_request',
  'policy',
  'rate_limited',
  'transient',
  'unknown',
]);

export const MessageScheduled = defineEvent(
  'outbound.message.scheduled',
  TOPICS.outboundEvents,
  'A send is stored durably and will go out at `sendAt`.',
  z.object({ outboundId: z.string(), customer: customerRef, channel, author: z.enum(['assistant', 'agent', 'page']), parts: z.array(outboundPart), sendAt: isoInstant }),
);

export const MessageSent = defineEvent(
  'outbound.message.sent',
  TOPICS.outboundEvents,
  'Meta accepted one part of a send; `mid` matches the echo and the delivery/read watermarks.',
  z.object({
    outboundId: z.string(),
    customer: customerRef,
    channel,
    author: z.enum(['assistant', 'agent', 'page']),
    part: z.number().int().nonnegative(),
    partCount: z.number().int().positive(),
    mid: z.string().nullable(),
    content: outboundPart,
    messagingType: z.enum(['RESPONSE', 'UPDATE', 'MESSAGE_TAG']),
    tag: z.enum(['HUMAN_AGENT']).nullable(),
    sentAt: isoInstant,
  }),
);

export const MessageFailed = defineEvent(
  'outbound.message.failed',
  TOPICS.outboundEvents,
  'A send (or one of its parts) will not be delivered; `reason` is a sentence a person understands.',
  z.object({
    outboundId: z.string(),
    customer: customerRef,
    channel,
    part: z.number().int().nonnegative().nullable(),
    category: failureCategory,
    reason: z.string(),
    graphCode: z.number().int().nullable(),
    graphSubcode: z.number().int().nullable(),
  }),
);

export const MessageDeferred = defineEvent(
  'outbound.message.deferred',
  TOPICS.outboundEvents,
  'A send is held, not failed: the Page needs reconnecting, Meta is unavailable or rate-limiting. It goes out later.',
  z.object({
    outboundId: z.string(),
    customer: customerRef,
    channel,
    reason: z.enum(['page_needs_reconnect', 'graph_unavailable', 'rate_limited']),
    detail: z.string().nullable(),
    retryAt: isoInstant.nullable(),
  }),
);

export const MessageCancelled = defineEvent(
  'outbound.message.cancelled',
  TOPICS.outboundEvents,
  'A send was cancelled before it went out (`outbound.send.cancelled`); parts already sent (`partsSent`) stay sent, the rest never go out.',
  z.object({
    outboundId: z.string(),
    customer: customerRef,
    channel,
    reason: z.string(),
    partsSent: z.number().int().nonnegative(),
  }),
);

export const TokenRejected = defineEvent(
  'outbound.token.rejected',
  TOPICS.outboundEvents,
  'Meta rejected the Page\'s token (code 190 or a permission error) while sending; auth-token re-checks the connection.',
  z.object({ graphCode: z.number().int(), graphSubcode: z.number().int().nullable(), detail: z.string() }),
);

// ---------------------------------------------------------------------------------------------
// page.events.v1 — produced by auth-token (connections) and rules (settings)
// ---------------------------------------------------------------------------------------------

export const connectionStatus = z.enum([
  'connected',
  'degraded',
  'needs_reconnect',
  'revoked',
  'subscription_failed',
  'disconnected',
]);
export type ConnectionStatus = z.infer<typeof connectionStatus>;

export const PageConnected = defineEvent(
  'page.connected',
  TOPICS.pages,
  'A Page was connected (or reconnected) to an account and subscribed to webhooks.',
  z.object({ name: z.string(), subscribedFields: z.array(z.string()), reconnect: z.boolean() }),
);

export const PageConnectionChanged = defineEvent(
  'page.connection.changed',
  TOPICS.pages,
  'A Page connection changed state; `reason` says why and `action` what a person should do.',
  z.object({
    status: connectionStatus,
    previousStatus: connectionStatus.nullable(),
    reason: z.string(),
    action: z.string().nullable(),
    graphCode: z.number().int().nullable(),
    graphSubcode: z.number().int().nullable(),
  }),
);

export const PageDisconnected = defineEvent(
  'page.disconnected',
  TOPICS.pages,
  'A Page was disconnected: webhook unsubscribed, token destroyed. Its conversations stay.',
  z.object({ reason: z.string() }),
);

export const pageSettings = z.object({
  autoReply: z.boolean(),
  assistantId: z.string().nullable(),
  responseDelay,
  greetingMessage: z.string().max(2000).nullable(),
  awayMessage: z.string().max(2000).nullable(),
  escalationKeywords: z.array(z.string().min(1).max(100)).max(100),
});
export type PageSettings = z.infer<typeof pageSettings>;

export const PageSettingsChanged = defineEvent(
  'page.settings.changed',
  TOPICS.pages,
  'A Page\'s reply settings changed; the full new settings are in `settings`.',
  z.object({ settings: pageSettings }),
);

/** Every event definition, in catalogue order. Add a new event here and it is validated and published. */
export const EVENT_DEFINITIONS = [
  MessageReceived,
  MessageEchoed,
  PostbackReceived,
  ReactionReceived,
  DeliveryReceived,
  ReadReceived,
  ReferralReceived,
  CommentReceived,
  EventUnsupported,
  CustomerProfileUpdated,
  ReplyRequested,
  ReplySuppressed,
  ConversationEscalated,
  ConversationResolved,
  SendRequested,
  SendCancelled,
  MessageScheduled,
  MessageSent,
  MessageFailed,
  MessageDeferred,
  MessageCancelled,
  TokenRejected,
  PageConnected,
  PageConnectionChanged,
  PageDisconnected,
  PageSettingsChanged,
] as const;

type Definitions = (typeof EVENT_DEFINITIONS)[number];

/** Any Parley event, discriminated by `type`. */
export type ParleyEvent = z.infer<Definitions['schema']>;
export type EventType = ParleyEvent['type'];
/** The event of one type: `EventOf<'messenger.message.received'>`. */
export type EventOf<T extends EventType> = Extract<ParleyEvent, { type: T }>;
export type DataOf<T extends EventType> = EventOf<T>['data'];

export const parleyEventSchema = z.discriminatedUnion(
  'type',
  EVENT_DEFINITIONS.map((d) => d.schema) as unknown as [Definitions['schema'], ...Definitions['schema'][]],
);

const definitionsByType = new Map<string, Definitions>(EVENT_DEFINITIONS.map((d) => [d.type, d]));

export function definitionOf<T extends EventType>(type: T): Extract<Definitions, { type: T }> {
  const definition = definitionsByType.get(type);
  if (!definition) throw new Error(`Unknown event type "${type}"`);
  return definition as Extract<Definitions, { type: T }>;
}

export function isKnownEventType(type: string): type is EventType {
  return definitionsByType.has(type);
}
