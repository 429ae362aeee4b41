import { messengerConversationId } from '@parley/contracts';
import type { EventOf } from '@parley/contracts';
import type { Database } from '@parley/persistence';
import { toIso } from '../sql.ts';
import { RECENT_MESSAGES } from './context.ts';
import type { AttachmentNote, Author, ContextEntry } from './context.ts';

export type ContextStore = {
  /**
   * Remembers an entry, idempotently: a redelivered event (same id) or the same Meta message seen
   * again (same mid) changes nothing, except that what outbound-sender says about who wrote a
   * message (assistant, agent, page) wins over an echo's "page". Only the newest
   * RECENT_MESSAGES of the conversation are kept; an old event replayed late is stored and trimmed at once.
   */
  record(entry: ContextEntry): Promise<void>;
  /**
   * `record` for several entries, in order: one statement stores them and gives echoes stored
   * earlier the authors outbound-sender named; a second trims, only conversations past RECENT_MESSAGES.
   * Not one transaction: each step is idempotent, so a crash between them is completed by the
   * redelivery, and BEGIN and COMMIT were two of the five round trips of every inbound message.
   */
  recordMany(entries: ReadonlyArray<ContextEntry>): Promise<void>;
  /**
   * What an answer is built from, in one statement: the conversation's newest RECENT_MESSAGES
   * entries, oldest first, and the customer's first name (null when no profile gave one).
   */
  conversation(conversationId: string): Promise<{ entries: ContextEntry[]; customerFirstName: string | null }>;
  /** Remembers the customer's first name from a profile; an older profile never overwrites a newer one. */
  recordProfile(event: EventOf<'messenger.customer.profile.updated'>): Promise<void>;
};

type Row = {
  event_id: string;
  conversation_id: string;
  page_id: string;
  author: Author;
  text: string | null;
  attachments: AttachmentNote[];
  postback: ContextEntry['postback'];
  mid: string | null;
  source: ContextEntry['source'];
  occurred_at: unknown;
};

/**
 * The entries with each echo that outbound-sender's event about the same message (same conversation
 * and mid) also names in the batch taking that event's author: whichever of the two is stored, it
 * ends as recording them one at a time would leave it (the echo first, then corrected; or the
 * event first, and the echo a duplicate).
 */
function withOutboundAuthors(entries: ReadonlyArray<ContextEntry>): ReadonlyArray<ContextEntry> {
  const key = (e: ContextEntry) => `${e.conversationId}\u0000${e.mid}`;
  const authors = new Map(entries.filter((e) => e.source === 'outbound' && e.mid !== null).map((e) => [key(e), e.author]));
  if (authors.size === 0) return entries;
  return entries.map((e) => {
    const author = e.source === 'echo' && e.mid !== null ? authors.get(key(e)) : undefined;
    return author === undefined ? e : { ...e, author, source: 'outbound' as const };
  });
}

