import { messengerConversationId } from '@parley/contracts';
import type { EventOf, ParleyEvent } from '@parley/contracts';
import type { ConsumedEvent } from '@parley/messaging';
import { RetriableError } from '@parley/messaging';
import type { Logger } from '@parley/observability';
import type { Database } from '@parley/persistence';
import { applyEvent, conversationIdOf, emptySlice, referencesOf, routeOf } from './evolve.ts';
import type { ConversationSlice, ConversationState, EvolveContext, PendingEntry, TimelineEvent } from './evolve.ts';
import { conversationStatusOf, fallbackCustomerName, previewOf, statusOf } from './model.ts';
import type { InboxMessage, Watermarks } from './model.ts';
import { evolveCustomer, evolvePage } from './pages.ts';
import type { CustomerProfile, InboxPage, PageEvent } from './pages.ts';

// Applies batches of events to one copy of the inbox (one schema). Rows and the consumed offsets
// are written in ONE transaction, so:
// - a redelivered or replayed record (at or below the stored offset) is skipped: nothing changes;
// - a crash before the commit loses nothing (Kafka redelivers, the offsets were not moved);
// - a crash after the commit but before Kafka's own commit only redelivers what is then skipped.
// Database trouble is retried (RetriableError: the partition waits). An event the projection
// cannot apply (a bug) is recorded in `skipped_events` with the error and the partition moves on;
// a rebuild after the fix applies it.

export type AppliedBatch = {
  topic: string;
  partition: number;
  /** Events applied (not skipped as already applied). */
  applied: number;
  /** Conversations whose rows changed. */
  conversationIds: string[];
  /** Pages whose rows changed. */
  pageIds: string[];
  /** Messenger customers seen for the first time (the profile enricher asks Meta about them). */
  newCustomers: boolean;
};

export type Projector = {
  readonly schema: string;
  readonly db: Database;
  /**
   * Applies one partition's batch (in offset order), with the batches of other partitions that
   * arrive meanwhile (see group commit); resolves once all of it is committed.
   */
  applyBatch(batch: { topic: string; partition: number; events: ReadonlyArray<ConsumedEvent> }): Promise<AppliedBatch>;
  /**
   * Ends bulk loading (see `bulkLoad`): waits for the batches in flight, holds new ones back, writes
   * every conversation's summary and builds the deferred indexes; from then on batches summarize as
   * they write. Safe to call again (after a crash it finds the work done or redoes it).
   */
  finishBulkLoad(deferredIndexes: ReadonlyArray<string>): Promise<void>;
};

export type ProjectorOptions = {
  db: Database;
  logger: Logger;
  context: EvolveContext;
  /** Called after each committed batch (the live stream and the profile enricher listen). */
  onApplied?: (batch: AppliedBatch) => void;
  /**
   * Whether to log changes for the live stream (`inbox_changes`): only the serving copy does; a copy
   * being rebuilt would fill it with history nobody streams (clients reload after a switch).
   */
  recordChanges?: () => boolean;
  /**
   * A copy being rebuilt is written in bulk: conversations without their list summary (one pass over
   * all of them at the end is far cheaper than one per batch) into tables whose secondary indexes
   * are built once at the end. Nothing reads such a copy until `finishBulkLoad` has run.
   */
  bulkLoad?: boolean;
};

