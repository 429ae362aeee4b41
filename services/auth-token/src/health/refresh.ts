// Renews the long-lived user token of each login before it expires (fb_exchange_token, §6c: an
// expired token cannot be exchanged). Page tokens made from a long-lived user token do not expire,
// but the login is what Facebook's data access hangs on, so it is kept alive while Pages use it.
import type { GraphApiClient } from '@parley/graph-api';
import type { Logger } from '@parley/observability';
import type { Database } from '@parley/persistence';
import { failureOf } from '../connection/subscription.ts';
import { at, epochOf } from '../sql.ts';
import type { TokenVault } from '../tokens/vault.ts';

export type DueRefresh = { grantId: string; sealedToken: string; expiresAt: number | null };

/** Claims the logins due for renewal (`for update skip locked`, with a lease like the checks). */
export async function claimDueRefreshes(db: Database, now: number, leaseMs: number, limit: number): Promise<DueRefresh[]> {
  return db.transaction(async (tx) => {
    const rows = await db.query<{ grant_id: string; user_token: string; expires_at: unknown }>(
      `with due as (
         select grant_id from user_grants
          where status = 'active' and next_refresh_at <= ?
          order by next_refresh_at
          limit ?
          for update skip locked)
       update user_grants g set next_refresh_at = ?
         from due where g.grant_id = due.grant_id
       returning g.grant_id, g.user_token, g.expires_at`,
      [at(now), limit, at(now + leaseMs)],
      tx,
    );
    return rows.map((r) => ({ grantId: r.grant_id, sealedToken: r.user_token, expiresAt: epochOf(r.expires_at) }));
  });
}

export type RefreshDeps = {
  db: Database;
  graph: GraphApiClient;
  vault: TokenVault;
  logger: Logger;
  now: () => number;
  refreshBeforeMs: number;
  retryMs: number;
};

export type RefreshResult = 'renewed' | 'retry_later' | 'expired' | 'stale';

export async function refreshGrant(deps: RefreshDeps, grant: DueRefresh): Promise<RefreshResult> {
  const { db, logger } = deps;
  const log = logger.child({ component: 'login-renewal', grantId: grant.grantId });
  let renewed: { accessToken: string; expiresIn: number | undefined };
  try {
    renewed = await deps.graph.exchangeForLongLivedUserToken(deps.vault.open(grant.sealedToken));
  } catch (error) {
    const failure = failureOf(error);
    const now = deps.now();
    const lapsed = grant.expiresAt !== null && grant.expiresAt <= now;
    if (failure.transient && !lapsed) {
      await db.query('update user_grants set next_refresh_at = ? where grant_id = ? and user_token = ?', [at(now + deps.retryMs), grant.grantId, grant.sealedToken]);
      log.warn({ graphCode: failure.code }, 'could not renew the login; retrying later');
      return 'retry_later';
    }
    // Facebook refused the exchange (190: the login was invalidated) or the token lapsed: it is over.
    // Its Pages get checked now, so that what this means for each of them shows up at once.
    await db.transaction(async (tx) => {
      await db.query(`update user_grants set status = 'expired', next_refresh_at = null where grant_id = ?`, [grant.grantId], tx);
      await db.query('update pages set next_check_at = ? where grant_id = ? and page_token is not null', [at(now), grant.grantId], tx);
    });
    log.info({ graphCode: failure.code, graphSubcode: failure.subcode }, 'the login could not be renewed; its Pages are re-checked');
    return 'expired';
  }
  const now = deps.now();
  const expiresAt = renewed.expiresIn === undefined || renewed.expiresIn <= 0 ? null : now + renewed.expiresIn * 1000;
  const updated = await db.query(
    `update user_grants set user_token = ?, expires_at = ?, next_refresh_at = ?, refreshed_at = ?, status = 'active'
      where grant_id = ? and user_token = ? returning grant_id`,
    [
      deps.vault.seal(renewed.accessToken),
      expiresAt === null ? null : at(expiresAt),
      expiresAt === null ? null : at(Math.max(now + deps.retryMs, expiresAt - deps.refreshBeforeMs)),
      at(now),
      grant.grantId,
      grant.sealedToken,
    ],
  );
  if (updated.length === 0) return 'stale'; // rotated meanwhile: the next run renews it
  log.info({ expiresAt: expiresAt === null ? null : new Date(expiresAt).toISOString() }, 'login renewed');
  return 'renewed';
}
