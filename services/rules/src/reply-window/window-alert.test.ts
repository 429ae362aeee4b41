import { deterministicId } from '@parley/contracts';
import type { ParleyEvent } from '@parley/contracts';
import { evolveConversation, initialConversation } from '../conversations/conversation-state.ts';
import type { ConversationState } from '../conversations/conversation-state.ts';
import { HOUR, MINUTE, T0, at, escalatedByAgent, messageReceived, messageSent, resolved } from '../test-support/fixtures.ts';
import { DEFAULT_WINDOW_ALERT_LEAD_MS, decideWindowAlert } from './window-alert.ts';

const start = initialConversation({ conversationId: 'page-1:psid-1', pageId: 'page-1', channel: 'messenger', customer: { psid: 'psid-1', name: null } });

function given(...events: ParleyEvent[]): ConversationState {
  return events.reduce(evolveConversation, start);
}

const lead = DEFAULT_WINDOW_ALERT_LEAD_MS;

describe('reply window alert', () => {
  const message = messageReceived({ at: T0 });
  const waiting = given(message);

  it('does nothing while more than the lead time is left', () => {
    expect(decideWindowAlert(waiting, 'acct-1', at(23 * HOUR - MINUTE), lead)).toEqual([]);
  });

  it('escalates an unanswered customer when the lead time is left', () => {
    const events = decideWindowAlert(waiting, 'acct-1', at(23 * HOUR), lead);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      id: deterministicId('rules.window-closing', 'page-1:psid-1', T0.toISOString()),
      type: 'conversation.escalated',
      accountId: 'acct-1',
      conversationId: 'page-1:psid-1',
      causationId: message.id,
      data: { reason: 'reply_window_closing', by: 'rules', triggerEventId: message.id, customer: { psid: 'psid-1' }, channel: 'messenger' },
    });
    expect(events[0]!.data.detail).toContain('in 60 min');
  });

  it('honours a configured lead time', () => {
    expect(decideWindowAlert(waiting, 'acct-1', at(23 * HOUR), 30 * MINUTE)).toEqual([]);
    expect(decideWindowAlert(waiting, 'acct-1', at(23 * HOUR + 30 * MINUTE), 30 * MINUTE)).toHaveLength(1);
  });

  it('alerts once per inbound streak', () => {
    const alerted = decideWindowAlert(waiting, 'acct-1', at(23 * HOUR), lead).reduce(evolveConversation, waiting);
    expect(alerted.escalation?.reason).toBe('reply_window_closing');
    expect(decideWindowAlert(alerted, 'acct-1', at(23 * HOUR + MINUTE), lead)).toEqual([]);
    // Resolved by a person without answering: still no second alert for the same messages…
    const resolvedState = evolveConversation(alerted, resolved({ at: at(23 * HOUR + 2 * MINUTE) }));
    expect(decideWindowAlert(resolvedState, 'acct-1', at(23 * HOUR + 3 * MINUTE), lead)).toEqual([]);
    // …but the customer writing again starts a new streak.
    const again = evolveConversation(resolvedState, messageReceived({ at: at(23 * HOUR + 10 * MINUTE) }));
    expect(decideWindowAlert(again, 'acct-1', at(47 * HOUR + 10 * MINUTE), lead)).toHaveLength(1);
  });

  it('does not alert an answered or escalated conversation', () => {
    expect(decideWindowAlert(given(message, messageSent({ at: at(MINUTE) })), 'acct-1', at(23 * HOUR), lead)).toEqual([]);
    expect(decideWindowAlert(given(message, escalatedByAgent({ at: at(MINUTE) })), 'acct-1', at(23 * HOUR), lead)).toEqual([]);
    expect(decideWindowAlert(start, 'acct-1', at(23 * HOUR), lead)).toEqual([]);
  });

  it('still escalates a conversation found after the window closed (rules was down), while a person can answer', () => {
    const late = decideWindowAlert(waiting, 'acct-1', at(30 * HOUR), lead);
    expect(late).toHaveLength(1);
    expect(late[0]!.data.detail).toContain('closed');
    expect(decideWindowAlert(waiting, 'acct-1', at(8 * 24 * HOUR), lead)).toEqual([]);
  });

  it('measures the window from the latest customer message', () => {
    const later = given(message, messageReceived({ at: at(5 * HOUR) }));
    expect(decideWindowAlert(later, 'acct-1', at(23 * HOUR), lead)).toEqual([]);
    expect(decideWindowAlert(later, 'acct-1', at(28 * HOUR), lead)).toHaveLength(1);
  });
});