export function createProjector(options: ProjectorOptions): Projector {
  const { db, logger, context } = options;
  const log = logger.child({ component: 'projector', schema: db.schema });
  const lockNamespace = hashCode(db.schema);
  const pageLockNamespace = hashCode(`${db.schema}:pages`);
  let bulk = options.bulkLoad ?? false;
  // Groups of batches run side by side; finishing a bulk load needs them all out of the way.
  const gate = createGate();
  /** Groups waiting for their turn, oldest first. */
  const forming: GroupMember[][] = [];
  let inFlight = 0;

  /**
   * Applies `records` (of one or several partitions, each partition's in offset order) in one
   * transaction, with their partitions' offsets.
   */
  async function applyInTransaction(records: ReadonlyArray<ConsumedEvent>): Promise<ChunkResult> {
    return db.transaction(async (tx) => {
      const q = <T>(sql: string, params: unknown[] = []) => db.query<T>(sql, params, tx);
      // The partitions' stored positions, locked in one order (another replica may hold some during a rebalance).
      const last = lastOffsets(records);
      const positions = [...last.keys()].sort().map((key) => ({ key, ...partitionOf(key) }));
      const lockPositions = () =>
        q<{ topic: string; partition: number; offset: string }>(
          `select p.topic, p.partition, p."offset" from projection_offsets p join unnest(?::text[], ?::int[]) as x(topic, partition)
             on p.topic = x.topic and p.partition = x.partition order by p.topic, p.partition for update of p`,
          [pgTextArray(positions.map((p) => p.topic)), positions.map((p) => p.partition)],
        );
      let rows = await lockPositions();
      if (rows.length < positions.length) {
        // A partition's first batch in this copy of the inbox.
        await q(
          `insert into projection_offsets (topic, partition, "offset") select x.topic, x.partition, -1 from unnest(?::text[], ?::int[]) as x(topic, partition)
           order by 1, 2 on conflict do nothing`,
          [pgTextArray(positions.map((p) => p.topic)), positions.map((p) => p.partition)],
        );
        rows = await lockPositions();
      }
      const stored = new Map(rows.map((r) => [positionKey(r.topic, r.partition), BigInt(r.offset)]));
      const fresh = records.filter((r) => BigInt(r.offset) > (stored.get(positionKey(r.topic, r.partition)) ?? -1n));
      const result: ChunkResult = { appliedByPosition: countByPosition(fresh), conversationIds: [], pageIds: [], newCustomers: false };
      if (fresh.length === 0) return result;

      const timeline: Array<{ id: string; event: TimelineEvent }> = [];
      const pageEvents: PageEvent[] = [];
      const profiles: Array<EventOf<'messenger.customer.profile.updated'>> = [];
      for (const { event } of fresh) {
        const route = routeOf(event);
        if (route === 'timeline') {
          const id = conversationIdOf(event as TimelineEvent);
          if (id === null) {
            log.warn({ eventId: event.id, type: event.type }, 'event names no conversation and none can be derived; skipped');
            continue;
          }
          timeline.push({ id, event: event as TimelineEvent });
        } else if (route === 'page') pageEvents.push(event as PageEvent);
        else if (route === 'customer') profiles.push(event as EventOf<'messenger.customer.profile.updated'>);
      }

      const conversationIds = [...new Set(timeline.map((t) => t.id))].sort();
      // Another replica, or a batch of another topic applied beside this one, may touch the same
      // conversations: their locks, in one order, before anything is read. A profile changes its
      // conversation's summary, so it takes that conversation's lock too.
      const locked = [...new Set([...conversationIds, ...profiles.filter((p) => p.data.channel === 'messenger').map((p) => messengerConversationId(p.pageId, p.data.customer.psid))])].sort();
      // A conversation's account comes from its Page's row, which a batch of another partition may be
      // writing at the same time (partitions are applied side by side): Page events take their Pages'
      // locks exclusively, conversation writes share them, so one always sees the other's rows. All
      // of a batch's Page locks are taken here, once, each in its final mode: taking a shared lock for
      // the conversations and then the exclusive one for a Page event of the same batch was an
      // upgrade, and two batches doing it on the same Page deadlocked (seen in the benchmark).
      const exclusivePages = new Set(pageEvents.map((e) => e.pageId));
      await settingsAndLocks(q, locked, [...new Set([...timeline.map((t) => t.event.pageId), ...exclusivePages])], exclusivePages);
      if (conversationIds.length > 0) {
        const slices = await loadSlices(q, conversationIds, timeline.map((t) => t.event));
        const loaded = new Map(slices);
        for (const { id, event } of timeline) slices.set(id, applyEvent(slices.get(id)!, event, context));
        const changed = await writeSlices(q, loaded, slices, { summarize: !bulk });
        result.conversationIds = changed.conversationIds;
        result.newCustomers = changed.newCustomers;
      }

      // Conversations written above carry their summary already. A profile changes the name of
      // conversations it names: those are summarized again below (a Page event's account is
      // written to all of its conversations by writePages).
      const resummarize = new Set<string>();
      if (profiles.length > 0) {
        const touched = await writeProfiles(q, profiles.map(evolveCustomer));
        touched.forEach((id) => resummarize.add(id));
        result.conversationIds = [...new Set([...result.conversationIds, ...touched])];
      }

      if (pageEvents.length > 0) {
        const pageIds = [...exclusivePages];
        const current = new Map(
          (await q<{ page_id: string; account_id: string | null; name: string | null; status: InboxPage['status']; status_reason: string | null }>(
            'select page_id, account_id, name, status, status_reason from pages where page_id = any(?::text[])',
            [pgTextArray(pageIds)],
          )).map((r) => [r.page_id, { pageId: r.page_id, accountId: r.account_id, name: r.name, status: r.status, statusReason: r.status_reason } as InboxPage]),
        );
        for (const event of pageEvents) current.set(event.pageId, evolvePage(current.get(event.pageId) ?? null, event));
        await writePages(q, [...current.values()].filter((p) => pageIds.includes(p.pageId)));
        result.pageIds = pageIds;
      }

      if (resummarize.size > 0 && !bulk) await summarize(q, [...resummarize].sort());
      if (result.conversationIds.length > 0 && (options.recordChanges?.() ?? true)) {
        await q(
          `insert into inbox_changes (account_id, conversation_id)
           select account_id, id from conversations where id = any(?::text[]) and account_id is not null order by id`,
          [pgTextArray(result.conversationIds)],
        );
      }
      await q(
        `update projection_offsets p set "offset" = x.offset, updated_at = now() from unnest(?::text[], ?::int[], ?::bigint[]) as x(topic, partition, "offset")
         where p.topic = x.topic and p.partition = x.partition`,
        [pgTextArray(positions.map((p) => p.topic)), positions.map((p) => p.partition), positions.map((p) => last.get(p.key)!)],
      );
      return result;
    });
  }

  /**
   * One statement before a batch reads anything: the transaction's settings, then the conversations'
   * locks (`conversationIds`, sorted), then the Pages' locks, each in id order: exclusive for those in
   * `exclusive`, shared for the rest. (Three round trips before; the select list is evaluated left
   * to right, so the order in which locks are taken stays the same for every batch.)
   *
   * The settings: every statement here reads a handful of rows by index. Starting parallel workers,
   * or JIT-compiling a plan whose estimated cost looks high (a second per batch, measured), costs
   * more than it saves. Sequential scans are off for the same reason: the tables grow from nothing
   * (a new copy, a bulk load) faster than autovacuum's statistics follow, and on stale statistics
   * PostgreSQL read all of `messages` twice per batch to find 1,000 rows by mid (200–250 ms a batch
   * at 200,000 messages, growing with the table; seen with auto_explain in the benchmark).
   */
  async function settingsAndLocks(q: Query, conversationIds: string[], pageIds: string[], exclusive: ReadonlySet<string>): Promise<void> {
    const pages = [...pageIds].sort();
    await q(
      `with conversations as materialized (select id from unnest(?::text[]) id order by id),
            pages as materialized (select id, exclusive from unnest(?::text[], ?::boolean[]) as t(id, exclusive) order by id)
       select set_config('max_parallel_workers_per_gather', '0', true), set_config('jit', 'off', true), set_config('enable_seqscan', 'off', true),
              (select count(pg_advisory_xact_lock(?, hashtext(id))) from conversations),
              (select count(case when exclusive then pg_advisory_xact_lock(?, hashtext(id))::text else pg_advisory_xact_lock_shared(?, hashtext(id))::text end) from pages)`,
      [pgTextArray(conversationIds), pgTextArray(pages), pages.map((id) => exclusive.has(id)), lockNamespace, pageLockNamespace, pageLockNamespace],
    );
  }

  async function recordSkipped(record: ConsumedEvent, error: unknown): Promise<void> {
    await db.transaction(async (tx) => {
      await db.query(
        `insert into skipped_events (topic, partition, "offset", event_id, type, error) values (?, ?, ?, ?, ?, ?)
         on conflict (topic, partition, "offset") do update set error = excluded.error, at = now()`,
        [record.topic, record.partition, record.offset, record.event.id, record.event.type, String((error as Error)?.stack ?? error).slice(0, 4_000)],
        tx,
      );
      await db.query(
        `insert into projection_offsets (topic, partition, "offset") values (?, ?, ?)
         on conflict (topic, partition) do update set "offset" = greatest(projection_offsets."offset", excluded."offset"), updated_at = now()`,
        [record.topic, record.partition, record.offset],
        tx,
      );
    });
  }

  return {
    schema: db.schema,
    db,
    async finishBulkLoad(deferredIndexes) {
      await gate.exclusive(async () => {
        if (!bulk && deferredIndexes.length === 0) return;
        const started = performance.now();
        await db.transaction(async (tx) => {
          await db.query('set local jit = off', [], tx);
          await db.query('set local max_parallel_workers_per_gather = 0', [], tx);
          await summarize((sql, params) => db.query(sql, params, tx), 'all');
        });
        const summarized = performance.now();
        // Outside a transaction, one by one: each is a bulk build over the finished tables.
        for (const definition of deferredIndexes) await db.query(definition);
        const indexed = performance.now();
        // Statistics now, not whenever autovacuum gets to it: without them the planner picks poor
        // plans for the API's queries on the copy that is about to serve.
        await db.query('analyze conversations, messages, customers, pages, conversation_watermarks, pending_events');
        const analyzed = performance.now();
        bulk = false;
        const ms = (from: number, to: number) => Math.round(to - from);
        log.info(
          { ms: ms(started, analyzed), summariesMs: ms(started, summarized), indexesMs: ms(summarized, indexed), analyzeMs: ms(indexed, analyzed), indexes: deferredIndexes.length },
          'bulk load finished: summaries written, indexes built',
        );
      });
    },
    applyBatch(batch) {
      return new Promise<AppliedBatch>((resolve, reject) => {
        const member = { batch, resolve, reject };
        const last = forming.at(-1);
        if (last && last.reduce((n, m) => n + m.batch.events.length, 0) < GROUP_MAX_EVENTS) last.push(member);
        else forming.push([member]);
        setImmediate(flushIfFree);
      });
    },
  };

  // Group commit. Live, each partition's batch holds an event or two, and one transaction per
  // partition and batch (with its offset row, locks and reads) cost more than the events in it:
  // batches that arrive together (the consumer hands over up to PARTITIONS_CONSUMED_CONCURRENTLY
  // partitions at once) are applied together, in transactions of several partitions, each with its
  // partitions' offsets. At most GROUPS_IN_FLIGHT groups are applied at once; batches arriving
  // meanwhile form the next groups, of up to GROUP_MAX_EVENTS events: a backlog arrives in big
  // batches, and one group of all of them would be applied one transaction at a time (measured:
  // a third slower catching up) where two groups keep two going.
  // Assumes what Kafka guarantees: one batch of a partition at a time (the next after this resolves).
  function flushIfFree(): void {
    while (forming.length > 0 && inFlight < GROUPS_IN_FLIGHT) {
      const group = forming.shift()!;
      inFlight++;
      void applyGroup(group).finally(() => {
        inFlight--;
        flushIfFree();
      });
    }
  }

  /**
   * The group's events in transactions of at most MAX_CONVERSATIONS_PER_TRANSACTION conversations,
   * in order: each conversation takes an advisory lock until its transaction ends, and PostgreSQL's
   * lock table is small (64 per connection by default, shared): two 4 MiB batches of 5,000
   * conversations each ran it out ("out of shared memory") in the 1,000,000-event benchmark.
   */
  async function applyGroup(members: GroupMember[]): Promise<void> {
    const results = new Map(members.map((m) => [m, { topic: m.batch.topic, partition: m.batch.partition, applied: 0, conversationIds: [], pageIds: [], newCustomers: false } as AppliedBatch]));
    try {
      await gate.shared(async () => {
        for (const chunk of chunksByConversation(members.flatMap((m) => m.batch.events), MAX_CONVERSATIONS_PER_TRANSACTION)) {
          const applied = await applyChunk(chunk);
          for (const member of members) {
            const count = applied.appliedByPosition.get(positionKey(member.batch.topic, member.batch.partition)) ?? 0;
            if (count === 0) continue;
            // What the transaction changed is reported to each of its batches (listeners are idempotent).
            const part: AppliedBatch = { topic: member.batch.topic, partition: member.batch.partition, applied: count, conversationIds: applied.conversationIds, pageIds: applied.pageIds, newCustomers: applied.newCustomers };
            const total = results.get(member)!;
            total.applied += count;
            total.conversationIds = [...new Set([...total.conversationIds, ...part.conversationIds])];
            total.pageIds = [...new Set([...total.pageIds, ...part.pageIds])];
            total.newCustomers ||= part.newCustomers;
            options.onApplied?.(part);
          }
        }
      });
      for (const member of members) member.resolve(results.get(member)!);
    } catch (error) {
      // The database is unavailable (RetriableError): every batch of the group is retried by its
      // partition's consumer; what was committed before is skipped then, by its offsets.
      for (const member of members) member.reject(error);
    }
  }

  async function applyChunk(records: ReadonlyArray<ConsumedEvent>): Promise<ChunkResult> {
    try {
      return await applyInTransaction(records);
    } catch (error) {
      if (isTransientDatabaseError(error)) throw new RetriableError(`the inbox database is unavailable: ${(error as Error).message}`, { cause: error });
      // One event of the chunk cannot be applied: apply them one by one to find it, keep the rest.
      log.warn({ err: error, positions: [...lastOffsets(records).keys()].map(partitionOf), size: records.length }, 'batch failed; applying its events one by one');
      const result: ChunkResult = { appliedByPosition: new Map(), conversationIds: [], pageIds: [], newCustomers: false };
      for (const record of records) {
        try {
          const one = await applyInTransaction([record]);
          for (const [key, count] of one.appliedByPosition) result.appliedByPosition.set(key, (result.appliedByPosition.get(key) ?? 0) + count);
          result.conversationIds = [...new Set([...result.conversationIds, ...one.conversationIds])];
          result.pageIds = [...new Set([...result.pageIds, ...one.pageIds])];
          result.newCustomers ||= one.newCustomers;
        } catch (single) {
          if (isTransientDatabaseError(single)) throw new RetriableError(`the inbox database is unavailable: ${(single as Error).message}`, { cause: single });
          log.error({ err: single, topic: record.topic, partition: record.partition, offset: record.offset, eventId: record.event.id, type: record.event.type }, 'event could not be applied; recorded in skipped_events');
          await recordSkipped(record, single);
        }
      }
      return result;
    }
  }
}

