// The send ledger in PostgreSQL: sends by outboundId, their parts with their state, cancellations,
// and what we know of each Page's connection. SQL only; the rules are in send.ts, decide.ts and
// page-connection.ts.
import type { OutboundPart, ParleyEvent } from '@parley/contracts';
import type { Database, Transaction } from '@parley/persistence';
import { outboxInsert, outboxParameters } from '@parley/outbox';
import type { PageConnection, PageStatus } from '../page-connections/page-connection.ts';
import { unknownPage } from '../page-connections/page-connection.ts';
import { requiredPartStates, targetPartState } from '../dispatch/part-state.ts';
import type { PartTransition } from '../dispatch/part-state.ts';
import type { DeferReason, PartState, Send, SendPart, SendStatus } from './send.ts';

type SendRow = {
  outbound_id: string;
  page_id: string;
  account_id: string | null;
  conversation_id: string;
  customer_psid: string;
  customer_name: string | null;
  channel: Send['channel'];
  comment_id: string | null;
  author: Send['author'];
  purpose: Send['purpose'];
  messaging_type: Send['messagingType'];
  tag: Send['tag'];
  typing_indicator: boolean;
  agent_id: string | null;
  send_at: Date;
  reply_window_closes_at: Date | null;
  status: SendStatus;
  next_attempt_at: Date;
  deferred_reason: DeferReason | null;
  deferrals: number;
  command_event_id: string;
  correlation_id: string;
  command_fingerprint: string;
};

type PartRow = { part: number; content: OutboundPart | string; state: PartState; mid: string | null; attempts: number; reconcile_until: Date | string | null };

type PageRow = {
  page_id: string;
  account_id: string | null;
  status: PageStatus;
  source: PageConnection['source'];
  status_at: Date;
  rejected_token_fingerprint: string | null;
};

const asDate = (value: Date | string): Date => (value instanceof Date ? value : new Date(value));

function toSend(row: SendRow): Send {
  return {
    outboundId: row.outbound_id,
    pageId: row.page_id,
    accountId: row.account_id,
    conversationId: row.conversation_id,
    customer: { psid: row.customer_psid, name: row.customer_name },
    channel: row.channel,
    commentId: row.comment_id,
    author: row.author,
    purpose: row.purpose,
    messagingType: row.messaging_type,
    tag: row.tag,
    typingIndicator: row.typing_indicator,
    agentId: row.agent_id,
    sendAt: asDate(row.send_at),
    replyWindowClosesAt: row.reply_window_closes_at === null ? null : asDate(row.reply_window_closes_at),
    status: row.status,
    nextAttemptAt: asDate(row.next_attempt_at),
    deferredReason: row.deferred_reason,
    deferrals: row.deferrals,
    commandEventId: row.command_event_id,
    correlationId: row.correlation_id,
  };
}

function toPage(row: PageRow): PageConnection {
  return {
    pageId: row.page_id,
    accountId: row.account_id,
    status: row.status,
    source: row.source,
    statusAt: asDate(row.status_at),
    rejectedTokenFingerprint: row.rejected_token_fingerprint,
  };
}

/** The Page columns claimDue reads beside the send (null when the Page is not known here). */
type PageColumns = {
  known_page_id: string | null;
  page_account_id: string | null;
  page_status: PageStatus | null;
  page_source: PageConnection['source'] | null;
  page_status_at: Date | null;
  page_rejected_token_fingerprint: string | null;
};

/** A due send as the dispatcher takes it: locked, with what it reads first about it. */
export type Claimed = { send: Send; page: PageConnection; parts: SendPart[]; cancellation: { reason: string; pageId: string } | null };

function toPart(row: PartRow): SendPart {
  return {
    index: row.part,
    content: typeof row.content === 'string' ? (JSON.parse(row.content) as OutboundPart) : row.content,
    state: row.state,
    mid: row.mid,
    attempts: row.attempts,
    reconcileUntil: row.reconcile_until === null ? null : asDate(row.reconcile_until),
  };
}

const SEND_COLUMNS = `outbound_id, page_id, account_id, conversation_id, customer_psid, customer_name, channel, comment_id,
  author, purpose, messaging_type, tag, typing_indicator, agent_id, send_at, reply_window_closes_at, status,
  next_attempt_at, deferred_reason, deferrals, command_event_id, correlation_id, command_fingerprint`;
