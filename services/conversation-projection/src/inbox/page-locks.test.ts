// Two partitions applied side by side against a real PostgreSQL: batches that hold both a Page's
// conversations and an event about the Page itself must not deadlock on the Page's lock.
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
import type { Projector } from './projector.ts';

let schema: TestSchema;
let db: Database;
let projector: Projector;
const offsets = [0, 0];

beforeAll(async () => {
  schema = await createTestSchema(testDatabaseUrl(), 'page_locks');
  db = await openDatabase({ databaseUrl: testDatabaseUrl(), schema: schema.schema, logger: testLogger(), migrations: inboxMigrations, poolSize: 4 });
  projector = createProjector({ db, logger: testLogger(), context: { ourAppIds: new Set([OUR_APP_ID]) } });
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
        projector.applyBatch(batch(1, [e.received(`b-${round}`, { at: at + round }), e.pageConnected({ accountId: 'acme', at: at + round })])),
      ]);
    }
    const rows = await db.query<{ n: string }>("select count(*) as n from conversations where page_id = 'page-locks-1' and account_id = 'acme'");
    expect(Number(rows[0]!.n)).toBe(30);
  });
});
