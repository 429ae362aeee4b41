import { createEvent } from '@parley/contracts';
import type { ParleyEvent } from '@parley/contracts';
import {
  HOUR,
  MINUTE,
  T0,
  at,
  deliveryReceived,
  escalatedByAgent,
  messageEchoed,
  messageReceived,
  messageSent,
  postbackReceived,
  reactionReceived,
  resolved,
} from '../test-support/fixtures.ts';
import {
  OUR_MIDS_KEPT,
  RECENT_MESSAGES_KEPT,
  evolveConversation,
  initialConversation,
  isAwaitingAnswer,
  isOurMid,
  pendingWindowAlertClosesAt,
  replyWindowClosesAt,
} from './conversation-state.ts';
import type { ConversationState } from './conversation-state.ts';

const start = initialConversation({ conversationId: 'page-1:psid-1', pageId: 'page-1', channel: 'messenger', customer: { psid: 'psid-1', name: null } });

function given(...events: ParleyEvent[]): ConversationState {
  return events.reduce(evolveConversation, start);
}

describe('conversation state: the reply window', () => {
  it('opens with a customer message and closes 24 hours later', () => {
    const message = messageReceived({ at: T0 });
    const state = given(message);
    expect(state).toMatchObject({ lastInboundAt: T0.toISOString(), lastInboundEventId: message.id, firstContactSeen: true });
    expect(replyWindowClosesAt(state)).toBe(at(24 * HOUR).toISOString());
  });

  it('is renewed by a postback and a reaction, not by a removed reaction, a delivery or the Page\'s own echo', () => {
    expect(given(messageReceived({ at: T0 }), postbackReceived({ at: at(HOUR) })).lastInboundAt).toBe(at(HOUR).toISOString());
    expect(given(messageReceived({ at: T0 }), reactionReceived({ at: at(HOUR) })).lastInboundAt).toBe(at(HOUR).toISOString());
    expect(given(messageReceived({ at: T0 }), reactionReceived({ at: at(HOUR), action: 'unreact' })).lastInboundAt).toBe(T0.toISOString());
    expect(given(messageReceived({ at: T0 }), deliveryReceived({ at: at(HOUR) })).lastInboundAt).toBe(T0.toISOString());
    expect(given(messageReceived({ at: T0 }), messageEchoed({ at: at(HOUR) })).lastInboundAt).toBe(T0.toISOString());
  });

  it('does not move back when an older message arrives after a newer one', () => {
    const newer = messageReceived({ at: at(2 * HOUR) });
    const older = messageReceived({ at: at(HOUR) });
    const state = given(newer, older);
    expect(state.lastInboundAt).toBe(at(2 * HOUR).toISOString());
    expect(state.lastInboundEventId).toBe(newer.id);
    // …but the older text is remembered in time order.
    expect(state.recentMessages.map((m) => m.eventId)).toEqual([older.id, newer.id]);
  });

  it('changes nothing when the same event is applied twice', () => {
    const events: ParleyEvent[] = [
      messageReceived({ at: T0, text: 'hi' }),
      messageSent({ at: at(MINUTE) }),
      escalatedByAgent({ at: at(2 * MINUTE) }),
      resolved({ at: at(3 * MINUTE) }),
      postbackReceived({ at: at(4 * MINUTE), isGetStarted: true }),
    ];
    let state = start;
    for (const event of events) {
      const once = evolveConversation(state, event);
      expect(evolveConversation(once, event)).toEqual(once);
      state = once;
    }
    // And replaying the whole history on top of itself changes nothing either.
    expect(events.reduce(evolveConversation, state)).toEqual(state);
  });

  it('remembers only the recent customer texts', () => {
    const messages = Array.from({ length: RECENT_MESSAGES_KEPT + 3 }, (_, i) => messageReceived({ at: at(i * MINUTE), text: `message ${i}` }));
    const state = given(...messages);
    expect(state.recentMessages).toHaveLength(RECENT_MESSAGES_KEPT);
    expect(state.recentMessages.at(-1)!.text).toBe(`message ${RECENT_MESSAGES_KEPT + 2}`);
  });
});

