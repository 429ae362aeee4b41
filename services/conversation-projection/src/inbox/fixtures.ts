import { randomUUID } from 'node:crypto';
import { commentConversationId, createEvent, messengerConversationId } from '@parley/contracts';
import type { EventOf, InboundAttachment, OutboundPart } from '@parley/contracts';

// Event builders for tests (unit and integration): valid events, built through the contracts'
// own validation, with only what a test cares about to pass in.

type Common = { at?: number; id?: string; accountId?: string | null };

export const T0 = Date.parse('2026-03-02T10:00:00.000Z');

export function inboxEvents(pageId: string, options: { accountId?: string } = {}) {
  const envelope = (at: number, conversationId: string | null, common: Common) => ({
    id: common.id ?? randomUUID(),
    pageId,
    accountId: common.accountId !== undefined ? common.accountId : null,
    conversationId,
    occurredAt: new Date(at),
    recordedAt: new Date(at),
  });
  const inbound = (psid: string, at: number, name: string | null = null) => ({
    channel: 'messenger' as const,
    customer: { psid, name },
    timestamp: at,
    standby: false,
    throttled: false,
    raw: {},
  });
  const conv = (psid: string) => messengerConversationId(pageId, psid);

  return {
    pageId,
    conversationId: conv,
    commentConversationId: (root: string) => commentConversationId(pageId, root),

    received(psid: string, c: Common & { mid?: string; text?: string | null; attachments?: InboundAttachment[]; name?: string | null } = {}): EventOf<'messenger.message.received'> {
      const at = c.at ?? T0;
      return createEvent('messenger.message.received', {
        ...envelope(at, conv(psid), c),
        data: { ...inbound(psid, at, c.name ?? null), mid: c.mid ?? `m_${randomUUID()}`, text: c.text === undefined ? 'hello' : c.text, attachments: c.attachments ?? [], quickReplyPayload: null, replyToMid: null },
      });
    },

    echoed(psid: string, c: Common & { mid: string; appId: string | null; text?: string; metadata?: string | null }): EventOf<'messenger.message.echoed'> {
      const at = c.at ?? T0;
      return createEvent('messenger.message.echoed', {
        ...envelope(at, conv(psid), c),
        data: { ...inbound(psid, at), mid: c.mid, appId: c.appId, metadata: c.metadata ?? null, text: c.text ?? 'from the page', attachments: [] },
      });
    },

    postback(psid: string, c: Common & { title?: string; payload?: string; mid?: string | null } = {}): EventOf<'messenger.postback.received'> {
      const at = c.at ?? T0;
      return createEvent('messenger.postback.received', {
        ...envelope(at, conv(psid), c),
        data: { ...inbound(psid, at), mid: c.mid === undefined ? `m_${randomUUID()}` : c.mid, title: c.title ?? 'Get Started', payload: c.payload ?? 'GET_STARTED', referral: null, isGetStarted: true },
      });
    },

    reaction(psid: string, c: Common & { mid: string; emoji?: string; action?: 'react' | 'unreact' }): EventOf<'messenger.reaction.received'> {
      const at = c.at ?? T0;
      return createEvent('messenger.reaction.received', {
        ...envelope(at, conv(psid), c),
        data: { ...inbound(psid, at), mid: c.mid, reaction: c.action === 'unreact' ? null : 'love', emoji: c.action === 'unreact' ? null : (c.emoji ?? '❤️'), action: c.action ?? 'react' },
      });
    },

    delivery(psid: string, c: Common & { watermark: number; mids?: string[] }): EventOf<'messenger.delivery.received'> {
      const at = c.at ?? c.watermark;
      return createEvent('messenger.delivery.received', {
        ...envelope(at, conv(psid), c),
        data: { ...inbound(psid, at), mids: c.mids ?? [], watermark: c.watermark },
      });
    },

    read(psid: string, c: Common & { watermark: number }): EventOf<'messenger.read.received'> {
      const at = c.at ?? c.watermark;
      return createEvent('messenger.read.received', { ...envelope(at, conv(psid), c), data: { ...inbound(psid, at), watermark: c.watermark } });
    },

    referral(psid: string, c: Common = {}): EventOf<'messenger.referral.received'> {
      const at = c.at ?? T0;
      return createEvent('messenger.referral.received', {
        ...envelope(at, conv(psid), c),
        data: { ...inbound(psid, at), ref: 'summer-sale', source: 'SHORTLINK', referralType: 'OPEN_THREAD' },
      });
    },

    comment(
      psid: string,
      c: Common & { commentId: string; rootCommentId?: string; message?: string | null; verb?: string; fromPage?: boolean; name?: string | null },
    ): EventOf<'messenger.comment.received'> {
      const at = c.at ?? T0;
      const root = c.rootCommentId ?? c.commentId;
      return createEvent('messenger.comment.received', {
        ...envelope(at, commentConversationId(pageId, root), c),
        data: {
          ...inbound(psid, at, c.name ?? null),
          channel: 'page_comment',
          commentId: c.commentId,
          postId: `${pageId}_post1`,
          parentId: root === c.commentId ? null : root,
          rootCommentId: root,
          verb: c.verb ?? 'add',
          message: c.message === undefined ? 'Is this still available?' : c.message,
          fromPage: c.fromPage ?? false,
        },
      });
    },

    unsupported(c: Common = {}): EventOf<'messenger.event.unsupported'> {
      const at = c.at ?? T0;
      return createEvent('messenger.event.unsupported', {
        ...envelope(at, null, c),
        data: { reason: 'unknown_field', field: 'messaging_optins', timestamp: at, raw: { optin: {} } },
      });
    },

    profile(psid: string, c: Common & { available: boolean; firstName?: string | null; lastName?: string | null; displayName: string; reason?: string | null }): EventOf<'messenger.customer.profile.updated'> {
      const at = c.at ?? T0;
      return createEvent('messenger.customer.profile.updated', {
        ...envelope(at, conv(psid), c),
        data: {
          customer: { psid, name: c.available ? c.displayName : null },
          channel: 'messenger',
          available: c.available,
          firstName: c.firstName ?? null,
          lastName: c.lastName ?? null,
          displayName: c.displayName,
          profilePicUrl: null,
          reason: c.reason ?? null,
        },
      });
    },

    replyRequested(psid: string, c: Common = {}): EventOf<'conversation.reply.requested'> {
      const at = c.at ?? T0;
      return createEvent('conversation.reply.requested', {
        ...envelope(at, conv(psid), c),
        data: {
          customer: { psid },
          channel: 'messenger',
          assistantId: 'assistant-1',
          responseDelay: 'short',
          replyAt: new Date(at + 10_000).toISOString(),
          replyWindowClosesAt: new Date(at + 86_400_000).toISOString(),
          triggerEventIds: ['e1'],
        },
      });
    },

    replySuppressed(psid: string, c: Common = {}): EventOf<'conversation.reply.suppressed'> {
      const at = c.at ?? T0;
      return createEvent('conversation.reply.suppressed', {
        ...envelope(at, conv(psid), c),
        data: { customer: { psid }, channel: 'messenger', triggerEventId: 'e1', reason: 'auto_reply_off', detail: null },
      });
    },

    escalated(psid: string, c: Common & { reason?: EventOf<'conversation.escalated'>['data']['reason']; by?: 'rules' | 'agent' | 'page_inbox'; conversationId?: string; channel?: 'messenger' | 'page_comment' } = {}): EventOf<'conversation.escalated'> {
      const at = c.at ?? T0;
      return createEvent('conversation.escalated', {
        ...envelope(at, c.conversationId ?? conv(psid), c),
        data: { customer: { psid }, channel: c.channel ?? 'messenger', reason: c.reason ?? 'keyword', detail: 'asked for a refund', by: c.by ?? 'rules', triggerEventId: null },
      });
    },

    resolved(psid: string, c: Common & { agentId?: string | null; conversationId?: string; channel?: 'messenger' | 'page_comment' } = {}): EventOf<'conversation.resolved'> {
      const at = c.at ?? T0;
      return createEvent('conversation.resolved', {
        ...envelope(at, c.conversationId ?? conv(psid), c),
        data: { customer: { psid }, channel: c.channel ?? 'messenger', by: 'agent', agentId: c.agentId ?? 'agent-7' },
      });
    },

    sendRequested(
      psid: string,
      c: Common & { outboundId: string; parts?: OutboundPart[]; author?: 'assistant' | 'agent' | 'page'; purpose?: 'reply' | 'greeting' | 'away' | 'manual'; sendAt?: number },
    ): EventOf<'outbound.send.requested'> {
      const at = c.at ?? T0;
      return createEvent('outbound.send.requested', {
        ...envelope(at, conv(psid), c),
        data: {
          outboundId: c.outboundId,
          customer: { psid },
          channel: 'messenger',
          commentId: null,
          author: c.author ?? 'assistant',
          purpose: c.purpose ?? 'reply',
          parts: c.parts ?? [{ text: 'Thanks for writing!' }],
          messagingType: 'RESPONSE',
          tag: null,
          sendAt: new Date(c.sendAt ?? at).toISOString(),
          typingIndicator: true,
          agentId: null,
        },
      });
    },

    sendCancelled(psid: string, c: Common & { outboundId: string }): EventOf<'outbound.send.cancelled'> {
      const at = c.at ?? T0;
      return createEvent('outbound.send.cancelled', { ...envelope(at, conv(psid), c), data: { outboundId: c.outboundId, customer: { psid }, reason: 'escalated' } });
    },

    scheduled(psid: string, c: Common & { outboundId: string; parts?: OutboundPart[]; author?: 'assistant' | 'agent' | 'page'; sendAt?: number }): EventOf<'outbound.message.scheduled'> {
      const at = c.at ?? T0;
      return createEvent('outbound.message.scheduled', {
        ...envelope(at, conv(psid), c),
        data: { outboundId: c.outboundId, customer: { psid }, channel: 'messenger', author: c.author ?? 'assistant', parts: c.parts ?? [{ text: 'Thanks for writing!' }], sendAt: new Date(c.sendAt ?? at).toISOString() },
      });
    },

    sent(
      psid: string,
      c: Common & { outboundId: string; mid: string | null; part?: number; partCount?: number; content?: OutboundPart; author?: 'assistant' | 'agent' | 'page'; sentAt?: number },
    ): EventOf<'outbound.message.sent'> {
      const at = c.at ?? c.sentAt ?? T0;
      return createEvent('outbound.message.sent', {
        ...envelope(at, conv(psid), c),
        data: {
          outboundId: c.outboundId,
          customer: { psid },
          channel: 'messenger',
          author: c.author ?? 'assistant',
          part: c.part ?? 0,
          partCount: c.partCount ?? 1,
          mid: c.mid,
          content: c.content ?? { text: 'Thanks for writing!' },
          messagingType: 'RESPONSE',
          tag: null,
          sentAt: new Date(c.sentAt ?? at).toISOString(),
        },
      });
    },

    failed(psid: string, c: Common & { outboundId: string; part?: number | null; reason?: string; graphCode?: number | null }): EventOf<'outbound.message.failed'> {
      const at = c.at ?? T0;
      return createEvent('outbound.message.failed', {
        ...envelope(at, conv(psid), c),
        data: {
          outboundId: c.outboundId,
          customer: { psid },
          channel: 'messenger',
          part: c.part === undefined ? null : c.part,
          category: 'window_closed',
          reason: c.reason ?? 'The customer last wrote more than 24 hours ago, so Messenger no longer accepts automated replies.',
          graphCode: c.graphCode === undefined ? 10 : c.graphCode,
          graphSubcode: 2018278,
        },
      });
    },

    deferred(psid: string, c: Common & { outboundId: string; retryAt?: number | null }): EventOf<'outbound.message.deferred'> {
      const at = c.at ?? T0;
      return createEvent('outbound.message.deferred', {
        ...envelope(at, conv(psid), c),
        data: {
          outboundId: c.outboundId,
          customer: { psid },
          channel: 'messenger',
          reason: 'page_needs_reconnect',
          detail: 'The Page must be reconnected; the message goes out after that.',
          retryAt: c.retryAt ? new Date(c.retryAt).toISOString() : null,
        },
      });
    },

    messageCancelled(psid: string, c: Common & { outboundId: string; partsSent?: number }): EventOf<'outbound.message.cancelled'> {
      const at = c.at ?? T0;
      return createEvent('outbound.message.cancelled', {
        ...envelope(at, conv(psid), c),
        data: { outboundId: c.outboundId, customer: { psid }, channel: 'messenger', reason: 'escalated', partsSent: c.partsSent ?? 0 },
      });
    },

    tokenRejected(c: Common = {}): EventOf<'outbound.token.rejected'> {
      const at = c.at ?? T0;
      return createEvent('outbound.token.rejected', { ...envelope(at, null, c), data: { graphCode: 190, graphSubcode: 460, detail: 'password changed' } });
    },

    pageConnected(c: Common & { accountId: string; name?: string }): EventOf<'page.connected'> {
      const at = c.at ?? T0;
      return createEvent('page.connected', {
        ...envelope(at, null, c),
        accountId: c.accountId,
        data: { name: c.name ?? 'Sunny Bakery', subscribedFields: ['messages'], reconnect: false },
      });
    },

    pageConnectionChanged(c: Common & { accountId?: string | null; status: EventOf<'page.connection.changed'>['data']['status'] }): EventOf<'page.connection.changed'> {
      const at = c.at ?? T0;
      return createEvent('page.connection.changed', {
        ...envelope(at, null, c),
        accountId: c.accountId ?? options.accountId ?? null,
        data: { status: c.status, previousStatus: 'connected', reason: 'Meta rejected the Page token', action: 'Reconnect the Page', graphCode: 190, graphSubcode: 460 },
      });
    },

    pageDisconnected(c: Common & { accountId?: string | null } = {}): EventOf<'page.disconnected'> {
      const at = c.at ?? T0;
      return createEvent('page.disconnected', { ...envelope(at, null, c), accountId: c.accountId ?? options.accountId ?? null, data: { reason: 'Disconnected by an admin' } });
    },

    settingsChanged(c: Common = {}): EventOf<'page.settings.changed'> {
      const at = c.at ?? T0;
      return createEvent('page.settings.changed', {
        ...envelope(at, null, c),
        data: { settings: { autoReply: true, assistantId: null, responseDelay: 'instant', greetingMessage: null, awayMessage: null, escalationKeywords: [] } },
      });
    },
  };
}

export type InboxEvents = ReturnType<typeof inboxEvents>;

export function imageAttachment(url: string): InboundAttachment {
  return { type: 'image', metaType: 'image', url, title: null, stickerId: null, coordinates: null };
}
