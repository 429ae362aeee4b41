import { z } from 'zod';
import type { ConversationState } from '../inbox/evolve.ts';
import { attachmentExpiry, humanAgentWindowClosesAt, replyWindowClosesAt, statusOf } from '../inbox/model.ts';
import type { InboxMessage } from '../inbox/model.ts';

// What the API answers, as zod schemas: the OpenAPI document is generated from them and the API
// tests validate every answer against them, so the document and the behaviour cannot drift apart.

const instant = z.iso.datetime({ offset: true });

export const conversationView = z
  .object({
    id: z.string().meta({ description: '`{pageId}:{psid}` for Messenger, `{pageId}:comment:{rootCommentId}` for a comment thread' }),
    channel: z.enum(['messenger', 'page_comment']),
    pageId: z.string(),
    page: z.object({ name: z.string().nullable(), status: z.string() }).meta({ description: 'Extension: the Page\'s name and connection status' }),
    customer: z.object({
      psid: z.string(),
      name: z.string().meta({ description: 'The profile name, else the name Meta sent with the event, else a stable fallback such as "Customer 4f2a"' }),
      nameSource: z.enum(['profile', 'meta', 'fallback']).meta({ description: 'Extension: where the name comes from' }),
    }),
    status: z.enum(['open', 'escalated', 'resolved']),
    escalation: z
      .object({ reason: z.string(), detail: z.string().nullable(), by: z.string(), at: instant })
      .optional()
      .meta({ description: 'Present while the conversation is escalated' }),
    resolvedAt: instant.optional(),
    lastMessageAt: instant.nullable(),
    lastMessagePreview: z.string().nullable(),
    lastInboundAt: instant.nullable(),
    replyWindowClosesAt: instant.nullable().meta({ description: 'Last customer action + 24 h (a comment thread: last comment + 7 days)' }),
    humanAgentWindowClosesAt: instant.nullable().meta({ description: 'Extension: last customer action + 7 days; a person may answer with the HUMAN_AGENT tag until then' }),
    unreadCount: z.number().int().nonnegative().meta({ description: 'Customer messages since the Page last answered (assistant, agent or a person in Meta\'s inbox)' }),
    createdAt: instant,
    lastActivityAt: instant,
  })
  ;
export type ConversationView = z.infer<typeof conversationView>;

export const attachmentView = z
  .object({
    type: z.enum(['image', 'video', 'audio', 'file', 'sticker', 'fallback']),
    url: z.string().optional().meta({ description: 'Meta\'s own link, never downloaded; it stops working at `expiresAt`' }),
    title: z.string().optional(),
    metaType: z.string().optional().meta({ description: 'Extension: Meta\'s type name when `type` is an approximation (reel, location, template…)' }),
    expiresAt: instant.optional().meta({ description: 'Extension: when Meta\'s link expires (from its `oe`/`ext` parameter)' }),
    expired: z.boolean().meta({ description: 'Extension: the link is past its expiry: Meta no longer serves it' }),
  })
  ;

export const messageView = z
  .object({
    id: z.string(),
    direction: z.enum(['inbound', 'outbound']),
    author: z.enum(['customer', 'assistant', 'agent', 'page', 'page_inbox']).meta({
      description: '`page`: a greeting or away message; `page_inbox` (extension): a person (or another app) writing from Meta\'s own inbox',
    }),
    kind: z.enum(['message', 'postback', 'comment']).meta({ description: 'Extension' }),
    text: z.string().optional(),
    attachments: z.array(attachmentView),
    status: z.enum(['received', 'scheduled', 'sent', 'delivered', 'read', 'failed', 'cancelled']).meta({
      description: '`cancelled` (extension): the send was cancelled before it went out',
    }),
    failure: z.object({ reason: z.string(), graphCode: z.number().int().optional(), category: z.string() }).optional(),
    deferred: z
      .object({ reason: z.string(), detail: z.string().optional(), retryAt: instant.optional() })
      .optional()
      .meta({ description: 'Extension: a scheduled send that is held (the Page needs reconnecting, Meta is unavailable)' }),
    createdAt: instant,
    scheduledFor: instant.optional(),
    sentAt: instant.optional(),
    deliveredAt: instant.optional(),
    readAt: instant.optional(),
    reaction: z.object({ reaction: z.string().nullable(), emoji: z.string().nullable(), at: instant }).optional().meta({ description: 'Extension: the customer\'s reaction' }),
    outboundId: z.string().optional().meta({ description: 'Extension: the send this message is a part of (the `id` a reply answered with)' }),
    purpose: z.string().optional(),
    agentId: z.string().optional(),
    replyToMid: z.string().optional(),
    edited: z.boolean().optional(),
    removed: z.boolean().optional(),
  })
  ;
