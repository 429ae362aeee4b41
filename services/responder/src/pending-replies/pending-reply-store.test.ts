import { createLogger } from '@parley/observability';
import { openDatabase } from '@parley/persistence';
import type { Database } from '@parley/persistence';
import { countingStatements, createTestSchema, testDatabaseUrl } from '@parley/testing';
import type { TestSchema } from '@parley/testing';
import { migrations } from '../migrations.ts';
import { T0, at, escalated, replyRequested, uniqueId } from '../test-fixtures.ts';
import { createPendingReplyStore } from './pending-reply-store.ts';
import type { PendingReplyStore } from './pending-reply-store.ts';

let schema: TestSchema;
let db: Database;
let store: PendingReplyStore;
const published: unknown[][] = [];
const publish = async (events: unknown[]) => {
  published.push(events);
};

beforeAll(async () => {
  schema = await createTestSchema(testDatabaseUrl(), 'responder_pending');
  db = await openDatabase({ databaseUrl: testDatabaseUrl(), schema: schema.schema, logger: createLogger({ service: 'test', level: 'silent' }), migrations });
  store = createPendingReplyStore(db);
});

afterAll(async () => {
  await db.close();
  await schema.drop();
});

beforeEach(async () => {
  published.length = 0;
  // Each test owns the due replies it claims.
  await db.query('delete from pending_replies');
});

const conversation = () => ({ pageId: uniqueId('page'), psid: 'psid-1' });
const LEASE = 30_000;

