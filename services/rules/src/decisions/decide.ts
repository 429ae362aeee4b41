import { createEvent, deterministicId } from '@parley/contracts';
import type { DataOf, EventOf, ParleyEvent } from '@parley/contracts';
import { addMs, isOurMid, maxInstant, ms, replyWindowMs } from '../conversations/conversation-state.ts';
import type { ConversationState } from '../conversations/conversation-state.ts';
import { assessEscalation } from '../escalation/detector.ts';
import { connectionVerdict, effectiveSettings } from '../pages/page-state.ts';
import type { PageState } from '../pages/page-state.ts';
import { drawResponseDelayMs } from './delay.ts';
import type { Random } from './delay.ts';

export type DecisionPolicy = {
  /** Our Meta app: an echo from another app (or none) whose mid we did not send is a person in Meta's inbox. */
  metaAppId: string;
  /** Away messages go out at most once per conversation per this long. */
  awayMessageIntervalMs: number;
};

export const DEFAULT_AWAY_MESSAGE_INTERVAL_MS = 24 * 60 * 60 * 1000;

/** What `decide` can emit: one decision, and possibly an escalation and page sends (greeting, away). */
export type RulesOutput =
  | EventOf<'conversation.reply.requested'>
  | EventOf<'conversation.reply.suppressed'>
  | EventOf<'conversation.escalated'>
  | EventOf<'outbound.send.requested'>;

type SuppressionReason = DataOf<'conversation.reply.suppressed'>['reason'];

/** Inbound events that get a decision. Others (deliveries, reads, reactions, referrals, unsupported, profiles) get none. */
type DecidedInbound =
  | EventOf<'messenger.message.received'>
  | EventOf<'messenger.postback.received'>
  | EventOf<'messenger.comment.received'>
  | EventOf<'messenger.message.echoed'>;

/**
 * The rules for one inbound event: given what rules knows about the conversation and its Page, at
 * `now`, which events follow. Pure: time and randomness are passed in.
 *
 * Messages, postbacks, comments and echoes get exactly one decision (`conversation.reply.requested`
 * or `conversation.reply.suppressed` with a reason), caused by the inbound event (same correlation).
 * Deliveries, reads, reactions, referrals, profile updates and unsupported events get none: they are
 * never answered and a decision for each would flood the decisions topic (reactions and referrals
 * still renew the reply window, see evolveConversation).
 *
 * The checks, in order (the first that applies gives the reason):
 * 1. the Page is unknown, disconnected (`page_disconnected`) or revoked (`page_needs_reconnect`);
 *    a Page that only needs reconnecting is still answered: outbound-sender holds the send;
 * 2. the thread is controlled by another app (`standby`); 3. the sender is throttled (`throttled_sender`);
 * 4. the event's own reply window is over, e.g. a replay of an old event (`outside_reply_window`);
 * 5. the conversation is escalated (`escalated`); 6. this message escalates it (keyword, request
 *    for a person, frustration) → `conversation.escalated` + `escalated`;
 * 7. greeting (first contact or Get Started, Messenger only), then auto-reply off (`auto_reply_off`,
 *    with the away message at most once a day), no assistant (`no_assistant`), Get Started already
 *    answered by the greeting (`not_answerable`), the drawn reply time past the window
 *    (`outside_reply_window`); else the reply is requested.
 */
export function decide(
  inbound: ParleyEvent,
  conversation: ConversationState,
  page: PageState | null,
  now: Date,
  random: Random,
  policy: DecisionPolicy,
): RulesOutput[] {
  switch (inbound.type) {
    case 'messenger.message.received':
      return decideAnswerable(inbound, inbound.data.text, { conversation, page, now, random, policy, firstContact: !conversation.firstContactSeen, getStarted: false });
    case 'messenger.postback.received':
      return decideAnswerable(inbound, inbound.data.title, { conversation, page, now, random, policy, firstContact: false, getStarted: inbound.data.isGetStarted });
    case 'messenger.comment.received':
      if (inbound.data.fromPage) return [suppressed(inbound, page, now, 'not_answerable', 'The Page\'s own comment is never answered.')];
      if (inbound.data.verb !== 'add') return [suppressed(inbound, page, now, 'not_answerable', `A comment was ${inbound.data.verb === 'remove' ? 'removed' : inbound.data.verb === 'edited' ? 'edited' : `changed (${inbound.data.verb})`}; only new comments are answered.`)];
      return decideAnswerable(inbound, inbound.data.message, { conversation, page, now, random, policy, firstContact: false, getStarted: false });
    case 'messenger.message.echoed':
      return decideEcho(inbound, conversation, page, now, policy);
    case 'messenger.reaction.received':
    case 'messenger.delivery.received':
    case 'messenger.read.received':
    case 'messenger.referral.received':
    case 'messenger.event.unsupported':
    case 'messenger.customer.profile.updated':
      return [];
    case 'conversation.reply.requested':
    case 'conversation.reply.suppressed':
    case 'conversation.escalated':
    case 'conversation.resolved':
    case 'outbound.send.requested':
    case 'outbound.send.cancelled':
    case 'outbound.message.scheduled':
    case 'outbound.message.sent':
    case 'outbound.message.failed':
    case 'outbound.message.deferred':
    case 'outbound.message.cancelled':
    case 'outbound.token.rejected':
    case 'page.connected':
    case 'page.connection.changed':
    case 'page.disconnected':
    case 'page.settings.changed':
      // Not inbound: nothing to decide (the consumers only hand inbound events to decide).
      return [];
    default: {
      const unknown: never = inbound;
      throw new Error(`Unhandled event ${(unknown as { type: string }).type}`);
    }
  }
}

