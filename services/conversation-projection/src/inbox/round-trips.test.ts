// The projector's round trips to a real PostgreSQL per batch (db_round_trips_total), and the events
// that wait for their message, read back with the conversations in the same statement.
import type { ParleyEvent } from '@parley/contracts';
import type { ConsumedEvent } from '@parley/messaging';
import { createMetricsRegistry } from '@parley/observability';
import { openDatabase, roundTripsCounted } from '@parley/persistence';
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
const registry = createMetricsRegistry('projector-round-trips-test');
let offset = 0;

beforeAll(async () => {
  schema = await createTestSchema(testDatabaseUrl(), 'round_trips');
  db = await openDatabase({ databaseUrl: testDatabaseUrl(), schema: schema.schema, logger: testLogger(), migrations: inboxMigrations, poolSize: 4, metrics: registry });
  projector = createProjector({ db, logger: testLogger(), context: { ourAppIds: new Set([OUR_APP_ID]) } });
});
afterAll(async () => {
  await db?.close();
  await schema?.drop();
});

const apply = (events: ParleyEvent[]) =>
  projector.applyBatch({ topic: 'test', partition: 0, events: events.map((event): ConsumedEvent => ({ topic: 'test', partition: 0, offset: String(offset++), event, headers: {} })) });

async function roundTrips(): Promise<number> {
  return Object.values(await roundTripsCounted(registry)).reduce((sum, n) => sum + n, 0);
}

describe('the projector against PostgreSQL', () => {
  it("applies a new customer's message in eleven round trips, the transaction's BEGIN and COMMIT included", async () => {
    const e = inboxEvents('page-round-trips', { accountId: 'acme' });
    await apply([e.pageConnected({ accountId: 'acme' })]); // the partition's first batch, and the Page known
    const before = await roundTrips();
    const result = await apply([e.received('customer-1', { text: 'Hello' })]);
    expect(result.applied).toBe(1);
    // BEGIN, the offsets, the settings with the conversation's and the Page's locks, what the
    // conversation holds (state, watermarks, waiting events), its messages, the conversation, the
    // message, the new customer, the change, the offsets, COMMIT.
    expect((await roundTrips()) - before).toBe(11);
  });

  it('applies the events that waited for a message in the order they came, once it arrives', async () => {
    const e = inboxEvents('page-waiting', { accountId: 'acme' });
    const mid = 'm_waited_for';
    await apply([e.reaction('customer-2', { mid, action: 'react', at: 2_000 })]);
    await apply([e.reaction('customer-2', { mid, action: 'unreact', at: 2_000 })]);
    expect(await db.query('select event_id from pending_events where conversation_id = ?', [e.conversationId('customer-2')])).toHaveLength(2);
    await apply([e.echoed('customer-2', { mid, appId: null, text: 'We are open', at: 1_000 })]);
    const [message] = await db.query<{ doc: { reaction: unknown } }>('select doc from messages where mid = ?', [mid]);
    expect(message!.doc.reaction).toMatchObject({ reaction: null, emoji: null });
    expect(await db.query('select event_id from pending_events where conversation_id = ?', [e.conversationId('customer-2')])).toHaveLength(0);
  });
});