describe('pending replies in PostgreSQL', () => {
  it('applies a decision once: a redelivered event is a duplicate', async () => {
    const who = conversation();
    const request = replyRequested(who, { triggerEventIds: ['m1'], assistantId: 'a1', replyAt: at(10_000) });
    expect(await store.apply(request, T0, publish)).toEqual([expect.objectContaining({ type: 'reply_scheduled' })]);
    expect(await store.apply(request, T0, publish)).toBe('duplicate');
    expect((await store.get(`${who.pageId}:psid-1`))!.version).toBe(1);
  });

  it('applies a new decision in three statements (mark and lock, read, save), and finds a duplicate in one', async () => {
    const counted = countingStatements(db);
    const replies = createPendingReplyStore(counted.db);
    const request = replyRequested(conversation(), { triggerEventIds: ['m1'], assistantId: 'a1', replyAt: at(10_000) });
    expect(await replies.apply(request, T0, publish)).toEqual([expect.objectContaining({ type: 'reply_scheduled' })]);
    expect(counted.count()).toBe(3);
    counted.reset();
    expect(await replies.apply(request, T0, publish)).toBe('duplicate');
    expect(counted.count()).toBe(1);
  });

  it('finalizes an answered reply in one statement besides BEGIN and COMMIT', async () => {
    const counted = countingStatements(db);
    const replies = createPendingReplyStore(counted.db);
    await replies.apply(replyRequested(conversation(), { triggerEventIds: ['m1'], assistantId: 'a1', replyAt: at(1_000) }), T0, publish);
    const [claimed] = await replies.claimDue(at(1_000), 10, LEASE);
    counted.reset();
    expect(await replies.finalize(claimed!, async () => undefined)).toBe('done');
    expect(counted.count()).toBe(1);
    expect(await replies.get(claimed!.conversationId)).toBeNull();
  });

  it('takes only due replies, and a taken reply is not taken again while leased', async () => {
    const who = conversation();
    await store.apply(replyRequested(who, { triggerEventIds: ['m1'], assistantId: 'a1', replyAt: at(10_000) }), T0, publish);
    expect(await store.claimDue(at(9_999), 10, LEASE)).toEqual([]);
    const [claimed] = await store.claimDue(at(10_000), 10, LEASE);
    expect(claimed).toMatchObject({ conversationId: `${who.pageId}:psid-1`, attempts: 1 });
    expect(await store.claimDue(at(11_000), 10, LEASE)).toEqual([]);
    // A replica that crashed: once the lease has passed, another takes it.
    expect(await store.claimDue(at(10_000 + LEASE + 1), 10, LEASE)).toHaveLength(1);
  });

  it('makes a reply put back to wait for its message due at once when the message arrives, and no other', async () => {
    const waiting = conversation();
    const later = conversation();
    const held = conversation();
    const id = (who: { pageId: string }) => `${who.pageId}:psid-1`;
    await store.apply(replyRequested(waiting, { triggerEventIds: ['m1'], assistantId: 'a1', replyAt: at(1_000) }), T0, publish);
    await store.apply(replyRequested(later, { triggerEventIds: ['m2'], assistantId: 'a1', replyAt: at(10_000) }), T0, publish);
    await store.apply(replyRequested(held, { triggerEventIds: ['m3'], assistantId: 'a1', replyAt: at(1_000) }), T0, publish);
    const claimed = await store.claimDue(at(1_000), 10, LEASE);
    expect(claimed.map((r) => r.conversationId).sort()).toEqual([id(waiting), id(held)].sort());
    // One is put back to look again in half a second (its message is not in the context yet); the other stays leased.
    await store.release(claimed.find((r) => r.conversationId === id(waiting))!, at(1_500));

    expect(await store.dueNowIfWaiting([id(waiting), id(later), id(held)], at(1_100))).toBe(1);
    expect((await store.claimDue(at(1_100), 10, LEASE)).map((r) => r.conversationId)).toEqual([id(waiting)]);
    // The later reply keeps its own time.
    expect(await store.claimDue(at(9_999), 10, LEASE)).toEqual([]);
    expect(await store.dueNowIfWaiting([], at(1_100))).toBe(0);
  });

  it('never gives the same reply to two pollers at once', async () => {
    for (let i = 0; i < 6; i++) await store.apply(replyRequested(conversation(), { triggerEventIds: [`m${i}`], assistantId: 'a1', replyAt: at(1_000) }), T0, publish);
    const [a, b] = await Promise.all([store.claimDue(at(2_000), 4, LEASE), store.claimDue(at(2_000), 4, LEASE)]);
    const ids = [...a, ...b].map((r) => r.conversationId);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids).toHaveLength(6);
  });

  it('given a message merged while the answer was being built, then the stale answer is not sent and the reply is answered again, whole', async () => {
    const who = conversation();
    await store.apply(replyRequested(who, { triggerEventIds: ['m1'], assistantId: 'a1', replyAt: at(1_000) }), T0, publish);
    const [claimed] = await store.claimDue(at(1_000), 10, LEASE);
    await store.apply(replyRequested(who, { triggerEventIds: ['m2'], assistantId: 'a1', replyAt: at(3_000) }), at(1_500), publish);
    let sent = false;
    expect(await store.finalize(claimed!, async () => void (sent = true))).toBe('superseded');
    expect(sent).toBe(false);
    const [again] = await store.claimDue(at(1_600), 10, LEASE);
    expect(again!.triggerEventIds).toEqual(['m1', 'm2']);
    expect(await store.finalize(again!, async () => void (sent = true))).toBe('done');
    expect(sent).toBe(true);
    expect(await store.get(again!.conversationId)).toBeNull();
  });

  it('given an escalation while the answer was being built, then nothing is sent', async () => {
    const who = conversation();
    await store.apply(replyRequested(who, { triggerEventIds: ['m1'], assistantId: 'a1', replyAt: at(1_000) }), T0, publish);
    const [claimed] = await store.claimDue(at(1_000), 10, LEASE);
    await store.apply(escalated(who), at(1_200), publish);
    let sent = false;
    expect(await store.finalize(claimed!, async () => void (sent = true))).toBe('cancelled');
    expect(sent).toBe(false);
  });

  it('given publishing fails, then the reply is kept to be tried again', async () => {
    const who = conversation();
    await store.apply(replyRequested(who, { triggerEventIds: ['m1'], assistantId: 'a1', replyAt: at(1_000) }), T0, publish);
    const [claimed] = await store.claimDue(at(1_000), 10, LEASE);
    await expect(store.finalize(claimed!, async () => Promise.reject(new Error('broker down')))).rejects.toThrow('broker down');
    await store.release(claimed!, at(2_000));
    expect(await store.claimDue(at(1_999), 10, LEASE)).toEqual([]);
    expect(await store.claimDue(at(2_000), 10, LEASE)).toHaveLength(1);
  });

  it('publishes the refusal of a request for an escalated conversation with the decision, or records nothing', async () => {
    const who = conversation();
    await store.apply(escalated(who), T0, publish);
    const request = replyRequested(who, { triggerEventIds: ['m1'], assistantId: 'a1', replyAt: at(1_000) });
    await expect(store.apply(request, T0, async () => Promise.reject(new Error('broker down')))).rejects.toThrow();
    // Not recorded as processed: the redelivery is applied, and its refusal published.
    expect(await store.apply(request, T0, publish)).toEqual([expect.objectContaining({ type: 'reply_refused' })]);
    expect(published).toEqual([[expect.objectContaining({ type: 'conversation.reply.suppressed', data: expect.objectContaining({ reason: 'escalated', triggerEventId: 'm1' }) })]]);
  });

  it('forgets processed decision ids older than the retention', async () => {
    const old = replyRequested(conversation(), { triggerEventIds: ['m1'], assistantId: 'a1', replyAt: at(1_000) });
    await store.apply(old, T0, publish);
    expect(await store.pruneProcessed(at(1))).toBeGreaterThanOrEqual(1);
    expect(await store.pruneProcessed(at(1))).toBe(0);
  });
});