type Context = {
  conversation: ConversationState;
  page: PageState | null;
  now: Date;
  random: Random;
  policy: DecisionPolicy;
  firstContact: boolean;
  getStarted: boolean;
};

function decideAnswerable(
  inbound: EventOf<'messenger.message.received'> | EventOf<'messenger.postback.received'> | EventOf<'messenger.comment.received'>,
  text: string | null,
  { conversation, page, now, random, policy, firstContact, getStarted }: Context,
): RulesOutput[] {
  const connection = connectionVerdict(page);
  if (connection === 'page_disconnected') {
    return [suppressed(inbound, page, now, 'page_disconnected', page?.status === 'disconnected' ? 'The Page was disconnected.' : 'The Page is not connected to any account.')];
  }
  if (connection === 'page_needs_reconnect') {
    return [suppressed(inbound, page, now, 'page_needs_reconnect', 'The Page\'s permissions were revoked; an admin must reconnect it.')];
  }
  if (inbound.data.standby) return [suppressed(inbound, page, now, 'standby', 'Another app controls this thread (handover protocol).')];
  if (inbound.data.throttled) return [suppressed(inbound, page, now, 'throttled_sender', 'The sender is over the webhook rate limit: recorded, not answered.')];

  const windowMs = replyWindowMs(inbound.data.channel);
  // The event's own window, judged against now: a replay of an old event must not be answered.
  const eventWindowClosesAt = addMs(inbound.occurredAt, windowMs);
  if (now.getTime() >= ms(eventWindowClosesAt)) {
    return [suppressed(inbound, page, now, 'outside_reply_window', `The reply window of this event closed at ${eventWindowClosesAt}.`)];
  }
  if (conversation.escalation !== null) {
    return [suppressed(inbound, page, now, 'escalated', `The conversation was escalated (${conversation.escalation.reason}) at ${conversation.escalation.at}; a person handles it until it is resolved.`)];
  }

  const settings = effectiveSettings(page!);
  const assessment = assessEscalation(text, {
    keywords: settings.escalationKeywords,
    previousMessages: conversation.recentMessages.filter((m) => m.eventId !== inbound.id).map((m) => m.text),
  });
  if (assessment.escalate && assessment.reason !== null) {
    return [
      escalated(inbound, page, now, assessment.reason, assessment.detail, 'rules'),
      suppressed(inbound, page, now, 'escalated', assessment.detail),
    ];
  }

  const sends: RulesOutput[] = [];
  const messenger = inbound.data.channel === 'messenger';
  // Greetings and away messages are Messenger sends: a comment allows one private reply only, kept for the answer.
  const greets = messenger && settings.greetingMessage !== null && settings.greetingMessage.trim() !== '' && (firstContact || getStarted);
  if (greets) sends.push(pageSend(inbound, page, now, 'greeting', settings.greetingMessage!, now));

  if (!settings.autoReply) {
    const awayDue =
      messenger &&
      settings.awayMessage !== null &&
      settings.awayMessage.trim() !== '' &&
      (conversation.awayMessageSentAt === null || now.getTime() - ms(conversation.awayMessageSentAt) >= policy.awayMessageIntervalMs);
    // After a greeting, one second later so that the customer reads them in order.
    if (awayDue) sends.push(pageSend(inbound, page, now, 'away', settings.awayMessage!, new Date(now.getTime() + (greets ? 1_000 : 0))));
    return [suppressed(inbound, page, now, 'auto_reply_off', 'Automatic replies are off for this Page.'), ...sends];
  }
  if (settings.assistantId === null) {
    return [suppressed(inbound, page, now, 'no_assistant', 'No assistant is selected for this Page.'), ...sends];
  }
  if (getStarted && greets) {
    return [suppressed(inbound, page, now, 'not_answerable', 'Get Started is answered by the Page\'s greeting.'), ...sends];
  }

  const delay = drawResponseDelayMs(settings.responseDelay, random);
  const replyAt = addMs(inbound.recordedAt, delay);
  if (ms(replyAt) >= ms(eventWindowClosesAt)) {
    return [suppressed(inbound, page, now, 'outside_reply_window', `The reply would be due at ${replyAt}, after the window closes at ${eventWindowClosesAt}.`), ...sends];
  }
  const replyWindowClosesAt = addMs(maxInstant(conversation.lastInboundAt, inbound.occurredAt)!, windowMs);
  const requested = createEvent('conversation.reply.requested', {
    ...envelope(inbound, page, now, deterministicId('rules.decision', inbound.id)),
    data: {
      customer: inbound.data.customer,
      channel: inbound.data.channel,
      assistantId: settings.assistantId,
      responseDelay: settings.responseDelay,
      replyAt,
      replyWindowClosesAt,
      triggerEventIds: [inbound.id],
    },
  });
  return [requested, ...sends];
}

