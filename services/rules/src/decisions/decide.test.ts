import { deterministicId } from '@parley/contracts';
import type { EventOf, PageSettings, ParleyEvent } from '@parley/contracts';
import { evolveConversation, initialConversation } from '../conversations/conversation-state.ts';
import type { ConversationState } from '../conversations/conversation-state.ts';
import { DEFAULT_SETTINGS } from '../pages/page-state.ts';
import type { PageState } from '../pages/page-state.ts';
import {
  HOUR,
  MINUTE,
  SECOND,
  T0,
  at,
  commentReceived,
  deliveryReceived,
  escalatedByAgent,
  messageEchoed,
  messageReceived,
  messageSent,
  postbackReceived,
  reactionReceived,
  resolved,
  sequence,
} from '../test-support/fixtures.ts';
import { decide } from './decide.ts';
import type { DecisionPolicy, RulesOutput } from './decide.ts';

const policy: DecisionPolicy = { metaAppId: 'our-app', awayMessageIntervalMs: 24 * HOUR };

function page(settings: Partial<PageSettings> = {}, status: PageState['status'] = 'connected'): PageState {
  return {
    pageId: 'page-1',
    accountId: 'acct-1',
    status,
    statusChangedAt: T0.toISOString(),
    settings: { ...DEFAULT_SETTINGS, assistantId: 'assistant-1', ...settings },
    settingsChangedAt: T0.toISOString(),
  };
}

/** The conversation of page-1 and psid-1 after these events. */
function conversation(...history: ParleyEvent[]): ConversationState {
  const start = initialConversation({ conversationId: 'page-1:psid-1', pageId: 'page-1', channel: 'messenger', customer: { psid: 'psid-1', name: null } });
  return history.reduce(evolveConversation, start);
}

function commentConversation(): ConversationState {
  return initialConversation({ conversationId: 'page-1:comment:comment-1', pageId: 'page-1', channel: 'page_comment', customer: { psid: 'psid-1', name: null } });
}

/** Decides at `now` (default: one second after T0), with a random source that returns 0.5. */
function when(event: ParleyEvent, state: ConversationState, pageState: PageState | null, now: Date = at(SECOND), random = sequence(0.5)): RulesOutput[] {
  return decide(event, state, pageState, now, random, policy);
}

function decisionsOf(outputs: RulesOutput[]) {
  return outputs.filter((e) => e.type === 'conversation.reply.requested' || e.type === 'conversation.reply.suppressed');
}

function only<T extends RulesOutput['type']>(outputs: RulesOutput[], type: T): EventOf<T> {
  const found = outputs.filter((e) => e.type === type);
  expect(found).toHaveLength(1);
  return found[0] as EventOf<T>;
}

function suppression(outputs: RulesOutput[]) {
  expect(decisionsOf(outputs)).toHaveLength(1);
  return only(outputs, 'conversation.reply.suppressed').data;
}

describe('decide: a customer message', () => {
  it('requests the reply from the Page\'s assistant, caused by the message, with the window it must go out in', () => {
    const message = messageReceived({ at: T0, recordedAt: at(200) });
    const outputs = when(message, conversation(), page());
    expect(outputs).toHaveLength(1);
    const requested = only(outputs, 'conversation.reply.requested');
    expect(requested).toMatchObject({
      id: deterministicId('rules.decision', message.id),
      pageId: 'page-1',
      accountId: 'acct-1',
      conversationId: 'page-1:psid-1',
      causationId: message.id,
      correlationId: message.correlationId,
    });
    expect(requested.data).toEqual({
      customer: message.data.customer,
      channel: 'messenger',
      assistantId: 'assistant-1',
      responseDelay: 'instant',
      replyAt: at(200).toISOString(), // instant: the event's recordedAt
      replyWindowClosesAt: at(24 * HOUR).toISOString(),
      triggerEventIds: [message.id],
    });
  });

  it.each([
    ['short', 0, 5 * SECOND],
    ['short', 0.5, 10 * SECOND],
    ['short', 0.9999999, 15 * SECOND],
    ['medium', 0, 15 * SECOND],
    ['medium', 0.9999999, 30 * SECOND],
    ['long', 0, 30 * SECOND],
    ['long', 0.5, 45 * SECOND],
    ['long', 0.9999999, 60 * SECOND],
  ] as const)('draws a %s delay within its range (random %d → %d ms after the event was recorded)', (responseDelay, random, delayMs) => {
    const message = messageReceived({ at: T0, recordedAt: at(100) });
    const outputs = when(message, conversation(), page({ responseDelay }), at(SECOND), sequence(random));
    const requested = only(outputs, 'conversation.reply.requested');
    expect(requested.data.responseDelay).toBe(responseDelay);
    expect(Date.parse(requested.data.replyAt) - at(100).getTime()).toBe(delayMs);
  });

  it('keeps the conversation\'s later window when an older message is decided late', () => {
    const newer = messageReceived({ at: at(2 * HOUR) });
    const older = messageReceived({ at: at(HOUR) });
    const outputs = when(older, conversation(newer), page(), at(2 * HOUR + SECOND));
    expect(only(outputs, 'conversation.reply.requested').data.replyWindowClosesAt).toBe(at(26 * HOUR).toISOString());
  });
});

