// The projector's locks against a real PostgreSQL: transactions applied side by side (two groups
// of one replica, or two replicas during a rebalance) must not deadlock on a Page's lock, and a
// large batch must not run out PostgreSQL's lock table.
import type { ParleyEvent } from '@parley/contracts';
import type { ConsumedEvent } from '@parley/messaging';
import { openDatabase } from '@parley/persistence';
import type { Database } from '@parley/persistence';
import { createTestSchema, testDatabaseUrl } from '@parley/testing';
import type { TestSchema } from '@parley/testing';
import { OUR_APP_ID, testLogger } from '../test-support.ts';
import { inboxEvents } from './fixtures.ts';
import { inboxMigrations } from './migrations.ts';
import { MAX_CONVERSATIONS_PER_TRANSACTION, chunksByConversation, createProjector } from './projector.ts';
import type { Projector } from './projector.ts';

let schema: TestSchema;
let db: Database;
let projector: Projector;
/** A second replica on the same inbox: its batches are never grouped with the first one's. */
let replica: Projector;
const offsets = [0, 0];

beforeAll(async () => {
  schema = await createTestSchema(testDatabaseUrl(), 'page_locks');
  db = await openDatabase({ databaseUrl: testDatabaseUrl(), schema: schema.schema, logger: testLogger(), migrations: inboxMigrations, poolSize: 4 });
  projector = createProjector({ db, logger: testLogger(), context: { ourAppIds: new Set([OUR_APP_ID]) } });
  replica = createProjector({ db, logger: testLogger(), context: { ourAppIds: new Set([OUR_APP_ID]) } });
});
afterAll(async () => {
  await db?.close();
  await schema?.drop();
});

const batch = (partition: 0 | 1, events: ParleyEvent[]) => ({
  topic: 'test',
  partition,
  events: events.map((event): ConsumedEvent => ({ topic: 'test', partition, offset: String(offsets[partition]!++), event, headers: {} })),
});

describe('Page locks of batches applied side by side', () => {
  it('never deadlock when both batches write a Page\'s conversations and an event about that Page', async () => {
    const e = inboxEvents('page-locks-1', { accountId: 'acme' });
    const at = Date.now();
    for (let round = 0; round < 15; round++) {
      // Each batch: a customer's message (the Page's lock, shared) and the Page's own event (exclusive).
      await Promise.all([
        projector.applyBatch(batch(0, [e.received(`a-${round}`, { at: at + round }), e.pageConnected({ accountId: 'acme', at: at + round })])),
        replica.applyBatch(batch(1, [e.received(`b-${round}`, { at: at + round }), e.pageConnected({ accountId: 'acme', at: at + round })])),
      ]);
    }
    const rows = await db.query<{ n: string }>("select count(*) as n from conversations where page_id = 'page-locks-1' and account_id = 'acme'");
    expect(Number(rows[0]!.n)).toBe(30);
  });
});

describe('large batches', () => {
  it('split into transactions of at most MAX_CONVERSATIONS_PER_TRANSACTION conversations, in order', () => {
    const record = (id: string, conversationId: string | null) => ({ event: { id, conversationId } });
    const events = [record('1', 'a'), record('2', 'b'), record('3', 'a'), record('4', 'c'), record('5', null), record('6', 'c'), record('7', 'd')];
    expect(chunksByConversation(events, 2).map((chunk) => chunk.map((r) => r.event.id))).toEqual([['1', '2', '3'], ['4', '5', '6'], ['7']]);
    expect(chunksByConversation(events, 100)).toHaveLength(1);
    expect(chunksByConversation([], 2)).toEqual([]);
  });

  it('apply side by side without running out of locks, however many conversations they name', async () => {
    const e = inboxEvents('page-locks-2', { accountId: 'acme' });
    const size = 8 * MAX_CONVERSATIONS_PER_TRANSACTION;
    const at = Date.now();
    const many = (prefix: string) => Array.from({ length: size }, (_, i) => e.received(`${prefix}-${i}`, { at: at + i }));
    const [left, right] = await Promise.all([projector.applyBatch(batch(0, many('left'))), replica.applyBatch(batch(1, many('right')))]);
    expect(left.applied + right.applied).toBe(2 * size);
    const rows = await db.query<{ n: string }>("select count(*) as n from conversations where page_id = 'page-locks-2'");
    expect(Number(rows[0]!.n)).toBe(2 * size);
  }, 120_000);
});
