// The connect flow over HTTP (CONTRACTS.md "auth-token", extended; see README.md):
//   GET  /v1/integrations/messenger/connect   (API key) → 302 to Facebook's dialog
//   POST /v1/integrations/messenger/connect   (API key) → { url, expiresAt } for clients that navigate themselves
//   GET  /v1/integrations/messenger/callback  (Facebook redirects the browser here) → the selection page
//   POST /v1/integrations/messenger/pages     (the selection form, or JSON) → what happened to each picked Page
// Browser steps answer HTML pages that say what happened and how to start again; API steps answer
// problem+json. Nothing here logs, stores in clear or shows a token or a login code.
import { randomUUID } from 'node:crypto';
import type { Express, Request, Response } from 'express';
import { GraphApiError } from '@parley/graph-api';
import type { GraphApiClient, ManagedPage, TokenDebugInfo } from '@parley/graph-api';
import { HttpProblem, rawBody, sendProblem } from '@parley/http';
import type { Logger } from '@parley/observability';
import type { Database } from '@parley/persistence';
import { holdersOf } from '../connection/connection-store.ts';
import type { ConnectOutcome, Connections } from '../connection/connections.ts';
import type { TokenVault } from '../tokens/vault.ts';
import { consumeState, insertGrant, insertSelection, saveState, takeSelection } from './connect-store.ts';
import type { SelectionPage } from './connect-store.ts';
import { renderCancelled, renderProblem, renderResult, renderSelection } from './html.ts';
import { checkState, issueState, newOpaqueId } from './oauth-state.ts';
import { REQUESTED_SCOPES, choosePages } from './page-choice.ts';

/** How long a person has to pick Pages once Facebook sent them back. */
export const SELECTION_TTL_MS = 15 * 60 * 1000;
/** At most this many Pages in one submit (a person with more connects them in several rounds). */
const MAX_PICKS = 200;

export type ConnectRoutesDeps = {
  db: Database;
  graph: GraphApiClient;
  vault: TokenVault;
  connections: Connections;
  logger: Logger;
  now: () => number;
  authenticate: (authorizationHeader: string | undefined) => string;
  appId: string;
  dialogUrl: string;
  redirectUri: string;
  stateSecret: string;
  subscribeFeedByDefault: boolean;
  consoleUrl: string | undefined;
  userTokenRefreshBeforeMs: number;
};

