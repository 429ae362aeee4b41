// Builders of the events rules consumes, for tests (unit and integration). Not used by the service.
import { createEvent, deterministicId, messengerConversationId, commentConversationId } from '@parley/contracts';
import type { DataOf, EventOf, PageSettings } from '@parley/contracts';

let counter = 0;
/** Unique within a test run, deterministic in order (no Math.random in tests). */
function next(): number {
  return ++counter;
}

export const T0 = new Date('2026-03-02T10:00:00.000Z');

export function at(offsetMs: number, base: Date = T0): Date {
  return new Date(base.getTime() + offsetMs);
}

export const SECOND = 1_000;
export const MINUTE = 60 * SECOND;
export const HOUR = 60 * MINUTE;

type Common = {
  pageId?: string;
  psid?: string;
  at?: Date;
  recordedAt?: Date;
  id?: string;
  standby?: boolean;
  throttled?: boolean;
};

function inboundEnvelope(prefix: string, common: Common, conversationId?: string) {
  const pageId = common.pageId ?? 'page-1';
  const psid = common.psid ?? 'psid-1';
  const occurred = common.at ?? T0;
  const id = common.id ?? deterministicId(prefix, pageId, psid, occurred.getTime(), next());
  return {
    id,
    pageId,
    conversationId: conversationId ?? messengerConversationId(pageId, psid),
    occurredAt: occurred,
    recordedAt: common.recordedAt ?? occurred,
    correlationId: id,
    accountId: null,
    base: {
      channel: 'messenger' as const,
      customer: { psid, name: null },
      timestamp: occurred.getTime(),
      standby: common.standby ?? false,
      throttled: common.throttled ?? false,
      raw: {},
    },
  };
}

export function messageReceived(common: Common & { text?: string | null; mid?: string } = {}): EventOf<'messenger.message.received'> {
  const { base, ...envelope } = inboundEnvelope('message', common);
  return createEvent('messenger.message.received', {
    ...envelope,
    data: { ...base, mid: common.mid ?? `mid.${envelope.id}`, text: common.text === undefined ? 'Hello there' : common.text, attachments: [], quickReplyPayload: null, replyToMid: null },
  });
}

export function messageEchoed(common: Common & { appId?: string | null; mid?: string; text?: string } = {}): EventOf<'messenger.message.echoed'> {
  const { base, ...envelope } = inboundEnvelope('echo', common);
  return createEvent('messenger.message.echoed', {
    ...envelope,
    data: { ...base, mid: common.mid ?? `mid.echo.${envelope.id}`, appId: common.appId === undefined ? 'our-app' : common.appId, metadata: null, text: common.text ?? 'Hi from the Page', attachments: [] },
  });
}

export function postbackReceived(common: Common & { title?: string | null; payload?: string | null; isGetStarted?: boolean } = {}): EventOf<'messenger.postback.received'> {
  const { base, ...envelope } = inboundEnvelope('postback', common);
  return createEvent('messenger.postback.received', {
    ...envelope,
    data: {
      ...base,
      mid: `mid.pb.${envelope.id}`,
      title: common.title === undefined ? 'Get Started' : common.title,
      payload: common.payload === undefined ? 'GET_STARTED' : common.payload,
      referral: null,
      isGetStarted: common.isGetStarted ?? false,
    },
  });
}

export function commentReceived(common: Common & { message?: string | null; verb?: string; fromPage?: boolean; commentId?: string } = {}): EventOf<'messenger.comment.received'> {
  const commentId = common.commentId ?? 'comment-1';
  const { base, ...envelope } = inboundEnvelope('comment', common, commentConversationId(common.pageId ?? 'page-1', commentId));
  return createEvent('messenger.comment.received', {
    ...envelope,
    data: {
      ...base,
      channel: 'page_comment',
      commentId,
      postId: 'post-1',
      parentId: null,
      rootCommentId: commentId,
      verb: common.verb ?? 'add',
      message: common.message === undefined ? 'Nice product, how much?' : common.message,
      fromPage: common.fromPage ?? false,
    },
  });
}

export function reactionReceived(common: Common & { action?: 'react' | 'unreact' } = {}): EventOf<'messenger.reaction.received'> {
  const { base, ...envelope } = inboundEnvelope('reaction', common);
  return createEvent('messenger.reaction.received', {
    ...envelope,
    data: { ...base, mid: 'mid.reacted', reaction: 'love', emoji: '❤', action: common.action ?? 'react' },
  });
}

