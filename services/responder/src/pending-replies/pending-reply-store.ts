import type { ParleyEvent } from '@parley/contracts';
import type { Database, Transaction } from '@parley/persistence';
import { toIso } from '../sql.ts';
import { conversationIdOf, decide, evolve, initialReplyState, refusalsFor } from './pending-reply.ts';
import type { ConversationReplyState, DecisionEvent, PendingReply, ReplyChange } from './pending-reply.ts';

type Row = {
  conversation_id: string;
  page_id: string;
  account_id: string | null;
  channel: PendingReply['channel'];
  customer: PendingReply['customer'];
  assistant_id: string;
  reply_at: unknown;
  due_at: unknown;
  reply_window_closes_at: unknown;
  trigger_event_ids: string[];
  request_event_ids: string[];
  correlation_id: string | null;
  version: number;
  attempts: number;
};

/** Row's columns, named rather than `*` so that the statements reading them can be prepared (see @parley/persistence). */
const COLUMNS = 'conversation_id, page_id, account_id, channel, customer, assistant_id, reply_at, due_at, reply_window_closes_at, trigger_event_ids, request_event_ids, correlation_id, version, attempts';

const COLUMNS_OF_P = COLUMNS.split(', ').map((column) => `p.${column}`).join(', ');

export type ClaimedReply = PendingReply & { attempts: number };

function fromRow(row: Row): ClaimedReply {
  return {
    conversationId: row.conversation_id,
    pageId: row.page_id,
    accountId: row.account_id,
    channel: row.channel,
    customer: row.customer,
    assistantId: row.assistant_id,
    replyAt: toIso(row.reply_at),
    dueAt: toIso(row.due_at),
    replyWindowClosesAt: toIso(row.reply_window_closes_at),
    triggerEventIds: row.trigger_event_ids,
    requestEventIds: row.request_event_ids,
    correlationId: row.correlation_id,
    version: row.version,
    attempts: row.attempts,
  };
}

export type FinalizeOutcome = 'done' | 'cancelled' | 'superseded';

export type PendingReplyStore = {
  /**
   * Applies a decision event in one transaction: once per event id (a redelivery returns no
   * changes), with the conversation locked so that a concurrent poller sees the result whole. The
   * events to publish (suppressions of a refused request) are published before the commit: if
   * publishing fails nothing is recorded and the consumer retries.
   */
  apply(event: DecisionEvent, now: Date, publish: (events: ParleyEvent[]) => Promise<void>): Promise<ReplyChange[] | 'duplicate'>;
  /** Takes up to `limit` due replies, leasing them for `leaseMs` (`for update skip locked`: replicas never take the same one). */
  claimDue(now: Date, limit: number, leaseMs: number): Promise<ClaimedReply[]>;
  /**
   * Publishes the outcome of a claimed reply and forgets the reply, atomically from the point of
   * view of other writers: `cancelled` when an escalation removed it meanwhile (nothing published),
   * `superseded` when a new message merged into it meanwhile (released to be answered again, whole).
   */
  finalize(reply: PendingReply, publish: () => Promise<void>): Promise<FinalizeOutcome>;
  /** Puts a claimed reply back, due at `dueAt` (waiting for context, or after a failure). */
  release(reply: PendingReply, dueAt: Date): Promise<void>;
  /**
   * Makes due at `now` the replies of these conversations that were put back to wait (their own
   * time has come, their next look is later, nobody holds them): a message they waited for reached
   * the context. Returns how many.
   */
  dueNowIfWaiting(conversationIds: ReadonlyArray<string>, now: Date): Promise<number>;
  get(conversationId: string): Promise<PendingReply | null>;
  /** Forgets processed decision ids older than `before` (a request that old is past its reply window anyway). */
  pruneProcessed(before: Date): Promise<number>;
};

