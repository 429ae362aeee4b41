// OAuth states, user grants (long-lived user tokens) and page selections in PostgreSQL.
import type { Database, Transaction } from '@parley/persistence';
import { TEXT_ARRAY, at, epochOf, jsonList } from '../sql.ts';

/** Stores an issued state's nonce with the account that asked for it. */
export async function saveState(db: Database, input: { nonce: string; accountId: string; subscribeFeed: boolean; now: number; expiresAt: number }): Promise<void> {
  await db.query('insert into oauth_states (nonce, account_id, subscribe_feed, created_at, expires_at) values (?, ?, ?, ?, ?)', [
    input.nonce,
    input.accountId,
    input.subscribeFeed,
    at(input.now),
    at(input.expiresAt),
  ]);
}

export type ConsumedState =
  | { ok: true; accountId: string; subscribeFeed: boolean }
  | { ok: false; problem: 'reused' | 'unknown' | 'expired' };

/**
 * Consumes a nonce once: the `update … where consumed_at is null` is atomic, so two callbacks racing
 * with the same state see one success and one `reused`.
 */
export async function consumeState(db: Database, nonce: string, now: number): Promise<ConsumedState> {
  const consumed = await db.query<{ account_id: string; subscribe_feed: boolean; expires_at: unknown }>(
    'update oauth_states set consumed_at = ? where nonce = ? and consumed_at is null returning account_id, subscribe_feed, expires_at',
    [at(now), nonce],
  );
  const row = consumed[0];
  if (row) {
    if ((epochOf(row.expires_at) ?? 0) <= now) return { ok: false, problem: 'expired' };
    return { ok: true, accountId: row.account_id, subscribeFeed: row.subscribe_feed };
  }
  const existing = await db.query('select 1 from oauth_states where nonce = ?', [nonce]);
  return { ok: false, problem: existing.length > 0 ? 'reused' : 'unknown' };
}

export type NewGrant = {
  grantId: string;
  accountId: string;
  facebookUserId: string | null;
  sealedUserToken: string;
  expiresAt: number | null;
  dataAccessExpiresAt: number | null;
  nextRefreshAt: number | null;
  now: number;
};

export async function insertGrant(db: Database, tx: Transaction, grant: NewGrant): Promise<void> {
  await db.query(
    `insert into user_grants (grant_id, account_id, facebook_user_id, user_token, expires_at, data_access_expires_at, next_refresh_at, created_at)
     values (?, ?, ?, ?, ?, ?, ?, ?)`,
    [
      grant.grantId,
      grant.accountId,
      grant.facebookUserId,
      grant.sealedUserToken,
      grant.expiresAt === null ? null : at(grant.expiresAt),
      grant.dataAccessExpiresAt === null ? null : at(grant.dataAccessExpiresAt),
      grant.nextRefreshAt === null ? null : at(grant.nextRefreshAt),
      at(grant.now),
    ],
    tx,
  );
}

export type SelectionPage = { pageId: string; name: string; tasks: string[]; pickable: boolean; reason: string | null; sealedPageToken: string | null };

export async function insertSelection(
  db: Database,
  tx: Transaction,
  selection: { selectionId: string; accountId: string; grantId: string; subscribeFeed: boolean; now: number; expiresAt: number; pages: readonly SelectionPage[] },
): Promise<void> {
  await db.query('insert into selections (selection_id, account_id, grant_id, subscribe_feed, created_at, expires_at) values (?, ?, ?, ?, ?, ?)', [
    selection.selectionId,
    selection.accountId,
    selection.grantId,
    selection.subscribeFeed,
    at(selection.now),
    at(selection.expiresAt),
  ], tx);
  for (const page of selection.pages) {
    await db.query(
      `insert into selection_pages (selection_id, page_id, name, tasks, pickable, reason, page_token) values (?, ?, ?, ${TEXT_ARRAY}, ?, ?, ?)`,
      [selection.selectionId, page.pageId, page.name, jsonList(page.tasks), page.pickable, page.reason, page.sealedPageToken],
      tx,
    );
  }
}

export type TakenSelection =
  | { ok: true; accountId: string; grantId: string; subscribeFeed: boolean; pages: SelectionPage[] }
  | { ok: false; problem: 'unknown_or_used' | 'expired' };

/**
 * Takes a selection once: it is deleted with its Page tokens (those of the Pages not picked are
 * destroyed with it), so a second submit finds nothing.
 */
export async function takeSelection(db: Database, selectionId: string, now: number): Promise<TakenSelection> {
  return db.transaction(async (tx) => {
    const [selection] = await db.query<{ account_id: string; grant_id: string; subscribe_feed: boolean; expires_at: unknown }>(
      'select account_id, grant_id, subscribe_feed, expires_at from selections where selection_id = ? for update',
      [selectionId],
      tx,
    );
    if (!selection) return { ok: false, problem: 'unknown_or_used' };
    const pages = await db.query<{ page_id: string; name: string; tasks: string[]; pickable: boolean; reason: string | null; page_token: string | null }>(
      'select page_id, name, tasks, pickable, reason, page_token from selection_pages where selection_id = ? order by name, page_id',
      [selectionId],
      tx,
    );
    await db.query('delete from selections where selection_id = ?', [selectionId], tx);
    if ((epochOf(selection.expires_at) ?? 0) <= now) return { ok: false, problem: 'expired' };
    return {
      ok: true,
      accountId: selection.account_id,
      grantId: selection.grant_id,
      subscribeFeed: selection.subscribe_feed,
      pages: pages.map((p) => ({ pageId: p.page_id, name: p.name, tasks: p.tasks, pickable: p.pickable, reason: p.reason, sealedPageToken: p.page_token })),
    };
  });
}

/**
 * Deletes what is no longer needed: expired states and selections (with their Page tokens), and
 * user grants no Page and no selection uses any more (their tokens with them).
 */
export async function deleteExpired(db: Database, now: number, graceMs: number): Promise<void> {
  await db.query('delete from oauth_states where expires_at < ?', [at(now - graceMs)]);
  await db.query('delete from selections where expires_at < ?', [at(now)]);
  await db.query(
    `delete from user_grants g
      where g.created_at < ?
        and not exists (select 1 from pages p where p.grant_id = g.grant_id)
        and not exists (select 1 from selections s where s.grant_id = g.grant_id)`,
    [at(now - graceMs)],
  );
}