/** What one transaction applied: events by partition (`positionKey`), and what changed. */
type ChunkResult = { appliedByPosition: Map<string, number>; conversationIds: string[]; pageIds: string[]; newCustomers: boolean };

type GroupMember = {
  batch: { topic: string; partition: number; events: ReadonlyArray<ConsumedEvent> };
  resolve: (result: AppliedBatch) => void;
  reject: (error: unknown) => void;
};

/** Groups applied at once: two keep PostgreSQL busy while this process folds the next. */
const GROUPS_IN_FLIGHT = 2;

/** A group takes more batches while it holds fewer events than this (a live trickle, not a backlog). */
const GROUP_MAX_EVENTS = 1_000;

function positionKey(topic: string, partition: number): string {
  return `${topic}\u0000${partition}`;
}

function partitionOf(key: string): { topic: string; partition: number } {
  const at = key.lastIndexOf('\u0000');
  return { topic: key.slice(0, at), partition: Number(key.slice(at + 1)) };
}

/** Each partition's highest offset among `records`. */
function lastOffsets(records: ReadonlyArray<ConsumedEvent>): Map<string, string> {
  const last = new Map<string, string>();
  for (const r of records) {
    const key = positionKey(r.topic, r.partition);
    const seen = last.get(key);
    if (seen === undefined || BigInt(r.offset) > BigInt(seen)) last.set(key, r.offset);
  }
  return last;
}

