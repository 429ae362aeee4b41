// The outbox relay against real PostgreSQL. What the relay hands its publisher port is recorded
// here; Kafka itself is covered by the services' tests (outbound-sender's sending tests, auth-token's
// connection tests).
import { createEvent, deterministicId } from '@parley/contracts';
import type { ParleyEvent } from '@parley/contracts';
import type { EventPublisher } from '@parley/messaging';
import { createLogger } from '@parley/observability';
import { openDatabase } from '@parley/persistence';
import type { Database } from '@parley/persistence';
import { createTestSchema, testDatabaseUrl, waitFor } from '@parley/testing';
import type { TestSchema } from '@parley/testing';
import { OUTBOX_TABLES, appendToOutbox, startOutboxRelay } from './outbox.ts';

const logger = createLogger({ service: 'outbox-test', level: 'silent' });
let schema: TestSchema;
let db: Database;

beforeAll(async () => {
  schema = await createTestSchema(testDatabaseUrl(), 'outbox');
  db = await openDatabase({ databaseUrl: testDatabaseUrl(), schema: schema.schema, logger, migrations: [{ name: '0001_outbox', up: OUTBOX_TABLES }], poolSize: 4 });
});
afterAll(async () => {
  await db?.close();
  await schema?.drop();
});

/**
 * A publisher port that records what Kafka would have acknowledged. `beforeAck` plays the broker's
 * side of one batch: it may hold it (await) or refuse it (throw; the batch is not recorded).
 */
function recordingPublisher(beforeAck?: (batch: ReadonlyArray<ParleyEvent>) => Promise<void>): EventPublisher & { published: ParleyEvent[] } {
  const published: ParleyEvent[] = [];
  return {
    published,
    publish: async (events) => {
      await beforeAck?.(events);
      published.push(...events);
    },
    publishRaw: async () => undefined,
    disconnect: async () => undefined,
  };
}

let written = 0;
/** Valid events, each of its own id (the relay checks every row it takes). */
const events = (n: number): ParleyEvent[] =>
  Array.from({ length: n }, () => {
    written++;
    return createEvent('messenger.read.received', {
      id: deterministicId('outbox-test', schema.schema, written),
      pageId: 'page-outbox',
      conversationId: 'page-outbox:customer',
      occurredAt: new Date(0),
      recordedAt: new Date(0),
      data: { channel: 'messenger', customer: { psid: 'customer' }, timestamp: written, standby: false, throttled: false, raw: {}, watermark: written },
    });
  });

describe('the outbox relay', () => {
  it('publishes what it is woken for at once, in the order written, and whatever a full batch left behind without waiting for the poll', async () => {
    const publisher = recordingPublisher();
    const relay = startOutboxRelay({ db, publisher, logger, pollMs: 60_000, batchSize: 5 });
    try {
      const written = events(12);
      await db.transaction((tx) => appendToOutbox(db, tx, written));
      relay.wake();
      await waitFor(() => publisher.published.length === 12, { description: 'all twelve published in batches of five', timeoutMs: 5_000 });
      expect(publisher.published.map((e) => e.id)).toEqual(written.map((e) => e.id));
      expect(await db.query('select seq from outbox')).toEqual([]);
    } finally {
      await relay.stop();
    }
  });

  it('given another replica holds the outbox, when it lets go, then this relay publishes its rows within moments, not at the next poll', async () => {
    const publisher = recordingPublisher();
    let letGo!: () => void;
    const otherRelayDone = new Promise<void>((resolve) => (letGo = resolve));
    const locked = new Promise<void>((resolve) => {
      void db.transaction(async (tx) => {
        await db.query('select pg_advisory_xact_lock(hashtext(?))', [`parley-outbox:${db.schema}`], tx);
        resolve();
        await otherRelayDone;
      });
    });
    await locked;
    const relay = startOutboxRelay({ db, publisher, logger, pollMs: 60_000 });
    try {
      const written = events(1);
      await db.transaction((tx) => appendToOutbox(db, tx, written));
      relay.wake();
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(publisher.published).toEqual([]); // the other replica holds the lock
      letGo();
      await waitFor(() => publisher.published.length === 1, { description: 'the row published after the lock was let go', timeoutMs: 5_000 });
    } finally {
      letGo();
      await relay.stop();
    }
  });
});

