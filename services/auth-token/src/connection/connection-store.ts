// The `pages` table: one row per Page with its folded connection state and its sealed token.
import type { ConnectionStatus } from '@parley/contracts';
import type { Database, Transaction } from '@parley/persistence';
import { TEXT_ARRAY, at, epochOf, isoOf, jsonList } from '../sql.ts';
import type { Connection, Problem } from './connection.ts';

export type PageRecord = {
  pageId: string;
  connection: Connection;
  /** The Fernet text of the Page token; null once disconnected (the token is destroyed). */
  sealedToken: string | null;
  grantId: string | null;
  nextCheckAt: number | null;
};

type PageRow = {
  page_id: string;
  account_id: string;
  name: string;
  status: ConnectionStatus;
  problems: Problem[] | string;
  page_token: string | null;
  grant_id: string | null;
  subscribed_fields: string[];
  connected_at: unknown;
  token_checked_at: unknown;
  next_check_at: unknown;
};

const COLUMNS = 'page_id, account_id, name, status, problems, page_token, grant_id, subscribed_fields, connected_at, token_checked_at, next_check_at';

function toRecord(row: PageRow): PageRecord {
  return {
    pageId: row.page_id,
    connection: {
      accountId: row.account_id,
      name: row.name,
      status: row.status,
      problems: typeof row.problems === 'string' ? (JSON.parse(row.problems) as Problem[]) : row.problems,
      connectedAt: isoOf(row.connected_at),
      tokenCheckedAt: isoOf(row.token_checked_at),
      subscribedFields: row.subscribed_fields,
    },
    sealedToken: row.page_token,
    grantId: row.grant_id,
    nextCheckAt: epochOf(row.next_check_at),
  };
}

/** One Page, optionally locked for the rest of the transaction (every state change takes this lock). */
export async function loadPage(db: Database, pageId: string, options: { tx?: Transaction; forUpdate?: boolean } = {}): Promise<PageRecord | null> {
  const rows = await db.query<PageRow>(`select ${COLUMNS} from pages where page_id = ?${options.forUpdate ? ' for update' : ''}`, [pageId], options.tx);
  return rows[0] ? toRecord(rows[0]) : null;
}

export async function listAccountPages(db: Database, accountId: string): Promise<PageRecord[]> {
  const rows = await db.query<PageRow>(`select ${COLUMNS} from pages where account_id = ? order by name, page_id`, [accountId]);
  return rows.map(toRecord);
}

/** Who holds each of these Pages now (for the selection page). */
export async function holdersOf(db: Database, pageIds: readonly string[], tx?: Transaction): Promise<Map<string, { accountId: string; status: ConnectionStatus }>> {
  if (pageIds.length === 0) return new Map();
  const rows = await db.query<{ page_id: string; account_id: string; status: ConnectionStatus }>(
    'select page_id, account_id, status from pages where page_id in (select jsonb_array_elements_text(?::jsonb))',
    [jsonList(pageIds)],
    tx,
  );
  return new Map(rows.map((r) => [r.page_id, { accountId: r.account_id, status: r.status }]));
}

/** Writes the Page's state, token and next check (insert or replace). */
export async function savePage(
  db: Database,
  tx: Transaction,
  pageId: string,
  connection: Connection,
  extra: { sealedToken: string | null; grantId: string | null; nextCheckAt: number | null; now: number },
): Promise<void> {
  await db.query(
    `insert into pages (page_id, account_id, name, status, problems, page_token, grant_id, subscribed_fields, connected_at, token_checked_at, next_check_at, updated_at)
     values (?, ?, ?, ?, ?::jsonb, ?, ?, ${TEXT_ARRAY}, ?, ?, ?, ?)
     on conflict (page_id) do update set
       account_id = excluded.account_id, name = excluded.name, status = excluded.status, problems = excluded.problems,
       page_token = excluded.page_token, grant_id = excluded.grant_id, subscribed_fields = excluded.subscribed_fields,
       connected_at = excluded.connected_at, token_checked_at = excluded.token_checked_at,
       next_check_at = excluded.next_check_at, updated_at = excluded.updated_at`,
    [
      pageId,
      connection.accountId,
      connection.name,
      connection.status,
      JSON.stringify(connection.problems),
      extra.sealedToken,
      extra.grantId,
      jsonList(connection.subscribedFields),
      connection.connectedAt,
      connection.tokenCheckedAt,
      extra.nextCheckAt === null ? null : at(extra.nextCheckAt),
      at(extra.now),
    ],
    tx,
  );
}

/** Asks for a check as soon as the scheduler runs (e.g. Meta rejected the token while sending). */
export async function requestCheckNow(db: Database, pageId: string, now: number, cause: { causationId: string; correlationId: string | null } | null): Promise<boolean> {
  const rows = await db.query<{ page_id: string }>(
    'update pages set next_check_at = ?, check_cause = ?, check_correlation = ? where page_id = ? and page_token is not null returning page_id',
    [at(now), cause?.causationId ?? null, cause?.correlationId ?? null, pageId],
  );
  return rows.length > 0;
}

export type DueCheck = {
  pageId: string;
  sealedToken: string;
  subscribedFields: string[];
  loginExpired: boolean;
  /** The event that asked for this check, if one did, and its causal chain. */
  causationId: string | null;
  correlationId: string | null;
};

/**
 * Claims the Pages whose check is due: `for update skip locked` lets replicas share the work, and
 * pushing `next_check_at` out by `leaseMs` makes a check that dies with its process run again later.
 */
export async function claimDueChecks(db: Database, now: number, leaseMs: number, limit: number): Promise<DueCheck[]> {
  return db.transaction(async (tx) => {
    const rows = await db.query<{ page_id: string; page_token: string; subscribed_fields: string[]; grant_status: string | null; check_cause: string | null; check_correlation: string | null }>(
      `with due as (
         select page_id, check_cause, check_correlation from pages
          where page_token is not null and next_check_at <= ?
          order by next_check_at
          limit ?
          for update skip locked)
       update pages p set next_check_at = ?, check_cause = null, check_correlation = null
         from due where p.page_id = due.page_id
       returning p.page_id, p.page_token, p.subscribed_fields, due.check_cause, due.check_correlation,
         (select g.status from user_grants g where g.grant_id = p.grant_id) as grant_status`,
      [at(now), limit, at(now + leaseMs)],
      tx,
    );
    return rows.map((r) => ({
      pageId: r.page_id,
      sealedToken: r.page_token,
      subscribedFields: r.subscribed_fields,
      loginExpired: r.grant_status === 'expired',
      causationId: r.check_cause,
      correlationId: r.check_correlation,
    }));
  });
}
