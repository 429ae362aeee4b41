import { randomUUID } from 'node:crypto';
import { createEvent, deterministicId, messengerConversationId } from '@parley/contracts';
import type { EventOf, InboundAttachment } from '@parley/contracts';

/**
 * Event builders for the responder's tests (no I/O): valid events through createEvent, with the
 * fields a test cares about and sensible defaults for the rest.
 */

export const T0 = new Date('2026-11-26T10:00:00.000Z');

export function at(offsetMs: number, base: Date = T0): Date {
  return new Date(base.getTime() + offsetMs);
}

export function uniqueId(prefix: string): string {
  return `${prefix}-${randomUUID().slice(0, 8)}`;
}

type Who = { pageId: string; psid: string; accountId?: string | null };

export function messageReceived(
  who: Who,
  options: { mid?: string; text?: string | null; attachments?: InboundAttachment[]; occurredAt?: Date } = {},
): EventOf<'messenger.message.received'> {
  const mid = options.mid ?? uniqueId('mid');
  const occurredAt = options.occurredAt ?? T0;
  return createEvent('messenger.message.received', {
    id: deterministicId('mid', mid),
    pageId: who.pageId,
    conversationId: messengerConversationId(who.pageId, who.psid),
    occurredAt,
    recordedAt: occurredAt,
    data: {
      channel: 'messenger',
      customer: { psid: who.psid },
      timestamp: occurredAt.getTime(),
      standby: false,
      throttled: false,
      raw: {},
      mid,
      text: options.text === undefined ? 'Hello' : options.text,
      attachments: options.attachments ?? [],
      quickReplyPayload: null,
      replyToMid: null,
    },
  });
}

export function attachment(type: InboundAttachment['type'], extra: Partial<InboundAttachment> = {}): InboundAttachment {
  return { type, metaType: type, url: type === 'location' ? null : 'https://cdn.example/x', title: null, stickerId: null, coordinates: null, ...extra };
}

export function replyRequested(
  who: Who,
  options: { triggerEventIds: string[]; assistantId: string; replyAt: Date; windowClosesAt?: Date; id?: string; name?: string | null },
): EventOf<'conversation.reply.requested'> {
  return createEvent('conversation.reply.requested', {
    id: options.id ?? uniqueId('req'),
    pageId: who.pageId,
    accountId: who.accountId ?? null,
    conversationId: messengerConversationId(who.pageId, who.psid),
    causationId: options.triggerEventIds[options.triggerEventIds.length - 1] ?? null,
    correlationId: options.triggerEventIds[0] ?? null,
    occurredAt: T0,
    recordedAt: T0,
    data: {
      customer: { psid: who.psid, name: options.name ?? null },
      channel: 'messenger',
      assistantId: options.assistantId,
      responseDelay: 'short',
      replyAt: options.replyAt.toISOString(),
      replyWindowClosesAt: (options.windowClosesAt ?? at(24 * 3_600_000, options.replyAt)).toISOString(),
      triggerEventIds: options.triggerEventIds,
    },
  });
}

export function escalated(who: Who, options: { id?: string; occurredAt?: Date } = {}): EventOf<'conversation.escalated'> {
  return createEvent('conversation.escalated', {
    id: options.id ?? uniqueId('esc'),
    pageId: who.pageId,
    accountId: who.accountId ?? null,
    conversationId: messengerConversationId(who.pageId, who.psid),
    occurredAt: options.occurredAt ?? T0,
    recordedAt: options.occurredAt ?? T0,
    data: { customer: { psid: who.psid }, channel: 'messenger', reason: 'human_requested', detail: null, by: 'rules', triggerEventId: null },
  });
}

export function resolved(who: Who, options: { id?: string } = {}): EventOf<'conversation.resolved'> {
  return createEvent('conversation.resolved', {
    id: options.id ?? uniqueId('res'),
    pageId: who.pageId,
    accountId: who.accountId ?? null,
    conversationId: messengerConversationId(who.pageId, who.psid),
    occurredAt: T0,
    recordedAt: T0,
    data: { customer: { psid: who.psid }, channel: 'messenger', by: 'agent', agentId: 'agent-1' },
  });
}

export function pageConnected(pageId: string, accountId: string, occurredAt: Date = T0): EventOf<'page.connected'> {
  return createEvent('page.connected', {
    id: uniqueId('pc'),
    pageId,
    accountId,
    occurredAt,
    recordedAt: occurredAt,
    data: { name: 'Acme', subscribedFields: ['messages'], reconnect: false },
  });
}

export function messageSent(
  who: Who,
  options: { text: string; mid?: string; author?: 'assistant' | 'agent' | 'page'; occurredAt?: Date },
): EventOf<'outbound.message.sent'> {
  const occurredAt = options.occurredAt ?? T0;
  return createEvent('outbound.message.sent', {
    id: uniqueId('sent'),
    pageId: who.pageId,
    conversationId: messengerConversationId(who.pageId, who.psid),
    occurredAt,
    recordedAt: occurredAt,
    data: {
      outboundId: uniqueId('out'),
      customer: { psid: who.psid },
      channel: 'messenger',
      author: options.author ?? 'assistant',
      part: 0,
      partCount: 1,
      mid: options.mid ?? uniqueId('m'),
      content: { text: options.text },
      messagingType: 'RESPONSE',
      tag: null,
      sentAt: occurredAt.toISOString(),
    },
  });
}

export function profileUpdated(who: Who, firstName: string | null, occurredAt: Date = T0): EventOf<'messenger.customer.profile.updated'> {
  return createEvent('messenger.customer.profile.updated', {
    id: uniqueId('profile'),
    pageId: who.pageId,
    conversationId: messengerConversationId(who.pageId, who.psid),
    occurredAt,
    recordedAt: occurredAt,
    data: {
      customer: { psid: who.psid },
      channel: 'messenger',
      available: firstName !== null,
      firstName,
      lastName: null,
      displayName: firstName ?? 'Customer 4f2a',
      profilePicUrl: null,
      reason: firstName === null ? 'no profile' : null,
    },
  });
}
