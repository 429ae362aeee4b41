import { createEvent, deterministicId } from '@parley/contracts';
import type { EventOf } from '@parley/contracts';
import { assistantAccess } from '../assistants/assistant.ts';
import type { Assistant } from '../assistants/assistant.ts';

/**
 * A conversation's pending reply: the one answer the assistant owes the customer. Pure rules:
 * - `conversation.reply.requested` creates it, or merges into it: several customer messages that
 *   arrive before it is due get ONE answer to all of them, due at the first request's `replyAt`
 *   (the Page's delay is measured from the customer's first unanswered message, not reset by each
 *   new one). The latest request's assistant and reply window win (settings may have changed).
 * - `conversation.escalated` cancels it; until `conversation.resolved`, a request that still arrives
 *   (rules decided before it saw the escalation) is refused with `conversation.reply.suppressed` (`escalated`).
 * - A request whose reply window has already closed is history being replayed (a new consumer
 *   group reading the log): ignored, never answered.
 * - A duplicated request (redelivery) is filtered by event id before these rules run; merging the
 *   same triggers twice changes nothing anyway.
 */

export type Channel = 'messenger' | 'page_comment';

export type PendingReply = {
  conversationId: string;
  pageId: string;
  /** The Page's account, when the request's envelope carried it. */
  accountId: string | null;
  channel: Channel;
  customer: { psid: string; name?: string | null | undefined };
  assistantId: string;
  /** The first request's `replyAt`: when the customer should have the answer. */
  replyAt: string;
  /** When the poller takes it next: `replyAt`, later while waiting for context or after a failure. */
  dueAt: string;
  replyWindowClosesAt: string;
  /** The inbound events answered, in order of arrival; the first names the reply (its outboundId). */
  triggerEventIds: string[];
  requestEventIds: string[];
  correlationId: string | null;
  /** Bumped by every merge, so that an answer built before the merge is recognised as stale. */
  version: number;
};

export type ConversationReplyState = { escalated: boolean; pending: PendingReply | null };

export const initialReplyState: ConversationReplyState = { escalated: false, pending: null };

export type DecisionEvent = EventOf<'conversation.reply.requested'> | EventOf<'conversation.escalated'> | EventOf<'conversation.resolved'>;

export type ReplyChange =
  | { type: 'reply_scheduled'; pending: PendingReply }
  | { type: 'reply_merged'; pending: PendingReply; addedTriggerEventIds: string[] }
  | { type: 'reply_cancelled'; cancelled: PendingReply; reason: 'escalated' }
  | { type: 'reply_refused'; request: EventOf<'conversation.reply.requested'>; reason: 'escalated' }
  | { type: 'request_ignored'; requestEventId: string; reason: 'reply_window_closed' }
  | { type: 'conversation_escalated' }
  | { type: 'conversation_resolved' };

/** What a decision event changes in a conversation's reply state. */
export function decide(event: DecisionEvent, state: ConversationReplyState, now: Date): ReplyChange[] {
  switch (event.type) {
    case 'conversation.reply.requested': {
      if (Date.parse(event.data.replyWindowClosesAt) <= now.getTime()) {
        return [{ type: 'request_ignored', requestEventId: event.id, reason: 'reply_window_closed' }];
      }
      if (state.escalated) return [{ type: 'reply_refused', request: event, reason: 'escalated' }];
      if (state.pending === null) return [{ type: 'reply_scheduled', pending: pendingFrom(event) }];
      return [merge(state.pending, event)];
    }
    case 'conversation.escalated':
      return [
        ...(state.pending ? [{ type: 'reply_cancelled' as const, cancelled: state.pending, reason: 'escalated' as const }] : []),
        { type: 'conversation_escalated' },
      ];
    case 'conversation.resolved':
      return [{ type: 'conversation_resolved' }];
    default: {
      const unknown: never = event;
      throw new Error(`Unknown decision event ${JSON.stringify(unknown)}`);
    }
  }
}

export function evolve(state: ConversationReplyState, change: ReplyChange): ConversationReplyState {
  switch (change.type) {
    case 'reply_scheduled':
    case 'reply_merged':
      return { ...state, pending: change.pending };
    case 'reply_cancelled':
      return { ...state, pending: null };
    case 'conversation_escalated':
      return { ...state, escalated: true };
    case 'conversation_resolved':
      return { ...state, escalated: false };
    case 'reply_refused':
    case 'request_ignored':
      return state;
    default: {
      const unknown: never = change;
      throw new Error(`Unknown reply change ${JSON.stringify(unknown)}`);
    }
  }
}