describe('decide: why the assistant does not answer', () => {
  it.each([
    ['a Page never connected', null, 'page_disconnected'],
    ['a disconnected Page', page({}, 'disconnected'), 'page_disconnected'],
    ['a Page whose permissions were revoked', page({}, 'revoked'), 'page_needs_reconnect'],
  ] as const)('suppresses for %s', (_name, pageState, reason) => {
    expect(suppression(when(messageReceived(), conversation(), pageState)).reason).toBe(reason);
  });

  it.each(['needs_reconnect', 'subscription_failed', 'degraded'] as const)(
    'still requests the reply for a Page that is %s: outbound-sender holds the send until the reconnect',
    (status) => {
      expect(only(when(messageReceived(), conversation(), page({}, status)), 'conversation.reply.requested').data.assistantId).toBe('assistant-1');
    },
  );

  it('suppresses a message in a thread another app controls (standby)', () => {
    expect(suppression(when(messageReceived({ standby: true }), conversation(), page())).reason).toBe('standby');
  });

  it('suppresses a throttled sender', () => {
    expect(suppression(when(messageReceived({ throttled: true }), conversation(), page())).reason).toBe('throttled_sender');
  });

  it('suppresses a replayed message whose own window is over, even if the conversation was active since', () => {
    const old = messageReceived({ at: T0 });
    const outputs = when(old, conversation(messageReceived({ at: at(30 * HOUR) })), page(), at(30 * HOUR + SECOND));
    expect(suppression(outputs)).toMatchObject({ reason: 'outside_reply_window', triggerEventId: old.id });
  });

  it('suppresses when the drawn reply time would fall after the window closes', () => {
    const message = messageReceived({ at: T0, recordedAt: at(24 * HOUR - 20 * SECOND) });
    const outputs = when(message, conversation(), page({ responseDelay: 'long' }), at(24 * HOUR - 19 * SECOND), sequence(0));
    expect(suppression(outputs).reason).toBe('outside_reply_window');
  });

  it('suppresses when automatic replies are off', () => {
    expect(suppression(when(messageReceived(), conversation(), page({ autoReply: false }))).reason).toBe('auto_reply_off');
  });

  it('suppresses when no assistant is selected (the defaults)', () => {
    expect(suppression(when(messageReceived(), conversation(), page({ assistantId: null }))).reason).toBe('no_assistant');
  });

  it('suppresses every message of an escalated conversation until it is resolved', () => {
    const escalated = conversation(messageReceived({ at: T0 }), escalatedByAgent({ at: at(MINUTE) }));
    expect(suppression(when(messageReceived({ at: at(2 * MINUTE) }), escalated, page(), at(2 * MINUTE))).reason).toBe('escalated');

    const resolvedLater = evolveConversation(escalated, resolved({ at: at(3 * MINUTE) }));
    const outputs = when(messageReceived({ at: at(4 * MINUTE) }), resolvedLater, page(), at(4 * MINUTE));
    expect(only(outputs, 'conversation.reply.requested').data.assistantId).toBe('assistant-1');
  });

  it('checks the Page before anything else, then standby, throttling, the window and escalation, in that order', () => {
    const escalated = conversation(escalatedByAgent());
    const everything = messageReceived({ standby: true, throttled: true, at: at(-48 * HOUR), text: 'talk to a human' });
    expect(suppression(when(everything, escalated, page({}, 'disconnected'))).reason).toBe('page_disconnected');
    expect(suppression(when(everything, escalated, page())).reason).toBe('standby');
    expect(suppression(when(messageReceived({ throttled: true, at: at(-48 * HOUR) }), escalated, page())).reason).toBe('throttled_sender');
    expect(suppression(when(messageReceived({ at: at(-48 * HOUR) }), escalated, page())).reason).toBe('outside_reply_window');
    expect(suppression(when(messageReceived({ text: 'talk to a human' }), escalated, page())).reason).toBe('escalated');
  });
});

