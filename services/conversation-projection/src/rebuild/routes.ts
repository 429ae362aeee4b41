import type { Express, RequestHandler } from 'express';
import { HttpProblem } from '@parley/http';
import { accountOf } from '../api/auth.ts';
import { RebuildInProgressError } from './inbox-host.ts';
import type { InboxHost } from './inbox-host.ts';

/** Operators rebuild the inbox from the log while the current copy keeps serving. */
export function mountRebuildRoutes(app: Express, deps: { host: Pick<InboxHost, 'startRebuild' | 'rebuildStatus'>; auth: RequestHandler; admin: RequestHandler }): void {
  app.post('/v1/admin/projections/rebuild', deps.auth, deps.admin, async (_req, res) => {
    try {
      const rebuild = await deps.host.startRebuild(accountOf(res));
      res.status(202).location(`/v1/admin/projections/rebuild/${rebuild.id}`).json(rebuild);
    } catch (error) {
      if (error instanceof RebuildInProgressError) {
        throw new HttpProblem({
          status: 409,
          code: 'rebuild_in_progress',
          title: 'A rebuild is already running',
          detail: `Rebuild ${error.rebuildId} is still running; follow it at /v1/admin/projections/rebuild/${error.rebuildId}.`,
          rebuildId: error.rebuildId,
        });
      }
      throw error;
    }
  });

  app.get('/v1/admin/projections/rebuild/:id', deps.auth, deps.admin, async (req, res) => {
    const rebuild = await deps.host.rebuildStatus(String(req.params['id']));
    if (!rebuild) throw new HttpProblem({ status: 404, code: 'rebuild_not_found', title: 'Rebuild not found', detail: `No rebuild ${String(req.params['id'])}.` });
    res.json(rebuild);
  });
}
