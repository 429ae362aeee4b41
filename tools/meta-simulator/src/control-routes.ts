// The control API under /_sim: tests and people set up the world (pages, admins, customers), act as
// customers, move the clock, inject faults and read what the Page sent and what was delivered.
// JSON in, JSON out; errors are application/problem+json with a `detail` saying what to fix.
import express, { type NextFunction, type Request, type Response, type Router } from 'express';
import { validateFaultSpec, type FaultSpec } from './faults.ts';
import { renderChatPage } from './html.ts';
import type { PageTask, SimCustomer, SimPage, WebhookField } from './model.ts';
import { ControlError, type CustomerActionResult, type MetaPlatform, type SimSettings } from './platform.ts';
import type { WebhookDelivery } from './webhook-delivery.ts';

type Body = Record<string, unknown>;

function body(req: Request): Body {
  return typeof req.body === 'object' && req.body !== null && !Array.isArray(req.body) ? (req.body as Body) : {};
}

function optString(b: Body, key: string): string | undefined {
  const v = b[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw new ControlError(400, `${key} must be a string`);
  return v;
}

function optBool(b: Body, key: string): boolean | undefined {
  const v = b[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'boolean') throw new ControlError(400, `${key} must be a boolean`);
  return v;
}

function optNumber(b: Body, key: string): number | undefined {
  const v = b[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new ControlError(400, `${key} must be a finite number`);
  return v;
}

function param(req: Request, name: string): string {
  return String(req.params[name]);
}

export function pageView(page: SimPage): Record<string, unknown> {
  return {
    id: page.id,
    name: page.name,
    category: page.category,
    accessToken: page.controlToken,
    roles: [...page.roles.entries()].map(([userId, tasks]) => ({ userId, tasks })),
    subscribedFields: page.subscribedFields ?? null,
  };
}

function customerView(platform: MetaPlatform, c: SimCustomer): Record<string, unknown> {
  return { ...c, window: platform.windowOf(c.pageId, c.psid) };
}

/** Answers right away, or (with `wait: true`) after the webhook was delivered or given up on. */
async function actionReply(res: Response, result: CustomerActionResult | { delivery: Promise<WebhookDelivery[]> } & Record<string, unknown>, wait: boolean): Promise<void> {
  const { delivery, ...rest } = result;
  if (!wait) {
    res.status(202).json(rest);
    return;
  }
  const deliveries = await delivery;
  res.status(200).json({ ...rest, deliveries: deliveries.map(deliverySummary) });
}

function deliverySummary(d: WebhookDelivery): Record<string, unknown> {
  return { id: d.id, status: d.status, reason: d.reason, attempts: d.attempts };
}

export function controlRouter(platform: MetaPlatform, options: { onSettingsChanged?: (settings: SimSettings) => void } = {}): Router {
  const router = express.Router();
  router.use(express.json({ limit: '1mb' }));

  router.get('/', (_req, res) => {
    res.json({
      app: { id: platform.state.app.id, name: platform.state.app.name },
      clock: clockView(platform),
      settings: platform.settings,
      pages: [...platform.state.pages.values()].map(pageView),
      users: [...platform.state.users.values()],
      faults: platform.faults,
    });
  });

  router.post('/reset', (_req, res) => {
    platform.reset();
    res.json({ reset: true, clock: clockView(platform) });
  });

  // --- settings ---
  router.get('/settings', (_req, res) => {
    res.json(platform.settings);
  });
  router.patch('/settings', (req, res) => {
    const b = body(req);
    const s = platform.settings;
    const webhookUrl = b['webhookUrl'];
    if (webhookUrl !== undefined) {
      if (webhookUrl !== null && (typeof webhookUrl !== 'string' || !/^https?:\/\//.test(webhookUrl))) throw new ControlError(400, 'webhookUrl must be an http(s) URL or null');
      s.webhookUrl = webhookUrl ?? undefined;
    }
    for (const key of ['autoEcho', 'autoDelivery', 'autoRead', 'requireSubscription'] as const) {
      const v = optBool(b, key);
      if (v !== undefined) s[key] = v;
    }
    for (const key of ['batchWindowMs', 'sendRateLimitPerSecond', 'codeExchangeTokenLifetimeSec'] as const) {
      const v = optNumber(b, key);
      if (v !== undefined) {
        if (v < 0) throw new ControlError(400, `${key} must be >= 0`);
        s[key] = v;
      }
    }
    const sticker = optString(b, 'stickerFormat');
    if (sticker !== undefined) {
      if (sticker !== 'both' && sticker !== 'sticker' && sticker !== 'image') throw new ControlError(400, 'stickerFormat must be both, sticker or image');
      s.stickerFormat = sticker;
    }
    const retry = b['retry'];
    if (retry !== undefined) {
      if (typeof retry !== 'object' || retry === null) throw new ControlError(400, 'retry must be an object');
      const r = retry as Body;
      const next = { ...s.retry };
      for (const key of ['maxAttempts', 'initialDelayMs', 'factor', 'maxDelayMs'] as const) {
        const v = optNumber(r, key);
        if (v !== undefined) {
          if (v < 0 || (key === 'maxAttempts' && (v < 1 || !Number.isInteger(v)))) throw new ControlError(400, `retry.${key} is out of range`);
          next[key] = v;
        }
      }
      s.retry = next;
    }
    const allowed = b['allowedRedirectUris'];
    if (allowed !== undefined) {
      if (allowed !== null && (!Array.isArray(allowed) || !allowed.every((u) => typeof u === 'string'))) throw new ControlError(400, 'allowedRedirectUris must be a list of strings or null');
      s.allowedRedirectUris = allowed ?? undefined;
    }
    options.onSettingsChanged?.(s);
    res.json(s);
  });

  // --- clock ---
  router.get('/clock', (_req, res) => {
    res.json(clockView(platform));
  });
  router.post('/clock/advance', (req, res) => {
    const ms = optNumber(body(req), 'ms');
    if (ms === undefined || ms < 0) throw new ControlError(400, 'ms must be a number >= 0');
    platform.clock.advance(ms);
    res.json(clockView(platform));
  });
  router.post('/clock/set', (req, res) => {
    const b = body(req);
    const now = optNumber(b, 'now') ?? (typeof b['iso'] === 'string' ? Date.parse(b['iso']) : undefined);
    if (now === undefined || Number.isNaN(now)) throw new ControlError(400, 'give now (epoch ms) or iso');
    platform.clock.set(now);
    res.json(clockView(platform));
  });

  // --- people and pages ---
  router.get('/users', (_req, res) => {
    res.json({ data: [...platform.state.users.values()].map((u) => ({ ...u, pages: pagesOf(platform, u.id) })) });
  });
  router.post('/users', (req, res) => {
    const b = body(req);
    const pages = b['pages'];
    if (pages !== undefined && !Array.isArray(pages)) throw new ControlError(400, 'pages must be a list of page ids or { pageId, tasks }');
    const user = platform.createUser({
      ...(optString(b, 'id') === undefined ? {} : { id: optString(b, 'id')! }),
      ...(optString(b, 'name') === undefined ? {} : { name: optString(b, 'name')! }),
      ...(pages === undefined ? {} : { pages: (pages as unknown[]).map(pageRef) }),
    });
    res.status(201).json({ ...user, pages: pagesOf(platform, user.id) });
  });

  router.get('/pages', (_req, res) => {
    res.json({ data: [...platform.state.pages.values()].map(pageView) });
  });
  router.post('/pages', (req, res) => {
    const b = body(req);
    const admins = b['admins'];
    if (admins !== undefined && !Array.isArray(admins)) throw new ControlError(400, 'admins must be a list of user ids or { userId, tasks }');
    const subscribe = b['subscribe'];
    if (subscribe !== undefined && typeof subscribe !== 'boolean' && !(Array.isArray(subscribe) && subscribe.every((f) => typeof f === 'string'))) {
      throw new ControlError(400, 'subscribe must be true/false or a list of webhook fields');
    }
    const page = platform.createPage({
      ...(optString(b, 'id') === undefined ? {} : { id: optString(b, 'id')! }),
      ...(optString(b, 'name') === undefined ? {} : { name: optString(b, 'name')! }),
      ...(optString(b, 'category') === undefined ? {} : { category: optString(b, 'category')! }),
      ...(admins === undefined ? {} : { admins: (admins as unknown[]).map(adminRef) }),
      ...(subscribe === undefined ? {} : { subscribe: subscribe as boolean | WebhookField[] }),
    });
    res.status(201).json(pageView(page));
  });
  router.get('/pages/:pageId', (req, res) => {
    res.json(pageView(platform.page(param(req, 'pageId'))));
  });
  router.get('/pages/:pageId/sent', (req, res) => {
    const pageId = param(req, 'pageId');
    platform.page(pageId);
    const psid = typeof req.query['psid'] === 'string' ? req.query['psid'] : undefined;
    res.json({ data: platform.sentBy(pageId, { includeRejected: req.query['all'] === 'true', ...(psid === undefined ? {} : { psid }) }) });
  });
  router.post('/pages/:pageId/posts', (req, res) => {
    const message = optString(body(req), 'message');
    res.status(201).json(platform.createPost(param(req, 'pageId'), message === undefined ? {} : { message }));
  });

  // --- customers ---
  router.get('/pages/:pageId/customers', (req, res) => {
    const pageId = param(req, 'pageId');
    platform.page(pageId);
    res.json({ data: [...platform.state.customers.values()].filter((c) => c.pageId === pageId).map((c) => customerView(platform, c)) });
  });
  router.post('/pages/:pageId/customers', (req, res) => {
    const b = body(req);
    const input: Parameters<MetaPlatform['createCustomer']>[1] = {};
    for (const key of ['psid', 'firstName', 'lastName', 'name', 'profilePic'] as const) {
      const v = optString(b, key);
      if (v !== undefined) input[key] = v;
    }
    const profile = optBool(b, 'profile');
    if (profile !== undefined) input.profile = profile;
    const unavailable = optBool(b, 'unavailable');
    if (unavailable !== undefined) input.unavailable = unavailable;
    const customer = platform.createCustomer(param(req, 'pageId'), input);
    res.status(201).json(customerView(platform, customer));
  });
  router.get('/pages/:pageId/customers/:psid', (req, res) => {
    res.json(customerView(platform, platform.customer(param(req, 'pageId'), param(req, 'psid'))));
  });
  router.patch('/pages/:pageId/customers/:psid', (req, res) => {
    const b = body(req);
    const patch: Parameters<MetaPlatform['updateCustomer']>[2] = {};
    for (const key of ['firstName', 'lastName', 'profilePic'] as const) {
      const v = optString(b, key);
      if (v !== undefined) patch[key] = v;
    }
    const profile = optBool(b, 'profile');
    if (profile !== undefined) patch.hasProfile = profile;
    const unavailable = optBool(b, 'unavailable');
    if (unavailable !== undefined) patch.unavailable = unavailable;
    res.json(customerView(platform, platform.updateCustomer(param(req, 'pageId'), param(req, 'psid'), patch)));
  });
  router.get('/pages/:pageId/customers/:psid/thread', (req, res) => {
    const pageId = param(req, 'pageId');
    const psid = param(req, 'psid');
    const customer = platform.customer(pageId, psid);
    const page = platform.page(pageId);
    res.json({
      now: platform.clock.now(),
      page: { id: page.id, name: page.name },
      customer,
      window: platform.windowOf(pageId, psid),
      entries: platform.thread(pageId, psid),
    });
  });

  // --- the customer acts ---
  router.post('/pages/:pageId/customers/:psid/messages', async (req, res) => {
    const b = body(req);
    const input: Parameters<MetaPlatform['customerMessage']>[2] = {};
    const text = optString(b, 'text');
    if (text !== undefined) input.text = text;
    if (b['attachments'] !== undefined) {
      if (!Array.isArray(b['attachments'])) throw new ControlError(400, 'attachments must be a list of { type, url?, stickerId?, format?, title?, noPayload? }');
      input.attachments = (b['attachments'] as unknown[]).map((a) => {
        if (typeof a !== 'object' || a === null || typeof (a as Body)['type'] !== 'string') throw new ControlError(400, 'each attachment needs a type');
        return a as { type: string };
      });
    }
    if (b['sticker'] !== undefined) {
      if (typeof b['sticker'] !== 'object' || b['sticker'] === null) throw new ControlError(400, 'sticker must be an object { id?, format? }');
      input.sticker = b['sticker'] as { id?: string };
    }
    if (b['quickReply'] !== undefined) {
      const q = b['quickReply'] as Body | null;
      if (typeof q !== 'object' || q === null || typeof q['payload'] !== 'string') throw new ControlError(400, 'quickReply must be { payload, title? }');
      input.quickReply = { payload: q['payload'], ...(typeof q['title'] === 'string' ? { title: q['title'] } : {}) };
    }
    const replyTo = optString(b, 'replyTo');
    if (replyTo !== undefined) input.replyTo = replyTo;
    await actionReply(res, platform.customerMessage(param(req, 'pageId'), param(req, 'psid'), input), b['wait'] === true);
  });
  router.post('/pages/:pageId/customers/:psid/postbacks', async (req, res) => {
    const b = body(req);
    const referral = b['referral'];
    if (referral !== undefined && (typeof referral !== 'object' || referral === null)) throw new ControlError(400, 'referral must be an object');
    const payload = optString(b, 'payload');
    const title = optString(b, 'title');
    const getStarted = optBool(b, 'getStarted');
    await actionReply(
      res,
      platform.customerPostback(param(req, 'pageId'), param(req, 'psid'), {
        ...(payload === undefined ? {} : { payload }),
        ...(title === undefined ? {} : { title }),
        ...(getStarted === undefined ? {} : { getStarted }),
        ...(referral === undefined ? {} : { referral: referral as Body }),
      }),
      b['wait'] === true,
    );
  });
  router.post('/pages/:pageId/customers/:psid/reactions', async (req, res) => {
    const b = body(req);
    const mid = optString(b, 'mid');
    if (mid === undefined) throw new ControlError(400, 'mid (the message reacted to) is required');
    const reaction = optString(b, 'reaction');
    const emoji = optString(b, 'emoji');
    const action = optString(b, 'action');
    if (action !== undefined && action !== 'react' && action !== 'unreact') throw new ControlError(400, 'action must be react or unreact');
    await actionReply(
      res,
      platform.customerReaction(param(req, 'pageId'), param(req, 'psid'), {
        mid,
        ...(reaction === undefined ? {} : { reaction }),
        ...(emoji === undefined ? {} : { emoji }),
        ...(action === undefined ? {} : { action }),
      }),
      b['wait'] === true,
    );
  });
  router.post('/pages/:pageId/customers/:psid/deliveries', async (req, res) => {
    const b = body(req);
    const mids = b['mids'];
    if (mids !== undefined && (!Array.isArray(mids) || !mids.every((m) => typeof m === 'string'))) throw new ControlError(400, 'mids must be a list of strings');
    const watermark = optNumber(b, 'watermark');
    const delivery = platform.markDelivered(param(req, 'pageId'), param(req, 'psid'), {
      ...(mids === undefined ? {} : { mids: mids as string[] }),
      ...(watermark === undefined ? {} : { watermark }),
    });
    await actionReply(res, { watermark: watermark ?? platform.clock.now(), delivery }, b['wait'] === true);
  });
  router.post('/pages/:pageId/customers/:psid/reads', async (req, res) => {
    const b = body(req);
    const watermark = optNumber(b, 'watermark');
    const delivery = platform.markRead(param(req, 'pageId'), param(req, 'psid'), watermark === undefined ? {} : { watermark });
    await actionReply(res, { watermark: watermark ?? platform.clock.now(), delivery }, b['wait'] === true);
  });
  router.post('/pages/:pageId/customers/:psid/comments', async (req, res) => {
    const b = body(req);
    const message = optString(b, 'message');
    if (message === undefined) throw new ControlError(400, 'message is required');
    const postId = optString(b, 'postId');
    const parentId = optString(b, 'parentId');
    await actionReply(
      res,
      platform.customerComment(param(req, 'pageId'), param(req, 'psid'), {
        message,
        ...(postId === undefined ? {} : { postId }),
        ...(parentId === undefined ? {} : { parentId }),
      }),
      b['wait'] === true,
    );
  });
  router.post('/pages/:pageId/customers/:psid/page-inbox-replies', async (req, res) => {
    const b = body(req);
    const text = optString(b, 'text');
    if (text === undefined) throw new ControlError(400, 'text is required');
    await actionReply(res, platform.pageInboxReply(param(req, 'pageId'), param(req, 'psid'), { text }), b['wait'] === true);
  });

  // --- OAuth without a browser ---
  router.post('/oauth/approve', (req, res) => {
    const b = body(req);
    const userId = optString(b, 'userId');
    const redirectUri = optString(b, 'redirect_uri') ?? optString(b, 'redirectUri');
    if (userId === undefined || redirectUri === undefined) throw new ControlError(400, 'userId and redirect_uri are required');
    const pageIds = b['pageIds'];
    if (pageIds !== undefined && (!Array.isArray(pageIds) || !pageIds.every((p) => typeof p === 'string'))) throw new ControlError(400, 'pageIds must be a list of page ids');
    const scopeParam = b['scope'] ?? b['scopes'];
    const scopes = typeof scopeParam === 'string' ? scopeParam.split(/[ ,]+/).filter(Boolean) : Array.isArray(scopeParam) ? scopeParam.map(String) : undefined;
    const state = optString(b, 'state');
    const clientId = optString(b, 'client_id');
    res.json(
      platform.approveOAuth({
        userId,
        redirectUri,
        ...(pageIds === undefined ? {} : { pageIds: pageIds as string[] }),
        ...(state === undefined ? {} : { state }),
        ...(scopes === undefined ? {} : { scopes }),
        ...(clientId === undefined ? {} : { clientId }),
      }),
    );
  });
  router.post('/oauth/deny', (req, res) => {
    const b = body(req);
    const redirectUri = optString(b, 'redirect_uri') ?? optString(b, 'redirectUri');
    if (redirectUri === undefined) throw new ControlError(400, 'redirect_uri is required');
    const state = optString(b, 'state');
    res.json(platform.denyOAuth({ redirectUri, ...(state === undefined ? {} : { state }) }));
  });

  // --- tokens ---
  router.get('/tokens', (req, res) => {
    const pageId = typeof req.query['pageId'] === 'string' ? req.query['pageId'] : undefined;
    const userId = typeof req.query['userId'] === 'string' ? req.query['userId'] : undefined;
    res.json({
      data: [...platform.state.tokens.values()].filter((t) => (pageId === undefined || t.pageId === pageId) && (userId === undefined || t.userId === userId)),
    });
  });
  router.post('/tokens/revoke', (req, res) => {
    const b = body(req);
    const subcode = optNumber(b, 'subcode');
    const token = optString(b, 'token');
    const pageId = optString(b, 'pageId');
    const userId = optString(b, 'userId');
    const revoked = platform.revokeTokens({
      ...(token === undefined ? {} : { token }),
      ...(pageId === undefined ? {} : { pageId }),
      ...(userId === undefined ? {} : { userId }),
      ...(subcode === undefined ? {} : { subcode }),
    });
    res.json({ revoked });
  });

  // --- faults ---
  router.get('/faults', (_req, res) => {
    res.json({ data: platform.faults });
  });
  router.post('/faults', (req, res) => {
    const specs = Array.isArray(req.body) ? (req.body as unknown[]) : [req.body as unknown];
    const created: unknown[] = [];
    for (const spec of specs) {
      const s = (spec ?? {}) as Body;
      if (s['kind'] === 'revokeToken') {
        // Not a per-request fault but a state change: the Page's tokens stop working (190/460 by default).
        const pageId = optString(s, 'pageId');
        const token = optString(s, 'token');
        const userId = optString(s, 'userId');
        const subcode = optNumber(s, 'subcode');
        const revoked = platform.revokeTokens({
          ...(pageId === undefined ? {} : { pageId }),
          ...(token === undefined ? {} : { token }),
          ...(userId === undefined ? {} : { userId }),
          ...(subcode === undefined ? {} : { subcode }),
        });
        created.push({ kind: 'revokeToken', revoked });
        continue;
      }
      const problem = validateFaultSpec(s);
      if (problem) throw new ControlError(400, problem);
      created.push(platform.addFault(s as unknown as FaultSpec));
    }
    res.status(201).json({ data: created });
  });
  router.delete('/faults', (_req, res) => {
    platform.faults = [];
    res.json({ data: [] });
  });
  router.delete('/faults/:id', (req, res) => {
    if (!platform.removeFault(param(req, 'id'))) throw new ControlError(404, `no fault ${param(req, 'id')}`);
    res.json({ removed: param(req, 'id') });
  });

  // --- webhooks ---
  router.get('/webhooks/deliveries', (req, res) => {
    const status = typeof req.query['status'] === 'string' ? req.query['status'] : undefined;
    res.json({ data: platform.dispatcher.list().filter((d) => status === undefined || d.status === status) });
  });
  router.delete('/webhooks/deliveries', (_req, res) => {
    platform.dispatcher.clear();
    res.json({ data: [] });
  });
  router.post('/webhooks/raw', async (req, res) => {
    const b = body(req);
    if (b['payload'] === undefined && b['body'] === undefined) throw new ControlError(400, 'give payload (any JSON, serialised Meta-style) or body (an exact string)');
    const signature = b['signature'];
    if (signature !== undefined && signature !== null && typeof signature !== 'string') throw new ControlError(400, 'signature must be a string or null (unsigned)');
    const rawBody = b['body'];
    if (rawBody !== undefined && typeof rawBody !== 'string') throw new ControlError(400, 'body must be a string');
    const delivery = platform.dispatcher.enqueuePayload(rawBody ?? b['payload'], signature === undefined ? {} : { signature: signature as string | null });
    await actionReply(res, { delivery: delivery.then((d) => [d]) }, b['wait'] === true);
  });
  router.post('/webhooks/verify', async (req, res) => {
    const b = body(req);
    const verifyToken = optString(b, 'verifyToken');
    if (verifyToken === undefined) throw new ControlError(400, 'verifyToken is required');
    const url = optString(b, 'url');
    res.json(await platform.verifyWebhook({ verifyToken, ...(url === undefined ? {} : { url }) }));
  });
  router.post('/webhooks/idle', async (req, res) => {
    // flush: post an open batch now rather than waiting out its window.
    await platform.dispatcher.whenIdle({ flush: body(req)['flush'] === true });
    res.json({ idle: true });
  });

  // --- media the webhooks point at, and the chat page ---
  router.get('/media/:name', (req, res) => {
    const name = param(req, 'name');
    const ext = name.split('.').pop() ?? '';
    const type = MEDIA_TYPES[ext] ?? 'application/octet-stream';
    res.type(type).send(ext === 'png' ? ONE_PIXEL_PNG : Buffer.from(`simulated ${name}\n`));
  });
  router.get('/chat', (req, res) => {
    const pageId = typeof req.query['pageId'] === 'string' ? req.query['pageId'] : undefined;
    const psid = typeof req.query['psid'] === 'string' ? req.query['psid'] : undefined;
    res.type('html').send(renderChatPage({ ...(pageId === undefined ? {} : { pageId }), ...(psid === undefined ? {} : { psid }) }));
  });

  router.use((req, res) => {
    problem(res, 404, `no control route ${req.method} /_sim${req.path}`);
  });
  router.use((error: unknown, _req: Request, res: Response, _next: NextFunction) => {
    if (error instanceof ControlError) return problem(res, error.status, error.message);
    const type = (error as { type?: string } | null)?.type;
    if (type === 'entity.parse.failed') return problem(res, 400, 'the body is not valid JSON');
    if (type === 'entity.too.large') return problem(res, 413, 'the body is too large');
    if (error instanceof RangeError) return problem(res, 400, error.message);
    return problem(res, 500, error instanceof Error ? error.message : String(error));
  });
  return router;
}

function problem(res: Response, status: number, detail: string): void {
  const titles: Record<number, string> = { 400: 'Bad Request', 404: 'Not Found', 409: 'Conflict', 413: 'Payload Too Large', 500: 'Internal Server Error' };
  res.status(status).type('application/problem+json').send(JSON.stringify({ type: 'about:blank', title: titles[status] ?? 'Error', status, detail }));
}

function clockView(platform: MetaPlatform): Record<string, unknown> {
  const now = platform.clock.now();
  return { now, iso: new Date(now).toISOString(), frozen: platform.clock.frozen };
}

function pagesOf(platform: MetaPlatform, userId: string): Array<{ pageId: string; tasks: PageTask[] }> {
  return [...platform.state.pages.values()].filter((p) => p.roles.has(userId)).map((p) => ({ pageId: p.id, tasks: p.roles.get(userId)! }));
}

function pageRef(value: unknown): string | { pageId: string; tasks?: PageTask[] } {
  if (typeof value === 'string') return value;
  if (typeof value === 'object' && value !== null && typeof (value as Body)['pageId'] === 'string') return value as { pageId: string; tasks?: PageTask[] };
  throw new ControlError(400, 'each page must be a page id or { pageId, tasks }');
}

function adminRef(value: unknown): string | { userId: string; tasks?: PageTask[] } {
  if (typeof value === 'string') return value;
  if (typeof value === 'object' && value !== null && typeof (value as Body)['userId'] === 'string') return value as { userId: string; tasks?: PageTask[] };
  throw new ControlError(400, 'each admin must be a user id or { userId, tasks }');
}

const MEDIA_TYPES: Record<string, string> = { png: 'image/png', mp3: 'audio/mpeg', mp4: 'video/mp4', pdf: 'application/pdf' };
const ONE_PIXEL_PNG = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII=',
  'base64',
);