describe('the outbox relay, woken while it works', () => {
  /** The database, counting the relay's takes of the outbox, with a hook run once one came back. */
  function watchedDb(hooks: { afterTake?: () => Promise<void> } = {}): Database & { takes: number } {
    const watched = Object.create(db) as Database & { takes: number };
    watched.takes = 0;
    watched.query = (async (sql: string, params?: unknown[], tx?: Parameters<Database['query']>[2]) => {
      if (!sql.includes('delete from outbox')) return db.query(sql, params, tx);
      watched.takes++;
      const rows = await db.query(sql, params, tx);
      await hooks.afterTake?.();
      return rows;
    }) as Database['query'];
    return watched;
  }

  it('serves the wakes that come while it lingers with one take (writes a few ms apart go out together)', async () => {
    const publisher = recordingPublisher();
    const watched = watchedDb();
    const relay = startOutboxRelay({ db: watched, publisher, logger, pollMs: 60_000, lingerMs: 200 });
    try {
      await waitFor(() => watched.takes === 1, { description: 'the first look at start' });
      const written = events(3);
      for (const event of written) {
        await db.transaction((tx) => appendToOutbox(db, tx, [event]));
        relay.wake();
      }
      await waitFor(() => publisher.published.length === 3, { description: 'the three events published', timeoutMs: 5_000 });
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(watched.takes).toBe(2);
      expect(publisher.published.map((e) => e.id)).toEqual(written.map((e) => e.id));
    } finally {
      await relay.stop();
    }
  });

  it('takes again at once for a wake that came after its take began (rows its take could not see)', async () => {
    const publisher = recordingPublisher();
    const late = events(1);
    // Armed after the relay's first look at start: the take that follows is the one raced.
    let armed = false;
    const watched = watchedDb({
      afterTake: async () => {
        if (!armed) return;
        armed = false;
        await db.transaction((tx) => appendToOutbox(db, tx, late));
        relay.wake();
      },
    });
    const relay = startOutboxRelay({ db: watched, publisher, logger, pollMs: 60_000 });
    try {
      await waitFor(() => watched.takes >= 1, { description: 'the first look at start' });
      armed = true;
      const first = events(1);
      await db.transaction((tx) => appendToOutbox(db, tx, first));
      relay.wake();
      // The poll is a minute away: only the wake can bring the late row out this soon.
      await waitFor(() => publisher.published.length === 2, { description: 'the late event published too', timeoutMs: 5_000 });
      expect(publisher.published.map((e) => e.id)).toEqual([first[0]!.id, late[0]!.id]);
    } finally {
      await relay.stop();
    }
  });

  it('puts the rows back when Kafka refuses them, and publishes them once it accepts', async () => {
    let refuse = true;
    const publisher = recordingPublisher(async () => {
      if (refuse) throw new Error('broker unavailable');
    });
    const { published } = publisher;
    const relay = startOutboxRelay({ db, publisher, logger, pollMs: 100 });
    try {
      const written = events(2);
      await db.transaction((tx) => appendToOutbox(db, tx, written));
      relay.wake();
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect((await db.query<{ event_id: string }>('select event_id from outbox order by seq')).map((r) => r.event_id)).toEqual(written.map((e) => e.id));
      refuse = false;
      await waitFor(() => published.length === 2, { description: 'published after the broker came back', timeoutMs: 10_000 });
      expect(await db.query('select seq from outbox')).toEqual([]);
    } finally {
      refuse = false;
      await relay.stop();
    }
  });
});

describe('the outbox relay, asked to flush or given a row that is not an event', () => {
  it('flush publishes everything written before it and resolves only once the publisher has it', async () => {
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    // Kafka answers the first batch only when told: the loop's take is in flight, holding the lock.
    let first = true;
    const publisher = recordingPublisher(async () => {
      if (!first) return;
      first = false;
      await held;
    });
    const { published } = publisher;
    const relay = startOutboxRelay({ db, publisher, logger, pollMs: 60_000 });
    try {
      const early = events(1);
      await db.transaction((tx) => appendToOutbox(db, tx, early));
      relay.wake();
      const late = events(2);
      await db.transaction((tx) => appendToOutbox(db, tx, late));
      let flushed = false;
      const flushing = relay.flush().then(() => (flushed = true));
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(flushed).toBe(false); // the first batch is not acknowledged yet
      release();
      await flushing;
      expect(published.map((e) => e.id)).toEqual([...early, ...late].map((e) => e.id));
      expect(await db.query('select seq from outbox')).toEqual([]);
    } finally {
      release();
      await relay.stop();
    }
  });

  it('sets a row that is not a valid event aside in outbox_rejected and publishes the rows around it', async () => {
    const publisher = recordingPublisher();
    const relay = startOutboxRelay({ db, publisher, logger, pollMs: 60_000 });
    try {
      const [before, after] = [events(1), events(1)];
      await db.transaction(async (tx) => {
        await appendToOutbox(db, tx, before);
        await db.query(`insert into outbox (event_id, event) values ('broken', '{"type": "messenger.read.received", "id": "broken"}'::jsonb)`, [], tx);
        await appendToOutbox(db, tx, after);
      });
      relay.wake();
      await waitFor(() => publisher.published.length === 2, { description: 'the two valid events published', timeoutMs: 5_000 });
      expect(publisher.published.map((e) => e.id)).toEqual([...before, ...after].map((e) => e.id));
      const rejected = await db.query<{ event: { id: string }; error: string }>('select event, error from outbox_rejected');
      expect(rejected).toHaveLength(1);
      expect(rejected[0]!.event.id).toBe('broken');
      expect(rejected[0]!.error).toMatch(/messenger\.read\.received/);
      expect(await db.query('select seq from outbox')).toEqual([]);
    } finally {
      await relay.stop();
    }
  });
});
