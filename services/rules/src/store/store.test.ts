// The rules tables against real PostgreSQL: the statements the handlers' transactions are made of.
import { createLogger } from '@parley/observability';
import { openDatabase } from '@parley/persistence';
import type { Database } from '@parley/persistence';
import { createTestSchema, testDatabaseUrl } from '@parley/testing';
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

  it('gives the known conversations, locked until the transaction ends, and lockConversations creates the others without reading the known ones again', async () => {
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
    const holder = store.transaction(async (tx) => {
      const { conversations } = await store.markProcessedLoadingPagesLocking(tx, [event], ['lock-known', 'lock-new']);
      const all = await store.lockConversations([conversation('lock-new'), conversation('lock-known')], tx, conversations);
      marked({ conversations, all });
      await released;
    });
    const { conversations, all } = await seen;
    expect([...conversations.keys()]).toEqual(['lock-known']);
    expect(all.get('lock-known')).toEqual(known);
    expect(all.get('lock-new')).toEqual(conversation('lock-new'));
    // Another transaction cannot take the known conversation while the batch holds it.
    await expect(db.query("select 1 from conversations where conversation_id = 'lock-known' for update nowait")).rejects.toThrow(/could not obtain lock/);
    release();
    await holder;
    expect(await db.query("select 1 from conversations where conversation_id = 'lock-known' for update nowait")).toHaveLength(1);
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
