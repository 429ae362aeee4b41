// The account's Pages: `GET /v1/pages` (status and problems) and `DELETE /v1/pages/{pageId}`.
import type { Express } from 'express';
import { HttpProblem } from '@parley/http';
import type { Database } from '@parley/persistence';
import { listAccountPages } from './connection-store.ts';
import type { Connections } from './connections.ts';

const PAGE_ID = /^\d{1,40}$/;

export function mountPagesRoutes(app: Express, deps: { db: Database; connections: Connections; authenticate: (header: string | undefined) => string }): void {
  app.get('/v1/pages', async (req, res) => {
    const accountId = deps.authenticate(req.header('authorization'));
    const pages = await listAccountPages(deps.db, accountId);
    res.json(
      pages.map((p) => ({
        pageId: p.pageId,
        name: p.connection.name,
        status: p.connection.status,
        problems: p.connection.problems.map((problem) => ({ code: problem.code, reason: problem.reason, action: problem.action })),
        connectedAt: p.connection.connectedAt,
        tokenCheckedAt: p.connection.tokenCheckedAt,
      })),
    );
  });

  app.delete('/v1/pages/:pageId', async (req, res) => {
    const accountId = deps.authenticate(req.header('authorization'));
    const pageId = String(req.params['pageId']);
    // Another account's Page answers exactly like an unknown one: its existence is not revealed.
    const notFound = () => new HttpProblem({ status: 404, code: 'page_not_found', title: 'Page not found', detail: `No Page ${pageId} is connected to this account.` });
    if (!PAGE_ID.test(pageId)) throw notFound();
    const result = await deps.connections.disconnect({ accountId, pageId });
    switch (result.outcome) {
      case 'not_found':
        throw notFound();
      case 'already_disconnected':
        // Idempotent: disconnecting twice is the same as once.
        res.json({ pageId, status: 'disconnected', unsubscribed: false });
        return;
      case 'facebook_unavailable':
        throw new HttpProblem({ status: 503, code: 'facebook_unavailable', title: 'Facebook is unavailable', detail: result.reason });
      case 'disconnected':
        res.json({ pageId, status: 'disconnected', unsubscribed: result.unsubscribed });
        return;
      default: {
        const unknown: never = result;
        throw new Error(`Unknown disconnect outcome ${JSON.stringify(unknown)}`);
      }
    }
  });
}
