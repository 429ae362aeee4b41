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
  /** markProcessed for many events in one statement: the ids recorded now (the others were already). */
  markProcessedMany(tx: Transaction, events: ReadonlyArray<{ id: string; type: string }>): Promise<Set<string>>;
  isProcessed(eventId: string): Promise<boolean>;
  /** Forgets up to `limit` ids recorded before `before`; resolves with how many it forgot. */
  pruneProcessed(before: Date, limit: number): Promise<number>;
  /** The Page, or null when nothing is known about it. `lock` holds it until the transaction ends. */
  loadPage(pageId: string, tx?: Transaction, lock?: boolean): Promise<PageState | null>;
  /** The Pages known among `pageIds`, by id (read, not locked). */
  loadPages(pageIds: ReadonlyArray<string>, tx: Transaction): Promise<Map<string, PageState>>;
  savePage(page: PageState, tx: Transaction): Promise<void>;
  loadConversation(conversationId: string): Promise<ConversationState | null>;
  saveConversation(state: ConversationState, tx: Transaction): Promise<void>;
  /**
   * Each conversation's state, created from its seed if new, all locked until the transaction ends — in conversation id order, so that two transactions locking
   * overlapping sets wait for each other instead of deadlocking.
   */
  lockConversations(seeds: ReadonlyArray<ConversationState>, tx: Transaction): Promise<Map<string, ConversationState>>;
  /** saveConversation for many, in one statement. */
  saveConversations(states: ReadonlyArray<ConversationState>, tx: Transaction): Promise<void>;
  /**
   * Conversations whose window-closing alert may be due at `now` (the window closes within `leadMs`
   * or closed less than `lateLimitMs` ago), locked with `skip locked` so that several replicas
   * (or a consumer holding one) never handle the same conversation twice.
   */
  lockDueWindowAlerts(tx: Transaction, now: Date, leadMs: number, lateLimitMs: number, limit: number): Promise<ConversationState[]>;
};

export function createRulesStore(db: Database): RulesStore {
  return {
    transaction: (work) => db.transaction((_em, tx) => work(tx)),

    async markProcessed(tx, eventId, eventType) {
      const rows = await db.query<{ event_id: string }>(
        'insert into processed_events (event_id, event_type) values (?, ?) on conflict (event_id) do nothing returning event_id',
        [eventId, eventType],
        tx,
      );
      return rows.length === 1;
    },

    async markProcessedMany(tx, events) {
      if (events.length === 0) return new Set();
      const rows = await db.query<{ event_id: string }>(
        `insert into processed_events (event_id, event_type)
         select * from unnest(?::text[], ?::text[])
         on conflict (event_id) do nothing returning event_id`,
        [events.map((e) => e.id), events.map((e) => e.type)],
        tx,
      );
      return new Set(rows.map((r) => r.event_id));
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

    async loadPages(pageIds, tx) {
      const rows = pageIds.length === 0 ? [] : await db.query<{ state: PageState }>('select state from pages where page_id = any(?::text[])', [[...new Set(pageIds)]], tx);
      return new Map(rows.map((r) => [r.state.pageId, r.state]));
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

    async lockConversations(seeds, tx) {
      const unique = [...new Map(seeds.map((seed) => [seed.conversationId, seed])).values()].sort((a, b) => (a.conversationId < b.conversationId ? -1 : 1));
      if (unique.length === 0) return new Map();
      await db.query(
        `insert into conversations (conversation_id, page_id, state, window_alert_closes_at)
         select * from unnest(?::text[], ?::text[], ?::jsonb[], ?::timestamptz[])
         on conflict (conversation_id) do nothing`,
        [unique.map((s) => s.conversationId), unique.map((s) => s.pageId), unique.map((s) => JSON.stringify(s)), unique.map(pendingWindowAlertClosesAt)],
        tx,
      );
      const rows = await db.query<{ state: ConversationState }>(
        'select state from conversations where conversation_id = any(?::text[]) order by conversation_id for update',
        [unique.map((s) => s.conversationId)],
        tx,
      );
      return new Map(rows.map((r) => [r.state.conversationId, r.state]));
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
