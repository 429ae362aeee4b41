import { deterministicId } from '@parley/contracts';
import { T0, at, escalated, replyRequested, resolved } from '../test-fixtures.ts';
import {
  decide,
  decideAtDueTime,
  evolve,
  initialReplyState,
  outboundIdOf,
  sendCommandFor,
  suppressionsFor,
} from './pending-reply.ts';
import type { ConversationReplyState, DecisionEvent, DueInput, PendingReply } from './pending-reply.ts';

const who = { pageId: 'page-1', psid: 'psid-1', accountId: 'acct-1' };

/** Given these decision events, the state they leave. */
function given(events: DecisionEvent[], now: Date = T0): ConversationReplyState {
  return events.reduce((state, event) => decide(event, state, now).reduce(evolve, state), initialReplyState);
}

describe('pending replies: merging requests', () => {
  it('given nothing pending, when a reply is requested, then a pending reply is due at its replyAt', () => {
    const request = replyRequested(who, { id: 'r1', triggerEventIds: ['m1'], assistantId: 'a1', replyAt: at(10_000) });
    const changes = decide(request, initialReplyState, T0);
    expect(changes).toEqual([{ type: 'reply_scheduled', pending: expect.objectContaining({ triggerEventIds: ['m1'], replyAt: at(10_000).toISOString(), dueAt: at(10_000).toISOString(), version: 1, requestEventIds: ['r1'] }) }]);
    expect(given([request]).pending).toMatchObject({ conversationId: 'page-1:psid-1', assistantId: 'a1', accountId: 'acct-1' });
  });

  it('given a pending reply, when another message asks for a reply before it is due, then they merge into ONE reply due at the first replyAt', () => {
    const first = replyRequested(who, { id: 'r1', triggerEventIds: ['m1'], assistantId: 'a1', replyAt: at(10_000) });
    const second = replyRequested(who, { id: 'r2', triggerEventIds: ['m2'], assistantId: 'a1', replyAt: at(14_000), windowClosesAt: at(25 * 3_600_000) });
    const state = given([first]);
    const changes = decide(second, state, at(3_000));
    expect(changes).toEqual([expect.objectContaining({ type: 'reply_merged', addedTriggerEventIds: ['m2'] })]);
    const pending = changes.reduce(evolve, state).pending!;
    expect(pending.triggerEventIds).toEqual(['m1', 'm2']);
    expect(pending.requestEventIds).toEqual(['r1', 'r2']);
    expect(pending.replyAt).toBe(at(10_000).toISOString());
    expect(pending.dueAt).toBe(at(10_000).toISOString());
    // The window extends with the newer message; the version marks the merge.
    expect(pending.replyWindowClosesAt).toBe(at(25 * 3_600_000).toISOString());
    expect(pending.version).toBe(2);
  });

  it('takes the latest request\'s assistant (the Page\'s settings may have changed) and keeps the reply\'s id', () => {
    const state = given([
      replyRequested(who, { triggerEventIds: ['m1'], assistantId: 'old', replyAt: at(10_000) }),
      replyRequested(who, { triggerEventIds: ['m2'], assistantId: 'new', replyAt: at(12_000) }),
    ]);
    expect(state.pending!.assistantId).toBe('new');
    expect(outboundIdOf(state.pending!)).toBe(deterministicId('reply', 'm1'));
  });

  it('given the same request applied twice (a redelivery past the id filter), then nothing is added twice', () => {
    const request = replyRequested(who, { id: 'r1', triggerEventIds: ['m1', 'm1'], assistantId: 'a1', replyAt: at(10_000) });
    const state = given([request, request]);
    expect(state.pending!.triggerEventIds).toEqual(['m1']);
    expect(state.pending!.requestEventIds).toEqual(['r1']);
  });

  it('given a request whose reply window has already closed (history replayed), then it is ignored', () => {
    const old = replyRequested(who, { id: 'r-old', triggerEventIds: ['m0'], assistantId: 'a1', replyAt: at(-30 * 3_600_000), windowClosesAt: at(-6 * 3_600_000) });
    expect(decide(old, initialReplyState, T0)).toEqual([{ type: 'request_ignored', requestEventId: 'r-old', reason: 'reply_window_closed' }]);
    expect(given([old])).toEqual(initialReplyState);
  });
});

describe('pending replies: escalation and resolution', () => {
  it('given a pending reply, when the conversation is escalated, then the reply is cancelled', () => {
    const request = replyRequested(who, { triggerEventIds: ['m1'], assistantId: 'a1', replyAt: at(10_000) });
    const state = given([request]);
    const changes = decide(escalated(who), state, T0);
    expect(changes.map((c) => c.type)).toEqual(['reply_cancelled', 'conversation_escalated']);
    expect(changes.reduce(evolve, state)).toEqual({ escalated: true, pending: null });
  });

  it('given an escalated conversation, when a reply is still requested, then it is refused (suppressed as escalated)', () => {
    const state = given([escalated(who)]);
    const request = replyRequested(who, { triggerEventIds: ['m1'], assistantId: 'a1', replyAt: at(10_000) });
    expect(decide(request, state, T0)).toEqual([{ type: 'reply_refused', request, reason: 'escalated' }]);
    expect(given([escalated(who), request]).pending).toBeNull();
  });

  it('given an escalated conversation, when a person resolves it, then replies are scheduled again', () => {
    const state = given([escalated(who), resolved(who), replyRequested(who, { triggerEventIds: ['m9'], assistantId: 'a1', replyAt: at(1_000) })]);
    expect(state.escalated).toBe(false);
    expect(state.pending?.triggerEventIds).toEqual(['m9']);
  });

  it('given nothing pending, an escalation only marks the conversation', () => {
    expect(decide(escalated(who), initialReplyState, T0)).toEqual([{ type: 'conversation_escalated' }]);
  });
});

