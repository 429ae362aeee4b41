// Group commit against a real PostgreSQL: batches of several partitions that arrive together are
// applied in one transaction with all of their offsets, each still reported on its own, replayed
// without effect, and a poison event costs only itself.
import type { ParleyEvent } from '@parley/contracts';
import type { ConsumedEvent } from '@parley/messaging';
import { openDatabase } from '@parley/persistence';
import type { Database } from '@parley/persistence';
import { createTestSchema, testDatabaseUrl } from '@parley/testing';
import type { TestSchema } from '@parley/testing';
import { OUR_APP_ID, testLogger } from '../test-support.ts';
import { inboxEvents } from './fixtures.ts';
import { inboxMigrations } from './migrations.ts';
import { createProjector } from './projector.ts';
import type { AppliedBatch, Projector } from './projector.ts';

let schema: TestSchema;
let db: Database;
let projector: Projector;
const reported: AppliedBatch[] = [];
const next = new Map<string, number>();

beforeAll(async () => {
  schema = await createTestSchema(testDatabaseUrl(), 'group_commit');
  db = await openDatabase({ databaseUrl: testDatabaseUrl(), schema: schema.schema, logger: testLogger(), migrations: inboxMigrations, poolSize: 4 });
  projector = createProjector({ db, logger: testLogger(), context: { ourAppIds: new Set([OUR_APP_ID]) }, onApplied: (batch) => reported.push(batch) });
});
afterAll(async () => {
  await db?.close();
  await schema?.drop();
});
beforeEach(() => {
  reported.length = 0;
});

/** A batch of `topic`/`partition` at the partition's next offsets (or at `from`, to replay). */
function batch(topic: string, partition: number, events: ParleyEvent[], from?: number) {
  const key = `${topic}/${partition}`;
  const start = from ?? next.get(key) ?? 0;
  next.set(key, Math.max(next.get(key) ?? 0, start + events.length));
  return { topic, partition, events: events.map((event, i): ConsumedEvent => ({ topic, partition, offset: String(start + i), event, headers: {} })) };
}

const offsets = async (topic: string) =>
  db.query<{ partition: number; offset: string; xmin: string }>('select partition, "offset", xmin::text as xmin from projection_offsets where topic = ? order by partition', [topic]);

describe('batches that arrive together', () => {
  it('are applied in one transaction, with every partition\'s offset, and each batch is told what it applied', async () => {
    const e = inboxEvents('group-1', { accountId: 'acme' });
    const at = Date.now();
    const [first, second, third] = await Promise.all([
      projector.applyBatch(batch('group-a', 0, [e.pageConnected({ accountId: 'acme', at }), e.received('c1', { at: at + 1 })])),
      projector.applyBatch(batch('group-a', 1, [e.received('c2', { at: at + 2 }), e.received('c2', { at: at + 3 }), e.received('c3', { at: at + 4 })])),
      projector.applyBatch(batch('group-b', 0, [e.received('c1', { at: at + 5 })])),
    ]);

    expect([first.applied, second.applied, third.applied]).toEqual([2, 3, 1]);
    expect(first.pageIds).toEqual(['group-1']);
    expect(second.conversationIds).toEqual(expect.arrayContaining([e.conversationId('c2'), e.conversationId('c3')]));
    // Rows written in one transaction carry its id: one xmin for all three offset rows.
    const rows = [...(await offsets('group-a')), ...(await offsets('group-b'))];
    expect(rows.map((r) => [r.partition, r.offset])).toEqual([[0, '1'], [1, '2'], [0, '0']]);
    expect(new Set(rows.map((r) => r.xmin)).size).toBe(1);
    const unread = await db.query<{ id: string; unread_count: number; account_id: string }>(
      "select id, unread_count, account_id from conversations where page_id = 'group-1' order by id",
    );
    expect(unread).toEqual([
      { id: e.conversationId('c1'), unread_count: 2, account_id: 'acme' },
      { id: e.conversationId('c2'), unread_count: 2, account_id: 'acme' },
      { id: e.conversationId('c3'), unread_count: 1, account_id: 'acme' },
    ]);
    // The listeners heard of each batch's events once.
    expect(reported.map((r) => [r.topic, r.partition, r.applied]).sort()).toEqual([['group-a', 0, 2], ['group-a', 1, 3], ['group-b', 0, 1]]);
  });

  it('change nothing when delivered again, alone or together with new events', async () => {
    const e = inboxEvents('group-2', { accountId: 'acme' });
    const at = Date.now();
    const left = [e.pageConnected({ accountId: 'acme', at }), e.received('d1', { at: at + 1 })];
    const right = [e.received('d2', { at: at + 2 })];
    await Promise.all([projector.applyBatch(batch('group-c', 0, left)), projector.applyBatch(batch('group-c', 1, right))]);
    const before = await db.query<{ id: string; unread_count: number }>("select id, unread_count from conversations where page_id = 'group-2' order by id");

    const newer = e.received('d2', { at: at + 3 });
    const [again, mixed] = await Promise.all([
      projector.applyBatch(batch('group-c', 0, left, 0)),
      projector.applyBatch(batch('group-c', 1, [...right, newer], 0)),
    ]);
    expect([again.applied, mixed.applied]).toEqual([0, 1]);
    const after = await db.query<{ id: string; unread_count: number }>("select id, unread_count from conversations where page_id = 'group-2' order by id");
    expect(after).toEqual(before.map((row) => (row.id === e.conversationId('d2') ? { ...row, unread_count: 2 } : row)));
    expect((await offsets('group-c')).map((r) => [r.partition, r.offset])).toEqual([[0, '1'], [1, '1']]);
  });

  it('lose only a poison event: the other partitions\' events are applied and every offset moves on', async () => {
    const e = inboxEvents('group-3', { accountId: 'acme' });
    const at = Date.now();
    await projector.applyBatch(batch('group-d', 0, [e.pageConnected({ accountId: 'acme', at })]));
    // A pending entry that cannot be applied (as a bug would leave it): the message it waits for fails.
    await db.query(`insert into pending_events (conversation_id, waits_for, event_id, event) values (?, 'mid:poison-g', 'bogus', '{"type":"bogus"}'::jsonb)`, [e.conversationId('p1')]);
    const poison = e.received('p1', { mid: 'poison-g', at: at + 1 });
    const [withPoison, clean] = await Promise.all([
      projector.applyBatch(batch('group-d', 0, [poison, e.received('p2', { at: at + 2 })])),
      projector.applyBatch(batch('group-d', 1, [e.received('p3', { at: at + 3 })])),
    ]);
    expect([withPoison.applied, clean.applied]).toEqual([1, 1]);
    const skipped = await db.query<{ event_id: string }>('select event_id from skipped_events where event_id = ?', [poison.id]);
    expect(skipped).toEqual([{ event_id: poison.id }]);
    const conversations = await db.query<{ id: string }>("select id from conversations where page_id = 'group-3' order by id");
    expect(conversations.map((c) => c.id)).toEqual([e.conversationId('p2'), e.conversationId('p3')]);
    expect((await offsets('group-d')).map((r) => [r.partition, r.offset])).toEqual([[0, '2'], [1, '0']]);
  });
});