const SEND_PLACEHOLDERS = SEND_COLUMNS.split(',').map(() => '?').join(', ');
const sendColumnsOf = (alias: string) => SEND_COLUMNS.split(',').map((column) => `${alias}.${column.trim()}`).join(', ');

function sendParameters(send: Send, fingerprint: string): unknown[] {
  return [
    send.outboundId, send.pageId, send.accountId, send.conversationId, send.customer.psid, send.customer.name, send.channel,
    send.commentId, send.author, send.purpose, send.messagingType, send.tag, send.typingIndicator, send.agentId, send.sendAt,
    send.replyWindowClosesAt, send.status, send.nextAttemptAt, send.deferredReason, send.deferrals, send.commandEventId,
    send.correlationId, fingerprint,
  ];
}

/** The parts of the send a `send` CTE inserted (none when it inserted nothing). */
const PARTS_OF_SEND = `parts as (
           insert into send_parts (outbound_id, part, content, state)
           select send.outbound_id, p.part, p.content, p.state from send, unnest(?::int[], ?::jsonb[], ?::text[]) as p(part, content, state))`;

function partParameters(parts: ReadonlyArray<SendPart>): unknown[] {
  return [parts.map((part) => part.index), parts.map((part) => JSON.stringify(part.content)), parts.map((part) => part.state)];
}

export type Ledger = ReturnType<typeof createLedger>;

