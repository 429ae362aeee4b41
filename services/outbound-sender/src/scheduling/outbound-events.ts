// The events outbound-sender produces, built from a send and what happened to it. Pure: time is passed
// in and ids are deterministic, so an event written twice (a retry after a crash) is the same event
// and consumers apply it once.
import { createEvent, deterministicId } from '@parley/contracts';
import type { EventOf, OutboundPart, ParleyEvent } from '@parley/contracts';
import type { DeferReason, Send, SendPart } from './send.ts';

export type FailureCategory = EventOf<'outbound.message.failed'>['data']['category'];

function envelope(send: Send, id: string, now: Date) {
  return {
    id,
    pageId: send.pageId,
    accountId: send.accountId,
    conversationId: send.conversationId,
    occurredAt: now,
    recordedAt: now,
    causationId: send.commandEventId,
    correlationId: send.correlationId,
  };
}

const customerOf = (send: Send) => ({ psid: send.customer.psid, name: send.customer.name });

export function scheduledEvent(send: Send, parts: ReadonlyArray<SendPart>, now: Date): ParleyEvent {
  return createEvent('outbound.message.scheduled', {
    ...envelope(send, deterministicId('outbound.message.scheduled', send.outboundId), now),
    data: {
      outboundId: send.outboundId,
      customer: customerOf(send),
      channel: send.channel,
      author: send.author,
      parts: parts.map((p) => p.content),
      sendAt: send.sendAt.toISOString(),
    },
  });
}

export function sentEvent(send: Send, part: number, partCount: number, content: OutboundPart, mid: string, now: Date): ParleyEvent {
  return createEvent('outbound.message.sent', {
    ...envelope(send, deterministicId('outbound.message.sent', send.outboundId, part), now),
    data: {
      outboundId: send.outboundId,
      customer: customerOf(send),
      channel: send.channel,
      author: send.author,
      part,
      partCount,
      mid,
      content,
      messagingType: send.messagingType,
      tag: send.tag,
      sentAt: now.toISOString(),
    },
  });
}

export type Failure = {
  readonly category: FailureCategory;
  readonly reason: string;
  readonly graphCode: number | null;
  readonly graphSubcode: number | null;
};

/** One failure per send: it stops the send (later parts are never sent). */
export function failedEvent(send: Send, part: number | null, failure: Failure, now: Date): ParleyEvent {
  return createEvent('outbound.message.failed', {
    ...envelope(send, deterministicId('outbound.message.failed', send.outboundId), now),
    data: {
      outboundId: send.outboundId,
      customer: customerOf(send),
      channel: send.channel,
      part,
      category: failure.category,
      reason: failure.reason,
      graphCode: failure.graphCode,
      graphSubcode: failure.graphSubcode,
    },
  });
}

/** `sequence` numbers the deferrals of one send, so each announcement is its own event. */
export function deferredEvent(send: Send, sequence: number, reason: DeferReason, detail: string | null, retryAt: Date | null, now: Date): ParleyEvent {
  return createEvent('outbound.message.deferred', {
    ...envelope(send, deterministicId('outbound.message.deferred', send.outboundId, sequence), now),
    data: {
      outboundId: send.outboundId,
      customer: customerOf(send),
      channel: send.channel,
      reason,
      detail,
      retryAt: retryAt === null ? null : retryAt.toISOString(),
    },
  });
}

export function cancelledEvent(send: Send, reason: string, partsSent: number, now: Date): ParleyEvent {
  return createEvent('outbound.message.cancelled', {
    ...envelope(send, deterministicId('outbound.message.cancelled', send.outboundId), now),
    data: { outboundId: send.outboundId, customer: customerOf(send), channel: send.channel, reason, partsSent },
  });
}

/**
 * Meta rejected the Page's token while sending this send. A Page-level fact, keyed by the Page (no
 * conversation). One per rejected token and send: the token fingerprint keeps ids distinct.
 */
export function tokenRejectedEvent(
  send: Send,
  tokenFingerprint: string,
  rejection: { graphCode: number; graphSubcode: number | null; detail: string },
  now: Date,
): ParleyEvent {
  return createEvent('outbound.token.rejected', {
    ...envelope(send, deterministicId('outbound.token.rejected', send.outboundId, tokenFingerprint), now),
    conversationId: null,
    data: rejection,
  });
}