export function createPendingReplyStore(db: Database): PendingReplyStore {
  async function save(state: ConversationReplyState, previous: ConversationReplyState, conversationId: string, now: Date, tx: Transaction): Promise<void> {
    if (state.escalated !== previous.escalated) {
      await db.query(
        `insert into reply_conversations (conversation_id, escalated, updated_at) values (?, ?, ?)
         on conflict (conversation_id) do update set escalated = excluded.escalated, updated_at = excluded.updated_at`,
        [conversationId, state.escalated, now],
        tx,
      );
    }
    if (state.pending === previous.pending) return;
    if (state.pending === null) {
      await db.query('delete from pending_replies where conversation_id = ?', [conversationId], tx);
      return;
    }
    const p = state.pending;
    await db.query(
      `insert into pending_replies (conversation_id, page_id, account_id, channel, customer, assistant_id, reply_at, due_at,
         reply_window_closes_at, trigger_event_ids, request_event_ids, correlation_id, version, created_at, updated_at)
       values (?, ?, ?, ?, ?::jsonb, ?, ?, ?, ?, ?::jsonb, ?::jsonb, ?, ?, ?, ?)
       on conflict (conversation_id) do update set account_id = excluded.account_id, customer = excluded.customer,
         assistant_id = excluded.assistant_id, reply_window_closes_at = excluded.reply_window_closes_at,
         trigger_event_ids = excluded.trigger_event_ids, request_event_ids = excluded.request_event_ids,
         version = excluded.version, updated_at = excluded.updated_at`,
      [
        p.conversationId,
        p.pageId,
        p.accountId,
        p.channel,
        JSON.stringify(p.customer),
        p.assistantId,
        p.replyAt,
        p.dueAt,
        p.replyWindowClosesAt,
        JSON.stringify(p.triggerEventIds),
        JSON.stringify(p.requestEventIds),
        p.correlationId,
        p.version,
        now,
        now,
      ],
      tx,
    );
  }

  return {
    async apply(event, now, publish) {
      return db.transaction(async (tx) => {
        const conversationId = conversationIdOf(event);
        // Record the decision as processed and, unless it already was (a redelivery: no row), lock
        // the conversation (creating its row if needed) so that two decisions of it never
        // interleave, and read its flag: one statement (an upsert locks the row it returns).
        const flags = await db.query<{ escalated: boolean }>(
          `with fresh as (
             insert into processed_decisions (event_id, processed_at) values (?, ?) on conflict do nothing returning event_id)
           insert into reply_conversations (conversation_id) select ? from fresh
           on conflict (conversation_id) do update set conversation_id = excluded.conversation_id
           returning escalated`,
          [event.id, now, conversationId],
          tx,
        );
        if (flags.length === 0) return 'duplicate' as const;
        const rows = await db.query<Row>(`select ${COLUMNS} from pending_replies where conversation_id = ? for update`, [conversationId], tx);
        const state: ConversationReplyState = {
          ...initialReplyState,
          escalated: flags[0]?.escalated ?? false,
          pending: rows[0] ? fromRow(rows[0]) : null,
        };
        const changes = decide(event, state, now);
        const next = changes.reduce(evolve, state);
        await save(next, state, conversationId, now, tx);
        const toPublish = changes.flatMap((change) => (change.type === 'reply_refused' ? refusalsFor(change.request, now) : []));
        if (toPublish.length > 0) await publish(toPublish);
        return changes;
      });
    },

    async claimDue(now, limit, leaseMs) {
      const rows = await db.query<Row>(
        `with due as (
           select conversation_id from pending_replies
           where due_at <= ? and (lease_until is null or lease_until <= ?)
           order by due_at
           limit ?
           for update skip locked
         )
         update pending_replies p set lease_until = ?, attempts = p.attempts + 1
         from due where p.conversation_id = due.conversation_id
         returning ${COLUMNS_OF_P}`,
        [now, now, limit, new Date(now.getTime() + leaseMs)],
      );
      return rows.map(fromRow);
    },

    async finalize(reply, publish) {
      return db.transaction(async (tx) => {
        // The reply as it was claimed is deleted (and its row locked) before publishing: if
        // publishing fails, the rollback brings it back. One statement in the usual case, where the
        // lock and the version check were a select of their own.
        const deleted = await db.query('delete from pending_replies where conversation_id = ? and version = ? returning version', [reply.conversationId, reply.version], tx);
        if (deleted.length === 1) {
          await publish();
          return 'done' as const;
        }
        // Not that version: an escalation removed it, or a new message merged into it (the merge gave it a new version).
        const merged = await db.query('update pending_replies set lease_until = null where conversation_id = ? returning version', [reply.conversationId], tx);
        return merged.length === 0 ? ('cancelled' as const) : ('superseded' as const);
      });
    },

    async release(reply, dueAt) {
      await db.query('update pending_replies set lease_until = null, due_at = ? where conversation_id = ?', [dueAt, reply.conversationId]);
    },

    async dueNowIfWaiting(conversationIds, now) {
      if (conversationIds.length === 0) return 0;
      const rows = await db.query(
        `update pending_replies set due_at = ?, updated_at = ?
         where conversation_id = any(?::text[]) and reply_at <= ? and due_at > ? and (lease_until is null or lease_until <= ?)
         returning conversation_id`,
        [now, now, [...conversationIds], now, now, now],
      );
      return rows.length;
    },

    async get(conversationId) {
      const rows = await db.query<Row>(`select ${COLUMNS} from pending_replies where conversation_id = ?`, [conversationId]);
      return rows[0] ? fromRow(rows[0]) : null;
    },

    async pruneProcessed(before) {
      const rows = await db.query('delete from processed_decisions where processed_at < ? returning event_id', [before]);
      return rows.length;
    },
  };
}
