// Builders for the commands and page events tests feed outbound-sender. Test support only.
import { createEvent, deterministicId, messengerConversationId } from '@parley/contracts';
import type { DataOf, EventOf } from '@parley/contracts';

export type SendCommandInput = Partial<DataOf<'outbound.send.requested'>> & {
  pageId: string;
  psid?: string;
  accountId?: string | null;
  eventId?: string;
  now?: Date;
};

/** An `outbound.send.requested` for one customer of a Page; every field can be overridden. */
export function sendCommand(input: SendCommandInput): EventOf<'outbound.send.requested'> {
  const now = input.now ?? new Date();
  const psid = input.psid ?? input.customer?.psid ?? '2400000000000001';
  const outboundId = input.outboundId ?? deterministicId('test-send', input.pageId, psid, now.getTime(), Math.random());
  return createEvent('outbound.send.requested', {
    id: input.eventId ?? deterministicId('command', outboundId),
    pageId: input.pageId,
    accountId: input.accountId === undefined ? 'account-1' : input.accountId,
    conversationId: messengerConversationId(input.pageId, psid),
    occurredAt: now,
    recordedAt: now,
    causationId: null,
    correlationId: null,
    data: {
      outboundId,
      customer: input.customer ?? { psid, name: null },
      channel: input.channel ?? 'messenger',
      commentId: input.commentId ?? null,
      author: input.author ?? 'assistant',
      purpose: input.purpose ?? 'reply',
      parts: input.parts ?? [{ text: 'Hello! How can I help?' }],
      messagingType: input.messagingType ?? 'RESPONSE',
      tag: input.tag ?? null,
      sendAt: input.sendAt ?? now.toISOString(),
      typingIndicator: input.typingIndicator ?? true,
      agentId: input.agentId ?? null,
      ...(input.replyWindowClosesAt === undefined ? {} : { replyWindowClosesAt: input.replyWindowClosesAt }),
    },
  });
}

export function cancelCommand(input: { pageId: string; outboundId: string; psid?: string; reason?: string; now?: Date }): EventOf<'outbound.send.cancelled'> {
  const now = input.now ?? new Date();
  const psid = input.psid ?? '2400000000000001';
  return createEvent('outbound.send.cancelled', {
    id: deterministicId('cancel', input.outboundId),
    pageId: input.pageId,
    conversationId: messengerConversationId(input.pageId, psid),
    occurredAt: now,
    recordedAt: now,
    data: { outboundId: input.outboundId, customer: { psid, name: null }, reason: input.reason ?? 'escalated' },
  });
}

export function pageConnected(input: { pageId: string; at?: Date; reconnect?: boolean; accountId?: string }): EventOf<'page.connected'> {
  const at = input.at ?? new Date();
  return createEvent('page.connected', {
    id: deterministicId('page.connected', input.pageId, at.getTime()),
    pageId: input.pageId,
    accountId: input.accountId ?? 'account-1',
    occurredAt: at,
    recordedAt: at,
    data: { name: 'Test Page', subscribedFields: ['messages', 'message_echoes'], reconnect: input.reconnect ?? false },
  });
}

export function pageConnectionChanged(input: {
  pageId: string;
  status: DataOf<'page.connection.changed'>['status'];
  previousStatus?: DataOf<'page.connection.changed'>['status'] | null;
  at?: Date;
}): EventOf<'page.connection.changed'> {
  const at = input.at ?? new Date();
  return createEvent('page.connection.changed', {
    id: deterministicId('page.connection.changed', input.pageId, input.status, at.getTime()),
    pageId: input.pageId,
    accountId: 'account-1',
    occurredAt: at,
    recordedAt: at,
    data: { status: input.status, previousStatus: input.previousStatus ?? null, reason: 'test', action: null, graphCode: null, graphSubcode: null },
  });
}

export function pageDisconnected(input: { pageId: string; at?: Date }): EventOf<'page.disconnected'> {
  const at = input.at ?? new Date();
  return createEvent('page.disconnected', {
    id: deterministicId('page.disconnected', input.pageId, at.getTime()),
    pageId: input.pageId,
    accountId: 'account-1',
    occurredAt: at,
    recordedAt: at,
    data: { reason: 'test' },
  });
}

/** A `messenger.message.echoed` as ingress publishes it (id from the mid, so a re-delivered webhook is the same event). */
export function echoEvent(input: {
  pageId: string;
  psid: string;
  mid: string;
  appId: string | null;
  metadata: string | null;
  text?: string | null;
  at?: Date;
  raw?: unknown;
}): EventOf<'messenger.message.echoed'> {
  const at = input.at ?? new Date();
  const id = deterministicId('echo', input.mid);
  return createEvent('messenger.message.echoed', {
    id,
    pageId: input.pageId,
    conversationId: messengerConversationId(input.pageId, input.psid),
    occurredAt: at,
    recordedAt: new Date(),
    correlationId: id,
    data: {
      channel: 'messenger',
      customer: { psid: input.psid },
      timestamp: at.getTime(),
      standby: false,
      throttled: false,
      raw: input.raw ?? {},
      mid: input.mid,
      appId: input.appId,
      metadata: input.metadata,
      text: input.text ?? null,
      attachments: [],
    },
  });
}
