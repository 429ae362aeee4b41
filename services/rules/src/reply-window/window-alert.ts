import { createEvent, deterministicId } from '@parley/contracts';
import type { EventOf } from '@parley/contracts';
import { ms, pendingWindowAlertClosesAt } from '../conversations/conversation-state.ts';
import type { ConversationState } from '../conversations/conversation-state.ts';

/** Default lead time: escalate when one hour of the reply window is left. */
export const DEFAULT_WINDOW_ALERT_LEAD_MS = 60 * 60 * 1000;
/**
 * After the window closed, a person may still answer with the HUMAN_AGENT tag for 7 days after the
 * customer's last message (6 days after a 24-hour window closes). A conversation found only then
 * (rules was down) is still escalated; after that, there is nothing a person can do in Messenger.
 */
export const LATE_ALERT_LIMIT_MS = 6 * 24 * 60 * 60 * 1000;

/**
 * The reply window of a customer who wrote and got no answer is about to close: escalate so that a
 * person answers in time. Once per inbound streak (see `windowAlertedFor`). Pure.
 */
export function decideWindowAlert(
  conversation: ConversationState,
  accountId: string | null,
  now: Date,
  leadMs: number,
): Array<EventOf<'conversation.escalated'>> {
  const closesAt = pendingWindowAlertClosesAt(conversation);
  if (closesAt === null || conversation.lastInboundAt === null) return [];
  const closes = ms(closesAt);
  if (now.getTime() < closes - leadMs || now.getTime() > closes + LATE_ALERT_LIMIT_MS) return [];
  const minutesLeft = Math.round((closes - now.getTime()) / 60_000);
  const detail =
    minutesLeft > 0
      ? `The customer has waited since ${conversation.lastInboundAt} without an answer; the reply window closes at ${closesAt} (in ${minutesLeft} min).`
      : `The customer has waited since ${conversation.lastInboundAt} without an answer; the reply window closed at ${closesAt} — only a person can still answer (HUMAN_AGENT tag, 7 days).`;
  const id = deterministicId('rules.window-closing', conversation.conversationId, conversation.lastInboundAt);
  return [
    createEvent('conversation.escalated', {
      id,
      pageId: conversation.pageId,
      accountId,
      conversationId: conversation.conversationId,
      occurredAt: now,
      recordedAt: now,
      causationId: conversation.lastInboundEventId,
      correlationId: conversation.lastInboundEventId,
      data: {
        customer: conversation.customer,
        channel: conversation.channel,
        reason: 'reply_window_closing',
        detail,
        by: 'rules',
        triggerEventId: conversation.lastInboundEventId,
      },
    }),
  ];
}