function pendingFrom(event: EventOf<'conversation.reply.requested'>): PendingReply {
  return {
    conversationId: conversationIdOf(event),
    pageId: event.pageId,
    accountId: event.accountId,
    channel: event.data.channel,
    customer: { psid: event.data.customer.psid, name: event.data.customer.name ?? null },
    assistantId: event.data.assistantId,
    replyAt: new Date(event.data.replyAt).toISOString(),
    dueAt: new Date(event.data.replyAt).toISOString(),
    replyWindowClosesAt: new Date(event.data.replyWindowClosesAt).toISOString(),
    triggerEventIds: [...new Set(event.data.triggerEventIds)],
    requestEventIds: [event.id],
    correlationId: event.correlationId ?? event.id,
    version: 1,
  };
}

function merge(pending: PendingReply, event: EventOf<'conversation.reply.requested'>): ReplyChange {
  const added = event.data.triggerEventIds.filter((id, index, all) => !pending.triggerEventIds.includes(id) && all.indexOf(id) === index);
  const closes = Math.max(Date.parse(pending.replyWindowClosesAt), Date.parse(event.data.replyWindowClosesAt));
  return {
    type: 'reply_merged',
    addedTriggerEventIds: added,
    pending: {
      ...pending,
      accountId: event.accountId ?? pending.accountId,
      customer: { psid: pending.customer.psid, name: event.data.customer.name ?? pending.customer.name ?? null },
      assistantId: event.data.assistantId,
      replyWindowClosesAt: new Date(closes).toISOString(),
      triggerEventIds: [...pending.triggerEventIds, ...added],
      requestEventIds: pending.requestEventIds.includes(event.id) ? pending.requestEventIds : [...pending.requestEventIds, event.id],
      version: pending.version + 1,
    },
  };
}

export function conversationIdOf(event: DecisionEvent): string {
  // Rules always sets it; the Messenger form is the only one derivable without it.
  return event.conversationId ?? `${event.pageId}:${event.data.customer.psid}`;
}

// ---------------------------------------------------------------------------------------------
// At the due time
// ---------------------------------------------------------------------------------------------

export type DueSettings = {
  /** A reply this late is not sent (it would answer a conversation that has moved on). */
  maxLatenessMs: number;
  /** How long past `replyAt` to wait for the trigger messages to reach the context. */
  contextWaitMs: number;
  /** How soon to look again while waiting for context. */
  contextRetryMs: number;
};

export type DueInput = {
  pending: PendingReply;
  now: Date;
  assistant: Pick<Assistant, 'accountId' | 'visibility'> | null;
  /** The account of the Page (from the request, else from page.events.v1); null when unknown. */
  pageAccountId: string | null;
  /** Event ids of the conversation's stored context. */
  contextEventIds: ReadonlySet<string>;
  settings: DueSettings;
};

export type SuppressionReason = 'no_assistant' | 'assistant_private' | 'outside_reply_window' | 'not_answerable';

export type DueDecision =
  | { kind: 'suppress'; reason: SuppressionReason; detail: string }
  | { kind: 'wait_for_context'; dueAt: string; missing: string[] }
  | { kind: 'answer' };

/**
 * What to do with a due reply. The trigger messages are consumed from messenger.inbound.v1 by another
 * consumer than the decision, so with an instant reply the decision can be due before its message is
 * in the context: the reply waits for it, briefly, then answers with what there is.
 */