export function mountConnectRoutes(app: Express, deps: ConnectRoutesDeps): void {
  const log = deps.logger.child({ component: 'connect' });

  async function dialogUrlFor(accountId: string, subscribeFeed: boolean): Promise<{ url: string; expiresAt: string }> {
    const now = deps.now();
    const issued = issueState(deps.stateSecret, now);
    await saveState(deps.db, { nonce: issued.nonce, accountId, subscribeFeed, now, expiresAt: issued.expiresAt });
    const url = new URL(deps.dialogUrl);
    url.searchParams.set('client_id', deps.appId);
    url.searchParams.set('redirect_uri', deps.redirectUri);
    url.searchParams.set('scope', REQUESTED_SCOPES.join(','));
    url.searchParams.set('response_type', 'code');
    url.searchParams.set('state', issued.state);
    log.info({ accountId, subscribeFeed }, 'connect flow started');
    return { url: url.toString(), expiresAt: new Date(issued.expiresAt).toISOString() };
  }

  app.get('/v1/integrations/messenger/connect', async (req, res) => {
    const accountId = deps.authenticate(req.header('authorization'));
    const comments = booleanOption(req.query['comments'], 'comments') ?? deps.subscribeFeedByDefault;
    const { url } = await dialogUrlFor(accountId, comments);
    res.setHeader('cache-control', 'no-store');
    res.redirect(302, url);
  });

  app.post('/v1/integrations/messenger/connect', rawBody('16kb', '*/*'), async (req, res) => {
    const accountId = deps.authenticate(req.header('authorization'));
    const body = readBody(req);
    if (body.kind === 'form') throw new HttpProblem({ status: 415, code: 'unsupported_media_type', title: 'JSON expected', detail: 'Send a JSON body such as {"comments": true}, or no body.' });
    const value = body.kind === 'json' ? body.value : {};
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      throw new HttpProblem({ status: 400, code: 'invalid_body', title: 'Invalid body', detail: 'The body must be a JSON object such as {"comments": true}.' });
    }
    const comments = booleanOption((value as Record<string, unknown>)['comments'], 'comments') ?? deps.subscribeFeedByDefault;
    res.setHeader('cache-control', 'no-store');
    res.json(await dialogUrlFor(accountId, comments));
  });

  app.get('/v1/integrations/messenger/callback', async (req, res) => {
    try {
      await callback(req, res);
    } catch (error) {
      // Not the shared problem+json handler: it would echo the address, which carries Facebook's login code.
      log.error({ err: error }, 'connect callback failed');
      sendHtml(res, 500, renderProblem({ code: 'internal_error', title: 'Something went wrong', message: 'Parley could not finish connecting your Pages. Nothing was connected.', consoleUrl: deps.consoleUrl }));
    }
  });

  async function callback(req: Request, res: Response): Promise<void> {
    const now = deps.now();
    const q = (name: string): string | undefined => {
      const value = req.query[name];
      if (value === undefined) return undefined;
      // A parameter given twice (or as an object) is not something Facebook sends: treat it as tampered.
      return typeof value === 'string' ? value : '\u0000';
    };
    const page = (status: number, code: string, title: string, message: string) => {
      log.info({ problem: code, status }, 'connect callback refused');
      sendHtml(res, status, renderProblem({ code, title, message, consoleUrl: deps.consoleUrl }));
    };
    const check = checkState(deps.stateSecret, q('state'), now);

    const error = q('error');
    if (error !== undefined) {
      // Make the link unusable either way; a person who cancels starts a new flow if they change their mind.
      if (check.ok) await consumeState(deps.db, check.nonce, now);
      if (error === 'access_denied') {
        log.info({}, 'the person cancelled the Facebook dialog');
        return sendHtml(res, 200, renderCancelled(deps.consoleUrl));
      }
      return page(400, 'facebook_error', 'Facebook did not complete the login', `Facebook reported “${(q('error_description') ?? error).slice(0, 300)}”. Nothing was connected.`);
    }

    if (!check.ok) {
      switch (check.problem) {
        case 'missing':
          return page(400, 'state_missing', 'This link is incomplete', 'The address Facebook sent you back to is missing its security check (the “state”), so nothing was connected.');
        case 'forged':
          return page(400, 'state_invalid', 'This link was not issued by Parley', 'The security check in the address is not one Parley issued (it was changed or made up), so nothing was connected.');
        case 'expired':
          return page(400, 'state_expired', 'This link has expired', 'Connect links are valid for 10 minutes and this one is older, so nothing was connected.');
        default: {
          const unknown: never = check.problem;
          throw new Error(`Unknown state problem ${String(unknown)}`);
        }
      }
    }
    const consumed = await consumeState(deps.db, check.nonce, now);
    if (!consumed.ok) {
      switch (consumed.problem) {
        case 'reused':
          return page(400, 'state_reused', 'This link was already used', 'Each connect link works once, and this one has been used (perhaps the page was reloaded or opened twice), so nothing more was connected.');
        case 'expired':
          return page(400, 'state_expired', 'This link has expired', 'Connect links are valid for 10 minutes and this one is older, so nothing was connected.');
        case 'unknown':
          return page(400, 'state_invalid', 'This link was not issued by Parley', 'Parley has no record of this connect link, so nothing was connected.');
        default: {
          const unknown: never = consumed.problem;
          throw new Error(`Unknown state problem ${String(unknown)}`);
        }
      }
    }
    const code = q('code');
    if (code === undefined || code === '' || code.length > 4096 || code === '\u0000') {
      return page(400, 'code_missing', 'Facebook sent no login code', 'The address Facebook sent you back to has no usable login code, so nothing was connected.');
    }

    let grant: { userToken: string; expiresIn: number | undefined; info: TokenDebugInfo | null; pages: ManagedPage[] };
    try {
      const short = await deps.graph.exchangeCode({ code, redirectUri: deps.redirectUri });
      const long = await deps.graph.exchangeForLongLivedUserToken(short.accessToken);
      let info: TokenDebugInfo | null = null;
      try {
        info = await deps.graph.debugToken(long.accessToken);
      } catch (debugError) {
        // Only used to show which permissions were granted; the connection works without it.
        log.warn({ err: debugError }, 'could not inspect the new user token; continuing without its scopes');
      }
      grant = { userToken: long.accessToken, expiresIn: long.expiresIn, info, pages: await deps.graph.listPages(long.accessToken) };
    } catch (graphError) {
      if (!(graphError instanceof GraphApiError)) throw graphError;
      log.warn({ err: graphError }, 'Facebook refused the login code exchange or the Page list');
      const transient = graphError.kind !== 'graph' || graphError.category === 'transient' || graphError.category === 'rate_limited';
      return transient
        ? page(502, 'facebook_unavailable', 'Facebook did not answer', `${graphError.reason} Nothing was connected yet.`)
        : page(400, 'facebook_refused', 'Facebook refused the login', 'Facebook did not accept the login (the code may have been used already or be too old), so nothing was connected.');
    }

    const accountId = consumed.accountId;
    const info = grant.info?.isValid ? grant.info : null;
    const unique = new Map<string, ManagedPage>();
    for (const p of grant.pages) if (!unique.has(p.id)) unique.set(p.id, p);
    const managed = [...unique.values()];
    const holders = await holdersOf(deps.db, managed.map((p) => p.id));
    const choices = choosePages(
      managed.map((p) => ({ pageId: p.id, name: p.name ?? `Page ${p.id}`, tasks: p.tasks, hasToken: p.accessToken !== undefined })),
      { accountId, grantedScopes: info ? info.scopes : null, holders },
    );
    const tokens = new Map(managed.map((p) => [p.id, p.accessToken]));
    const grantId = randomUUID();
    const selectionId = newOpaqueId();
    const expiresAt = grant.expiresIn === undefined || grant.expiresIn <= 0 ? null : now + grant.expiresIn * 1000;
    const selectionExpiresAt = now + SELECTION_TTL_MS;
    const pages: SelectionPage[] = choices.map((c) => {
      const token = c.pickable ? tokens.get(c.pageId) : undefined;
      // Only the Pages that can be picked keep a (sealed) token; the others' are dropped here.
      return { pageId: c.pageId, name: c.name, tasks: [...(unique.get(c.pageId)?.tasks ?? [])], pickable: c.pickable, reason: c.reason, sealedPageToken: token === undefined ? null : deps.vault.seal(token) };
    });
    await deps.db.transaction(async (tx) => {
      await insertGrant(deps.db, tx, {
        grantId,
        accountId,
        facebookUserId: info?.userId ?? null,
        sealedUserToken: deps.vault.seal(grant.userToken),
        expiresAt,
        dataAccessExpiresAt: info?.dataAccessExpiresAt ? info.dataAccessExpiresAt * 1000 : null,
        nextRefreshAt: expiresAt === null ? null : Math.max(now, expiresAt - deps.userTokenRefreshBeforeMs),
        now,
      });
      await insertSelection(deps.db, tx, { selectionId, accountId, grantId, subscribeFeed: consumed.subscribeFeed, now, expiresAt: selectionExpiresAt, pages });
    });
    log.info({ accountId, pages: choices.length, pickable: choices.filter((c) => c.pickable).length }, 'Facebook login completed; offering Pages');
    sendHtml(res, 200, renderSelection({ selectionId, actionUrl: 'pages', choices, expiresAt: selectionExpiresAt }));
  }

  app.post('/v1/integrations/messenger/pages', rawBody('64kb', '*/*'), async (req, res) => {
    const body = readBody(req);
    const json = body.kind === 'json' || (req.header('accept') ?? '').includes('application/json');
    const fail = (status: number, code: string, title: string, detail: string) => {
      if (json) return sendProblem(res, { status, code, title, detail });
      sendHtml(res, status, renderProblem({ code, title, message: detail, consoleUrl: deps.consoleUrl }));
    };
    let selectionId: string | undefined;
    let picked: string[];
    if (body.kind === 'form') {
      selectionId = body.params.get('selection') ?? undefined;
      picked = body.params.getAll('page_id');
    } else if (body.kind === 'json' && typeof body.value === 'object' && body.value !== null && !Array.isArray(body.value)) {
      const value = body.value as Record<string, unknown>;
      selectionId = typeof value['selectionId'] === 'string' ? value['selectionId'] : undefined;
      const ids = value['pageIds'];
      if (!Array.isArray(ids) || !ids.every((id) => typeof id === 'string')) {
        return fail(400, 'invalid_body', 'Invalid body', 'Send {"selectionId": "…", "pageIds": ["…"]}.');
      }
      picked = ids as string[];
    } else {
      return fail(400, 'invalid_body', 'Invalid body', 'Send the selection form, or JSON {"selectionId": "…", "pageIds": ["…"]}.');
    }
    if (selectionId === undefined || selectionId === '' || selectionId.length > 100) {
      return fail(400, 'selection_missing', 'No selection', 'The form has no selection id, so nothing was connected.');
    }
    const uniquePicks = [...new Set(picked)];
    if (uniquePicks.length > MAX_PICKS) return fail(400, 'too_many_pages', 'Too many Pages', `Pick at most ${MAX_PICKS} Pages at a time.`);

    const taken = await takeSelection(deps.db, selectionId, deps.now());
    if (!taken.ok) {
      return taken.problem === 'expired'
        ? fail(410, 'selection_expired', 'This choice has expired', 'The list of Pages is valid for 15 minutes and this one is older, so nothing was connected.')
        : fail(410, 'selection_used', 'This choice was already used', 'This list of Pages was already submitted (or never existed), so nothing more was connected.');
    }
    const correlationId = randomUUID();
    const outcomes: ConnectOutcome[] = [];
    for (const pageId of uniquePicks) {
      const offered = taken.pages.find((p) => p.pageId === pageId);
      if (offered === undefined) {
        outcomes.push({ pageId, name: `Page ${pageId}`, outcome: 'refused', status: null, reason: 'This Page was not among those Facebook shared with Parley, so it was not connected.' });
        continue;
      }
      if (!offered.pickable || offered.sealedPageToken === null) {
        outcomes.push({ pageId, name: offered.name, outcome: 'refused', status: null, reason: offered.reason ?? 'This Page cannot be connected.' });
        continue;
      }
      outcomes.push(
        await deps.connections.connect({
          accountId: taken.accountId,
          pageId,
          name: offered.name,
          pageToken: deps.vault.open(offered.sealedPageToken),
          grantId: taken.grantId,
          subscribeFeed: taken.subscribeFeed,
          correlationId,
        }),
      );
    }
    log.info({ accountId: taken.accountId, outcomes: outcomes.map((o) => ({ pageId: o.pageId, outcome: o.outcome })) }, 'Pages picked');
    if (json) {
      res.json({ pages: outcomes.map((o) => ({ pageId: o.pageId, name: o.name, outcome: o.outcome, status: o.status, reason: o.reason })) });
      return;
    }
    sendHtml(res, 200, renderResult(outcomes, deps.consoleUrl));
  });
}

