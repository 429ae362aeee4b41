// Consumes page.events.v1: keeps each Page's connection status, drops its cached token, and wakes
// its held sends when it can send again (or is gone for good).
//
// Malformed records go to the DLQ (consumer library); unknown types are skipped; settings changes
// are ignored; an event older than what we know (late, replayed) changes nothing (see evolvePage);
// the same event twice gives the same state.
import { RetriableError } from '@parley/messaging';
import type { ParleyEvent } from '@parley/contracts';
import type { Logger } from '@parley/observability';
import type { Database } from '@parley/persistence';
import type { Clock } from '../clock.ts';
import type { Ledger } from '../scheduling/ledger.ts';
import type { PageTokenProvider } from '../page-tokens/token-provider.ts';
import { evolvePage } from './page-connection.ts';
import type { PageEvent } from './page-connection.ts';

export type PageEventsHandlerDeps = {
  db: Database;
  ledger: Ledger;
  tokens: PageTokenProvider;
  clock: Clock;
  logger: Logger;
  /** Called when held sends became due, so the dispatcher looks at once. */
  onSendsWoken(): void;
};

export function createPageEventsHandler(deps: PageEventsHandlerDeps): (event: ParleyEvent) => Promise<void> {
  const log = deps.logger.child({ component: 'page-connections' });
  return async (event) => {
    switch (event.type) {
      case 'page.connected':
      case 'page.connection.changed':
      case 'page.disconnected':
      case 'page.settings.changed':
        break;
      default:
        return;
    }
    const pageEvent: PageEvent = event;
    const now = deps.clock.now();
    let result: { applied: boolean; woken: number; status: string };
    try {
      const evolution = await deps.db.transaction(async (tx) => {
        const current = await deps.ledger.page(tx, pageEvent.pageId, { forUpdate: true });
        const next = evolvePage(current, pageEvent);
        if (next.applied) await deps.ledger.savePage(tx, next.page, now);
        return next;
      });
      // After the Page's row is committed and unlocked: waking may wait for a dispatcher that holds
      // one of these sends, and that dispatcher may need the Page's row meanwhile.
      const woken = evolution.applied && evolution.wakeHeldSends ? await deps.ledger.wakeHeldSends(undefined, pageEvent.pageId, now) : 0;
      result = { applied: evolution.applied, woken, status: evolution.page.status };
    } catch (error) {
      throw new RetriableError(`applying ${event.type} ${event.id} failed: ${(error as Error).message}`, { cause: error });
    }
    if (!result.applied) return;
    // A new connection state may come with a new token (or none): never keep using the cached one.
    deps.tokens.drop(pageEvent.pageId);
    log.info({ pageId: pageEvent.pageId, type: event.type, status: result.status, heldSendsWoken: result.woken }, 'page connection updated');
    if (result.woken > 0) deps.onSendsWoken();
  };
}
