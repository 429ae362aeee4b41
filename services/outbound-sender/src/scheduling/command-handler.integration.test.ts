// The command handler against real PostgreSQL: what each kind of send command stores, and in how
// many round trips (db_round_trips_total).
import { createLogger, createMetricsRegistry } from '@parley/observability';
import type { Registry } from '@parley/observability';
import { openDatabase, roundTripsCounted } from '@parley/persistence';
import type { Database } from '@parley/persistence';
import { createTestSchema, testDatabaseUrl } from '@parley/testing';
import type { TestSchema } from '@parley/testing';
import { systemClock } from '../clock.ts';
import { migrations } from '../migrations.ts';
import { cancelCommand, sendCommand } from '../test-support/commands.ts';
import { createCommandHandler } from './command-handler.ts';
import { createLedger } from './ledger.ts';

const logger = createLogger({ service: 'command-handler-test', level: 'silent' });
let schema: TestSchema;
let db: Database;
let registry: Registry;

beforeAll(async () => {
  schema = await createTestSchema(testDatabaseUrl(), 'commands');
  registry = createMetricsRegistry('command-handler-test');
  db = await openDatabase({ databaseUrl: testDatabaseUrl(), schema: schema.schema, logger, migrations, poolSize: 4, metrics: registry });
});
afterAll(async () => {
  await db?.close();
  await schema?.drop();
});

/** Round trips since the last call, by kind. */
let counted: Record<string, number> = {};
async function roundTripsSinceLast(): Promise<Record<string, number>> {
  const now: Record<string, number> = await roundTripsCounted(registry);
  const since = Object.fromEntries(Object.entries(now).map(([kind, value]) => [kind, value - (counted[kind] ?? 0)]).filter(([, value]) => value !== 0));
  counted = now;
  return since;
}

function handler() {
  const stored: Date[] = [];
  let wakes = 0;
  const handle = createCommandHandler({ db, ledger: createLedger(db), clock: systemClock, logger, onStored: (at) => stored.push(at), onEvents: () => wakes++ });
  return { handle, stored, wakes: () => wakes };
}

const sendOf = async (outboundId: string) => (await db.query<{ status: string }>('select status from sends where outbound_id = ?', [outboundId]))[0]?.status;
const outboxTypes = async (outboundId: string) =>
  (await db.query<{ type: string }>("select event->>'type' as type from outbox where event->'data'->>'outboundId' = ? order by seq", [outboundId])).map((r) => r.type);

describe('storing send commands', () => {
  it('stores a send command as most come in one statement, without a transaction, and a replay of it in one more', async () => {
    const { handle, stored, wakes } = handler();
    const command = sendCommand({ pageId: 'page-alone', parts: [{ text: 'One.' }, { text: 'Two.' }] });
    await roundTripsSinceLast();

    await handle([command]);
    expect(await roundTripsSinceLast()).toEqual({ statement: 1 });
    expect(await sendOf(command.data.outboundId)).toBe('scheduled');
    expect(await outboxTypes(command.data.outboundId)).toEqual(['outbound.message.scheduled']);
    expect((await createLedger(db).partsAndCancellation(undefined, command.data.outboundId)).parts.map((p) => p.state)).toEqual(['pending', 'pending']);
    expect(stored).toHaveLength(1);
    expect(wakes()).toBe(1);

    await roundTripsSinceLast();
    await handle([command]);
    // The replay: the insert finds the send, and the duplicate's fingerprint is compared (afterwards, for the log).
    expect(await roundTripsSinceLast()).toEqual({ statement: 2 });
    expect(await outboxTypes(command.data.outboundId)).toEqual(['outbound.message.scheduled']);
    expect(stored).toHaveLength(1);
  });

  it('stores a send whose cancellation came first as cancelled, in a transaction, and one cancelled for another Page as scheduled', async () => {
    const { handle } = handler();
    const command = sendCommand({ pageId: 'page-cancelled-first' });
    await handle([cancelCommand({ pageId: 'page-cancelled-first', outboundId: command.data.outboundId }), command]);
    expect(await sendOf(command.data.outboundId)).toBe('cancelled');
    expect(await outboxTypes(command.data.outboundId)).toEqual(['outbound.message.cancelled']);

    const other = sendCommand({ pageId: 'page-cancelled-elsewhere' });
    await handle([cancelCommand({ pageId: 'some-other-page', outboundId: other.data.outboundId })]);
    await roundTripsSinceLast();
    await handle([other]);
    expect(await roundTripsSinceLast()).toEqual({ statement: 1 });
    expect(await sendOf(other.data.outboundId)).toBe('scheduled');
  });

  it('stores a command it refuses as failed, in a transaction, with its failure announced once', async () => {
    const { handle } = handler();
    const command = sendCommand({ pageId: 'page-refused', author: 'assistant', messagingType: 'MESSAGE_TAG', tag: 'HUMAN_AGENT' });
    await roundTripsSinceLast();
    await handle([command]);
    expect(await roundTripsSinceLast()).toMatchObject({ begin: 1, commit: 1 });
    expect(await sendOf(command.data.outboundId)).toBe('failed');
    expect(await outboxTypes(command.data.outboundId)).toEqual(['outbound.message.failed']);
  });
});