export function decideAtDueTime(input: DueInput): DueDecision {
  const { pending, now, settings } = input;
  if (Date.parse(pending.replyWindowClosesAt) <= now.getTime()) {
    return { kind: 'suppress', reason: 'outside_reply_window', detail: `The reply window closed at ${pending.replyWindowClosesAt}.` };
  }
  const lateness = now.getTime() - Date.parse(pending.replyAt);
  if (lateness > settings.maxLatenessMs) {
    return { kind: 'suppress', reason: 'not_answerable', detail: `The reply was due at ${pending.replyAt}, ${Math.round(lateness / 60_000)} minutes ago: too late to answer.` };
  }
  const access = assistantAccess(input.assistant, input.pageAccountId);
  switch (access) {
    case 'no_assistant':
      return { kind: 'suppress', reason: 'no_assistant', detail: `No assistant ${pending.assistantId}.` };
    case 'assistant_private':
      return {
        kind: 'suppress',
        reason: 'assistant_private',
        detail:
          input.pageAccountId === null
            ? `Assistant ${pending.assistantId} is private and the Page's account is not known.`
            : `Assistant ${pending.assistantId} is private to another account.`,
      };
    case 'allowed':
      break;
    default: {
      const unknown: never = access;
      throw new Error(`Unknown access ${String(unknown)}`);
    }
  }
  const missing = pending.triggerEventIds.filter((id) => !input.contextEventIds.has(id));
  if (missing.length > 0 && lateness < settings.contextWaitMs) {
    return { kind: 'wait_for_context', dueAt: new Date(now.getTime() + settings.contextRetryMs).toISOString(), missing };
  }
  return { kind: 'answer' };
}

// ---------------------------------------------------------------------------------------------
// What is published
// ---------------------------------------------------------------------------------------------

/** The reply's outboundId: from its first trigger, so a crash between publishing and forgetting the reply never sends twice. */
export function outboundIdOf(pending: PendingReply): string {
  return deterministicId('reply', pending.triggerEventIds[0]!);
}

/** `outbound.send.requested` for the assistant's answer: a reply inside the window, never tagged, sent now with typing on. */
export function sendCommandFor(
  pending: PendingReply,
  parts: ReadonlyArray<string>,
  context: { now: Date; accountId: string | null; commentId: string | null },
): EventOf<'outbound.send.requested'> {
  const outboundId = outboundIdOf(pending);
  return createEvent('outbound.send.requested', {
    id: deterministicId('outbound.send.requested', outboundId),
    pageId: pending.pageId,
    conversationId: pending.conversationId,
    accountId: context.accountId,
    causationId: pending.requestEventIds[pending.requestEventIds.length - 1] ?? null,
    correlationId: pending.correlationId,
    occurredAt: context.now,
    recordedAt: context.now,
    data: {
      outboundId,
      customer: pending.customer,
      channel: pending.channel,
      commentId: pending.channel === 'page_comment' ? context.commentId : null,
      author: 'assistant',
      purpose: 'reply',
      parts: parts.map((text) => ({ text })),
      messagingType: 'RESPONSE',
      tag: null,
      sendAt: context.now.toISOString(),
      // The customer's window as rules computed it: outbound-sender fails the send as window_closed
      // without calling Meta once it has passed (else it would assume sendAt + 24 h).
      replyWindowClosesAt: pending.replyWindowClosesAt,
      typingIndicator: true,
      agentId: null,
    },
  });
}

/** One `conversation.reply.suppressed` per trigger: each inbound event gets exactly one outcome. */
export function suppressionsFor(
  pending: Pick<PendingReply, 'pageId' | 'conversationId' | 'customer' | 'channel' | 'triggerEventIds' | 'requestEventIds' | 'correlationId'>,
  reason: SuppressionReason | 'escalated',
  detail: string | null,
  context: { now: Date; accountId: string | null },
): EventOf<'conversation.reply.suppressed'>[] {
  return pending.triggerEventIds.map((triggerEventId) =>
    createEvent('conversation.reply.suppressed', {
      id: deterministicId('responder.reply.suppressed', triggerEventId, reason),
      pageId: pending.pageId,
      conversationId: pending.conversationId,
      accountId: context.accountId,
      causationId: pending.requestEventIds[pending.requestEventIds.length - 1] ?? null,
      correlationId: pending.correlationId,
      occurredAt: context.now,
      recordedAt: context.now,
      data: { customer: pending.customer, channel: pending.channel, triggerEventId, reason, detail },
    }),
  );
}

/** The suppressions for a request refused outright (the conversation is with a person). */
export function refusalsFor(request: EventOf<'conversation.reply.requested'>, now: Date): EventOf<'conversation.reply.suppressed'>[] {
  const pending = pendingFrom(request);
  return suppressionsFor(pending, 'escalated', 'The conversation is escalated to a person.', { now, accountId: request.accountId });
}
