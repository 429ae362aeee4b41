import { randomBytes, randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { EventPublisher, Kafka, RunningConsumer } from '@parley/messaging';
import { BACKGROUND_FETCH, startBatchConsumer } from '@parley/messaging';
import type { Logger, Registry } from '@parley/observability';
import { openDatabase } from '@parley/persistence';
import type { Database } from '@parley/persistence';
import type { EvolveContext } from '../inbox/evolve.ts';
import { API_ONLY_INDEXES, inboxMigrations } from '../inbox/migrations.ts';
import { PARTITIONS_CONSUMED_CONCURRENTLY, createProjector } from '../inbox/projector.ts';
import type { AppliedBatch, Projector } from '../inbox/projector.ts';
import { captureEndOffsets, committedOffsets, deleteConsumerGroup } from './log-positions.ts';
import type { PartitionTarget } from './log-positions.ts';

// Owns the copies of the inbox: the one that serves (and keeps consuming live), and a new one a
// rebuild builds from the beginning of the log in a fresh schema with its own consumer group while
// the old one keeps serving. Once the new copy has read up to the end offsets captured when the
// rebuild started, one transaction moves the pointer row (`projection_state`) to it: from then on
// every request reads it, and its consumer simply goes on as the live one. The old copy keeps
// answering requests already in flight for REBUILD_RETIRE_AFTER_MS, then its schema is dropped.

export type ActiveInbox = { schema: string; generation: number; db: Database; projector: Projector };

export type RebuildStatus = {
  id: string;
  status: 'running' | 'completed' | 'failed';
  schema: string;
  requestedBy: string;
  startedAt: string;
  finishedAt: string | null;
  targetOffsets: PartitionTarget[] | null;
  progress: RebuildProgress | null;
  error: string | null;
};

export type RebuildProgress = {
  caughtUp: boolean;
  partitions: Array<{ topic: string; partition: number; target: string; position: string }>;
};

export type InboxHostOptions = {
  control: Database;
  kafka: Kafka;
  publisher: EventPublisher;
  logger: Logger;
  context: EvolveContext;
  databaseUrl: string;
  baseSchema: string;
  consumerGroup: string;
  topics: ReadonlyArray<string>;
  retireAfterMs: number;
  poolSize: number;
  /** DATABASE_PREPARED_STATEMENTS (see @parley/config); default true. */
  preparedStatements?: boolean;
  /** Where each copy's database round trips are counted (`db_round_trips_total`). */
  metrics?: Registry;
  /** How often to look at the pointer row (another replica may have switched). */
  pointerPollMs?: number;
  /** How often a rebuild compares its position with its targets. */
  rebuildPollMs?: number;
  /** Test hook: runs after each committed batch; throwing here is a crash after the commit. */
  afterBatchCommitted?: (batch: AppliedBatch & { schema: string }) => Promise<void> | void;
};

export type InboxHost = {
  current(): ActiveInbox;
  /** Resolves when the live consumer has joined its group. */
  ready: Promise<void>;
  /** Every batch the serving copy committed. */
  onApplied(listener: (batch: AppliedBatch) => void): () => void;
  /** A new copy took over (its generation is new). */
  onSwitched(listener: (inbox: ActiveInbox) => void): () => void;
  startRebuild(requestedBy: string): Promise<RebuildStatus>;
  rebuildStatus(id: string): Promise<RebuildStatus | null>;
  /** Resolves when the rebuild finished (completed or failed); for tests and the benchmark. */
  whenRebuilt(id: string): Promise<RebuildStatus>;
  stop(): Promise<void>;
};

type StateRow = { active_schema: string; group_id: string; generation: number };
type RebuildRow = {
  id: string;
  schema_name: string;
  group_id: string;
  status: RebuildStatus['status'];
  requested_by: string;
  started_at: Date | string;
  finished_at: Date | string | null;
  target_offsets: PartitionTarget[] | null;
  progress: RebuildProgress | null;
  error: string | null;
  deferred_indexes: string[] | null;
};

class LostLease extends Error {
  constructor() {
    super('another replica took over the rebuild');
  }
}

export class RebuildInProgressError extends Error {
  readonly rebuildId: string;
  constructor(rebuildId: string) {
    super(`Rebuild ${rebuildId} is still running`);
    this.rebuildId = rebuildId;
  }
}

const LEASE = "interval '30 seconds'";

export async function startInboxHost(options: InboxHostOptions): Promise<InboxHost> {
  const { control, kafka, publisher, logger } = options;
  const log = logger.child({ component: 'inbox-host' });
  // Which replica runs a rebuild: the one holding its lease (renewed while it runs).
  const instanceId = randomUUID();
  const events = new EventEmitter();
  events.setMaxListeners(0);
  let stopping = false;
  const retirements = new Map<string, { timer: NodeJS.Timeout; run: () => Promise<void> }>();
  const rebuilds = new Map<string, { stop: () => Promise<void>; done: Promise<RebuildStatus> }>();

  await control.query(
    'insert into projection_state (active_schema, group_id, generation) values (?, ?, 1) on conflict do nothing',
    [`${options.baseSchema}_inbox`, options.consumerGroup],
  );
  const [state] = await control.query<StateRow>('select active_schema, group_id, generation from projection_state');
  let active = await openInbox(state!.active_schema, state!.generation);
  let liveConsumer = await consume(active, state!.group_id);
  let liveGroup = state!.group_id;
  let switching = false;

  async function openInbox(schema: string, generation: number, bulkLoad = false): Promise<ActiveInbox> {
    const db = await openDatabase({ databaseUrl: options.databaseUrl, schema, logger, migrations: inboxMigrations, poolSize: options.poolSize, preparedStatements: options.preparedStatements !== false, metrics: options.metrics });
    const projector = createProjector({
      db,
      bulkLoad,
      logger,
      context: options.context,
      // Only the serving copy notifies (the stream, the profile enricher); a copy being rebuilt is silent.
      onApplied: (batch) => {
        if (active?.schema === schema) events.emit('applied', batch);
      },
      recordChanges: () => active === undefined || active.schema === schema,
    });
    return { schema, generation, db, projector };
  }

  function consume(inbox: ActiveInbox, groupId: string): Promise<RunningConsumer> {
    return startBatchConsumer({
      kafka,
      publisher,
      logger,
      groupId,
      topics: options.topics,
      fromBeginning: true,
      // A backlog (catching up, a rebuild) arrives in batches of thousands of events, which the
      // projector folds per conversation: one write per conversation and batch, not per event.
      // Live, the inbox is off the customer's critical path: fetches held for fuller batches.
      fetch: { maxBytesPerPartition: 4 * 2 ** 20, maxBytes: 24 * 2 ** 20, ...BACKGROUND_FETCH },
      // Many partitions handed over at once: the projector applies the batches that arrive together
      // in one transaction (group commit), two groups at a time. Batches of different topics may
      // name the same conversation: the projector's per-conversation advisory locks order them.
      partitionsConsumedConcurrently: PARTITIONS_CONSUMED_CONCURRENTLY,
      handleBatch: async (batch) => {
        const result = await inbox.projector.applyBatch(batch);
        await options.afterBatchCommitted?.({ ...result, schema: inbox.schema });
      },
    });
  }

  function retire(previous: ActiveInbox, previousGroup: string, dropSchema: boolean): void {
    const run = async () => {
      retirements.delete(previous.schema);
      await previous.db.close().catch((error: unknown) => log.warn({ err: error }, 'closing a retired inbox failed'));
      if (dropSchema) {
        await control.query(`drop schema if exists "${previous.schema}" cascade`).catch((error: unknown) => log.warn({ err: error, schema: previous.schema }, 'dropping a retired inbox failed'));
        await deleteConsumerGroup(kafka, previousGroup).catch((error: unknown) => log.warn({ err: error, groupId: previousGroup }, 'deleting the retired consumer group failed'));
      }
      log.info({ schema: previous.schema }, 'retired the previous copy of the inbox');
    };
    const timer = setTimeout(() => void run(), options.retireAfterMs);
    retirements.set(previous.schema, { timer, run });
  }

  /** Makes `next` the serving copy: the pointer row first (atomically), then this process. */
  async function switchTo(next: ActiveInbox, nextConsumer: RunningConsumer, nextGroup: string, expectedGeneration: number): Promise<boolean> {
    const moved = await control.query<{ generation: number }>(
      `update projection_state set active_schema = ?, group_id = ?, generation = generation + 1, switched_at = now()
       where generation = ? returning generation`,
      [next.schema, nextGroup, expectedGeneration],
    );
    if (moved.length === 0) return false;
    const previous = active;
    const previousConsumer = liveConsumer;
    const previousGroup = liveGroup;
    active = { ...next, generation: moved[0]!.generation };
    liveConsumer = nextConsumer;
    liveGroup = nextGroup;
    events.emit('switched', active);
    log.info({ schema: active.schema, generation: active.generation }, 'switched to the rebuilt inbox');
    await previousConsumer.stop().catch((error: unknown) => log.warn({ err: error }, 'stopping the previous consumer failed'));
    retire(previous, previousGroup, true);
    return true;
  }

  async function rowToStatus(row: RebuildRow): Promise<RebuildStatus> {
    const iso = (value: Date | string | null) => (value === null ? null : new Date(value).toISOString());
    return {
      id: row.id,
      status: row.status,
      schema: row.schema_name,
      requestedBy: row.requested_by,
      startedAt: iso(row.started_at)!,
      finishedAt: iso(row.finished_at),
      targetOffsets: row.target_offsets,
      progress: row.progress,
      error: row.error,
    };
  }

  async function loadRebuild(id: string): Promise<RebuildRow | undefined> {
    const [row] = await control.query<RebuildRow>('select * from projection_rebuilds where id = ?', [id]);
    return row;
  }

  /**
   * Drops the API-only indexes of a new copy (still empty) and records how to build them again; the
   * record in the rebuild's row lets a replica that resumes it build them too.
   */
  async function deferIndexes(db: Database, rebuildId: string): Promise<string[]> {
    const found = await db.query<{ indexname: string; indexdef: string }>(
      'select indexname, indexdef from pg_indexes where schemaname = ? and indexname = any(?::text[]) order by indexname',
      [db.schema, `{${API_ONLY_INDEXES.join(',')}}`],
    );
    const definitions = found.map((i) => i.indexdef.replace(/^CREATE INDEX /, 'CREATE INDEX IF NOT EXISTS '));
    await control.query('update projection_rebuilds set deferred_indexes = ?::jsonb where id = ?', [JSON.stringify(definitions), rebuildId]);
    for (const { indexname } of found) await db.query(`drop index if exists "${db.schema}"."${indexname}"`);
    return definitions;
  }

  async function progressOf(inbox: ActiveInbox, groupId: string, targets: PartitionTarget[]): Promise<RebuildProgress> {
    const stored = new Map(
      (await inbox.db.query<{ topic: string; partition: number; offset: string }>('select topic, partition, "offset" from projection_offsets')).map((r) => [
        `${r.topic}:${r.partition}`,
        BigInt(r.offset) + 1n,
      ]),
    );
    const committed = await committedOffsets(kafka, groupId, [...new Set(targets.map((t) => t.topic))]);
    const partitions = targets.map((t) => {
      const key = `${t.topic}:${t.partition}`;
      const applied = stored.get(key) ?? 0n;
      const read = committed.get(key) ?? -1n;
      const position = applied > read ? applied : read;
      // Nothing to read (empty, or only records below the low watermark) counts as caught up.
      const done = BigInt(t.high) <= BigInt(t.low) || position >= BigInt(t.high);
      return { topic: t.topic, partition: t.partition, target: t.high, position: String(position < 0n ? 0n : position), done };
    });
    return { caughtUp: partitions.every((p) => p.done), partitions: partitions.map(({ done: _done, ...p }) => p) };
  }

  function runRebuild(row: RebuildRow): Promise<RebuildStatus> {
    let stopped = false;
    let wake: () => void = () => {};
    let consumer: RunningConsumer | undefined;
    let inbox: ActiveInbox | undefined;
    const rlog = log.child({ rebuildId: row.id, schema: row.schema_name });

    const done = (async (): Promise<RebuildStatus> => {
      try {
        let targets = row.target_offsets;
        if (targets === null) {
          targets = await captureEndOffsets(kafka, options.topics);
          await control.query('update projection_rebuilds set target_offsets = ?::jsonb where id = ?', [JSON.stringify(targets), row.id]);
        }
        inbox = await openInbox(row.schema_name, 0, true);
        const deferredIndexes = row.deferred_indexes ?? (await deferIndexes(inbox.db, row.id));
        consumer = await consume(inbox, row.group_id);
        rlog.info({ targets: targets.length }, 'rebuild reading the log from the beginning');
        for (;;) {
          if (stopped) throw new Error('stopped');
          const progress = await progressOf(inbox, row.group_id, targets);
          const held = await control.query(
            `update projection_rebuilds set progress = ?::jsonb, lease_until = now() + ${LEASE} where id = ? and owner = ? and status = 'running' returning id`,
            [JSON.stringify(progress), row.id, instanceId],
          );
          if (held.length === 0) throw new LostLease();
          if (progress.caughtUp && !switching) {
            // Summaries and the API's indexes, before the copy can serve (batches wait meanwhile).
            await inbox.projector.finishBulkLoad(deferredIndexes);
            break;
          }
          await new Promise<void>((resolve) => {
            const timer = setTimeout(resolve, options.rebuildPollMs ?? 500);
            wake = () => {
              clearTimeout(timer);
              resolve();
            };
          });
        }
        switching = true;
        try {
          const switched = await switchTo(inbox, consumer, row.group_id, active.generation);
          if (!switched) throw new Error('another replica switched the inbox meanwhile');
        } finally {
          switching = false;
        }
        await control.query(`update projection_rebuilds set status = 'completed', finished_at = now(), lease_until = null where id = ?`, [row.id]);
      } catch (error) {
        await consumer?.stop().catch(() => undefined);
        await inbox?.db.close().catch(() => undefined);
        if (stopped || error instanceof LostLease) {
          // Stopping: hand the rebuild over at once (another replica, or this one after a restart, resumes it).
          // Lost the lease: another replica runs it now.
          if (stopped) await control.query('update projection_rebuilds set lease_until = now() where id = ? and owner = ?', [row.id, instanceId]).catch(() => undefined);
          return rowToStatus((await loadRebuild(row.id))!);
        }
        rlog.error({ err: error }, 'rebuild failed; the current inbox keeps serving');
        const [pointer] = await control.query<StateRow>('select active_schema from projection_state');
        // Never drop the copy that serves (another replica may have switched to it meanwhile).
        if (pointer?.active_schema !== row.schema_name) await control.query(`drop schema if exists "${row.schema_name}" cascade`).catch(() => undefined);
        await control.query(`update projection_rebuilds set status = 'failed', finished_at = now(), lease_until = null, error = ? where id = ? and status = 'running'`, [
          String((error as Error).message ?? error),
          row.id,
        ]);
      } finally {
        rebuilds.delete(row.id);
      }
      return rowToStatus((await loadRebuild(row.id))!);
    })();

    rebuilds.set(row.id, {
      done,
      stop: async () => {
        stopped = true;
        wake();
        await done;
      },
    });
    return done;
  }

  // A rebuild whose replica went away (its lease expired) goes on here, from where it was.
  async function resumeOrphanedRebuilds(): Promise<void> {
    const orphans = await control.query<RebuildRow>(
      `update projection_rebuilds set owner = ?, lease_until = now() + ${LEASE}
       where status = 'running' and (lease_until is null or lease_until < now()) returning *`,
      [instanceId],
    );
    for (const row of orphans) {
      if (rebuilds.has(row.id)) continue;
      log.info({ rebuildId: row.id }, 'resuming an interrupted rebuild');
      void runRebuild(row);
    }
  }
  await resumeOrphanedRebuilds();

  // Another replica may switch to a rebuilt copy: follow the pointer row.
  const pointerTimer = setInterval(() => {
    void (async () => {
      if (switching || stopping) return;
      await resumeOrphanedRebuilds();
      const [current] = await control.query<StateRow>('select active_schema, group_id, generation from projection_state');
      if (!current || current.generation <= active.generation || current.active_schema === active.schema || switching || stopping) return;
      switching = true;
      try {
        log.info({ schema: current.active_schema, generation: current.generation }, 'another replica switched the inbox; following');
        const next = await openInbox(current.active_schema, current.generation);
        const previous = active;
        const previousConsumer = liveConsumer;
        active = next;
        liveConsumer = await consume(next, current.group_id);
        liveGroup = current.group_id;
        events.emit('switched', active);
        await previousConsumer.stop().catch(() => undefined);
        retire(previous, '', false);
      } finally {
        switching = false;
      }
    })().catch((error: unknown) => log.warn({ err: error }, 'checking the projection pointer failed'));
  }, options.pointerPollMs ?? 5_000);
  pointerTimer.unref();

  return {
    current: () => active,
    ready: liveConsumer.ready,
    onApplied(listener) {
      events.on('applied', listener);
      return () => events.off('applied', listener);
    },
    onSwitched(listener) {
      events.on('switched', listener);
      return () => events.off('switched', listener);
    },
    async startRebuild(requestedBy) {
      const [running] = await control.query<{ id: string }>(`select id from projection_rebuilds where status = 'running' limit 1`);
      if (running) throw new RebuildInProgressError(running.id);
      const id = randomBytes(6).toString('hex');
      const [row] = await control.query<RebuildRow>(
        `insert into projection_rebuilds (id, schema_name, group_id, status, requested_by, owner, lease_until)
         values (?, ?, ?, 'running', ?, ?, now() + ${LEASE}) returning *`,
        [id, `${options.baseSchema}_rebuild_${id}`, `${options.consumerGroup}-rebuild-${id}`, requestedBy, instanceId],
      );
      void runRebuild(row!);
      return rowToStatus(row!);
    },
    async rebuildStatus(id) {
      const row = await loadRebuild(id);
      return row ? rowToStatus(row) : null;
    },
    async whenRebuilt(id) {
      const running = rebuilds.get(id);
      if (running) return running.done;
      const row = await loadRebuild(id);
      if (!row) throw new Error(`no rebuild ${id}`);
      return rowToStatus(row);
    },
    async stop() {
      stopping = true;
      clearInterval(pointerTimer);
      await Promise.all([...rebuilds.values()].map((r) => r.stop()));
      await liveConsumer.stop().catch((error: unknown) => log.warn({ err: error }, 'stopping the consumer failed'));
      for (const { timer, run } of [...retirements.values()]) {
        clearTimeout(timer);
        await run();
      }
      await active.db.close();
    },
  };
}