describe('decide: escalation', () => {
  it('escalates on one of the Page\'s keywords (any case, whole words) and suppresses the reply', () => {
    const message = messageReceived({ text: 'I want a REFUND for this' });
    const outputs = when(message, conversation(), page({ escalationKeywords: ['refund'] }));
    const escalation = only(outputs, 'conversation.escalated');
    expect(escalation).toMatchObject({ id: deterministicId('rules.escalation', message.id), causationId: message.id, correlationId: message.correlationId, conversationId: 'page-1:psid-1' });
    expect(escalation.data).toMatchObject({ reason: 'keyword', by: 'rules', triggerEventId: message.id });
    expect(escalation.data.detail).toContain('refund');
    expect(suppression(outputs).reason).toBe('escalated');
    // A keyword inside another word is not the keyword.
    expect(only(when(messageReceived({ text: 'refunding policy?' }), conversation(), page({ escalationKeywords: ['refund'] })), 'conversation.reply.requested')).toBeDefined();
  });

  it('escalates when the customer asks for a person', () => {
    const outputs = when(messageReceived({ text: 'Can I talk to a human please' }), conversation(), page());
    expect(only(outputs, 'conversation.escalated').data).toMatchObject({ reason: 'human_requested', by: 'rules' });
    expect(suppression(outputs).reason).toBe('escalated');
  });

  it('escalates a frustrated customer but not one mild signal', () => {
    expect(only(when(messageReceived({ text: 'THIS IS RIDICULOUS!!!' }), conversation(), page()), 'conversation.escalated').data.reason).toBe('frustration');
    expect(only(when(messageReceived({ text: 'Thanks!!!' }), conversation(), page()), 'conversation.reply.requested')).toBeDefined();
  });

  it('escalates the third time the same question is asked', () => {
    const history = conversation(messageReceived({ text: 'Where is my order?', at: at(-2 * MINUTE) }), messageReceived({ text: 'where is my order', at: at(-MINUTE) }));
    const third = messageReceived({ text: 'Where is my order??' });
    const outputs = when(third, evolveConversation(history, third), page());
    expect(only(outputs, 'conversation.escalated').data.reason).toBe('frustration');
    expect(only(when(messageReceived({ text: 'Where is my order?' }), conversation(messageReceived({ text: 'Where is my order?' })), page()), 'conversation.reply.requested')).toBeDefined();
  });

  it('escalates from a postback button asking for a person', () => {
    const outputs = when(postbackReceived({ title: 'Talk to a person', payload: 'HUMAN' }), conversation(), page());
    expect(only(outputs, 'conversation.escalated').data.reason).toBe('human_requested');
  });

  it('escalates even when automatic replies are off, and sends no greeting or away message then', () => {
    const outputs = when(messageReceived({ text: 'customer service please' }), conversation(), page({ autoReply: false, greetingMessage: 'Hi!', awayMessage: 'We are away' }));
    expect(outputs.map((e) => e.type)).toEqual(['conversation.escalated', 'conversation.reply.suppressed']);
  });
});

describe('decide: echoes (the Page\'s own messages)', () => {
  it('never answers an echo of our own send (our app id)', () => {
    const outputs = when(messageEchoed({ appId: 'our-app' }), conversation(), page());
    expect(outputs).toHaveLength(1);
    expect(suppression(outputs).reason).toBe('page_echo');
  });

  it('recognises our send by its mid when the app id is not ours', () => {
    const sent = messageSent({ mid: 'mid.ours' });
    const outputs = when(messageEchoed({ appId: '263902037430900', mid: 'mid.ours' }), conversation(sent), page());
    expect(outputs.map((e) => e.type)).toEqual(['conversation.reply.suppressed']);
  });

  it('escalates when a person replies from Meta\'s inbox (another app, a mid we did not send)', () => {
    const echo = messageEchoed({ appId: '263902037430900', mid: 'mid.inbox' });
    const outputs = when(echo, conversation(messageReceived({ at: at(-MINUTE) })), page());
    expect(only(outputs, 'conversation.escalated').data).toMatchObject({ reason: 'human_took_over', by: 'page_inbox', triggerEventId: echo.id });
    expect(suppression(outputs).reason).toBe('page_echo');
    // No app id at all is not ours either.
    expect(only(when(messageEchoed({ appId: null }), conversation(), page()), 'conversation.escalated').data.reason).toBe('human_took_over');
  });

  it('does not escalate again an escalated conversation, nor for an echo older than the window (a replay)', () => {
    expect(when(messageEchoed({ appId: 'other' }), conversation(escalatedByAgent()), page()).map((e) => e.type)).toEqual(['conversation.reply.suppressed']);
    expect(when(messageEchoed({ appId: 'other', at: T0 }), conversation(), page(), at(25 * HOUR)).map((e) => e.type)).toEqual(['conversation.reply.suppressed']);
  });
});

