// Transactional outbox: every state change writes its events into `outbox` in the same transaction
// as the `pages` row, and the relay publishes them to Kafka afterwards. A crash between the commit
// and the publish loses nothing (the rows wait for the next flush); a crash after the publish and
// before the delete publishes them twice, which consumers absorb (events carry their ids).
import type { ParleyEvent } from '@parley/contracts';
import type { EventPublisher } from '@parley/messaging';
import type { Logger } from '@parley/observability';
import type { Database, Transaction } from '@parley/persistence';

/** Adds events to the outbox inside the caller's transaction. */
export async function appendToOutbox(db: Database, tx: Transaction, events: readonly ParleyEvent[]): Promise<void> {
  for (const event of events) {
    await db.query('insert into outbox (event) values (?::jsonb)', [JSON.stringify(event)], tx);
  }
}

export type OutboxRelay = {
  /** Publishes what is waiting now (called after each commit that wrote events). */
  nudge(): void;
  /** Publishes everything waiting and resolves when done (tests, shutdown). */
  flush(): Promise<void>;
  stop(): Promise<void>;
};

export function startOutboxRelay(options: { db: Database; publisher: EventPublisher; logger: Logger; pollMs: number; batchSize?: number }): OutboxRelay {
  const { db, publisher, logger } = options;
  const log = logger.child({ component: 'outbox' });
  const batchSize = options.batchSize ?? 100;
  let running: Promise<void> | null = null;
  let again = false;
  let stopped = false;

  // One relay at a time across replicas (an advisory lock), so events leave in the order they were written.
  async function publishBatch(): Promise<number> {
    return db.transaction(async (tx) => {
      const [lock] = await db.query<{ locked: boolean }>('select pg_try_advisory_xact_lock(hashtext(?)) as locked', [`parley-outbox:${db.schema}`], tx);
      if (!lock?.locked) return 0;
      const rows = await db.query<{ seq: string; event: ParleyEvent }>('select seq, event from outbox order by seq limit ?', [batchSize], tx);
      if (rows.length === 0) return 0;
      await publisher.publish(rows.map((row) => row.event));
      // By the exact seqs: a row committed meanwhile with a lower seq is not in this batch (read committed).
      await db.query('delete from outbox where seq in (select jsonb_array_elements_text(?::jsonb)::bigint)', [JSON.stringify(rows.map((r) => String(r.seq)))], tx);
      return rows.length;
    });
  }

  async function drain(): Promise<void> {
    do {
      again = false;
      try {
        while ((await publishBatch()) === batchSize) {
          // a full batch: there may be more
        }
      } catch (error) {
        // Kafka or the database is down: the events stay in the outbox and the next tick retries.
        log.warn({ err: error }, 'could not publish the outbox; retrying later');
        return;
      }
    } while (again && !stopped);
  }

  function run(): Promise<void> {
    if (running) {
      again = true;
      return running;
    }
    running = drain().finally(() => {
      running = null;
    });
    return running;
  }

  const timer = setInterval(() => {
    if (!stopped) void run();
  }, options.pollMs);
  timer.unref();

  return {
    nudge: () => {
      if (!stopped) void run();
    },
    async flush() {
      await run();
      if (again) await run();
    },
    async stop() {
      stopped = true;
      clearInterval(timer);
      await running;
    },
  };
}
