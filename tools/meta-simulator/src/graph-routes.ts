// The Graph API surface (graph.facebook.com/{version}/…): thin adapters from HTTP to MetaPlatform.
// Parameters may come in the query string, a JSON body or a form body, as Graph accepts all three.
import { randomBytes } from 'node:crypto';
import express, { type NextFunction, type Request, type Response, type Router } from 'express';
import { graphErrorBody, graphErrors, type GraphError } from './graph-errors.ts';
import { renderDialog, renderDialogError } from './html.ts';
import { ControlError, type GraphResult, type MetaPlatform } from './platform.ts';

const VERSION = /^v\d+\.\d+$/;

export function newFbtraceId(): string {
  return randomBytes(8).toString('base64').replace(/=+$/, '');
}

export function sendGraphError(res: Response, error: GraphError): void {
  res.status(error.httpStatus);
  // Meta names the failed token in this header as well as in the body.
  if (error.code === 190) res.set('www-authenticate', `OAuth "Facebook Platform" "invalid_token" "${error.message.replace(/"/g, "'")}"`);
  res.json(graphErrorBody(error, newFbtraceId()));
}

function reply(res: Response, result: GraphResult): void {
  if (result.ok) {
    res.status(result.status ?? 200).json(result.body);
    return;
  }
  sendGraphError(res, result.error);
}

/** All parameters of a Graph call: query string first, body fields override. */
export function graphParams(req: Request): Record<string, unknown> {
  const body = typeof req.body === 'object' && req.body !== null && !Array.isArray(req.body) ? (req.body as Record<string, unknown>) : {};
  return { ...(req.query as Record<string, unknown>), ...body };
}

/** The access token of a Graph call: `access_token` parameter, or `Authorization: Bearer|OAuth <token>`. */
export function graphToken(req: Request): string | undefined {
  const params = graphParams(req);
  const fromParams = params['access_token'];
  if (typeof fromParams === 'string' && fromParams !== '') return fromParams;
  const header = req.get('authorization');
  const match = header ? /^(?:Bearer|OAuth)\s+(.+)$/i.exec(header.trim()) : null;
  return match?.[1];
}

function proof(req: Request): string | undefined {
  const value = graphParams(req)['appsecret_proof'];
  return typeof value === 'string' ? value : undefined;
}

function selfUrl(req: Request): string {
  return `${req.protocol}://${req.get('host') ?? 'localhost'}${req.originalUrl}`;
}

/** Drops requests whose first path segment is not a Graph version, so other routers can take them. */
function versionOnly(req: Request, _res: Response, next: NextFunction): void {
  const version = req.params['version'];
  if (typeof version === 'string' && VERSION.test(version)) next();
  else next('route');
}

