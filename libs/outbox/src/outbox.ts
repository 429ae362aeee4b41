// Transactional outbox: events are inserted in the same transaction as the state change they
// describe, and a relay publishes them to Kafka in order, then deletes them. A crash after publishing
// and before deleting publishes them again: their ids are deterministic, so consumers apply them once.
// A crash before publishing loses nothing (the rows wait for the next start), and a change that
// rolled back never publishes its events.
import { parseEvent } from '@parley/contracts';
import type { ParleyEvent } from '@parley/contracts';
import type { EventPublisher } from '@parley/messaging';
import type { Logger } from '@parley/observability';
import type { Database, Transaction } from '@parley/persistence';

/**
 * The tables the outbox needs in a service's schema, for its migrations. (outbound-sender created
 * these in its first migration, auth-token brought its older table to this shape in a later one.)
 */
export const OUTBOX_TABLES: ReadonlyArray<string> = [
  `create table outbox (
     seq bigserial primary key,
     event_id text not null,
     event jsonb not null,
     created_at timestamptz not null default now()
   )`,
  // Outbox rows the relay could not read as events (a bug): kept for a person, never dropped.
  `create table outbox_rejected (
     seq bigint primary key,
     event jsonb not null,
     error text not null,
     rejected_at timestamptz not null default now()
   )`,
];

/**
 * The outbox rows of some events, in their order, as an `insert … select` tail: `from` names what
 * the rows are selected from besides the events (a CTE, so that they are written only if it
 * matched). Parameters: `outboxParameters(events)`.
 */
export function outboxInsert(from?: string): string {
  return `insert into outbox (event_id, event)
          select e.id, e.doc::jsonb from ${from ? `${from}, ` : ''}unnest(?::text[], ?::text[]) with ordinality as e(id, doc, n)
          order by e.n`;
}

export function outboxParameters(events: ReadonlyArray<ParleyEvent>): [string[], string[]] {
  return [events.map((e) => e.id), events.map((e) => JSON.stringify(e))];
}

/** Writes events to the outbox inside `tx` (they are published only if it commits), in one statement. */
export async function appendToOutbox(db: Database, tx: Transaction | undefined, events: ReadonlyArray<ParleyEvent>): Promise<void> {
  if (events.length === 0) return;
  await db.query(outboxInsert(), outboxParameters(events), tx);
}

export type OutboxRelay = {
  /** Publish now rather than at the next poll (call it after a commit that wrote events). */
  wake(): void;
  /** Publishes everything written before the call, and resolves once Kafka has it. */
  flush(): Promise<void>;
  /** Stops after the batch in flight is published, then publishes what is left. */
  stop(): Promise<void>;
  /** How many times it has read the outbox (tests: a wake that finds nothing costs a transaction). */
  reads(): number;
};

export type OutboxRelayOptions = {
  db: Database;
  publisher: EventPublisher;
  logger: Logger;
  pollMs?: number;
  batchSize?: number;
  /**
   * How long a wake waits for more rows before the relay reads (default 20 ms). A send writes two
   * events a few hundred milliseconds apart (scheduled, sent): at 50 answers/s, each read took one
   * row; the events are not on the way to the customer (the Send API call came before `sent`).
   */
  lingerMs?: number;
};

