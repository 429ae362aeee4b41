// The ledger's statements that write outbox rows, against real PostgreSQL.
import { createLogger } from '@parley/observability';
import { openDatabase } from '@parley/persistence';
import type { Database } from '@parley/persistence';
import { countingStatements, createTestSchema, testDatabaseUrl } from '@parley/testing';
import type { TestSchema } from '@parley/testing';
import { migrations } from '../migrations.ts';
import { sendCommand } from '../test-support/commands.ts';
import { createLedger } from './ledger.ts';
import { planSend } from './send.ts';

const logger = createLogger({ service: 'ledger-test', level: 'silent' });
let schema: TestSchema;
let db: Database;

beforeAll(async () => {
  schema = await createTestSchema(testDatabaseUrl(), 'ledger');
  db = await openDatabase({ databaseUrl: testDatabaseUrl(), schema: schema.schema, logger, migrations, poolSize: 4 });
});
afterAll(async () => {
  await db?.close();
  await schema?.drop();
});

describe('a part move that writes its event in the same statement', () => {
  it('writes the event only when the part moved, so an echo that settled the part first leaves no second event', async () => {
    const ledger = createLedger(db);
    const planned = planSend(sendCommand({ pageId: 'page-move', parts: [{ text: 'One.' }] }));
    await db.transaction((tx) => ledger.insertSend(tx, planned.send, planned.parts, 'fingerprint'));
    const id = planned.send.outboundId;
    const event = sendCommand({ pageId: 'page-move' }); // any event: only its row matters here
    const rowsOf = async () => (await db.query<{ event_id: string }>('select event_id from outbox where event_id = ?', [event.id])).length;

    // Still pending, not sending: `accepted` does not apply, and nothing is written.
    expect(await ledger.movePart(undefined, id, 0, 'accepted', { mid: 'm_1', now: new Date() }, [event])).toBe(false);
    expect(await rowsOf()).toBe(0);

    expect(await ledger.movePart(undefined, id, 0, 'claim', { now: new Date() })).toBe(true);
    expect(await ledger.movePart(undefined, id, 0, 'accepted', { mid: 'm_1', now: new Date() }, [event])).toBe(true);
    expect(await rowsOf()).toBe(1);
    const [part] = (await ledger.partsAndCancellation(undefined, id)).parts;
    expect(part).toMatchObject({ state: 'sent', mid: 'm_1' });

    // Again (an echo's move raced it): the part is no longer `sending`; no second event.
    expect(await ledger.movePart(undefined, id, 0, 'accepted', { mid: 'm_1', now: new Date() }, [event])).toBe(false);
    expect(await rowsOf()).toBe(1);
  });
});

describe('storing a send', () => {
  it('stores the send and its parts in one statement, and a replay of its command stores nothing more', async () => {
    const counted = countingStatements(db);
    const ledger = createLedger(counted.db);
    const planned = planSend(sendCommand({ pageId: 'page-store', parts: [{ text: 'One.' }, { text: 'Two.' }, { text: 'Three.' }] }));
    const id = planned.send.outboundId;

    expect(await db.transaction((tx) => ledger.insertSend(tx, planned.send, planned.parts, 'fingerprint-1'))).toBe(true);
    expect(counted.count()).toBe(1);
    const stored = await ledger.partsAndCancellation(undefined, id);
    expect(stored.parts.map((p) => [p.index, p.state, p.content])).toEqual(planned.parts.map((p) => [p.index, 'pending', p.content]));

    expect(await db.transaction((tx) => ledger.insertSend(tx, planned.send, planned.parts.slice(0, 1), 'fingerprint-2'))).toBe(false);
    expect((await ledger.partsAndCancellation(undefined, id)).parts).toHaveLength(3);
    expect(await ledger.fingerprintOf(undefined, id)).toBe('fingerprint-1');
  });
});
