import type { Database, Transaction } from '@parley/persistence';
import { pendingWindowAlertClosesAt } from '../conversations/conversation-state.ts';
import type { ConversationState } from '../conversations/conversation-state.ts';
import type { PageState } from '../pages/page-state.ts';

/**
 * The rules tables. Every change happens in a transaction that also records the ids of the events
 * it applied (`processed_events`), so a redelivered event is recognised and skipped.
 */
export type RulesStore = {
  transaction<T>(work: (tx: Transaction) => Promise<T>): Promise<T>;
  /** Records that this event is applied; false when it already was (a duplicate: apply nothing). */
  markProcessed(tx: Transaction, eventId: string, eventType: string): Promise<boolean>;
  isProcessed(eventId: string): Promise<boolean>;
  /** Forgets up to `limit` ids recorded before `before`; resolves with how many it forgot. */
  pruneProcessed(before: Date, limit: number): Promise<number>;
  /** The Page, or null when nothing is known about it. `lock` holds it until the transaction ends. */
  loadPage(pageId: string, tx?: Transaction, lock?: boolean): Promise<PageState | null>;
  /**
   * markProcessed for many events (`fresh`: the ids recorded now; the others were already), the
   * Pages of the events known here by id (read, not locked), and the conversations of `seeds`, the
   * known ones locked in id order (as `lockConversations` locks them) and the new ones created from
   * their seeds, in one statement: a batch's first round trip (it was three). `conversations`
   * holds them all but one another transaction was creating at the same time, which
   * `lockConversations` given them waits for.
   */
  markProcessedLoadingPagesLocking(
    tx: Transaction,
    events: ReadonlyArray<{ id: string; type: string; pageId: string }>,
    seeds: ReadonlyArray<ConversationState>,
  ): Promise<{ fresh: Set<string>; pages: Map<string, PageState>; conversations: Map<string, ConversationState> }>;
  savePage(page: PageState, tx: Transaction): Promise<void>;
  loadConversation(conversationId: string): Promise<ConversationState | null>;
  saveConversation(state: ConversationState, tx: Transaction): Promise<void>;
  /**
   * Each conversation's state, created from its seed if new, all locked until the transaction ends — in conversation id order, so that two transactions locking
   * overlapping sets wait for each other instead of deadlocking. `locked`: states this transaction
   * already locked (markProcessedLoadingPagesLocking), not read again.
   */
  lockConversations(seeds: ReadonlyArray<ConversationState>, tx: Transaction, locked?: ReadonlyMap<string, ConversationState>): Promise<Map<string, ConversationState>>;
  /** saveConversation for many, in one statement. */
  saveConversations(states: ReadonlyArray<ConversationState>, tx: Transaction): Promise<void>;
  /** saveConversations and the marking of `applied` (events this transaction produced) as processed, in one statement. */
  saveConversationsMarkingProcessed(states: ReadonlyArray<ConversationState>, applied: ReadonlyArray<{ id: string; type: string }>, tx: Transaction): Promise<void>;
  /**
   * Conversations whose window-closing alert may be due at `now` (the window closes within `leadMs`
   * or closed less than `lateLimitMs` ago), locked with `skip locked` so that several replicas
   * (or a consumer holding one) never handle the same conversation twice.
   */
  lockDueWindowAlerts(tx: Transaction, now: Date, leadMs: number, lateLimitMs: number, limit: number): Promise<ConversationState[]>;
};