export function startOutboxRelay(options: OutboxRelayOptions): OutboxRelay {
  const { db, publisher } = options;
  // The poll only finds rows nobody woke the relay for (written before a crash); a write here wakes it.
  const pollMs = options.pollMs ?? 1_000;
  /** Another replica's relay holds the lock: look again soon, its batch may not include our rows. */
  const lockBusyRetryMs = Math.min(pollMs, 50);
  const batchSize = options.batchSize ?? 200;
  const lingerMs = options.lingerMs ?? 20;
  const log = options.logger.child({ component: 'outbox' });
  let running = true;
  let wakeUp: (() => void) | undefined;
  // Wakes so far, and how many of them the last read of the outbox covered. A wake comes after its
  // rows committed, so a read that started after it saw them; one that came later means look again.
  let wakes = 0;
  let wakesRead = 0;
  let reads = 0;
  let failures = 0;

  /**
   * Publishes one batch; returns how many rows it handled, or 'busy' when another relay holds the
   * lock. The rows are taken (deleted) in the statement that takes the lock, and the deletion
   * commits only after Kafka acknowledged them: a failed publish rolls it back. Three statements
   * (BEGIN, this, COMMIT) where lock, read and delete were five.
   */
  async function relayBatch(): Promise<number | 'busy'> {
    return db.transaction(async (tx) => {
      wakesRead = wakes;
      reads++;
      // One relay at a time across replicas, so events leave in the order they were written.
      const taken = await db.query<{ locked: boolean; seq: string | null; event: unknown }>(
        `with lock as materialized (select pg_try_advisory_xact_lock(hashtext(?)) as locked),
              taken as (delete from outbox where seq in (select seq from outbox where (select locked from lock) order by seq limit ?) returning seq, event)
         select lock.locked, taken.seq, taken.event from lock left join taken on true order by taken.seq`,
        [`parley-outbox:${db.schema}`, batchSize],
        tx,
      );
      if (!taken[0]?.locked) return 'busy';
      const rows = taken.filter((row): row is { locked: boolean; seq: string; event: unknown } => row.seq !== null);
      if (rows.length === 0) return 0;
      const events: ParleyEvent[] = [];
      for (const row of rows) {
        const decoded = parseEvent(row.event);
        if (decoded.ok) {
          events.push(decoded.event);
        } else {
          log.error({ seq: row.seq, detail: decoded.message }, 'an outbox row is not a valid event; moved to outbox_rejected');
          await db.query('insert into outbox_rejected (seq, event, error) values (?, ?::jsonb, ?) on conflict do nothing', [row.seq, JSON.stringify(row.event), decoded.message], tx);
        }
      }
      await publisher.publish(events);
      return rows.length;
    });
  }

  const loop = (async () => {
    while (running) {
      let handled: number | 'busy' = 0;
      try {
        handled = await relayBatch();
        failures = 0;
      } catch (error) {
        failures++;
        log.warn({ err: error, failures }, 'publishing the outbox failed; retrying');
      }
      // A full batch may have left rows behind; a batch that was not full took every row there was,
      // and whatever is written since comes with a wake. (Looking again after every batch made each
      // one cost an empty transaction: four statements, a sixth of the service's. Looking again for
      // every wake during a batch, even one its read already covered, was one more per answer.)
      if (handled !== 'busy' && failures === 0) {
        if (handled >= batchSize) continue;
        if (wakes > wakesRead) {
          await sleep(lingerMs);
          continue;
        }
      }
      const wait = failures > 0 ? Math.min(5_000, pollMs * 2 ** Math.min(failures, 5)) : handled === 'busy' ? lockBusyRetryMs : pollMs;
      const woken = await new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => resolve(false), wait);
        wakeUp = () => {
          clearTimeout(timer);
          resolve(true);
        };
      });
      wakeUp = undefined;
      if (woken && running) await sleep(lingerMs);
    }
  })();

  return {
    wake() {
      wakes++;
      wakeUp?.();
    },
    reads: () => reads,
    flush: drainNow,
    async stop() {
      running = false;
      wakeUp?.();
      await loop;
      // Publish what the last work wrote; whatever is left goes out after the next start.
      await drainNow().catch((error: unknown) => {
        log.warn({ err: error }, 'could not publish the whole outbox before stopping; the rest goes out after the next start');
      });
    },
  };

  /**
   * Takes batches until one finds the outbox empty. Beside the loop, a take of its own: the lock
   * lets one take run at a time, and one that finds it held waits a moment and tries again
   * (bounded: the holder may be another replica that is stuck).
   */
  async function drainNow(): Promise<void> {
    for (let busy = 0; ; ) {
      const handled = await relayBatch();
      if (handled === 0) return;
      if (handled === 'busy') {
        if (++busy > 100) throw new Error('the outbox stayed locked by another relay');
        await sleep(lockBusyRetryMs);
      }
    }
  }
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
