import type { ParleyEvent } from '@parley/contracts';
import type { Database, Migration } from '@parley/persistence';

/**
 * Which account owns each Page, learned from page.events.v1 (auth-token puts the account on the
 * envelope of `page.connected` and the later events of the connection). Ingress cannot know it,
 * so inbound events carry no account; the responder needs it to tell whether a Page may use a
 * private assistant.
 */
export const pageAccountMigrations: Migration[] = [
  {
    name: '0003_page_accounts',
    up: [
      `create table page_accounts (
        page_id text primary key,
        account_id text not null,
        occurred_at timestamptz not null
      )`,
    ],
  },
];

export type PageAccounts = {
  /** Records the Page's account from a page event; events without an account change nothing. */
  record(event: ParleyEvent): Promise<void>;
  accountOf(pageId: string): Promise<string | null>;
};

/** The page events that tell the owner of a Page. */
export function pageOwnerOf(event: ParleyEvent): { pageId: string; accountId: string; occurredAt: string } | null {
  switch (event.type) {
    case 'page.connected':
    case 'page.connection.changed':
    case 'page.settings.changed':
      return event.accountId === null ? null : { pageId: event.pageId, accountId: event.accountId, occurredAt: event.occurredAt };
    default:
      // page.disconnected keeps the owner: pending replies of the Page are suppressed by rules, not here,
      // and a reconnect by another account arrives as a newer page.connected.
      return null;
  }
}

export function createPageAccounts(db: Database): PageAccounts {
  return {
    async record(event) {
      const owner = pageOwnerOf(event);
      if (!owner) return;
      // Out of order: an older event never overwrites what a newer one said (a Page moved to another account).
      await db.query(
        `insert into page_accounts (page_id, account_id, occurred_at) values (?, ?, ?)
         on conflict (page_id) do update set account_id = excluded.account_id, occurred_at = excluded.occurred_at
         where page_accounts.occurred_at <= excluded.occurred_at`,
        [owner.pageId, owner.accountId, owner.occurredAt],
      );
    },
    async accountOf(pageId) {
      const rows = await db.query<{ account_id: string }>('select account_id from page_accounts where page_id = ?', [pageId]);
      return rows[0]?.account_id ?? null;
    },
  };
}