describe('conversation state: answers', () => {
  it('is awaiting an answer after a customer message until the assistant or an agent sends one', () => {
    expect(isAwaitingAnswer(given(messageReceived({ at: T0 })))).toBe(true);
    expect(isAwaitingAnswer(given(messageReceived({ at: T0 }), messageSent({ at: at(MINUTE), author: 'assistant' })))).toBe(false);
    expect(isAwaitingAnswer(given(messageReceived({ at: T0 }), messageSent({ at: at(MINUTE), author: 'agent' })))).toBe(false);
    // A greeting or an away message (author page) answers nothing.
    expect(isAwaitingAnswer(given(messageReceived({ at: T0 }), messageSent({ at: at(MINUTE), author: 'page' })))).toBe(true);
    // An answer sent before the latest message does not answer it, whatever order they arrive in.
    expect(isAwaitingAnswer(given(messageSent({ at: at(MINUTE) }), messageReceived({ at: at(2 * MINUTE) })))).toBe(true);
    expect(isAwaitingAnswer(given(messageReceived({ at: at(2 * MINUTE) }), messageSent({ at: at(MINUTE) })))).toBe(true);
  });

  it('remembers the mids of our sends, a bounded number', () => {
    const sends = Array.from({ length: OUR_MIDS_KEPT + 5 }, (_, i) => messageSent({ at: at(i), mid: `mid.${i}` }));
    const state = given(...sends, sends[0]!);
    expect(state.ourMids).toHaveLength(OUR_MIDS_KEPT);
    expect(isOurMid(state, `mid.${OUR_MIDS_KEPT + 4}`)).toBe(true);
    expect(isOurMid(state, 'mid.0')).toBe(false);
  });

  it('records when an away message was sent', () => {
    const away = createEvent('outbound.send.requested', {
      id: 'away-1',
      pageId: 'page-1',
      conversationId: 'page-1:psid-1',
      occurredAt: T0,
      recordedAt: T0,
      data: {
        outboundId: 'o-1',
        customer: { psid: 'psid-1' },
        channel: 'messenger',
        commentId: null,
        author: 'page',
        purpose: 'away',
        parts: [{ text: 'away' }],
        messagingType: 'RESPONSE',
        tag: null,
        sendAt: at(MINUTE).toISOString(),
        typingIndicator: false,
        agentId: null,
      },
    });
    expect(given(away).awayMessageSentAt).toBe(at(MINUTE).toISOString());
  });
});

describe('conversation state: escalation', () => {
  it('is escalated until a person resolves it', () => {
    const escalation = escalatedByAgent({ at: at(MINUTE) });
    const escalated = given(messageReceived({ at: T0 }), escalation);
    expect(escalated.escalation).toEqual({ reason: 'agent', by: 'agent', at: at(MINUTE).toISOString(), eventId: escalation.id });
    expect(evolveConversation(escalated, resolved({ at: at(2 * MINUTE) })).escalation).toBeNull();
  });

  it('keeps the first escalation when escalated again', () => {
    const first = escalatedByAgent({ at: at(MINUTE) });
    expect(given(first, escalatedByAgent({ at: at(2 * MINUTE) })).escalation!.eventId).toBe(first.id);
  });

  it('is not ended by a resolution made before the escalation (it arrived late)', () => {
    const state = given(escalatedByAgent({ at: at(2 * MINUTE) }), resolved({ at: at(MINUTE) }));
    expect(state.escalation).not.toBeNull();
  });

  it('ignores an escalation older than the latest resolution (a replay)', () => {
    const state = given(resolved({ at: at(2 * MINUTE) }), escalatedByAgent({ at: at(MINUTE) }));
    expect(state.escalation).toBeNull();
  });
});

describe('conversation state: the window-closing alert', () => {
  it('is owed while the customer waits, not once answered or escalated', () => {
    expect(pendingWindowAlertClosesAt(given(messageReceived({ at: T0 })))).toBe(at(24 * HOUR).toISOString());
    expect(pendingWindowAlertClosesAt(given(messageReceived({ at: T0 }), messageSent({ at: at(MINUTE) })))).toBeNull();
    expect(pendingWindowAlertClosesAt(given(messageReceived({ at: T0 }), escalatedByAgent({ at: at(MINUTE) })))).toBeNull();
    expect(pendingWindowAlertClosesAt(start)).toBeNull();
  });

  it('is not owed for messages a person saw and resolved, but is again for the next message', () => {
    const resolvedState = given(messageReceived({ at: T0 }), escalatedByAgent({ at: at(MINUTE) }), resolved({ at: at(2 * MINUTE) }));
    expect(pendingWindowAlertClosesAt(resolvedState)).toBeNull();
    expect(pendingWindowAlertClosesAt(evolveConversation(resolvedState, messageReceived({ at: at(HOUR) })))).toBe(at(25 * HOUR).toISOString());
  });
});
