import type { Database } from '@parley/persistence';
import { decodeCursor, encodeCursor } from '../api/cursor.ts';
import type { ConversationRow } from '../api/views.ts';
import { pgTextArray } from '../inbox/projector.ts';
import type { InboxMessage } from '../inbox/model.ts';

// Reads of the inbox. Every read is scoped to the caller's account: a conversation of another
// account is "not found", never "forbidden", so that ids do not leak.

const CONVERSATION_COLUMNS = `
  c.id, c.page_id, c.channel, c.customer_psid, c.customer_name, c.customer_name_source, c.status, c.state,
  c.created_at, c.last_message_at, c.last_message_preview, c.last_activity_at, c.unread_count,
  c.last_activity_at::text as cursor_at, p.name as page_name, p.status as page_status`;

export type ConversationFilter = {
  accountId: string;
  pageId?: string | undefined;
  channel?: 'messenger' | 'page_comment' | undefined;
  status?: 'open' | 'escalated' | 'resolved' | undefined;
  q?: string | undefined;
  limit: number;
  cursor?: string | undefined;
};

/** Newest activity first, by keyset (last activity, id): stable pages however the inbox grows. */
export async function listConversations(db: Database, filter: ConversationFilter): Promise<{ rows: ConversationRow[]; nextCursor: string | null }> {
  const where = ['c.account_id = ?'];
  const params: unknown[] = [filter.accountId];
  if (filter.pageId !== undefined) {
    where.push('c.page_id = ?');
    params.push(filter.pageId);
  }
  if (filter.channel !== undefined) {
    where.push('c.channel = ?');
    params.push(filter.channel);
  }
  if (filter.status !== undefined) {
    where.push('c.status = ?');
    params.push(filter.status);
  }
  if (filter.q !== undefined) {
    // Trigram indexes serve both sides of this (customer names, message text), in any language.
    const pattern = `%${escapeLike(filter.q)}%`;
    where.push(`(c.customer_name ilike ? or c.id in (select m.conversation_id from messages m where m.text ilike ?))`);
    params.push(pattern, pattern);
  }
  if (filter.cursor !== undefined) {
    const [at, id] = decodeCursor(filter.cursor, ['string', 'string']);
    where.push('(c.last_activity_at, c.id) < (?::timestamptz, ?)');
    params.push(at, id);
  }
  params.push(filter.limit + 1);
  const sql = `select ${CONVERSATION_COLUMNS}
     from conversations c left join pages p on p.page_id = c.page_id
     where ${where.join(' and ')}
     order by c.last_activity_at desc, c.id desc
     limit ?`;
  // A text search over a large inbox has a high estimated cost, enough for PostgreSQL to JIT-compile
  // it, which takes longer than running it: not for these.
  const rows =
    filter.q === undefined
      ? await db.query<ConversationRow & { cursor_at: string }>(sql, params)
      : await db.transaction(async (tx) => {
          await db.query('set local jit = off', [], tx);
          return db.query<ConversationRow & { cursor_at: string }>(sql, params, tx);
        });
  const page = rows.slice(0, filter.limit);
  const last = page[page.length - 1];
  return { rows: page, nextCursor: rows.length > filter.limit && last ? encodeCursor([last.cursor_at, last.id]) : null };
}

export async function getConversation(db: Database, accountId: string, id: string): Promise<ConversationRow | undefined> {
  const [row] = await db.query<ConversationRow>(
    `select ${CONVERSATION_COLUMNS} from conversations c left join pages p on p.page_id = c.page_id where c.id = ? and c.account_id = ?`,
    [id, accountId],
  );
  return row;
}

export async function conversationsByIds(db: Database, accountId: string, ids: ReadonlyArray<string>): Promise<ConversationRow[]> {
  if (ids.length === 0) return [];
  return db.query<ConversationRow>(
    `select ${CONVERSATION_COLUMNS} from conversations c left join pages p on p.page_id = c.page_id where c.id = any(?::text[]) and c.account_id = ?`,
    [pgTextArray(ids), accountId],
  );
}

/** Oldest first, by keyset (created, part, id). */
export async function listMessages(
  db: Database,
  conversationId: string,
  options: { limit: number; cursor?: string | undefined },
): Promise<{ messages: InboxMessage[]; nextCursor: string | null }> {
  const where = ['m.conversation_id = ?'];
  const params: unknown[] = [conversationId];
  if (options.cursor !== undefined) {
    const [at, part, id] = decodeCursor(options.cursor, ['string', 'number', 'string']);
    where.push('(m.created_at, m.part, m.id) > (?::timestamptz, ?, ?)');
    params.push(at, part, id);
  }
  params.push(options.limit + 1);
  const rows = await db.query<{ id: string; part: number; cursor_at: string; doc: InboxMessage }>(
    `select m.id, m.part, m.created_at::text as cursor_at, m.doc from messages m
     where ${where.join(' and ')}
     order by m.created_at, m.part, m.id
     limit ?`,
    params,
  );
  const page = rows.slice(0, options.limit);
  const last = page[page.length - 1];
  return {
    messages: page.map((r) => r.doc),
    nextCursor: rows.length > options.limit && last ? encodeCursor([last.cursor_at, last.part, last.id]) : null,
  };
}

export type PageRow = { page_id: string; account_id: string | null; name: string | null; status: string };

export async function getPage(db: Database, pageId: string): Promise<PageRow | undefined> {
  const [row] = await db.query<PageRow>('select page_id, account_id, name, status from pages where page_id = ?', [pageId]);
  return row;
}

function escapeLike(text: string): string {
  return text.replace(/[\\%_]/g, (c) => `\\${c}`);
}