export type MessageView = z.infer<typeof messageView>;

export const conversationList = z.object({ items: z.array(conversationView), nextCursor: z.string().nullable() });
export const messageList = z.object({ items: z.array(messageView), nextCursor: z.string().nullable() });

export const problemView = z
  .object({
    type: z.string(),
    title: z.string(),
    status: z.number().int(),
    detail: z.string().optional(),
    code: z.string().meta({ description: 'Stable, machine-readable' }),
    instance: z.string().optional(),
  })
  ;

export const replyRequest = z
  .object({
    text: z.string().trim().min(1).max(2000).optional(),
    attachments: z
      .array(z.object({ type: z.enum(['image', 'video', 'audio', 'file']), url: z.url({ protocol: /^https?$/ }) }))
      .max(10)
      .optional(),
    id: z.string().min(1).max(200).optional().meta({ description: 'Client-chosen id: the same id sends once (a double click). The `Idempotency-Key` header does the same.' }),
    agentId: z.string().min(1).max(200).optional().meta({ description: 'Extension: the person replying' }),
  })
  .strict()
  ;

export const replyAccepted = z
  .object({
    id: z.string().meta({ description: 'The send (`outboundId`); its messages carry it as `outboundId`' }),
    status: z.enum(['scheduled', 'sent', 'delivered', 'read', 'failed', 'cancelled']),
    messagingType: z.enum(['RESPONSE', 'MESSAGE_TAG']),
    tag: z.enum(['HUMAN_AGENT']).nullable(),
    note: z.string().optional().meta({ description: 'Said when the reply is held, e.g. until the Page is reconnected' }),
  })
  ;

export const actionRequest = z
  .object({ agentId: z.string().min(1).max(200).optional(), note: z.string().max(1000).optional() })
  .strict()
  ;

export const actionAccepted = z
  .object({ conversationId: z.string(), status: z.enum(['resolved', 'escalated']), eventId: z.string() })
  ;

export const rebuildView = z
  .object({
    id: z.string(),
    status: z.enum(['running', 'completed', 'failed']),
    schema: z.string(),
    requestedBy: z.string(),
    startedAt: instant,
    finishedAt: instant.nullable(),
    targetOffsets: z.array(z.object({ topic: z.string(), partition: z.number().int(), low: z.string(), high: z.string() })).nullable(),
    progress: z
      .object({
        caughtUp: z.boolean(),
        partitions: z.array(z.object({ topic: z.string(), partition: z.number().int(), target: z.string(), position: z.string() })),
      })
      .nullable(),
    error: z.string().nullable(),
  })
  ;

// ---------------------------------------------------------------------------------------------

/** A conversation row as the queries select it. */
export type ConversationRow = {
  id: string;
  page_id: string;
  channel: 'messenger' | 'page_comment';
  customer_psid: string;
  customer_name: string;
  customer_name_source: 'profile' | 'meta' | 'fallback';
  status: 'open' | 'escalated' | 'resolved';
  state: ConversationState;
  created_at: Date | string;
  last_message_at: Date | string | null;
  last_message_preview: string | null;
  last_activity_at: Date | string;
  unread_count: number;
  page_name: string | null;
  page_status: string | null;
};

const iso = (ms: number) => new Date(ms).toISOString();
const isoOf = (value: Date | string | null) => (value === null ? null : new Date(value).toISOString());

