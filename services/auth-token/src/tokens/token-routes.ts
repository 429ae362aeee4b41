// The internal token API (docs/architecture.md "Internal API"): other Parley services get a Page's
// token here, authenticated by INTERNAL_API_TOKEN. The only answer that ever contains a token.
import type { Express } from 'express';
import { HttpProblem } from '@parley/http';
import type { Logger } from '@parley/observability';
import type { Database } from '@parley/persistence';
import { bearerOf, secretMatches } from '../auth.ts';
import { loadPage } from '../connection/connection-store.ts';
import type { TokenVault } from './vault.ts';

export function mountTokenRoutes(app: Express, deps: { db: Database; vault: TokenVault; internalApiToken: string; logger: Logger }): void {
  const log = deps.logger.child({ component: 'token-api' });
  app.get('/internal/v1/pages/:pageId/token', async (req, res) => {
    if (!secretMatches(deps.internalApiToken, bearerOf(req.header('authorization')))) {
      throw new HttpProblem({ status: 401, code: 'unauthorized', title: 'Internal token required', detail: 'Send `Authorization: Bearer <INTERNAL_API_TOKEN>`.' });
    }
    const pageId = String(req.params['pageId']);
    const record = await loadPage(deps.db, pageId);
    // Unknown, disconnected (token destroyed): 404 either way.
    if (record === null || record.sealedToken === null || record.connection.status === 'disconnected') {
      throw new HttpProblem({ status: 404, code: 'page_not_connected', title: 'Page not connected', detail: `Page ${pageId} is not connected.` });
    }
    const { status } = record.connection;
    if (status === 'needs_reconnect' || status === 'revoked') {
      // Senders hold their messages until the Page is reconnected (page.connected with reconnect: true).
      throw new HttpProblem({
        status: 409,
        code: 'page_needs_reconnect',
        title: 'Page needs reconnecting',
        detail: record.connection.problems[0]?.reason ?? 'A Page admin must reconnect the Page.',
        pageStatus: status,
      });
    }
    res.setHeader('cache-control', 'no-store');
    log.debug({ pageId, status }, 'token handed out');
    res.json({ pageId, accountId: record.connection.accountId, accessToken: deps.vault.open(record.sealedToken), status });
  });
}
