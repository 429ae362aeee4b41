// The rules tables against real PostgreSQL: the statements the handlers' transactions are made of.
import { createLogger } from '@parley/observability';
import { openDatabase } from '@parley/persistence';
import type { Database } from '@parley/persistence';
import { countingStatements, createTestSchema, testDatabaseUrl, waitFor } from '@parley/testing';
import type { TestSchema } from '@parley/testing';
import { initialConversation } from '../conversations/conversation-state.ts';
import type { ConversationState } from '../conversations/conversation-state.ts';
import { migrations } from '../migrations.ts';
import { initialPage } from '../pages/page-state.ts';
import { createRulesStore } from './store.ts';
import type { RulesStore } from './store.ts';

const logger = createLogger({ service: 'rules-store-test', level: 'silent' });
let schema: TestSchema;
let db: Database;
let store: RulesStore;

beforeAll(async () => {
  schema = await createTestSchema(testDatabaseUrl(), 'rules_store');
  db = await openDatabase({ databaseUrl: testDatabaseUrl(), schema: schema.schema, logger, migrations, poolSize: 4 });
  store = createRulesStore(db);
});
afterAll(async () => {
  await db?.close();
  await schema?.drop();
});

const conversation = (id: string): ConversationState => initialConversation({ conversationId: id, pageId: 'page-s', channel: 'messenger', customer: { psid: id } });

describe('marking events processed, reading their Pages and locking their conversations in one statement', () => {
  it('tells which events are new and reads the Pages known here, once per Page', async () => {
    await store.transaction((tx) => store.savePage({ ...initialPage('page-known'), accountId: 'acct-1' }, tx));
    const events = [
      { id: 'mark-1', type: 'messenger.message.received', pageId: 'page-known' },
      { id: 'mark-2', type: 'messenger.message.received', pageId: 'page-unknown' },
      { id: 'mark-3', type: 'messenger.message.echoed', pageId: 'page-known' },
    ];
    const first = await store.transaction((tx) => store.markProcessedLoadingPagesLocking(tx, events, []));
    expect([...first.fresh].sort()).toEqual(['mark-1', 'mark-2', 'mark-3']);
    expect([...first.pages.keys()]).toEqual(['page-known']);
    expect(first.pages.get('page-known')).toMatchObject({ pageId: 'page-known', accountId: 'acct-1' });

    // Redelivered: nothing new, the Pages still read.
    const again = await store.transaction((tx) => store.markProcessedLoadingPagesLocking(tx, events.slice(0, 2), []));
    expect(again.fresh.size).toBe(0);
    expect([...again.pages.keys()]).toEqual(['page-known']);
  });

  it('gives the known conversations locked and the new ones created, all held until the transaction ends, and lockConversations reads none of them again', async () => {
    const known = { ...conversation('lock-known'), lastInboundAt: '2026-11-26T10:00:00.000Z' };
    await store.transaction(async (tx) => {
      await store.lockConversations([conversation('lock-known')], tx);
      await store.saveConversations([known], tx);
    });
    const event = { id: 'lock-event-1', type: 'messenger.message.received', pageId: 'page-s' };
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    let marked!: (value: { conversations: Map<string, ConversationState>; all: Map<string, ConversationState> }) => void;
    const seen = new Promise<{ conversations: Map<string, ConversationState>; all: Map<string, ConversationState> }>((resolve) => (marked = resolve));
    const counted = countingStatements(db);
    const counting = createRulesStore(counted.db);
    const holder = counting.transaction(async (tx) => {
      const { conversations } = await counting.markProcessedLoadingPagesLocking(tx, [event], [conversation('lock-known'), conversation('lock-new'), conversation('lock-new')]);
      const all = await counting.lockConversations([conversation('lock-new'), conversation('lock-known')], tx, conversations);
      marked({ conversations, all });
      await released;
    });
    const { conversations, all } = await seen;
    expect(counted.count()).toBe(1);
    expect([...conversations.keys()].sort()).toEqual(['lock-known', 'lock-new']);
    expect(all.get('lock-known')).toEqual(known);
    expect(all.get('lock-new')).toEqual(conversation('lock-new'));
    // Another transaction can neither take the known conversation nor see the new one while the batch holds them.
    await expect(db.query("select 1 from conversations where conversation_id = 'lock-known' for update nowait")).rejects.toThrow(/could not obtain lock/);
    expect(await db.query("select 1 from conversations where conversation_id = 'lock-new'")).toHaveLength(0);
    release();
    await holder;
    expect(await db.query("select 1 from conversations where conversation_id = 'lock-known' for update nowait")).toHaveLength(1);
    expect(await db.query("select state from conversations where conversation_id = 'lock-new'")).toEqual([{ state: conversation('lock-new') }]);
  });

  it('waits for a conversation another transaction is creating, and lockConversations locks it once that one commits', async () => {
    const event = { id: 'race-event-1', type: 'messenger.message.received', pageId: 'page-s' };
    let created!: () => void;
    const isCreated = new Promise<void>((resolve) => (created = resolve));
    let commit!: () => void;
    const committing = new Promise<void>((resolve) => (commit = resolve));
    const other = store.transaction(async (tx) => {
      await store.lockConversations([{ ...conversation('race-new'), lastInboundAt: '2026-11-26T11:00:00.000Z' }], tx);
      created();
      await committing;
    });
    await isCreated;
    const batch = store.transaction(async (tx) => {
      const { conversations } = await store.markProcessedLoadingPagesLocking(tx, [event], [conversation('race-new')]);
      return { first: conversations, all: await store.lockConversations([conversation('race-new')], tx, conversations) };
    });
    // The batch's statement waits on the other's insert (not merely started after it committed).
    await waitFor(
      async () => (await db.query("select 1 from pg_stat_activity where application_name = ? and wait_event_type = 'Lock' and query like '%created as%'", [`parley-${schema.schema}`])).length > 0,
      { description: "the batch's statement waiting for the other transaction" },
    );
    commit();
    await other;
    const { first, all } = await batch;
    expect(first.has('race-new')).toBe(false);
    expect(all.get('race-new')).toEqual({ ...conversation('race-new'), lastInboundAt: '2026-11-26T11:00:00.000Z' });
  });
});