export function toConversationView(row: ConversationRow): ConversationView {
  const state = row.state;
  const replyCloses = replyWindowClosesAt(state);
  const humanCloses = humanAgentWindowClosesAt(state);
  const view: ConversationView = {
    id: row.id,
    channel: row.channel,
    pageId: row.page_id,
    page: { name: row.page_name, status: row.page_status ?? 'unknown' },
    customer: { psid: row.customer_psid, name: row.customer_name, nameSource: row.customer_name_source },
    status: row.status,
    lastMessageAt: isoOf(row.last_message_at),
    lastMessagePreview: row.last_message_preview,
    lastInboundAt: state.channel === 'page_comment' ? (state.lastCommentAt === null ? null : iso(state.lastCommentAt)) : state.lastInboundAt === null ? null : iso(state.lastInboundAt),
    replyWindowClosesAt: replyCloses === null ? null : iso(replyCloses),
    humanAgentWindowClosesAt: humanCloses === null ? null : iso(humanCloses),
    unreadCount: row.unread_count,
    createdAt: isoOf(row.created_at)!,
    lastActivityAt: isoOf(row.last_activity_at)!,
  };
  if (row.status === 'escalated' && state.escalation) {
    view.escalation = { reason: state.escalation.reason, detail: state.escalation.detail, by: state.escalation.by, at: iso(state.escalation.at) };
  }
  if (row.status === 'resolved' && state.lastResolvedAt !== null) view.resolvedAt = iso(state.lastResolvedAt);
  return view;
}

export function toMessageView(message: InboxMessage, now: number): MessageView {
  const status = statusOf(message);
  const view: MessageView = {
    id: message.id,
    direction: message.direction,
    author: message.author,
    kind: message.kind,
    attachments: message.attachments.map((a) => {
      const expiresAt = attachmentExpiry(a.url);
      return {
        type: a.type,
        ...(a.url !== null ? { url: a.url } : {}),
        ...(a.title !== null ? { title: a.title } : {}),
        ...(a.metaType !== null && a.metaType !== a.type ? { metaType: a.metaType } : {}),
        ...(expiresAt !== null ? { expiresAt: iso(expiresAt) } : {}),
        expired: expiresAt !== null && expiresAt <= now,
      };
    }),
    status,
    createdAt: iso(message.createdAt),
  };
  if (message.text !== null && !message.removed) view.text = message.text;
  if (status === 'failed' && message.failure) {
    view.failure = { reason: message.failure.reason, category: message.failure.category, ...(message.failure.graphCode !== null ? { graphCode: message.failure.graphCode } : {}) };
  }
  if (status === 'cancelled' && message.cancelled) view.failure = { reason: `Cancelled: ${message.cancelled.reason}`, category: 'cancelled' };
  if (status === 'scheduled' && message.deferred) {
    view.deferred = {
      reason: message.deferred.reason,
      ...(message.deferred.detail !== null ? { detail: message.deferred.detail } : {}),
      ...(message.deferred.retryAt !== null ? { retryAt: iso(message.deferred.retryAt) } : {}),
    };
  }
  if (message.scheduledFor !== null) view.scheduledFor = iso(message.scheduledFor);
  const sentAt = message.metaTimestamp ?? message.sentAt;
  if (sentAt !== null) view.sentAt = iso(sentAt);
  if (message.deliveredAt !== null) view.deliveredAt = iso(message.deliveredAt);
  if (message.readAt !== null) view.readAt = iso(message.readAt);
  if (message.reaction !== null && (message.reaction.emoji !== null || message.reaction.reaction !== null)) {
    view.reaction = { reaction: message.reaction.reaction, emoji: message.reaction.emoji, at: iso(message.reaction.at) };
  }
  if (message.outboundId !== null) view.outboundId = message.outboundId;
  if (message.purpose !== null) view.purpose = message.purpose;
  if (message.agentId !== null) view.agentId = message.agentId;
  if (message.replyToMid !== null) view.replyToMid = message.replyToMid;
  if (message.editedAt !== null) view.edited = true;
  if (message.removed) view.removed = true;
  return view;
}
