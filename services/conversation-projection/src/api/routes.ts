import type { Express, RequestHandler } from 'express';
import type { EventPublisher } from '@parley/messaging';
import type { Logger } from '@parley/observability';
import type { Database } from '@parley/persistence';
import { mountConversationRoutes } from '../conversations/routes.ts';
import type { AppliedBatch } from '../inbox/projector.ts';
import type { ActiveInbox, InboxHost } from '../rebuild/inbox-host.ts';
import { mountRebuildRoutes } from '../rebuild/routes.ts';
import { mountReplyRoutes } from '../replies/routes.ts';
import { mountStreamRoutes } from '../stream/routes.ts';
import type { StreamRegistry } from '../stream/routes.ts';
import { openApiDocument } from './openapi.ts';

export type ProjectionApiDeps = {
  host: Pick<InboxHost, 'current' | 'onApplied' | 'onSwitched' | 'startRebuild' | 'rebuildStatus'>;
  control: Database;
  publisher: EventPublisher;
  auth: RequestHandler;
  admin: RequestHandler;
  clock: () => number;
  logger: Logger;
  heartbeatMs: number;
};

/** Every route of the projection API (the OpenAPI document lists exactly these, see openapi.test.ts). */
export function mountProjectionApi(app: Express, deps: ProjectionApiDeps): StreamRegistry {
  const inbox = (): ActiveInbox => deps.host.current();
  app.get('/v1/openapi.json', (req, res) => {
    res.json(openApiDocument(`${req.protocol}://${req.get('host') ?? 'localhost'}`));
  });
  mountConversationRoutes(app, { inbox, auth: deps.auth, clock: deps.clock });
  mountReplyRoutes(app, { inbox, control: deps.control, publisher: deps.publisher, auth: deps.auth, clock: deps.clock, logger: deps.logger });
  const streams = mountStreamRoutes(app, {
    inbox,
    auth: deps.auth,
    onApplied: (listener: (batch: AppliedBatch) => void) => deps.host.onApplied(listener),
    onSwitched: (listener: (inbox: ActiveInbox) => void) => deps.host.onSwitched(listener),
    heartbeatMs: deps.heartbeatMs,
    logger: deps.logger,
  });
  mountRebuildRoutes(app, { host: deps.host, auth: deps.auth, admin: deps.admin });
  return streams;
}
