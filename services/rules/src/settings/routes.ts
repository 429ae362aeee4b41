import type { Express, NextFunction, Request, Response } from 'express';
import { HttpProblem, jsonBody } from '@parley/http';
import type { EventPublisher } from '@parley/messaging';
import type { Logger } from '@parley/observability';
import { effectiveSettings, evolvePage, isKnownPage } from '../pages/page-state.ts';
import type { PageState } from '../pages/page-state.ts';
import type { RulesStore } from '../store/store.ts';
import { decideSettingsChange, parseSettings } from './settings.ts';

export type SettingsRoutesDeps = {
  /** API key → accountId (`API_KEYS`). */
  apiKeys: ReadonlyMap<string, string>;
  store: RulesStore;
  publisher: EventPublisher;
  clock: () => Date;
  newId: () => string;
  logger: Logger;
};

/** A settings document is small: 2 messages of 2,000 characters and 100 keywords of 100. */
export const SETTINGS_BODY_LIMIT = '32kb';

/**
 * `GET|PUT /v1/pages/{pageId}/settings` (CONTRACTS.md). Errors are problem+json:
 * 401 `unauthorized` (no or unknown API key) · 404 `page_not_found` (a Page rules has not seen
 * connected, or another account's: existence does not leak) · 400 `malformed_json` / `invalid_body`
 * (not JSON, not an object) · 413 `body_too_large` · 415 `unsupported_media_type` ·
 * 422 `invalid_settings` (wrong types, unknown fields, over the limits; `errors` lists each) ·
 * 503 `unavailable` (Kafka or the database did not take the change; nothing was changed, retry).
 */
export function mountSettingsRoutes(app: Express, deps: SettingsRoutesDeps): void {
  const authenticate = (req: Request, res: Response, next: NextFunction) => {
    const header = req.header('authorization') ?? '';
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
    const accountId = match ? deps.apiKeys.get(match[1]!) : undefined;
    if (!accountId) {
      res.setHeader('WWW-Authenticate', 'Bearer');
      throw new HttpProblem({ status: 401, code: 'unauthorized', title: 'Unauthorized', detail: 'Send an API key as `Authorization: Bearer <key>`.' });
    }
    res.locals['accountId'] = accountId;
    next();
  };

  app.get('/v1/pages/:pageId/settings', authenticate, async (req: Request<{ pageId: string }>, res: Response) => {
    const page = ownedPage(await deps.store.loadPage(req.params.pageId), res.locals['accountId'] as string, req.params.pageId);
    res.json(effectiveSettings(page));
  });

  app.put('/v1/pages/:pageId/settings', authenticate, requireJson, jsonBody(SETTINGS_BODY_LIMIT), async (req: Request<{ pageId: string }>, res: Response) => {
    const accountId = res.locals['accountId'] as string;
    const pageId = req.params.pageId;
    const body: unknown = req.body;
    if (typeof body !== 'object' || body === null || Array.isArray(body)) {
      throw new HttpProblem({ status: 400, code: 'invalid_body', title: 'Invalid body', detail: 'The body must be a JSON object of settings.' });
    }
    const parsed = parseSettings(body);
    if (!parsed.ok) {
      throw new HttpProblem({
        status: 422,
        code: 'invalid_settings',
        title: 'Invalid settings',
        detail: parsed.problems.map((p) => `${p.path}: ${p.message}`).join('; '),
        errors: parsed.problems,
      });
    }
    try {
      const settings = await deps.store.transaction(async (tx) => {
        // Locked: two concurrent PUTs apply one after the other, each emitting its full settings.
        const page = ownedPage(await deps.store.loadPage(pageId, tx, true), accountId, pageId);
        const events = decideSettingsChange(page, parsed.settings, deps.clock(), deps.newId(), (res.locals['requestId'] as string | undefined) ?? null);
        if (events.length === 0) return effectiveSettings(page);
        const next = events.reduce(evolvePage, page as PageState);
        await deps.store.savePage(next, tx);
        // Our own event comes back on page.events.v1: recorded here so the consumer skips it.
        for (const event of events) await deps.store.markProcessed(tx, event.id, event.type);
        // Published before the commit: if Kafka refuses, the transaction rolls back and nothing changed.
        await deps.publisher.publish(events);
        return effectiveSettings(next);
      });
      res.json(settings);
    } catch (error) {
      if (error instanceof HttpProblem) throw error;
      deps.logger.warn({ err: error, pageId }, 'settings change not applied');
      res.setHeader('Retry-After', '5');
      throw new HttpProblem({ status: 503, code: 'unavailable', title: 'Service unavailable', detail: 'The change could not be stored; nothing was changed. Retry shortly.' });
    }
  });
}

function requireJson(req: Request, _res: Response, next: NextFunction) {
  if (!req.is(['application/json', 'application/*+json'])) {
    throw new HttpProblem({ status: 415, code: 'unsupported_media_type', title: 'Unsupported media type', detail: 'Send the settings as application/json.' });
  }
  next();
}

function ownedPage(page: PageState | null, accountId: string, pageId: string): PageState & { accountId: string } {
  // Another account's Page answers exactly like an unknown one, so that Page ids cannot be probed.
  if (!isKnownPage(page) || page.accountId !== accountId) {
    throw new HttpProblem({ status: 404, code: 'page_not_found', title: 'Page not found', detail: `No connected Page ${pageId} in this account.` });
  }
  return page;
}