describe('decide: greeting', () => {
  const greeting = 'Hi! Thanks for writing to us.';

  it('greets on the first message of a conversation, besides requesting the reply', () => {
    const first = messageReceived();
    const now = at(SECOND);
    const outputs = when(first, conversation(), page({ greetingMessage: greeting }), now);
    expect(outputs.map((e) => e.type)).toEqual(['conversation.reply.requested', 'outbound.send.requested']);
    const send = only(outputs, 'outbound.send.requested');
    expect(send).toMatchObject({ causationId: first.id, correlationId: first.correlationId, conversationId: 'page-1:psid-1', accountId: 'acct-1' });
    expect(send.data).toEqual({
      outboundId: deterministicId('greeting', first.id),
      customer: first.data.customer,
      channel: 'messenger',
      commentId: null,
      author: 'page',
      purpose: 'greeting',
      parts: [{ text: greeting }],
      messagingType: 'RESPONSE',
      tag: null,
      sendAt: now.toISOString(),
      typingIndicator: false,
      agentId: null,
    });
  });

  it('does not greet on later messages, nor when no greeting is set', () => {
    const seen = conversation(messageReceived({ at: at(-HOUR) }));
    expect(when(messageReceived(), seen, page({ greetingMessage: greeting })).map((e) => e.type)).toEqual(['conversation.reply.requested']);
    expect(when(messageReceived(), conversation(), page()).map((e) => e.type)).toEqual(['conversation.reply.requested']);
  });

  it('greets on Get Started, which the greeting then answers', () => {
    const getStarted = postbackReceived({ isGetStarted: true });
    const outputs = when(getStarted, conversation(messageReceived({ at: at(-HOUR) })), page({ greetingMessage: greeting }));
    expect(only(outputs, 'outbound.send.requested').data.outboundId).toBe(deterministicId('greeting', getStarted.id));
    expect(suppression(outputs).reason).toBe('not_answerable');
  });

  it('lets the assistant answer Get Started when there is no greeting, and any other postback', () => {
    expect(only(when(postbackReceived({ isGetStarted: true }), conversation(), page()), 'conversation.reply.requested')).toBeDefined();
    expect(when(postbackReceived({ title: 'Opening hours', payload: 'HOURS' }), conversation(), page({ greetingMessage: greeting })).map((e) => e.type)).toEqual(['conversation.reply.requested']);
  });

  it('greets on first contact even when no assistant answers', () => {
    const outputs = when(messageReceived(), conversation(), page({ greetingMessage: greeting, assistantId: null }));
    expect(suppression(outputs).reason).toBe('no_assistant');
    expect(only(outputs, 'outbound.send.requested').data.purpose).toBe('greeting');
  });

  it('does not greet a customer it does not answer (standby, throttled, disconnected Page)', () => {
    for (const [message, pageState] of [
      [messageReceived({ standby: true }), page({ greetingMessage: greeting })],
      [messageReceived({ throttled: true }), page({ greetingMessage: greeting })],
      [messageReceived(), page({ greetingMessage: greeting }, 'disconnected')],
    ] as const) {
      expect(when(message, conversation(), pageState).map((e) => e.type)).toEqual(['conversation.reply.suppressed']);
    }
  });
});

