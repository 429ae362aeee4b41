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

describe('claiming a due send', () => {
  it('locks the send and reads its Page, its parts in order and its cancellation in the same statement; a locked send is not taken twice', async () => {
    const counted = countingStatements(db);
    const ledger = createLedger(counted.db);
    const now = new Date();
    const pageId = `page-claim-${now.getTime()}`;
    // Due an hour ago: the oldest due send of this schema, so the first to be claimed.
    const planned = planSend(sendCommand({ pageId, parts: [{ text: 'One.' }, { text: 'Two.' }], now: new Date(now.getTime() - 3_600_000) }));
    await db.transaction((tx) => ledger.insertSend(tx, planned.send, planned.parts, 'fingerprint'));
    await ledger.savePage(undefined, { pageId, accountId: 'account-claim', status: 'degraded', source: 'event', statusAt: now, rejectedTokenFingerprint: null }, now);
    await ledger.movePart(undefined, planned.send.outboundId, 0, 'claim', { now });
    await ledger.movePart(undefined, planned.send.outboundId, 0, 'accepted', { mid: 'm_claim', now });
    await db.transaction((tx) => ledger.recordCancellation(tx, { outboundId: planned.send.outboundId, pageId, reason: 'escalated', eventId: 'cancel-claim' }));

    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    let taken!: (claimed: Awaited<ReturnType<typeof ledger.claimDue>>) => void;
    const claimedFirst = new Promise<Awaited<ReturnType<typeof ledger.claimDue>>>((resolve) => (taken = resolve));
    counted.reset();
    const holder = db.transaction(async (tx) => {
      taken(await ledger.claimDue(tx, now));
      await released;
    });
    const claimed = await claimedFirst;
    expect(counted.count()).toBe(1);
    expect(claimed!.send).toMatchObject({ outboundId: planned.send.outboundId, pageId, status: 'scheduled' });
    expect(claimed!.page).toMatchObject({ pageId, accountId: 'account-claim', status: 'degraded' });
    expect(claimed!.parts.map((p) => [p.index, p.state, p.mid, p.content])).toEqual([
      [0, 'sent', 'm_claim', { text: 'One.' }],
      [1, 'pending', null, { text: 'Two.' }],
    ]);
    expect(claimed!.cancellation).toEqual({ reason: 'escalated', pageId });
    // Another worker skips it while it is held (other tests' sends may be due; this one is not among them).
    const other = await db.transaction((tx) => ledger.claimDue(tx, now));
    expect(other?.send.outboundId).not.toBe(planned.send.outboundId);
    release();
    await holder;
  });

  it('gives a send of a Page not known here the unknown Page, no parts moved and no cancellation', async () => {
    const ledger = createLedger(db);
    const now = new Date();
    const pageId = `page-claim-unknown-${now.getTime()}`;
    const planned = planSend(sendCommand({ pageId, now: new Date(now.getTime() - 1_000) }));
    await db.transaction((tx) => ledger.insertSend(tx, planned.send, planned.parts, 'fingerprint'));
    // Claim until this one comes (other tests' sends may be due before it); each claim is let go.
    let claimed: Awaited<ReturnType<typeof ledger.claimDue>> = null;
    for (let i = 0; i < 50 && claimed?.send.outboundId !== planned.send.outboundId; i++) {
      claimed = await db.transaction(async (tx) => {
        const c = await ledger.claimDue(tx, now);
        if (c && c.send.outboundId !== planned.send.outboundId) await ledger.updateSend(tx, c.send.outboundId, { status: 'sent', now });
        return c;
      });
    }
    expect(claimed!.send.outboundId).toBe(planned.send.outboundId);
    expect(claimed!.page).toEqual({ pageId, accountId: null, status: 'unknown', source: 'event', statusAt: new Date(0), rejectedTokenFingerprint: null });
    expect(claimed!.parts.map((p) => p.state)).toEqual(['pending']);
    expect(claimed!.cancellation).toBeNull();
  });
});