export function graphRouter(platform: MetaPlatform, hanging: Set<Response>): Router {
  const router = express.Router({ mergeParams: true });
  const parsers = [express.json({ limit: '1mb' }), express.urlencoded({ extended: false, limit: '1mb' })];

  router.use(...parsers);
  // Fault injection first: latency, hangs and injected errors apply before any rule runs.
  router.use(async (req: Request, res: Response, next: NextFunction) => {
    const versioned = /^\/v\d+\.\d+(\/.*)?$/.exec(req.path);
    if (!versioned) return next();
    const path = versioned[1] ?? '/';
    const firstSegment = path.split('/')[1];
    const decision = platform.faultsFor({ method: req.method, path, pageId: platform.pageOfRequest(firstSegment, graphToken(req)) });
    if (decision.latencyMs > 0) await new Promise((resolve) => setTimeout(resolve, decision.latencyMs));
    if (decision.failure?.kind === 'timeout') {
      // Hang: never answer. The socket is destroyed when the simulator stops.
      hanging.add(res);
      res.on('close', () => hanging.delete(res));
      return;
    }
    if (decision.failure?.kind === 'error') {
      sendGraphError(res, decision.failure.error);
      return;
    }
    next();
  });

  // --- OAuth dialog (www.facebook.com/{version}/dialog/oauth) ---
  router.get('/:version/dialog/oauth', versionOnly, (req, res) => {
    const q = req.query as Record<string, string | undefined>;
    if (q['client_id'] !== platform.state.app.id) {
      res.status(400).type('html').send(renderDialogError('Invalid App ID: the client_id does not match the simulated app.'));
      return;
    }
    if (!q['redirect_uri']) {
      res.status(400).type('html').send(renderDialogError('Missing redirect_uri parameter.'));
      return;
    }
    const users = [...platform.state.users.values()];
    const selected = users.find((u) => u.id === q['sim_user']) ?? users[0];
    const pages = selected ? [...platform.state.pages.values()].filter((p) => p.roles.has(selected.id)) : [];
    res.type('html').send(
      renderDialog({
        actionUrl: req.baseUrl + req.path,
        selfUrl: req.originalUrl,
        appName: platform.state.app.name,
        clientId: q['client_id'],
        redirectUri: q['redirect_uri'],
        state: q['state'],
        scope: q['scope'],
        users,
        selectedUserId: selected?.id,
        pages: pages.map((p) => ({ id: p.id, name: p.name })),
      }),
    );
  });

  router.post('/:version/dialog/oauth', versionOnly, (req, res) => {
    const b = req.body as Record<string, unknown>;
    const redirectUri = String(b['redirect_uri'] ?? '');
    const state = typeof b['state'] === 'string' && b['state'] !== '' ? b['state'] : undefined;
    try {
      if (b['decision'] === 'approve') {
        const pageIds = b['page_ids'] === undefined ? [] : Array.isArray(b['page_ids']) ? b['page_ids'].map(String) : [String(b['page_ids'])];
        const scopes = typeof b['scope'] === 'string' && b['scope'] !== '' ? b['scope'].split(/[ ,]+/).filter(Boolean) : undefined;
        const { redirectUrl } = platform.approveOAuth({
          userId: String(b['user_id'] ?? ''),
          pageIds,
          redirectUri,
          ...(state === undefined ? {} : { state }),
          ...(scopes === undefined ? {} : { scopes }),
          clientId: String(b['client_id'] ?? ''),
        });
        res.redirect(302, redirectUrl);
      } else {
        res.redirect(302, platform.denyOAuth({ redirectUri, ...(state === undefined ? {} : { state }) }).redirectUrl);
      }
    } catch (error) {
      if (error instanceof ControlError) {
        res.status(error.status).type('html').send(renderDialogError(error.message));
        return;
      }
      throw error;
    }
  });

  // --- tokens ---
  router.all('/:version/oauth/access_token', versionOnly, (req, res) => {
    if (req.method !== 'GET' && req.method !== 'POST') return sendGraphError(res, graphErrors.unsupportedRequest('delete', 'oauth'));
    reply(res, platform.oauthAccessToken(graphParams(req)));
  });

  router.get('/:version/debug_token', versionOnly, (req, res) => {
    const params = graphParams(req);
    reply(
      res,
      platform.debugToken({
        inputToken: typeof params['input_token'] === 'string' ? params['input_token'] : undefined,
        accessToken: graphToken(req),
      }),
    );
  });

  // --- Pages of a person ---
  router.get('/:version/:userId/accounts', versionOnly, (req, res) => {
    const p = proof(req);
    reply(
      res,
      platform.accounts({
        rawToken: graphToken(req),
        ...(p === undefined ? {} : { appsecretProof: p }),
        userIdInPath: String(req.params['userId']),
        query: req.query as Record<string, unknown>,
        selfUrl: selfUrl(req),
      }),
    );
  });

  // --- Send API, attachments, subscriptions ---
  router.post('/:version/:pageId/messages', versionOnly, (req, res) => {
    const p = proof(req);
    reply(
      res,
      platform.send({
        rawToken: graphToken(req),
        ...(p === undefined ? {} : { appsecretProof: p }),
        pageIdInPath: String(req.params['pageId']),
        body: graphParams(req),
        path: req.path,
      }),
    );
  });

  router.post('/:version/:pageId/message_attachments', versionOnly, (req, res) => {
    const p = proof(req);
    reply(
      res,
      platform.uploadAttachment({
        rawToken: graphToken(req),
        ...(p === undefined ? {} : { appsecretProof: p }),
        pageIdInPath: String(req.params['pageId']),
        body: graphParams(req),
      }),
    );
  });

  router.all('/:version/:pageId/subscribed_apps', versionOnly, (req, res) => {
    const method = req.method;
    if (method !== 'GET' && method !== 'POST' && method !== 'DELETE') return sendGraphError(res, graphErrors.unknownPath('subscribed_apps'));
    const p = proof(req);
    reply(
      res,
      platform.subscribedApps({
        method,
        rawToken: graphToken(req),
        ...(p === undefined ? {} : { appsecretProof: p }),
        pageIdInPath: String(req.params['pageId']),
        params: graphParams(req),
      }),
    );
  });

  // --- nodes: Page, person, customer profile ---
  router.get('/:version/:id', versionOnly, (req, res) => {
    const p = proof(req);
    reply(
      res,
      platform.node({
        rawToken: graphToken(req),
        ...(p === undefined ? {} : { appsecretProof: p }),
        id: String(req.params['id']),
        query: req.query as Record<string, unknown>,
      }),
    );
  });

  // Anything else under a version is an edge the simulator does not play.
  router.all('/:version/*rest', versionOnly, (req, res) => {
    const segments = req.path.split('/').filter(Boolean);
    const method = req.method === 'GET' ? 'get' : req.method === 'DELETE' ? 'delete' : 'post';
    sendGraphError(res, segments.length > 2 ? graphErrors.unknownPath(segments.slice(2).join('/')) : graphErrors.unsupportedRequest(method, segments.slice(1).join('/')));
  });

  // Body parser failures (malformed JSON, oversized bodies) answered the Graph way.
  router.use((error: unknown, req: Request, res: Response, next: NextFunction) => {
    const type = (error as { type?: string } | null)?.type;
    if (type === 'entity.parse.failed') return sendGraphError(res, graphErrors.invalidParameter('Invalid JSON in request body'));
    if (type === 'entity.too.large') return sendGraphError(res, { ...graphErrors.invalidParameter('Request body is too large'), httpStatus: 413 });
    next(error);
  });

  return router;
}