function sendHtml(res: Response, status: number, html: string): void {
  res
    .status(status)
    .set({
      'content-type': 'text/html; charset=utf-8',
      'cache-control': 'no-store',
      // The callback's address carries the login code: never send it on as a Referer.
      'referrer-policy': 'no-referrer',
      'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'",
      'x-content-type-options': 'nosniff',
    })
    .send(html);
}

type Body = { kind: 'empty' } | { kind: 'json'; value: unknown } | { kind: 'form'; params: URLSearchParams };

/** The body as JSON or a form, by content type (kept raw by `rawBody`, so each route decides). */
function readBody(req: Request): Body {
  const raw = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
  if (raw.length === 0) return { kind: 'empty' };
  const type = (req.header('content-type') ?? '').toLowerCase();
  if (type.startsWith('application/x-www-form-urlencoded')) return { kind: 'form', params: new URLSearchParams(raw.toString('utf8')) };
  if (type.startsWith('application/json') || (type.startsWith('application/') && type.includes('+json'))) {
    try {
      return { kind: 'json', value: JSON.parse(raw.toString('utf8')) };
    } catch {
      throw new HttpProblem({ status: 400, code: 'malformed_json', title: 'Malformed JSON', detail: 'The request body is not valid JSON.' });
    }
  }
  throw new HttpProblem({ status: 415, code: 'unsupported_media_type', title: 'Unsupported body', detail: 'Send application/json or application/x-www-form-urlencoded.' });
}

function booleanOption(value: unknown, name: string): boolean | undefined {
  if (value === undefined) return undefined;
  if (value === true || value === 'true' || value === '1') return true;
  if (value === false || value === 'false' || value === '0') return false;
  throw new HttpProblem({ status: 400, code: 'invalid_option', title: `Invalid ${name}`, detail: `${name} must be true or false.` });
}