export function deliveryReceived(common: Common = {}): EventOf<'messenger.delivery.received'> {
  const { base, ...envelope } = inboundEnvelope('delivery', common);
  return createEvent('messenger.delivery.received', { ...envelope, data: { ...base, mids: [], watermark: base.timestamp } });
}

type ConversationRef = { pageId?: string; psid?: string; at?: Date; id?: string; accountId?: string | null };

function conversationEnvelope(prefix: string, ref: ConversationRef) {
  const pageId = ref.pageId ?? 'page-1';
  const psid = ref.psid ?? 'psid-1';
  const occurred = ref.at ?? T0;
  const id = ref.id ?? deterministicId(prefix, pageId, psid, occurred.getTime(), next());
  return {
    envelope: { id, pageId, accountId: ref.accountId ?? 'acct-1', conversationId: messengerConversationId(pageId, psid), occurredAt: occurred, recordedAt: occurred, correlationId: id },
    customer: { psid, name: null },
  };
}

export function messageSent(ref: ConversationRef & { mid?: string | null; author?: DataOf<'outbound.message.sent'>['author'] } = {}): EventOf<'outbound.message.sent'> {
  const { envelope, customer } = conversationEnvelope('sent', ref);
  return createEvent('outbound.message.sent', {
    ...envelope,
    data: {
      outboundId: `out-${envelope.id}`,
      customer,
      channel: 'messenger',
      author: ref.author ?? 'assistant',
      part: 0,
      partCount: 1,
      mid: ref.mid === undefined ? `mid.sent.${envelope.id}` : ref.mid,
      content: { text: 'Here is your answer' },
      messagingType: 'RESPONSE',
      tag: null,
      sentAt: envelope.occurredAt.toISOString(),
    },
  });
}

export function escalatedByAgent(ref: ConversationRef = {}): EventOf<'conversation.escalated'> {
  const { envelope, customer } = conversationEnvelope('escalated', ref);
  return createEvent('conversation.escalated', {
    ...envelope,
    data: { customer, channel: 'messenger', reason: 'agent', detail: 'Escalated by an agent', by: 'agent', triggerEventId: null },
  });
}

export function resolved(ref: ConversationRef = {}): EventOf<'conversation.resolved'> {
  const { envelope, customer } = conversationEnvelope('resolved', ref);
  return createEvent('conversation.resolved', { ...envelope, data: { customer, channel: 'messenger', by: 'agent', agentId: 'agent-7' } });
}

type PageRef = { pageId?: string; at?: Date; id?: string; accountId?: string | null };

function pageEnvelope(prefix: string, ref: PageRef) {
  const pageId = ref.pageId ?? 'page-1';
  const occurred = ref.at ?? T0;
  const id = ref.id ?? deterministicId(prefix, pageId, occurred.getTime(), next());
  return { id, pageId, accountId: ref.accountId === undefined ? 'acct-1' : ref.accountId, occurredAt: occurred, recordedAt: occurred, correlationId: id };
}

export function pageConnected(ref: PageRef = {}): EventOf<'page.connected'> {
  return createEvent('page.connected', { ...pageEnvelope('connected', ref), data: { name: 'Test Page', subscribedFields: ['messages'], reconnect: false } });
}

export function connectionChanged(ref: PageRef & { status: DataOf<'page.connection.changed'>['status'] }): EventOf<'page.connection.changed'> {
  return createEvent('page.connection.changed', {
    ...pageEnvelope('connection', ref),
    data: { status: ref.status, previousStatus: null, reason: 'test', action: null, graphCode: null, graphSubcode: null },
  });
}

export function pageDisconnected(ref: PageRef = {}): EventOf<'page.disconnected'> {
  return createEvent('page.disconnected', { ...pageEnvelope('disconnected', ref), data: { reason: 'admin disconnected' } });
}

export function settingsChanged(ref: PageRef & { settings: PageSettings }): EventOf<'page.settings.changed'> {
  return createEvent('page.settings.changed', { ...pageEnvelope('settings', ref), data: { settings: ref.settings } });
}

/** A random source that returns the given numbers in turn (then the last one). */
export function sequence(...values: number[]): () => number {
  let index = 0;
  return () => values[Math.min(index++, values.length - 1)]!;
}
