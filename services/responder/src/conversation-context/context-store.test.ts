import { createLogger } from '@parley/observability';
import { openDatabase } from '@parley/persistence';
import type { Database } from '@parley/persistence';
import { countingStatements, createTestSchema, testDatabaseUrl } from '@parley/testing';
import type { TestSchema } from '@parley/testing';
import { migrations } from '../migrations.ts';
import { createPageAccounts } from '../pages/page-accounts.ts';
import { T0, at, messageReceived, messageSent, pageConnected, profileUpdated, uniqueId } from '../test-fixtures.ts';
import { RECENT_MESSAGES, contextEntryOf } from './context.ts';
import { createContextStore } from './context-store.ts';

let schema: TestSchema;
let db: Database;

beforeAll(async () => {
  schema = await createTestSchema(testDatabaseUrl(), 'responder_context');
  db = await openDatabase({ databaseUrl: testDatabaseUrl(), schema: schema.schema, logger: createLogger({ service: 'test', level: 'silent' }), migrations });
});

afterAll(async () => {
  await db.close();
  await schema.drop();
});

const conversation = () => ({ pageId: uniqueId('page'), psid: 'psid-1' });

describe('the conversation context in PostgreSQL', () => {
  it('stores each event once, however often it is delivered', async () => {
    const store = createContextStore(db);
    const who = conversation();
    const event = messageReceived(who, { text: 'hello' });
    await store.record(contextEntryOf(event)!);
    await store.record(contextEntryOf(event)!);
    expect((await store.conversation(`${who.pageId}:psid-1`)).entries.map((e) => e.text)).toEqual(['hello']);
  });

  it('stores a message seen as an echo and as sent once, with the author outbound-sender gave it, in either order, a statement each', async () => {
    const counted = countingStatements(db);
    const store = createContextStore(counted.db);
    const who = conversation();
    const sent = messageSent(who, { text: 'We open at 9.', mid: 'm-1', author: 'assistant', occurredAt: at(1_000) });
    const echo = { ...contextEntryOf(sent)!, eventId: uniqueId('echo'), author: 'page' as const, source: 'echo' as const };
    await store.record(echo);
    await store.record(contextEntryOf(sent)!);
    await store.record(echo);
    expect(counted.count()).toBe(3);
    expect((await store.conversation(`${who.pageId}:psid-1`)).entries.map((e) => [e.author, e.text, e.source])).toEqual([['assistant', 'We open at 9.', 'outbound']]);
    const other = conversation();
    const sentFirst = messageSent(other, { text: 'Hi.', mid: 'm-2', author: 'agent', occurredAt: at(1_000) });
    await store.record(contextEntryOf(sentFirst)!);
    await store.record({ ...contextEntryOf(sentFirst)!, eventId: uniqueId('echo'), author: 'page' as const, source: 'echo' as const });
    expect((await store.conversation(`${other.pageId}:psid-1`)).entries.map((e) => [e.author, e.text, e.source])).toEqual([['agent', 'Hi.', 'outbound']]);
  });

  it('keeps only the newest messages, oldest first, even when an old one arrives late', async () => {
    const store = createContextStore(db);
    const who = conversation();
    for (let i = 1; i <= RECENT_MESSAGES + 5; i++) await store.record(contextEntryOf(messageReceived(who, { text: `m${i}`, occurredAt: at(i * 1_000) }))!);
    await store.record(contextEntryOf(messageReceived(who, { text: 'late and old', occurredAt: at(0) }))!);
    const texts = (await store.conversation(`${who.pageId}:psid-1`)).entries.map((e) => e.text);
    expect(texts).toHaveLength(RECENT_MESSAGES);
    expect(texts[0]).toBe('m6');
    expect(texts[RECENT_MESSAGES - 1]).toBe(`m${RECENT_MESSAGES + 5}`);
  });

  it('stores at most RECENT_MESSAGES rows of a conversation, and trims only a conversation past it (one statement for a short one)', async () => {
    const counted = countingStatements(db);
    const store = createContextStore(counted.db);
    const who = conversation();
    const id = `${who.pageId}:psid-1`;
    const stored = async () => Number((await db.query<{ n: string }>('select count(*) as n from conversation_messages where conversation_id = ?', [id]))[0]!.n);
    for (let i = 1; i <= RECENT_MESSAGES; i++) {
      counted.reset();
      await store.record(contextEntryOf(messageReceived(who, { text: `m${i}`, occurredAt: at(i * 1_000) }))!);
      expect(counted.count()).toBe(1);
    }
    expect(await stored()).toBe(RECENT_MESSAGES);
    counted.reset();
    await store.recordMany([RECENT_MESSAGES + 1, RECENT_MESSAGES + 2].map((i) => contextEntryOf(messageReceived(who, { text: `m${i}`, occurredAt: at(i * 1_000) }))!));
    expect(counted.count()).toBe(2);
    expect(await stored()).toBe(RECENT_MESSAGES);
    expect((await store.conversation(id)).entries.map((e) => e.text)).toEqual(Array.from({ length: RECENT_MESSAGES }, (_, i) => `m${i + 3}`));
  });

  it('records a batch exactly as one entry at a time: duplicates once, echo then sent (or sent then echo) as one, trimmed per conversation', async () => {
    const store = createContextStore(db);
    const one = conversation();
    const two = conversation();
    const question = messageReceived(one, { text: 'hello', occurredAt: at(1_000) });
    const sent = messageSent(one, { text: 'Hi!', mid: 'm-batch', author: 'assistant', occurredAt: at(2_000) });
    const echo = { ...contextEntryOf(sent)!, eventId: uniqueId('echo'), author: 'page' as const, source: 'echo' as const };
    const sentTwo = messageSent(two, { text: 'Welcome', mid: 'm-two', author: 'agent', occurredAt: at(2_000) });
    const echoTwo = { ...contextEntryOf(sentTwo)!, eventId: uniqueId('echo'), author: 'page' as const, source: 'echo' as const };
    const many = Array.from({ length: RECENT_MESSAGES + 3 }, (_, i) => contextEntryOf(messageReceived(two, { text: `t${i}`, occurredAt: at(10_000 + i) }))!);
    await store.recordMany([contextEntryOf(question)!, echo, contextEntryOf(question)!, contextEntryOf(sent)!, contextEntryOf(sentTwo)!, echoTwo, ...many]);

    expect((await store.conversation(`${one.pageId}:psid-1`)).entries.map((e) => [e.author, e.text])).toEqual([
      ['customer', 'hello'],
      ['assistant', 'Hi!'],
    ]);
    const texts = (await store.conversation(`${two.pageId}:psid-1`)).entries.map((e) => e.text);
    expect(texts).toHaveLength(RECENT_MESSAGES);
    expect(texts[RECENT_MESSAGES - 1]).toBe(`t${RECENT_MESSAGES + 2}`);
    expect(texts).not.toContain('Welcome'); // the oldest, trimmed
  });

  it('reads what an answer is built from in one statement: the entries oldest first and the first name, each possibly absent', async () => {
    const counted = countingStatements(db);
    const store = createContextStore(counted.db);
    const named = conversation();
    await store.recordProfile(profileUpdated(named, 'Ana', at(1_000)));
    counted.reset();
    expect(await store.conversation(`${named.pageId}:psid-1`)).toEqual({ entries: [], customerFirstName: 'Ana' });
    expect(counted.count()).toBe(1);
    await store.recordMany([2, 1].map((i) => contextEntryOf(messageReceived(named, { text: `q${i}`, occurredAt: at(i * 1_000) }))!));
    counted.reset();
    const read = await store.conversation(`${named.pageId}:psid-1`);
    expect(counted.count()).toBe(1);
    expect(read.entries.map((e) => e.text)).toEqual(['q1', 'q2']);
    expect(read.customerFirstName).toBe('Ana');
    expect(await store.conversation(`${conversation().pageId}:psid-1`)).toEqual({ entries: [], customerFirstName: null });
  });

  it('keeps the customer\'s first name from the newest profile, and no fallback name', async () => {
    const store = createContextStore(db);
    const who = conversation();
    const id = `${who.pageId}:psid-1`;
    expect((await store.conversation(id)).customerFirstName).toBeNull();
    await store.recordProfile(profileUpdated(who, 'Ana', at(2_000)));
    await store.recordProfile(profileUpdated(who, 'Old', at(1_000)));
    expect((await store.conversation(id)).customerFirstName).toBe('Ana');
    await store.recordProfile(profileUpdated(who, null, at(3_000)));
    expect((await store.conversation(id)).customerFirstName).toBeNull();
  });
});

describe('Page accounts in PostgreSQL', () => {
  it('records the account of a Page, and an older event never overwrites a newer one', async () => {
    const pages = createPageAccounts(db);
    const pageId = uniqueId('page');
    expect(await pages.accountOf(pageId)).toBeNull();
    await pages.record(pageConnected(pageId, 'acct-new', at(2_000)));
    await pages.record(pageConnected(pageId, 'acct-old', T0));
    expect(await pages.accountOf(pageId)).toBe('acct-new');
  });
});