describe('pending replies: at the due time', () => {
  const pending = (): PendingReply =>
    given([replyRequested(who, { triggerEventIds: ['m1', 'm2'], assistantId: 'a1', replyAt: at(10_000), windowClosesAt: at(3_600_000) })]).pending!;
  const settings = { maxLatenessMs: 600_000, contextWaitMs: 5_000, contextRetryMs: 500 };
  const input = (overrides: Partial<DueInput> = {}): DueInput => ({
    pending: pending(),
    now: at(10_000),
    assistant: { accountId: 'acct-1', visibility: 'private' },
    pageAccountId: 'acct-1',
    contextEventIds: new Set(['m1', 'm2']),
    settings,
    ...overrides,
  });

  it('answers when the assistant is usable and the messages are in the context', () => {
    expect(decideAtDueTime(input())).toEqual({ kind: 'answer' });
  });

  it('suppresses with no_assistant when the assistant does not exist', () => {
    expect(decideAtDueTime(input({ assistant: null }))).toMatchObject({ kind: 'suppress', reason: 'no_assistant' });
  });

  it('suppresses with assistant_private when a private assistant belongs to another account, or the Page\'s account is unknown', () => {
    expect(decideAtDueTime(input({ pageAccountId: 'acct-2' }))).toMatchObject({ kind: 'suppress', reason: 'assistant_private', detail: expect.stringContaining('another account') });
    expect(decideAtDueTime(input({ pageAccountId: null }))).toMatchObject({ kind: 'suppress', reason: 'assistant_private', detail: expect.stringContaining('not known') });
  });

  it('lets any account use a public assistant', () => {
    expect(decideAtDueTime(input({ assistant: { accountId: 'acct-2', visibility: 'public' }, pageAccountId: 'acct-1' }))).toEqual({ kind: 'answer' });
  });

  it('suppresses a reply whose window has closed, and one that is far too late', () => {
    expect(decideAtDueTime(input({ now: at(3_600_000) }))).toMatchObject({ kind: 'suppress', reason: 'outside_reply_window' });
    expect(decideAtDueTime(input({ now: at(10_000 + 600_001) }))).toMatchObject({ kind: 'suppress', reason: 'not_answerable' });
  });

  it('waits briefly for trigger messages not yet in the context, then answers with what there is', () => {
    expect(decideAtDueTime(input({ contextEventIds: new Set(['m1']) }))).toEqual({ kind: 'wait_for_context', dueAt: at(10_500).toISOString(), missing: ['m2'] });
    expect(decideAtDueTime(input({ contextEventIds: new Set(['m1']), now: at(15_000) }))).toEqual({ kind: 'answer' });
  });
});

describe('pending replies: what is published', () => {
  const pending = given([replyRequested(who, { id: 'r1', triggerEventIds: ['m1', 'm2'], assistantId: 'a1', replyAt: at(10_000) })]).pending!;

  it('requests an untagged RESPONSE from the assistant, now, with typing on, idempotent by the first trigger', () => {
    const command = sendCommandFor(pending, ['Hello!', 'We open at 9.'], { now: at(10_000), accountId: 'acct-1', commentId: null });
    expect(command).toMatchObject({
      type: 'outbound.send.requested',
      pageId: 'page-1',
      conversationId: 'page-1:psid-1',
      accountId: 'acct-1',
      causationId: 'r1',
      data: {
        outboundId: deterministicId('reply', 'm1'),
        author: 'assistant',
        purpose: 'reply',
        messagingType: 'RESPONSE',
        tag: null,
        typingIndicator: true,
        sendAt: at(10_000).toISOString(),
        replyWindowClosesAt: pending.replyWindowClosesAt,
        parts: [{ text: 'Hello!' }, { text: 'We open at 9.' }],
        commentId: null,
      },
    });
    expect(Date.parse(command.data.replyWindowClosesAt!)).toBeGreaterThan(at(10_000).getTime());
    // The same reply always gives the same command id.
    expect(sendCommandFor(pending, ['x'], { now: at(20_000), accountId: null, commentId: null }).id).toBe(command.id);
  });

  it('suppresses each trigger of a reply with the reason', () => {
    const events = suppressionsFor(pending, 'no_assistant', 'No assistant a1.', { now: T0, accountId: 'acct-1' });
    expect(events.map((e) => [e.data.triggerEventId, e.data.reason])).toEqual([
      ['m1', 'no_assistant'],
      ['m2', 'no_assistant'],
    ]);
    expect(new Set(events.map((e) => e.id)).size).toBe(2);
  });
});
