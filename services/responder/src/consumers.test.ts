import { createEvent } from '@parley/contracts';
import type { ParleyEvent } from '@parley/contracts';
import { PermanentError, RetriableError } from '@parley/messaging';
import type { EventPublisher } from '@parley/messaging';
import { createLogger } from '@parley/observability';
import { classifyHandlerError, handleContextEvent, handleContextEvents, handleDecisionEvent } from './consumers.ts';
import type { HandlerDeps } from './consumers.ts';
import type { ContextStore } from './conversation-context/context-store.ts';
import type { PageAccounts } from './pages/page-accounts.ts';
import type { PendingReplyStore } from './pending-replies/pending-reply-store.ts';
import { T0, at, escalated, messageReceived, messageSent, pageConnected, profileUpdated, replyRequested } from './test-fixtures.ts';

/** Records which store each event reached (the stores themselves are tested against PostgreSQL). */
function deps(failWith?: unknown, repliesWaiting = 0) {
  const calls: string[] = [];
  const fail = async (name: string) => {
    calls.push(name);
    if (failWith) throw failWith;
  };
  const context = {
    recordMany: async (entries: unknown[]) => {
      for (const _entry of entries) await fail('context.record');
    },
    recordProfile: () => fail('context.recordProfile'),
  } as unknown as ContextStore;
  const pageAccounts = { record: () => fail('pages.record') } as unknown as PageAccounts;
  const replies = {
    apply: async () => (await fail('replies.apply'), []),
    dueNowIfWaiting: async (ids: string[]) => (await fail(`replies.dueNowIfWaiting ${ids.join(',')}`), repliesWaiting),
  } as unknown as PendingReplyStore;
  const publisher = {} as EventPublisher;
  const handlerDeps: HandlerDeps = {
    logger: createLogger({ service: 'test', level: 'silent' }),
    context,
    pageAccounts,
    replies,
    publisher,
    clock: { now: () => T0 },
    onReplyMayBeDue: () => calls.push('wake the poller'),
  };
  return { calls, handlerDeps };
}

const who = { pageId: 'page-1', psid: 'psid-1' };

describe('routing consumed events', () => {
  it('sends decisions to the pending replies and page events to the Page accounts; ignores the rest', async () => {
    const { calls, handlerDeps } = deps();
    const handle = handleDecisionEvent(handlerDeps);
    const suppressed = createEvent('conversation.reply.suppressed', {
      id: 's1', pageId: 'page-1', conversationId: 'page-1:psid-1', occurredAt: T0, recordedAt: T0,
      data: { customer: { psid: 'psid-1' }, channel: 'messenger', triggerEventId: 'm1', reason: 'no_assistant', detail: null },
    });
    const events: ParleyEvent[] = [replyRequested(who, { triggerEventIds: ['m1'], assistantId: 'a', replyAt: at(1) }), escalated(who), pageConnected('page-1', 'acct-1'), suppressed];
    for (const event of events) await handle(event);
    expect(calls).toEqual(['replies.apply', 'replies.apply', 'pages.record']);
  });

  it('sends messages and sent messages to the context, profiles to the names; ignores the rest', async () => {
    const { calls, handlerDeps } = deps();
    const handle = handleContextEvent(handlerDeps);
    for (const event of [messageReceived(who), messageSent(who, { text: 'hi' }), profileUpdated(who, 'Ana'), pageConnected('page-1', 'acct-1')]) await handle(event);
    // A customer's message may be what a due reply waits for: it goes now.
    expect(calls).toEqual(['context.record', 'replies.dueNowIfWaiting page-1:psid-1', 'context.record', 'context.recordProfile']);
  });

  it('wakes the poller when a customer message made a waiting reply due, and not when none waited', async () => {
    const none = deps(undefined, 0);
    await handleContextEvent(none.handlerDeps)(messageReceived(who));
    expect(none.calls).toEqual(['context.record', 'replies.dueNowIfWaiting page-1:psid-1']);
    const one = deps(undefined, 1);
    await handleContextEvent(one.handlerDeps)(messageReceived(who));
    expect(one.calls).toEqual(['context.record', 'replies.dueNowIfWaiting page-1:psid-1', 'wake the poller']);
  });

  it('records several waiting events in one call, profiles on the way', async () => {
    const { calls, handlerDeps } = deps();
    await handleContextEvents(handlerDeps)([messageReceived(who), pageConnected('page-1', 'acct-1'), profileUpdated(who, 'Ana'), messageSent(who, { text: 'hi' })]);
    expect(calls).toEqual(['context.recordProfile', 'context.record', 'context.record', 'replies.dueNowIfWaiting page-1:psid-1']);
  });

  it('marks a database outage retriable (the partition waits) and leaves other errors to bounded retries', async () => {
    const outage = Object.assign(new Error('Connection terminated unexpectedly'), { code: '57P01' });
    await expect(handleContextEvent(deps(outage).handlerDeps)(messageReceived(who))).rejects.toBeInstanceOf(RetriableError);
    expect(classifyHandlerError(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }))).toBeInstanceOf(RetriableError);
    const bug = new TypeError('x is undefined');
    expect(classifyHandlerError(bug)).toBe(bug);
    const permanent = new PermanentError('never');
    expect(classifyHandlerError(permanent)).toBe(permanent);
  });
});