export function createLedger(db: Database) {
  return {
    /**
     * Inserts a new send with its parts, in one statement; false when the outboundId is already in
     * the ledger (a replay: then no part is inserted either).
     */
    async insertSend(tx: Transaction, send: Send, parts: ReadonlyArray<SendPart>, fingerprint: string): Promise<boolean> {
      const inserted = await db.query(
        `with send as (
           insert into sends (${SEND_COLUMNS}) values (${SEND_PLACEHOLDERS})
           on conflict (outbound_id) do nothing
           returning outbound_id),
         ${PARTS_OF_SEND}
         -- (PostgreSQL runs an insert in a WITH whether or not the query reads it.)
         select outbound_id from send`,
        [...sendParameters(send, fingerprint), ...partParameters(parts)],
        tx,
      );
      return inserted.length > 0;
    },

    /**
     * A new send as most commands bring it, in one statement (no transaction needed): the send, its
     * parts and `events` in the outbox, unless a cancellation of it for its Page came first
     * ('cancelled_before': nothing is written, the caller stores it as cancelled) or the outboundId
     * is already in the ledger ('duplicate').
     */
    async insertSendUnlessCancelled(send: Send, parts: ReadonlyArray<SendPart>, fingerprint: string, events: ReadonlyArray<ParleyEvent>): Promise<'stored' | 'duplicate' | 'cancelled_before'> {
      const [row] = await db.query<{ stored: number; cancelled: number }>(
        `with cancelled as (select 1 from cancellations where outbound_id = ? and page_id = ?),
         send as (
           insert into sends (${SEND_COLUMNS}) select ${SEND_PLACEHOLDERS} where not exists (select 1 from cancelled)
           on conflict (outbound_id) do nothing
           returning outbound_id),
         ${PARTS_OF_SEND},
         outboxed as (${outboxInsert('send')})
         select (select count(*) from send)::int as stored, (select count(*) from cancelled)::int as cancelled`,
        [send.outboundId, send.pageId, ...sendParameters(send, fingerprint), ...partParameters(parts), ...outboxParameters(events)],
      );
      if (row!.stored === 1) return 'stored';
      return row!.cancelled === 1 ? 'cancelled_before' : 'duplicate';
    },

    async fingerprintOf(tx: Transaction | undefined, outboundId: string): Promise<string | null> {
      const [row] = await db.query<{ command_fingerprint: string }>('select command_fingerprint from sends where outbound_id = ?', [outboundId], tx);
      return row?.command_fingerprint ?? null;
    },

    /**
     * Locks a send for its dispatcher, or for a cancellation, unless someone else holds it
     * (`skip locked`). `no key update` leaves the parts' foreign key checks free.
     */
    async lockSend(tx: Transaction, outboundId: string): Promise<Send | null> {
      const [row] = await db.query<SendRow>('select * from sends where outbound_id = ? for no key update skip locked', [outboundId], tx);
      return row ? toSend(row) : null;
    },

    /**
     * The next due send nobody is working on, locked for the caller's transaction. A send waits while
     * an earlier send of its conversation is still scheduled, so a conversation's sends go out in
     * order. (A held earlier send does not block: it is held because its Page is, so the later one is
     * held too — and announced as such — and both are woken together.)
     */
    async claimDue(tx: Transaction, now: Date): Promise<Claimed | null> {
      // What the dispatcher reads first about a send, in the statement that locks it (it was three
      // round trips). In a CTE, so that only the claimed send's parts are gathered.
      const [row] = await db.query<SendRow & PageColumns & { parts: PartRow[]; cancel_reason: string | null; cancel_page_id: string | null }>(
        `with claimed as (
           select ${sendColumnsOf('s')} from sends s
            where s.status in ('scheduled', 'held') and s.next_attempt_at <= ?
              and not exists (
                select 1 from sends e
                 where e.conversation_id = s.conversation_id and e.status = 'scheduled'
                   and (e.send_at, e.seq) < (s.send_at, s.seq))
            order by s.next_attempt_at, s.seq
            limit 1
            for no key update of s skip locked)
         select ${sendColumnsOf('claimed')}, p.page_id as known_page_id, p.account_id as page_account_id, p.status as page_status, p.source as page_source,
                p.status_at as page_status_at, p.rejected_token_fingerprint as page_rejected_token_fingerprint,
                c.reason as cancel_reason, c.page_id as cancel_page_id,
                (select coalesce(json_agg(json_build_object('part', sp.part, 'content', sp.content, 'state', sp.state, 'mid', sp.mid,
                                          'attempts', sp.attempts, 'reconcile_until', sp.reconcile_until) order by sp.part), '[]'::json)
                   from send_parts sp where sp.outbound_id = claimed.outbound_id) as parts
           from claimed
           left join pages p on p.page_id = claimed.page_id
           left join cancellations c on c.outbound_id = claimed.outbound_id`,
        [now],
        tx,
      );
      if (!row) return null;
      return {
        send: toSend(row),
        page: row.known_page_id === null ? unknownPage(row.page_id) : toPage({ page_id: row.page_id, account_id: row.page_account_id, status: row.page_status!, source: row.page_source!, status_at: row.page_status_at!, rejected_token_fingerprint: row.page_rejected_token_fingerprint }),
        parts: row.parts.map(toPart),
        cancellation: row.cancel_reason !== null && row.cancel_page_id !== null ? { reason: row.cancel_reason, pageId: row.cancel_page_id } : null,
      };
    },

    async nextDueAt(): Promise<Date | null> {
      const [row] = await db.query<{ at: Date | null }>(`select min(next_attempt_at) as at from sends where status in ('scheduled', 'held')`);
      return row?.at ? asDate(row.at) : null;
    },

    async parts(tx: Transaction | undefined, outboundId: string): Promise<SendPart[]> {
      const rows = await db.query<PartRow>('select part, content, state, mid, attempts, reconcile_until from send_parts where outbound_id = ? order by part', [outboundId], tx);
      return rows.map(toPart);
    },

    /**
     * A send's parts and its recorded cancellation, in one statement: the dispatcher reads both on
     * every round of a send (two statements each round was a tenth of the service's statements).
     */
    async partsAndCancellation(tx: Transaction | undefined, outboundId: string): Promise<{ parts: SendPart[]; cancellation: { reason: string; pageId: string } | null }> {
      const rows = await db.query<Partial<PartRow> & { cancel_reason: string | null; cancel_page_id: string | null }>(
        `select p.part, p.content, p.state, p.mid, p.attempts, p.reconcile_until, c.reason as cancel_reason, c.page_id as cancel_page_id
           from (select ?::text as outbound_id) k
           left join send_parts p on p.outbound_id = k.outbound_id
           left join cancellations c on c.outbound_id = k.outbound_id
          order by p.part`,
        [outboundId],
        tx,
      );
      const first = rows[0];
      return {
        parts: rows.filter((row): row is PartRow & { cancel_reason: string | null; cancel_page_id: string | null } => row.part !== null && row.part !== undefined).map(toPart),
        cancellation: first && first.cancel_reason !== null && first.cancel_page_id !== null ? { reason: first.cancel_reason, pageId: first.cancel_page_id } : null,
      };
    },

    /** A send by its outboundId, without locking it (null when the ledger does not know it). */
    async send(tx: Transaction | undefined, outboundId: string): Promise<Send | null> {
      const [row] = await db.query<SendRow>('select * from sends where outbound_id = ?', [outboundId], tx);
      return row ? toSend(row) : null;
    },

    /**
     * One part and the Page of its send, read without a lock or a transaction (null when either is
     * unknown): what an echo needs to see whether there is anything to settle (see echo-handler.ts).
     */
    async partForEcho(outboundId: string, part: number): Promise<{ part: SendPart; pageId: string } | null> {
      const [row] = await db.query<PartRow & { page_id: string }>(
        `select p.part, p.content, p.state, p.mid, p.attempts, p.reconcile_until, s.page_id
           from send_parts p join sends s on s.outbound_id = p.outbound_id
          where p.outbound_id = ? and p.part = ?`,
        [outboundId, part],
      );
      return row ? { part: toPart(row), pageId: row.page_id } : null;
    },

    /**
     * One part, locked for the caller's transaction (an echo settling it). Parts are only ever
     * updated in short transactions, so this waits at most for one of them.
     */
    async lockPart(tx: Transaction, outboundId: string, part: number): Promise<SendPart | null> {
      const [row] = await db.query<PartRow>('select part, content, state, mid, attempts, reconcile_until from send_parts where outbound_id = ? and part = ? for update', [outboundId, part], tx);
      return row ? toPart(row) : null;
    },

    /**
     * Makes a scheduled send that waits (for an echo, a retry) due now, so the dispatcher carries on
     * with it. A send a dispatcher is working on is skipped (`skip locked`): the answer is
     * 'locked', and the caller may try again shortly. 'idle': nothing to do (not waiting, or not open).
     */
    async makeDue(outboundId: string, now: Date): Promise<'made_due' | 'locked' | 'idle'> {
      return db.transaction(async (tx) => {
        const [row] = await db.query<{ status: SendStatus; next_attempt_at: Date | string }>(
          'select status, next_attempt_at from sends where outbound_id = ? for no key update skip locked',
          [outboundId],
          tx,
        );
        if (!row) {
          const [exists] = await db.query('select 1 from sends where outbound_id = ?', [outboundId], tx);
          return exists ? 'locked' : 'idle';
        }
        if (row.status !== 'scheduled' || asDate(row.next_attempt_at).getTime() <= now.getTime()) return 'idle';
        await db.query('update sends set next_attempt_at = ?, updated_at = ? where outbound_id = ?', [now, now, outboundId], tx);
        return 'made_due';
      });
    },

    /**
     * Moves a part along the state machine; false when it was not in a state the transition starts
     * from (someone else — another replica, an echo — moved it first). `reconcileUntil` is required
     * when the part becomes `unconfirmed`, and cleared whenever it leaves that state.
     */
    async movePart(
      tx: Transaction | undefined,
      outboundId: string,
      part: number,
      transition: PartTransition,
      fields: { mid?: string; now: Date; countAttempt?: boolean; reconcileUntil?: Date; sentAt?: Date },
      /** Written to the outbox by the same statement, only if the part moved (one round trip, no transaction). */
      events: ReadonlyArray<ParleyEvent> = [],
    ): Promise<boolean> {
      const from = requiredPartStates(transition);
      const to = targetPartState(transition);
      if (to === 'unconfirmed' && fields.reconcileUntil === undefined) throw new Error(`${transition} needs the deadline of the echo`);
      const update = `update send_parts
            set state = ?, updated_at = ?,
                mid = coalesce(?, mid),
                attempts = attempts + ?,
                reconcile_until = ?,
                sending_started_at = case when ? = 'sending' then ? else sending_started_at end,
                sent_at = case when ? = 'sent' then ? else sent_at end
          where outbound_id = ? and part = ? and state in (${from.map(() => '?').join(', ')})
          returning part`;
      const parameters = [
        to, fields.now, fields.mid ?? null, fields.countAttempt ? 1 : 0, to === 'unconfirmed' ? fields.reconcileUntil : null,
        to, fields.now, to, fields.sentAt ?? fields.now, outboundId, part, ...from,
      ];
      if (events.length === 0) return (await db.query(update, parameters, tx)).length === 1;
      const rows = await db.query(`with moved as (${update}) ${outboxInsert('moved')} returning event_id`, [...parameters, ...outboxParameters(events)], tx);
      return rows.length > 0;
    },

    /** Counts a failed attempt that happened before the part was claimed (e.g. auth-token unavailable). */
    async countAttempt(tx: Transaction | undefined, outboundId: string, part: number, now: Date): Promise<void> {
      await db.query('update send_parts set attempts = attempts + 1, updated_at = ? where outbound_id = ? and part = ?', [now, outboundId, part], tx);
    },

    async updateSend(
      tx: Transaction,
      outboundId: string,
      patch: { status: SendStatus; nextAttemptAt?: Date; deferredReason?: DeferReason | null; deferrals?: number; accountId?: string | null; now: Date },
    ): Promise<void> {
      await db.query(
        `update sends
            set status = ?,
                next_attempt_at = coalesce(?, next_attempt_at),
                deferred_reason = case when ? then ? else deferred_reason end,
                deferrals = coalesce(?, deferrals),
                account_id = coalesce(account_id, ?),
                updated_at = ?
          where outbound_id = ?`,
        [
          patch.status,
          patch.nextAttemptAt ?? null,
          patch.deferredReason !== undefined,
          patch.deferredReason ?? null,
          patch.deferrals ?? null,
          patch.accountId ?? null,
          patch.now,
          outboundId,
        ],
        tx,
      );
    },

    async cancellation(tx: Transaction | undefined, outboundId: string): Promise<{ reason: string; pageId: string } | null> {
      const [row] = await db.query<{ reason: string; page_id: string }>('select reason, page_id from cancellations where outbound_id = ?', [outboundId], tx);
      return row ? { reason: row.reason, pageId: row.page_id } : null;
    },

    /** Records a cancellation; false when it was already recorded (a replay). */
    async recordCancellation(tx: Transaction, input: { outboundId: string; pageId: string; reason: string; eventId: string }): Promise<boolean> {
      const rows = await db.query(
        'insert into cancellations (outbound_id, page_id, reason, command_event_id) values (?, ?, ?, ?) on conflict (outbound_id) do nothing returning outbound_id',
        [input.outboundId, input.pageId, input.reason, input.eventId],
        tx,
      );
      return rows.length === 1;
    },

    async page(tx: Transaction | undefined, pageId: string, options: { forUpdate?: boolean } = {}): Promise<PageConnection> {
      const [row] = await db.query<PageRow>(`select * from pages where page_id = ?${options.forUpdate ? ' for update' : ''}`, [pageId], tx);
      return row ? toPage(row) : unknownPage(pageId);
    },

    async savePage(tx: Transaction | undefined, page: PageConnection, now: Date): Promise<void> {
      await db.query(
        `insert into pages (page_id, account_id, status, source, status_at, rejected_token_fingerprint, updated_at)
         values (?, ?, ?, ?, ?, ?, ?)
         on conflict (page_id) do update
           set account_id = excluded.account_id, status = excluded.status, source = excluded.source,
               status_at = excluded.status_at, rejected_token_fingerprint = excluded.rejected_token_fingerprint,
               updated_at = excluded.updated_at`,
        [page.pageId, page.accountId, page.status, page.source, page.statusAt, page.rejectedTokenFingerprint, now],
        tx,
      );
    },

    /**
     * Makes the Page's held sends due now, so the dispatcher looks at them again (sends them, or fails
     * them if their window closed meanwhile or the Page is gone). Waits for a dispatcher holding one.
     */
    async wakeHeldSends(tx: Transaction | undefined, pageId: string, now: Date, options: { skipLocked?: boolean } = {}): Promise<number> {
      const rows = await db.query(
        `update sends set status = 'scheduled', next_attempt_at = ?, updated_at = ?
          where outbound_id in (select outbound_id from sends where page_id = ? and status = 'held' for no key update${options.skipLocked ? ' skip locked' : ''})
          returning outbound_id`,
        [now, now, pageId],
        tx,
      );
      return rows.length;
    },
  };
}
