import type { ParleyEvent } from '@parley/contracts';
import type { Logger } from '@parley/observability';
import type { RulesStore } from '../store/store.ts';
import { evolvePage, initialPage } from './page-state.ts';

/**
 * Consumes `page.events.v1`: who owns each Page (`page.connected`'s accountId), its connection
 * status, and settings changes (ours come back and are skipped as already processed; another
 * replica's, or the log replayed into an empty schema, are applied when newer than what is stored).
 * Duplicates are skipped by event id; older facts never overwrite newer ones (see evolvePage).
 */
export function createPageEventsHandler(deps: { store: RulesStore; logger: Logger }): (event: ParleyEvent) => Promise<void> {
  return async (event) => {
    switch (event.type) {
      case 'page.connected':
      case 'page.connection.changed':
      case 'page.disconnected':
      case 'page.settings.changed':
        await deps.store.transaction(async (tx) => {
          if (!(await deps.store.markProcessed(tx, event.id, event.type))) return;
          const page = (await deps.store.loadPage(event.pageId, tx, true)) ?? initialPage(event.pageId);
          const next = evolvePage(page, event);
          if (next !== page) await deps.store.savePage(next, tx);
        });
        deps.logger.debug({ pageId: event.pageId, type: event.type }, 'page event applied');
        return;
      default:
        return; // page.events.v1 carries nothing else today; a newer event type is not ours to apply
    }
  };
}