export function createContextStore(db: Database): ContextStore {
  const recordMany = async (given: ReadonlyArray<ContextEntry>): Promise<void> => {
    if (given.length === 0) return;
    const entries = withOutboundAuthors(given);
    // `authored`: an echo stored before this statement learns its author from outbound-sender's
    // event about the same mid (an echo in this batch already has it, withOutboundAuthors). It cannot
    // see the rows `added` stores: every part of a statement reads the rows as they were before it.
    // No conflict target: a conflict on the event id or on the mid both mean "already known".
    // The insert also tells which conversations now hold more than RECENT_MESSAGES (the count in the
    // select is of the rows before this statement; `added`, of the rows it stored): only those are
    // trimmed. A conversation's first messages, most of them, cost one statement instead of two.
    const authored = entries.filter((e) => e.source === 'outbound' && e.mid !== null);
    const overflowing = await db.query<{ conversation_id: string }>(
      `with authored as (
         update conversation_messages m set author = u.author, source = 'outbound'
           from unnest(?::text[], ?::text[], ?::text[]) as u(conversation_id, mid, author)
          where m.conversation_id = u.conversation_id and m.mid = u.mid and m.source = 'echo'
       ), added as (
         insert into conversation_messages (event_id, conversation_id, page_id, author, text, attachments, postback, mid, source, occurred_at)
         select * from unnest(?::text[], ?::text[], ?::text[], ?::text[], ?::text[], ?::jsonb[], ?::jsonb[], ?::text[], ?::text[], ?::timestamptz[])
         on conflict do nothing
         returning conversation_id
       )
       select a.conversation_id
         from (select conversation_id, count(*) as stored from added group by conversation_id) a
        where a.stored + (select count(*) from conversation_messages m where m.conversation_id = a.conversation_id) > ?`,
      [
        authored.map((e) => e.conversationId),
        authored.map((e) => e.mid),
        authored.map((e) => e.author),
        entries.map((e) => e.eventId),
        entries.map((e) => e.conversationId),
        entries.map((e) => e.pageId),
        entries.map((e) => e.author),
        entries.map((e) => e.text),
        entries.map((e) => JSON.stringify(e.attachments)),
        entries.map((e) => (e.postback === null ? null : JSON.stringify(e.postback))),
        entries.map((e) => e.mid),
        entries.map((e) => e.source),
        entries.map((e) => e.occurredAt),
        RECENT_MESSAGES,
      ],
    );
    if (overflowing.length === 0) return;
    await db.query(
      `delete from conversation_messages where event_id in (
         select event_id from (
           select event_id, row_number() over (partition by conversation_id order by occurred_at desc, seq desc) as newest
             from conversation_messages where conversation_id = any(?::text[])
         ) ranked where newest > ?)`,
      [overflowing.map((row) => row.conversation_id), RECENT_MESSAGES],
    );
  };

  return {
    record: (entry) => recordMany([entry]),
    recordMany,

    async conversation(conversationId) {
      // Named columns, not `*`: a statement that can be prepared (see @parley/persistence).
      const rows = await db.query<Partial<Row> & { first_name: string | null }>(
        `select m.event_id, m.conversation_id, m.page_id, m.author, m.text, m.attachments, m.postback, m.mid, m.source, m.occurred_at, n.first_name
           from (select ?::text as conversation_id) k
           left join customer_names n on n.conversation_id = k.conversation_id
           left join lateral (
             select event_id, conversation_id, page_id, author, text, attachments, postback, mid, source, occurred_at, seq
               from conversation_messages c where c.conversation_id = k.conversation_id
              order by occurred_at desc, seq desc limit ?) m on true
          order by m.occurred_at, m.seq`,
        [conversationId, RECENT_MESSAGES],
      );
      const entries = rows
        .filter((row): row is Row & { first_name: string | null } => row.event_id !== null && row.event_id !== undefined)
        .map((row) => ({
          eventId: row.event_id,
          conversationId: row.conversation_id,
          pageId: row.page_id,
          author: row.author,
          text: row.text,
          attachments: row.attachments,
          postback: row.postback,
          mid: row.mid,
          source: row.source,
          occurredAt: toIso(row.occurred_at),
        }));
      return { entries, customerFirstName: rows[0]?.first_name ?? null };
    },

    async recordProfile(event) {
      const conversationId = event.conversationId ?? messengerConversationId(event.pageId, event.data.customer.psid);
      // "Customer 4f2a" (the fallback display name) is not a name to greet anyone with: only a real first name is kept.
      const firstName = event.data.available ? (event.data.firstName?.trim().slice(0, 100) || null) : null;
      await db.query(
        `insert into customer_names (conversation_id, first_name, occurred_at) values (?, ?, ?)
         on conflict (conversation_id) do update set first_name = excluded.first_name, occurred_at = excluded.occurred_at
         where customer_names.occurred_at <= excluded.occurred_at`,
        [conversationId, firstName, event.occurredAt],
      );
    },
  };
}