function decideEcho(
  echo: EventOf<'messenger.message.echoed'>,
  conversation: ConversationState,
  page: PageState | null,
  now: Date,
  policy: DecisionPolicy,
): RulesOutput[] {
  const decision = suppressed(echo, page, now, 'page_echo', 'The Page\'s own message is never answered.');
  const ours = (echo.data.appId !== null && echo.data.appId === policy.metaAppId) || isOurMid(conversation, echo.data.mid);
  // An echo older than the window is history (a replay): a person answering back then is not news now.
  const recent = now.getTime() - ms(echo.occurredAt) < replyWindowMs(echo.data.channel);
  if (ours || conversation.escalation !== null || !recent) return [decision];
  const app = echo.data.appId === null ? 'no app id' : `app ${echo.data.appId}`;
  return [escalated(echo, page, now, 'human_took_over', `A person replied from Meta's Page inbox (${app}); the assistant stops answering.`, 'page_inbox'), decision];
}

function envelope(inbound: ParleyEvent, page: PageState | null, now: Date, id: string) {
  return {
    id,
    pageId: inbound.pageId,
    accountId: page?.accountId ?? inbound.accountId ?? null,
    conversationId: inbound.conversationId,
    occurredAt: now,
    recordedAt: now,
    causationId: inbound.id,
    correlationId: inbound.correlationId ?? inbound.id,
  };
}

function suppressed(inbound: DecidedInbound, page: PageState | null, now: Date, reason: SuppressionReason, detail: string | null): EventOf<'conversation.reply.suppressed'> {
  return createEvent('conversation.reply.suppressed', {
    ...envelope(inbound, page, now, deterministicId('rules.decision', inbound.id)),
    data: { customer: inbound.data.customer, channel: inbound.data.channel, triggerEventId: inbound.id, reason, detail },
  });
}

function escalated(
  inbound: DecidedInbound,
  page: PageState | null,
  now: Date,
  reason: DataOf<'conversation.escalated'>['reason'],
  detail: string | null,
  by: DataOf<'conversation.escalated'>['by'],
): EventOf<'conversation.escalated'> {
  return createEvent('conversation.escalated', {
    ...envelope(inbound, page, now, deterministicId('rules.escalation', inbound.id)),
    data: { customer: inbound.data.customer, channel: inbound.data.channel, reason, detail, by, triggerEventId: inbound.id },
  });
}

function pageSend(inbound: DecidedInbound, page: PageState | null, now: Date, purpose: 'greeting' | 'away', text: string, sendAt: Date): EventOf<'outbound.send.requested'> {
  // Deterministic from the trigger: a replayed inbound event never greets twice (outbound-sender dedupes by outboundId).
  const outboundId = deterministicId(purpose, inbound.id);
  return createEvent('outbound.send.requested', {
    ...envelope(inbound, page, now, deterministicId('rules.send', outboundId)),
    data: {
      outboundId,
      customer: inbound.data.customer,
      channel: inbound.data.channel,
      commentId: null,
      author: 'page',
      purpose,
      parts: [{ text: text.trim() }],
      messagingType: 'RESPONSE',
      tag: null,
      sendAt: sendAt.toISOString(),
      typingIndicator: false,
      agentId: null,
    },
  });
}
