// Upgrading to the shared outbox (migration 0002) against real PostgreSQL: events written by the
// earlier relay's table and not yet published are kept and go out after the upgrade.
import { createEvent, deterministicId } from '@parley/contracts';
import type { ParleyEvent } from '@parley/contracts';
import type { EventPublisher } from '@parley/messaging';
import { createLogger } from '@parley/observability';
import { startOutboxRelay } from '@parley/outbox';
import { openDatabase } from '@parley/persistence';
import { createTestSchema, testDatabaseUrl, waitFor } from '@parley/testing';
import type { TestSchema } from '@parley/testing';
import { migrations } from './migrations.ts';

const logger = createLogger({ service: 'auth-token-test', level: 'silent' });
let schema: TestSchema;

beforeAll(async () => {
  schema = await createTestSchema(testDatabaseUrl(), 'auth_outbox');
});
afterAll(async () => {
  await schema?.drop();
});

it('given events waiting in the outbox before the upgrade, then they keep their ids and are published after it', async () => {
  const waiting = createEvent('page.connected', {
    id: deterministicId('outbox-upgrade', schema.schema),
    pageId: '100000000000001',
    accountId: 'account-1',
    conversationId: null,
    occurredAt: new Date(0),
    recordedAt: new Date(0),
    data: { name: 'A Page', subscribedFields: ['messages'], reconnect: false },
  });
  const before = await openDatabase({ databaseUrl: testDatabaseUrl(), schema: schema.schema, logger, migrations: migrations.slice(0, 1), poolSize: 1 });
  await before.query('insert into outbox (event) values (?::jsonb)', [JSON.stringify(waiting)]);
  await before.close();

  const db = await openDatabase({ databaseUrl: testDatabaseUrl(), schema: schema.schema, logger, migrations, poolSize: 2 });
  const published: ParleyEvent[] = [];
  const publisher: EventPublisher = { publish: async (events) => void published.push(...events), publishRaw: async () => undefined, disconnect: async () => undefined };
  const relay = startOutboxRelay({ db, publisher, logger, pollMs: 100 });
  try {
    await waitFor(() => published.length === 1, { description: 'the waiting event published', timeoutMs: 5_000 });
    expect(published[0]).toEqual(waiting);
    expect(await db.query('select seq from outbox')).toEqual([]);
    expect(await db.query('select seq from outbox_rejected')).toEqual([]);
  } finally {
    await relay.stop();
    await db.close();
  }
});