describe('decide: away message', () => {
  const away = 'We are away; a person will answer tomorrow.';

  it('sends the away message when automatic replies are off, and suppresses the reply', () => {
    const message = messageReceived();
    const outputs = when(message, conversation(), page({ autoReply: false, awayMessage: away }), at(SECOND));
    expect(suppression(outputs).reason).toBe('auto_reply_off');
    expect(only(outputs, 'outbound.send.requested').data).toMatchObject({
      outboundId: deterministicId('away', message.id),
      author: 'page',
      purpose: 'away',
      parts: [{ text: away }],
      messagingType: 'RESPONSE',
      sendAt: at(SECOND).toISOString(),
    });
  });

  it('sends it at most once per conversation per 24 hours', () => {
    const first = messageReceived();
    const settings = page({ autoReply: false, awayMessage: away });
    const firstOutputs = when(first, conversation(), settings, at(SECOND));
    const after = [first, ...firstOutputs].reduce(evolveConversation, conversation());

    const soon = messageReceived({ at: at(2 * HOUR) });
    expect(when(soon, after, settings, at(2 * HOUR)).map((e) => e.type)).toEqual(['conversation.reply.suppressed']);

    const nextDay = messageReceived({ at: at(24 * HOUR + SECOND) });
    expect(only(when(nextDay, after, settings, at(24 * HOUR + SECOND)), 'outbound.send.requested').data.purpose).toBe('away');
  });

  it('sends the greeting first, then the away message a second later, on a first contact', () => {
    const outputs = when(messageReceived(), conversation(), page({ autoReply: false, awayMessage: away, greetingMessage: 'Hello!' }), at(SECOND));
    const sends = outputs.filter((e): e is EventOf<'outbound.send.requested'> => e.type === 'outbound.send.requested');
    expect(sends.map((s) => [s.data.purpose, s.data.sendAt])).toEqual([
      ['greeting', at(SECOND).toISOString()],
      ['away', at(2 * SECOND).toISOString()],
    ]);
  });

  it('sends no away message when none is set', () => {
    expect(when(messageReceived(), conversation(), page({ autoReply: false })).map((e) => e.type)).toEqual(['conversation.reply.suppressed']);
  });
});

describe('decide: Page comments', () => {
  it('requests a reply to a new comment, within the 7-day private-reply window, with no greeting', () => {
    const comment = commentReceived({ at: T0 });
    const outputs = when(comment, commentConversation(), page({ greetingMessage: 'Hi!' }));
    expect(outputs).toHaveLength(1);
    const requested = only(outputs, 'conversation.reply.requested');
    expect(requested.conversationId).toBe('page-1:comment:comment-1');
    expect(requested.data).toMatchObject({ channel: 'page_comment', replyWindowClosesAt: at(7 * 24 * HOUR).toISOString() });
  });

  it('never answers the Page\'s own comments, nor edits and removals', () => {
    expect(suppression(when(commentReceived({ fromPage: true }), commentConversation(), page())).reason).toBe('not_answerable');
    expect(suppression(when(commentReceived({ verb: 'edited' }), commentConversation(), page())).reason).toBe('not_answerable');
    expect(suppression(when(commentReceived({ verb: 'remove', message: null }), commentConversation(), page())).reason).toBe('not_answerable');
  });

  it('escalates a comment asking for a person', () => {
    expect(only(when(commentReceived({ message: 'I need to speak to someone about my order' }), commentConversation(), page()), 'conversation.escalated').data.channel).toBe('page_comment');
  });
});

describe('decide: events that get no decision', () => {
  it.each([
    ['a delivery', deliveryReceived()],
    ['a reaction', reactionReceived()],
    ['an outbound send result', messageSent()],
  ])('emits nothing for %s', (_name, event) => {
    expect(when(event, conversation(), page())).toEqual([]);
  });

  it('emits exactly one decision for every message, postback, comment and echo, whatever the state', () => {
    const events: ParleyEvent[] = [
      messageReceived(),
      messageReceived({ text: 'talk to a human' }),
      messageReceived({ standby: true }),
      postbackReceived({ isGetStarted: true }),
      messageEchoed({ appId: 'other' }),
    ];
    const pages = [null, page(), page({ autoReply: false, awayMessage: 'away', greetingMessage: 'hi' }), page({ assistantId: null }), page({}, 'revoked')];
    const states = [conversation(), conversation(escalatedByAgent()), conversation(messageReceived({ at: at(-HOUR) }))];
    for (const event of events) for (const pageState of pages) for (const state of states) {
      const outputs = when(event, state, pageState);
      expect(decisionsOf(outputs)).toHaveLength(1);
      expect(decisionsOf(outputs)[0]!.causationId).toBe(event.id);
    }
    for (const pageState of pages) expect(decisionsOf(when(commentReceived(), commentConversation(), pageState))).toHaveLength(1);
  });

  it('is deterministic: the same inputs give the same events', () => {
    const message = messageReceived({ text: 'hello' });
    expect(when(message, conversation(), page({ responseDelay: 'medium', greetingMessage: 'hi' }), at(SECOND), sequence(0.3))).toEqual(
      when(message, conversation(), page({ responseDelay: 'medium', greetingMessage: 'hi' }), at(SECOND), sequence(0.3)),
    );
  });
});
