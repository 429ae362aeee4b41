// `outbound.token.rejected` (Meta refused a Page's token while sending) → check that Page now.
// The check, not the rejection, decides the new status: debug_token says whether the token is really
// dead, and a rejection of a token we no longer hold (the Page was reconnected since) changes nothing.
//   - duplicated or replayed rejections: another check, same result;
//   - out of order (older than a reconnect): the check looks at the current token;
//   - unknown Page, or disconnected (no token): ignored;
//   - every other event on outbound.events.v1: ignored (the consumer reads the whole topic).
import type { ParleyEvent } from '@parley/contracts';
import type { Logger } from '@parley/observability';
import type { Database } from '@parley/persistence';
import { RetriableError } from '@parley/messaging';
import { requestCheckNow } from '../connection/connection-store.ts';

export function tokenRejectedHandler(deps: { db: Database; logger: Logger; now: () => number; wake: () => void }): (event: ParleyEvent) => Promise<void> {
  const log = deps.logger.child({ component: 'token-rejected' });
  return async (event) => {
    if (event.type !== 'outbound.token.rejected') return;
    let scheduled: boolean;
    try {
      scheduled = await requestCheckNow(deps.db, event.pageId, deps.now(), { causationId: event.id, correlationId: event.correlationId ?? event.id });
    } catch (error) {
      // The database is down: retry (the consumer keeps the offset) rather than lose the re-check.
      throw new RetriableError('could not schedule the re-check of a rejected token', { cause: error });
    }
    if (!scheduled) return;
    log.info({ pageId: event.pageId, graphCode: event.data.graphCode, graphSubcode: event.data.graphSubcode, causationId: event.id }, 'Meta rejected a Page token while sending; checking it now');
    deps.wake();
  };
}