function countByPosition(records: ReadonlyArray<ConsumedEvent>): Map<string, number> {
  const counts = new Map<string, number>();
  for (const r of records) {
    const key = positionKey(r.topic, r.partition);
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return counts;
}

/** Partitions the inbox's consumer hands over at once, so that their batches can be applied together. */
export const PARTITIONS_CONSUMED_CONCURRENTLY = 12;

/** Conversations (so advisory locks) one transaction of the projector holds at most. */
export const MAX_CONVERSATIONS_PER_TRANSACTION = 1_000;

/**
 * Consecutive runs of `events`, each naming at most `max` conversations. An event without a
 * conversation id counts as one of its own (it may still lock one, derived or a profile's): smaller
 * chunks cost a little, a lock table run out costs the batch.
 */
export function chunksByConversation<T extends { event: { id: string; conversationId: string | null } }>(events: ReadonlyArray<T>, max: number): T[][] {
  const chunks: T[][] = [];
  let current: T[] = [];
  let conversations = new Set<string>();
  for (const record of events) {
    const id = record.event.conversationId ?? `event:${record.event.id}`;
    if (!conversations.has(id) && conversations.size >= max) {
      chunks.push(current);
      current = [];
      conversations = new Set();
    }
    conversations.add(id);
    current.push(record);
  }
  if (current.length > 0) chunks.push(current);
  return chunks;
}

/** Shared holders run side by side; an exclusive one waits for them and holds new ones back. */
function createGate() {
  let shared = 0;
  let exclusive: Promise<void> | null = null;
  let drained: (() => void) | null = null;
  return {
    async shared<T>(work: () => Promise<T>): Promise<T> {
      while (exclusive) await exclusive;
      shared++;
      try {
        return await work();
      } finally {
        shared--;
        if (shared === 0) drained?.();
      }
    },
    async exclusive(work: () => Promise<void>): Promise<void> {
      while (exclusive) await exclusive;
      let release: () => void = () => {};
      exclusive = new Promise<void>((resolve) => (release = resolve));
      try {
        if (shared > 0) await new Promise<void>((resolve) => (drained = resolve));
        drained = null;
        await work();
      } finally {
        exclusive = null;
        release();
      }
    },
  };
}

type Query = <T>(sql: string, params?: unknown[]) => Promise<T[]>;

async function loadSlices(q: Query, conversationIds: string[], events: ReadonlyArray<TimelineEvent>): Promise<Map<string, ConversationSlice>> {
  const ids = pgTextArray(conversationIds);
  const slices = new Map(conversationIds.map((id) => [id, emptySlice(id)]));
  // The conversations' states, watermarks and waiting events in one round trip (they were three);
  // the messages need the waiting events' references, so they come second.
  type StateRow =
    | { kind: 'conversation'; conversation_id: string; doc: ConversationState; seq: null; waits_for: null; event_id: null }
    | { kind: 'watermarks'; conversation_id: string; doc: Watermarks; seq: null; waits_for: null; event_id: null }
    | { kind: 'pending'; conversation_id: string; doc: ParleyEvent; seq: string; waits_for: string; event_id: string };
  const states = await q<StateRow>(
    `select 'conversation' as kind, id as conversation_id, state as doc, null::bigint as seq, null::text as waits_for, null::text as event_id
       from conversations where id = any(?::text[])
     union all
     select 'watermarks', conversation_id, jsonb_build_object('delivered', delivered, 'read', read), null, null, null
       from conversation_watermarks where conversation_id = any(?::text[])
     union all
     select 'pending', conversation_id, event, seq, waits_for, event_id from pending_events where conversation_id = any(?::text[])`,
    [ids, ids, ids],
  );
  const pending: Array<{ conversation_id: string; waits_for: string; event_id: string; event: ParleyEvent; seq: bigint }> = [];
  for (const row of states) {
    if (row.kind === 'conversation') slices.get(row.conversation_id)!.conversation = row.doc;
    else if (row.kind === 'watermarks') slices.get(row.conversation_id)!.watermarks = row.doc;
    else pending.push({ conversation_id: row.conversation_id, waits_for: row.waits_for, event_id: row.event_id, event: row.doc, seq: BigInt(row.seq) });
  }
  // In the order they were stored (a union promises no order).
  pending.sort((a, b) => (a.seq < b.seq ? -1 : a.seq > b.seq ? 1 : 0));
  const pendingBySlice = new Map<string, PendingEntry[]>();
  for (const row of pending) {
    const list = pendingBySlice.get(row.conversation_id) ?? [];
    list.push({ eventId: row.event_id, waitsFor: row.waits_for, event: row.event });
    pendingBySlice.set(row.conversation_id, list);
  }
  for (const [id, list] of pendingBySlice) slices.get(id)!.pending = list;

  // The messages the events (and the pending ones) refer to, plus those a watermark can change.
  const refs = { ids: new Set<string>(), mids: new Set<string>(), outboundIds: new Set<string>(), watermark: new Set<string>() };
  const collect = (event: TimelineEvent, conversationId: string) => {
    const r = referencesOf(event);
    r.ids.forEach((v) => refs.ids.add(v));
    r.mids.forEach((v) => refs.mids.add(v));
    r.outboundIds.forEach((v) => refs.outboundIds.add(v));
    if (r.watermark) refs.watermark.add(conversationId);
  };
  for (const event of events) collect(event, conversationIdOf(event)!);
  for (const row of pending) collect(row.event as TimelineEvent, row.conversation_id);
  const messages = await q<{ doc: InboxMessage }>(
    `select doc from messages where conversation_id = any(?::text[]) and id = any(?::text[])
     union all select doc from messages where conversation_id = any(?::text[]) and mid = any(?::text[])
     union all select doc from messages where conversation_id = any(?::text[]) and outbound_id = any(?::text[])
     union all select doc from messages where conversation_id = any(?::text[]) and direction = 'outbound' and status in ('sent', 'delivered')`,
    [ids, pgTextArray([...refs.ids]), ids, pgTextArray([...refs.mids]), ids, pgTextArray([...refs.outboundIds]), pgTextArray([...refs.watermark])],
  );
  for (const { doc } of messages) {
    const slice = slices.get(doc.conversationId)!;
    if (!slice.messages.has(doc.id)) (slice.messages as Map<string, InboxMessage>).set(doc.id, doc);
  }
  return slices;
}

async function writeSlices(
  q: Query,
  before: Map<string, ConversationSlice>,
  after: Map<string, ConversationSlice>,
  options: { summarize: boolean },
): Promise<{ conversationIds: string[]; newCustomers: boolean }> {
  const messages: InboxMessage[] = [];
  const removed: string[] = [];
  const watermarks: Array<{ conversation_id: string; delivered: unknown; read: unknown }> = [];
  const pendingDeleted: Array<{ conversation_id: string; waits_for: string; event_id: string }> = [];
  const pendingAdded: Array<{ conversation_id: string; waits_for: string; event_id: string; event: ParleyEvent }> = [];
  const newConversations: ConversationState[] = [];
  const touched = new Set<string>();

  for (const [id, slice] of after) {
    const old = before.get(id)!;
    if (slice.conversation !== null && slice.conversation !== old.conversation) {
      if (old.conversation === null) newConversations.push(slice.conversation);
      touched.add(id);
    }
    for (const [messageId, message] of slice.messages) {
      if (old.messages.get(messageId) !== message) {
        messages.push(message);
        touched.add(id);
      }
    }
    if (slice.removedMessageIds.size > 0) {
      removed.push(...slice.removedMessageIds);
      touched.add(id);
    }
    if (slice.watermarks !== old.watermarks) watermarks.push({ conversation_id: id, delivered: slice.watermarks.delivered, read: slice.watermarks.read });
    if (slice.pending !== old.pending) {
      const key = (p: PendingEntry) => `${p.waitsFor}\u0000${p.eventId}`;
      const now = new Set(slice.pending.map(key));
      const was = new Set(old.pending.map(key));
      for (const p of old.pending) if (!now.has(key(p))) pendingDeleted.push({ conversation_id: id, waits_for: p.waitsFor, event_id: p.eventId });
      for (const p of slice.pending) if (!was.has(key(p))) pendingAdded.push({ conversation_id: id, waits_for: p.waitsFor, event_id: p.eventId, event: p.event });
    }
  }

  if (messages.length > 0) {
    await q(
      `insert into messages (id, conversation_id, mid, outbound_id, direction, author, kind, status, text, preview, created_at, part, answered_at, removed, doc)
       select x.id, x.conversation_id, x.mid, x.outbound_id, x.direction, x.author, x.kind, x.status, x.text, x.preview,
              to_timestamp(x.created_at / 1000.0), x.part, to_timestamp(x.answered_at / 1000.0), x.removed, x.doc
       from jsonb_to_recordset(?::jsonb) as x(id text, conversation_id text, mid text, outbound_id text, direction text, author text, kind text,
                                              status text, text text, preview text, created_at double precision, part integer,
                                              answered_at double precision, removed boolean, doc jsonb)
       order by x.id
       on conflict (id) do update set
         conversation_id = excluded.conversation_id, mid = excluded.mid, outbound_id = excluded.outbound_id, direction = excluded.direction,
         author = excluded.author, kind = excluded.kind, status = excluded.status, text = excluded.text, preview = excluded.preview,
         created_at = excluded.created_at, part = excluded.part, answered_at = excluded.answered_at, removed = excluded.removed, doc = excluded.doc`,
      [
        JSON.stringify(
          messages.map((m) => ({
            id: m.id,
            conversation_id: m.conversationId,
            mid: m.mid,
            outbound_id: m.outboundId,
            direction: m.direction,
            author: m.author,
            kind: m.kind,
            status: statusOf(m),
            text: m.removed ? null : m.text,
            preview: previewOf(m),
            created_at: m.createdAt,
            part: m.part ?? 0,
            answered_at: answeredAt(m),
            removed: m.removed,
            doc: m,
          })),
        ),
      ],
    );
  }
  if (removed.length > 0) await q('delete from messages where id = any(?::text[])', [pgTextArray(removed)]);
  if (watermarks.length > 0) {
    await q(
      `insert into conversation_watermarks (conversation_id, delivered, read)
       select x.conversation_id, x.delivered, x.read from jsonb_to_recordset(?::jsonb) as x(conversation_id text, delivered jsonb, read jsonb)
       on conflict (conversation_id) do update set delivered = excluded.delivered, read = excluded.read`,
      [JSON.stringify(watermarks)],
    );
  }
  if (pendingDeleted.length > 0) {
    await q(
      `delete from pending_events p using jsonb_to_recordset(?::jsonb) as x(conversation_id text, waits_for text, event_id text)
       where p.conversation_id = x.conversation_id and p.waits_for = x.waits_for and p.event_id = x.event_id`,
      [JSON.stringify(pendingDeleted)],
    );
  }
  if (pendingAdded.length > 0) {
    await q(
      `insert into pending_events (conversation_id, waits_for, event_id, event)
       select x.conversation_id, x.waits_for, x.event_id, x.event from jsonb_to_recordset(?::jsonb) as x(conversation_id text, waits_for text, event_id text, event jsonb)
       on conflict do nothing`,
      [JSON.stringify(pendingAdded)],
    );
  }
  let newCustomers = false;
  const messengerCustomers = newConversations.filter((c) => c.channel === 'messenger');
  if (messengerCustomers.length > 0) {
    const inserted = await q<{ psid: string }>(
      `insert into customers (page_id, psid)
       select x.page_id, x.psid from jsonb_to_recordset(?::jsonb) as x(page_id text, psid text) order by 1, 2
       on conflict do nothing returning psid`,
      [JSON.stringify(messengerCustomers.map((c) => ({ page_id: c.pageId, psid: c.customerPsid })))],
    );
    newCustomers = inserted.length > 0;
  }
  // Last, so that the summary reads the rows written above. A conversation whose messages changed
  // is written even if its state did not: its summary (last message, unread count) did.
  const written = [...touched].map((id) => after.get(id)!.conversation).filter((c): c is ConversationState => c !== null);
  if (written.length > 0) await writeConversations(q, written, options);
  return { conversationIds: [...touched], newCustomers };
}

/**
 * Upserts conversations with their state and, in the same statement, what the list shows of them
 * (see `SUMMARY_OF_X`): one row version per conversation and batch. A row that would not change is
 * left alone (no dead tuple, no index entries).
 */
async function writeConversations(q: Query, conversations: ConversationState[], options: { summarize: boolean }): Promise<void> {
  // Bulk loading: the summary columns get placeholders here and their values from summarize(…, 'all').
  const summary = options.summarize
    ? SUMMARY_OF_X
    : `select null::text as account_id, x.name_base as customer_name, 'fallback' as name_source, null::timestamptz as last_message_at,
              null::text as last_message_preview, null::timestamptz as answered_at, 0 as unread_count`;
  await q(
    `insert into conversations as c (id, page_id, channel, customer_psid, customer_name_base, status, state, created_at, last_inbound_at,
                              last_escalated_at, last_resolved_at, account_id, customer_name, customer_name_source, last_message_at,
                              last_message_preview, last_answered_at, unread_count, last_activity_at)
     select x.id, x.page_id, x.channel, x.customer_psid, x.name_base, x.status, x.state, x.created_at, x.last_inbound_at,
            x.last_escalated_at, x.last_resolved_at, s.account_id, s.customer_name, s.name_source, s.last_message_at,
            s.last_message_preview, s.answered_at, s.unread_count,
            greatest(s.last_message_at, x.last_escalated_at, x.last_resolved_at, x.created_at)
     from (
       select r.id, r.page_id, r.channel, r.customer_psid, r.name_base, r.status, r.state, r.state->>'customerEventName' as event_name,
              to_timestamp(r.created_at / 1000.0) as created_at, to_timestamp(r.last_inbound_at / 1000.0) as last_inbound_at,
              to_timestamp(r.last_escalated_at / 1000.0) as last_escalated_at, to_timestamp(r.last_resolved_at / 1000.0) as last_resolved_at
       from jsonb_to_recordset(?::jsonb) as r(id text, page_id text, channel text, customer_psid text, name_base text, status text,
                                              state jsonb, created_at double precision, last_inbound_at double precision,
                                              last_escalated_at double precision, last_resolved_at double precision)
     ) x
     cross join lateral (${summary}) s
     order by x.id
     on conflict (id) do update set
       customer_psid = excluded.customer_psid, customer_name_base = excluded.customer_name_base, status = excluded.status,
       state = excluded.state, created_at = excluded.created_at, last_inbound_at = excluded.last_inbound_at,
       last_escalated_at = excluded.last_escalated_at, last_resolved_at = excluded.last_resolved_at, account_id = excluded.account_id,
       customer_name = excluded.customer_name, customer_name_source = excluded.customer_name_source,
       last_message_at = excluded.last_message_at, last_message_preview = excluded.last_message_preview,
       last_answered_at = excluded.last_answered_at, unread_count = excluded.unread_count, last_activity_at = excluded.last_activity_at,
       updated_at = now()
     where (c.state, c.status, c.account_id, c.customer_name, c.customer_name_source, c.last_message_at, c.last_message_preview,
            c.last_answered_at, c.unread_count, c.last_activity_at, c.created_at, c.last_inbound_at, c.last_escalated_at, c.last_resolved_at)
           is distinct from
           (excluded.state, excluded.status, excluded.account_id, excluded.customer_name, excluded.customer_name_source, excluded.last_message_at,
            excluded.last_message_preview, excluded.last_answered_at, excluded.unread_count, excluded.last_activity_at, excluded.created_at,
            excluded.last_inbound_at, excluded.last_escalated_at, excluded.last_resolved_at)`,
    [
      JSON.stringify(
        conversations.map((c) => ({
          id: c.id,
          page_id: c.pageId,
          channel: c.channel,
          customer_psid: c.customerPsid,
          name_base: c.customerEventName ?? fallbackCustomerName(c.customerPsid),
          status: conversationStatusOf(c),
          state: c,
          created_at: c.createdAt,
          last_inbound_at: c.lastInboundAt,
          last_escalated_at: c.escalation?.at ?? null,
          last_resolved_at: c.lastResolvedAt,
        })),
      ),
    ],
  );
}

/** When a message answered the customer (for the unread count): a reply sent by the assistant or a person. */
function answeredAt(message: InboxMessage): number | null {
  if (message.direction !== 'outbound' || message.author === 'page') return null;
  return message.metaTimestamp ?? message.sentAt;
}

async function writeProfiles(q: Query, profiles: CustomerProfile[]): Promise<string[]> {
  // Within a conversation (one partition) the latest profile event wins.
  const latest = new Map(profiles.map((p) => [`${p.pageId}\u0000${p.psid}`, p]));
  const rows = [...latest.values()];
  await q(
    `insert into customers as c (page_id, psid, profile_available, profile_name, profile, profile_status)
     select x.page_id, x.psid, x.available, x.name, x.profile, case when x.available then 'available' else 'unavailable' end
     from jsonb_to_recordset(?::jsonb) as x(page_id text, psid text, available boolean, name text, profile jsonb)
     order by 1, 2
     on conflict (page_id, psid) do update set
       profile_available = excluded.profile_available, profile_name = excluded.profile_name, profile = excluded.profile,
       profile_status = excluded.profile_status, last_error = null, updated_at = now()`,
    [JSON.stringify(rows.map((p) => ({ page_id: p.pageId, psid: p.psid, available: p.available, name: p.name, profile: p })))],
  );
  const touched = await q<{ id: string }>(
    `select c.id from conversations c join jsonb_to_recordset(?::jsonb) as x(page_id text, psid text)
       on c.page_id = x.page_id and c.customer_psid = x.psid and c.channel = 'messenger'`,
    [JSON.stringify(rows.map((p) => ({ page_id: p.pageId, psid: p.psid })))],
  );
  return touched.map((r) => r.id);
}

async function writePages(q: Query, pages: InboxPage[]): Promise<void> {
  await q(
    `insert into pages (page_id, account_id, name, status, status_reason)
     select x.page_id, x.account_id, x.name, x.status, x.status_reason
     from jsonb_to_recordset(?::jsonb) as x(page_id text, account_id text, name text, status text, status_reason text)
     on conflict (page_id) do update set account_id = excluded.account_id, name = excluded.name, status = excluded.status,
       status_reason = excluded.status_reason, updated_at = now()`,
    [JSON.stringify(pages.map((p) => ({ page_id: p.pageId, account_id: p.accountId, name: p.name, status: p.status, status_reason: p.statusReason })))],
  );
  // A Page's conversations belong to the Page's account (ingress does not know it).
  await q(
    `update conversations c set account_id = p.account_id, updated_at = now()
     from pages p where p.page_id = c.page_id and p.page_id = any(?::text[]) and c.account_id is distinct from p.account_id`,
    [pgTextArray(pages.map((p) => p.pageId))],
  );
}

/**
 * What every conversation shows in the list, derived from its rows (so the result does not depend
 * on the order events arrived in): account, name, last message, unread count. A lateral subquery
 * over `x` (id, page_id, channel, customer_psid, name_base, event_name); every step is an index
 * lookup for that one conversation (the inbox may hold hundreds of thousands).
 */
const SUMMARY_OF_X = `
  select (select p.account_id from pages p where p.page_id = x.page_id) as account_id,
         coalesce(f.profile_name, x.name_base) as customer_name,
         case when f.profile_name is not null then 'profile' when x.event_name is not null then 'meta' else 'fallback' end as name_source,
         a.last_message_at,
         a.last_message_preview,
         a.answered_at,
         (select count(*) from unnest(a.inbound_at) t where t > coalesce(a.answered_at, '-infinity'::timestamptz))::int as unread_count
  from (
    select case when x.channel = 'messenger' then
             (select cu.profile_name from customers cu where cu.page_id = x.page_id and cu.psid = x.customer_psid and cu.profile_available)
           end as profile_name
    -- A fence: pulled up, the lookup ran once for each of the two uses of profile_name (seen in EXPLAIN).
    offset 0
  ) f
  -- One pass over the conversation's messages (an index range) gives all three facts.
  cross join lateral (
    select max(m.answered_at) as answered_at,
           (array_agg(m.created_at order by m.created_at desc, m.part desc, m.id desc) filter (where m.status <> 'cancelled'))[1] as last_message_at,
           (array_agg(m.preview order by m.created_at desc, m.part desc, m.id desc) filter (where m.status <> 'cancelled'))[1] as last_message_preview,
           array_agg(m.created_at) filter (where m.direction = 'inbound' and not m.removed) as inbound_at
    from messages m where m.conversation_id = x.id
  ) a`;

/**
 * Writes the summary of `conversationIds` again (a customer's profile arrived: their rows did not
 * change, their summary may have), or of every conversation (`'all'`: the end of a bulk load).
 */
async function summarize(q: Query, conversationIds: string[] | 'all'): Promise<void> {
  const some = conversationIds !== 'all';
  await q(
    `with x as materialized (
       select c.id, c.page_id, c.channel, c.customer_psid, c.customer_name_base as name_base, c.state->>'customerEventName' as event_name
       from conversations c ${some ? 'where c.id = any(?::text[])' : ''}
     )
     update conversations c set
       account_id = s.account_id,
       customer_name = s.customer_name,
       customer_name_source = s.name_source,
       last_message_at = s.last_message_at,
       last_message_preview = s.last_message_preview,
       last_answered_at = s.answered_at,
       unread_count = s.unread_count,
       last_activity_at = greatest(s.last_message_at, c.last_escalated_at, c.last_resolved_at, c.created_at),
       updated_at = now()
     from x cross join lateral (${SUMMARY_OF_X}) s
     where c.id = x.id
       -- Rewriting a row that does not change would only cost index entries and dead tuples.
       and (c.account_id, c.customer_name, c.customer_name_source, c.last_message_at, c.last_message_preview, c.last_answered_at, c.unread_count, c.last_activity_at)
           is distinct from
           (s.account_id, s.customer_name, s.name_source, s.last_message_at, s.last_message_preview, s.answered_at, s.unread_count,
            greatest(s.last_message_at, c.last_escalated_at, c.last_resolved_at, c.created_at))`,
    some ? [pgTextArray(conversationIds)] : [],
  );
}

/** A PostgreSQL text[] literal: one bound parameter however many values (and no `in ()` for none). */
export function pgTextArray(values: ReadonlyArray<string>): string {
  return `{${values.map((v) => `"${v.replaceAll('\\', '\\\\').replaceAll('"', '\\"')}"`).join(',')}}`;
}

/** Errors of the database or the way to it (worth retrying), as opposed to a bad statement or a bug. */
export function isTransientDatabaseError(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === 'string') {
    if (/^(08|53|57|58)/.test(code)) return true; // connection, resources, operator intervention, system
    if (code === '40001' || code === '40P01' || code === '55P03') return true; // serialization, deadlock, lock not available
    if (['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN'].includes(code)) return true;
  }
  const message = String((error as Error)?.message ?? '');
  return /Connection terminated|connection timeout|timeout acquiring a connection|Client has encountered a connection error|pool is draining|not queryable/i.test(message);
}

function hashCode(text: string): number {
  let hash = 0;
  for (let i = 0; i < text.length; i++) hash = (Math.imul(31, hash) + text.charCodeAt(i)) | 0;
  return hash;
}