export function createRulesStore(db: Database): RulesStore {
  return {
    transaction: (work) => db.transaction(work),

    async markProcessed(tx, eventId, eventType) {
      const rows = await db.query<{ event_id: string }>(
        'insert into processed_events (event_id, event_type) values (?, ?) on conflict (event_id) do nothing returning event_id',
        [eventId, eventType],
        tx,
      );
      return rows.length === 1;
    },

    async pruneProcessed(before, limit) {
      // In bounded chunks: one huge delete would hold its locks and bloat the WAL at once.
      const rows = await db.query<{ n: string }>(
        `with gone as (
           delete from processed_events where event_id in (select event_id from processed_events where processed_at < ? limit ?)
           returning 1)
         select count(*) as n from gone`,
        [before, limit],
      );
      return Number(rows[0]?.n ?? 0);
    },

    async isProcessed(eventId) {
      const rows = await db.query('select 1 from processed_events where event_id = ?', [eventId]);
      return rows.length > 0;
    },

    async loadPage(pageId, tx, lock = false) {
      const rows = await db.query<{ state: PageState }>(`select state from pages where page_id = ?${lock ? ' for update' : ''}`, [pageId], tx);
      return rows[0]?.state ?? null;
    },

    async markProcessedLoadingPagesLocking(tx, events, seeds) {
      if (events.length === 0) return { fresh: new Set(), pages: new Map(), conversations: new Map() };
      // In id order, for the inserts as for the locks: two transactions creating the same new
      // conversations in different orders would each wait for the other.
      const unique = [...new Map(seeds.map((seed) => [seed.conversationId, seed])).values()].sort((a, b) => (a.conversationId < b.conversationId ? -1 : 1));
      // `created` cannot see what `locked` locks, nor `locked` what `created` stores (every part of a
      // statement sees the rows as they were before it): a known conversation is locked, a new one
      // created (and its own until the commit). One being created by another transaction at the same
      // time is neither: the insert waits for that one and does nothing, and lockConversations locks it.
      const rows = await db.query<{ kind: 'event' | 'page' | 'conversation'; event_id: string | null; state: PageState | ConversationState | null }>(
        `with fresh as (
           insert into processed_events (event_id, event_type)
           select * from unnest(?::text[], ?::text[])
           on conflict (event_id) do nothing returning event_id),
         locked as (
           select state from conversations where conversation_id = any(?::text[]) order by conversation_id for update),
         created as (
           insert into conversations (conversation_id, page_id, state, window_alert_closes_at)
           select * from unnest(?::text[], ?::text[], ?::jsonb[], ?::timestamptz[])
           on conflict (conversation_id) do nothing returning state)
         select 'event' as kind, event_id, null::jsonb as state from fresh
         union all
         select 'page', null, state from pages where page_id = any(?::text[])
         union all
         select 'conversation', null, state from locked
         union all
         select 'conversation', null, state from created`,
        [
          events.map((e) => e.id),
          events.map((e) => e.type),
          unique.map((s) => s.conversationId),
          unique.map((s) => s.conversationId),
          unique.map((s) => s.pageId),
          unique.map((s) => JSON.stringify(s)),
          unique.map(pendingWindowAlertClosesAt),
          [...new Set(events.map((e) => e.pageId))],
        ],
        tx,
      );
      const fresh = new Set<string>();
      const pages = new Map<string, PageState>();
      const conversations = new Map<string, ConversationState>();
      for (const row of rows) {
        if (row.kind === 'event') fresh.add(row.event_id!);
        else if (row.kind === 'page') pages.set((row.state as PageState).pageId, row.state as PageState);
        else conversations.set((row.state as ConversationState).conversationId, row.state as ConversationState);
      }
      return { fresh, pages, conversations };
    },

    async savePage(page, tx) {
      await db.query(
        `insert into pages (page_id, account_id, state, updated_at) values (?, ?, ?::jsonb, now())
         on conflict (page_id) do update set account_id = excluded.account_id, state = excluded.state, updated_at = now()`,
        [page.pageId, page.accountId, JSON.stringify(page)],
        tx,
      );
    },

    async loadConversation(conversationId) {
      const rows = await db.query<{ state: ConversationState }>('select state from conversations where conversation_id = ?', [conversationId]);
      return rows[0]?.state ?? null;
    },

    async saveConversation(state, tx) {
      await db.query(
        'update conversations set state = ?::jsonb, window_alert_closes_at = ?, updated_at = now() where conversation_id = ?',
        [JSON.stringify(state), pendingWindowAlertClosesAt(state), state.conversationId],
        tx,
      );
    },

    async lockConversations(seeds, tx, locked) {
      const unique = [...new Map(seeds.map((seed) => [seed.conversationId, seed])).values()].sort((a, b) => (a.conversationId < b.conversationId ? -1 : 1));
      if (unique.length === 0) return new Map();
      // The known ones locked first, in id order; then the new ones created (rows this transaction
      // inserts are its own until it commits). Most events are about a known conversation: one
      // statement instead of an insert that found it there and then the lock. A conversation another
      // transaction created meanwhile is locked once that one commits (the insert waits for it).
      const lock = async (ids: ReadonlyArray<string>) =>
        db.query<{ state: ConversationState }>('select state from conversations where conversation_id = any(?::text[]) order by conversation_id for update', [ids], tx);
      const states = locked
        ? new Map(unique.filter((s) => locked.has(s.conversationId)).map((s) => [s.conversationId, locked.get(s.conversationId)!]))
        : new Map((await lock(unique.map((s) => s.conversationId))).map((r) => [r.state.conversationId, r.state]));
      const missing = unique.filter((s) => !states.has(s.conversationId));
      if (missing.length === 0) return states;
      const created = await db.query<{ state: ConversationState }>(
        `insert into conversations (conversation_id, page_id, state, window_alert_closes_at)
         select * from unnest(?::text[], ?::text[], ?::jsonb[], ?::timestamptz[])
         on conflict (conversation_id) do nothing returning state`,
        [missing.map((s) => s.conversationId), missing.map((s) => s.pageId), missing.map((s) => JSON.stringify(s)), missing.map(pendingWindowAlertClosesAt)],
        tx,
      );
      for (const row of created) states.set(row.state.conversationId, row.state);
      const raced = missing.filter((s) => !states.has(s.conversationId));
      if (raced.length > 0) for (const row of await lock(raced.map((s) => s.conversationId))) states.set(row.state.conversationId, row.state);
      return states;
    },

    async saveConversations(states, tx) {
      if (states.length === 0) return;
      await db.query(
        `update conversations c set state = u.state, window_alert_closes_at = u.closes_at, updated_at = now()
           from unnest(?::text[], ?::jsonb[], ?::timestamptz[]) as u(conversation_id, state, closes_at)
          where c.conversation_id = u.conversation_id`,
        [states.map((s) => s.conversationId), states.map((s) => JSON.stringify(s)), states.map(pendingWindowAlertClosesAt)],
        tx,
      );
    },

    async saveConversationsMarkingProcessed(states, applied, tx) {
      if (states.length === 0 && applied.length === 0) return;
      await db.query(
        `with saved as (
           update conversations c set state = u.state, window_alert_closes_at = u.closes_at, updated_at = now()
             from unnest(?::text[], ?::jsonb[], ?::timestamptz[]) as u(conversation_id, state, closes_at)
            where c.conversation_id = u.conversation_id)
         insert into processed_events (event_id, event_type)
         select * from unnest(?::text[], ?::text[])
         on conflict (event_id) do nothing`,
        [states.map((s) => s.conversationId), states.map((s) => JSON.stringify(s)), states.map(pendingWindowAlertClosesAt), applied.map((e) => e.id), applied.map((e) => e.type)],
        tx,
      );
    },

    async lockDueWindowAlerts(tx, now, leadMs, lateLimitMs, limit) {
      const rows = await db.query<{ state: ConversationState }>(
        `select state from conversations
          where window_alert_closes_at <= ? and window_alert_closes_at >= ?
          order by window_alert_closes_at
          limit ? for update skip locked`,
        [new Date(now.getTime() + leadMs), new Date(now.getTime() - lateLimitMs), limit],
        tx,
      );
      return rows.map((r) => r.state);
    },
  };
}