describe('locking conversations', () => {
  it('gives the stored state of a known conversation and creates a new one from its seed', async () => {
    const known = { ...conversation('conv-known'), lastInboundAt: '2026-11-26T10:00:00.000Z' };
    await store.transaction(async (tx) => {
      await store.lockConversations([conversation('conv-known')], tx);
      await store.saveConversations([known], tx);
    });
    const locked = await store.transaction((tx) => store.lockConversations([conversation('conv-new'), conversation('conv-known')], tx));
    expect(locked.get('conv-known')).toEqual(known);
    expect(locked.get('conv-new')).toEqual(conversation('conv-new'));
    expect(await store.loadConversation('conv-new')).toEqual(conversation('conv-new'));
  });

  it('given another transaction creates the same new conversation first, then this one waits and gets that one’s state, not its own seed', async () => {
    let commitFirst!: () => void;
    const firstMayCommit = new Promise<void>((resolve) => (commitFirst = resolve));
    let firstCreated!: () => void;
    const created = new Promise<void>((resolve) => (firstCreated = resolve));
    const saved = { ...conversation('conv-raced'), lastInboundAt: '2026-11-26T11:00:00.000Z' };
    const first = store.transaction(async (tx) => {
      await store.lockConversations([conversation('conv-raced')], tx);
      await store.saveConversations([saved], tx);
      firstCreated();
      await firstMayCommit;
    });
    await created;
    const second = store.transaction((tx) => store.lockConversations([conversation('conv-raced')], tx));
    await new Promise((resolve) => setTimeout(resolve, 200));
    commitFirst();
    await first;
    expect((await second).get('conv-raced')).toEqual(saved);
  });
});

describe('saving conversations and marking produced events in one statement', () => {
  it('writes both, either alone, and nothing when given nothing', async () => {
    await store.transaction((tx) => store.lockConversations([conversation('conv-save')], tx));
    const next = { ...conversation('conv-save'), lastInboundAt: '2026-11-26T12:00:00.000Z' };
    await store.transaction((tx) => store.saveConversationsMarkingProcessed([next], [{ id: 'out-1', type: 'conversation.reply.requested' }], tx));
    expect(await store.loadConversation('conv-save')).toEqual(next);
    expect(await store.isProcessed('out-1')).toBe(true);

    await store.transaction((tx) => store.saveConversationsMarkingProcessed([], [{ id: 'out-2', type: 'conversation.escalated' }], tx));
    expect(await store.isProcessed('out-2')).toBe(true);
    const later = { ...next, lastInboundAt: '2026-11-26T12:05:00.000Z' };
    await store.transaction((tx) => store.saveConversationsMarkingProcessed([later], [], tx));
    expect(await store.loadConversation('conv-save')).toEqual(later);
    await store.transaction((tx) => store.saveConversationsMarkingProcessed([], [], tx));
  });
});
