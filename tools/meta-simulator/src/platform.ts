// The simulated Meta platform: operations over the in-memory state that the Graph routes, the OAuth
// dialog and the control API all call. Meta's rules come from rules.ts (pure); this file applies them
// to the state and emits the webhooks that follow (echo, delivery, read).
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { SimClock } from './clock.ts';
import { activateFault, takeFaults, type ActiveFault, type FaultDecision, type FaultSpec, type RequestFacts } from './faults.ts';
import { graphErrors, type GraphError } from './graph-errors.ts';
import {
  ALL_PAGE_TASKS,
  WEBHOOK_FIELDS,
  createState,
  customerKey,
  type AuthCode,
  type PageTask,
  type SentRecord,
  type SimComment,
  type SimCustomer,
  type SimPage,
  type SimPost,
  type SimState,
  type SimToken,
  type SimUser,
  type ThreadEntry,
  type WebhookField,
} from './model.ts';
import {
  admitSendCall,
  checkPrivateReply,
  checkReplyWindow,
  checkToken,
  parseOutboundAttachment,
  parseSendRequest,
  readJsonParam,
  replyWindowState,
  type OutboundAttachment,
  type ReplyWindowState,
  type SendRequest,
} from './rules.ts';
import type { RetryPolicy, WebhookDelivery, WebhookDispatcher } from './webhook-delivery.ts';
import {
  customerMessageEvent,
  deliveryEvent,
  echoEvent,
  feedCommentEvent,
  postbackEvent,
  reactionEvent,
  readEvent,
  type InboundAttachment,
  type PageEvent,
} from './webhook-payloads.ts';

const HOUR_MS = 60 * 60 * 1000;
const DAY_MS = 24 * HOUR_MS;
/** Long-lived user tokens last about 60 days (§6c). */
export const LONG_LIVED_TOKEN_SEC = 60 * 24 * 60 * 60;
/** Data access expires 90 days after the person's last grant (§6c). */
const DATA_ACCESS_MS = 90 * DAY_MS;
/** Login codes are short-lived [M]; ten minutes is generous for a browser round trip. */
const AUTH_CODE_TTL_MS = 10 * 60 * 1000;
/** The Facebook Page Inbox's app id: echoes of human replies from Meta's own inbox carry it [M]. */
export const PAGE_INBOX_APP_ID = '263902037430900';
/** Thumbs-up, the sticker Meta's older docs use as the example [M]. */
export const THUMBS_UP_STICKER_ID = '369239263222822';
/** Every permission the simulator knows; control-API Page tokens carry them all. */
export const ALL_PAGE_SCOPES = ['pages_show_list', 'pages_messaging', 'pages_manage_metadata', 'pages_read_engagement', 'pages_manage_engagement'];
const MESSAGING_FIELDS: ReadonlySet<WebhookField> = new Set(WEBHOOK_FIELDS.filter((f) => f !== 'feed'));

export type StickerFormat = 'both' | 'sticker' | 'image';

/** What the simulator does beyond answering calls; changeable at run time via PATCH /_sim/settings. */
export interface SimSettings {
  webhookUrl: string | undefined;
  /** Post `message_echoes` for what the Page sends. */
  autoEcho: boolean;
  /** Post `message_deliveries` right after each accepted send. */
  autoDelivery: boolean;
  /** Post `message_reads` right after each accepted send (off: the chat page or the control API reads). */
  autoRead: boolean;
  /** Deliver only fields the Page subscribed the app to (Meta's rule, §6e). */
  requireSubscription: boolean;
  batchWindowMs: number;
  retry: RetryPolicy;
  /** Send API calls per second per Page before 613; 0 turns the limit off. */
  sendRateLimitPerSecond: number;
  stickerFormat: StickerFormat;
  /** Lifetime of the user token the code exchange returns; short (1 h) unless set, so products must exchange it. */
  codeExchangeTokenLifetimeSec: number;
  /** Where this simulator is reachable: media URLs in webhooks point here. */
  publicUrl: string;
  /** When set, the dialog accepts only redirect URIs starting with one of these. */
  allowedRedirectUris: string[] | undefined;
}

export type GraphResult = { readonly ok: true; readonly status?: number; readonly body: unknown } | { readonly ok: false; readonly error: GraphError };

const ok = (body: unknown): GraphResult => ({ ok: true, body });
const err = (error: GraphError): GraphResult => ({ ok: false, error });

export class ControlError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

export interface CreatePageInput {
  id?: string;
  name?: string;
  category?: string;
  /** People who run the Page: a user id (all tasks) or `{ userId, tasks }`. */
  admins?: Array<string | { userId: string; tasks?: PageTask[] }>;
  /** Subscribe the app to the Page right away: true = every field, or a list of fields. */
  subscribe?: boolean | WebhookField[];
}

export interface CreateUserInput {
  id?: string;
  name?: string;
  /** Pages this person runs: a page id (all tasks) or `{ pageId, tasks }`. Pages must exist. */
  pages?: Array<string | { pageId: string; tasks?: PageTask[] }>;
}

export interface CreateCustomerInput {
  psid?: string;
  firstName?: string;
  lastName?: string;
  /** "First Last"; split on the first space. */
  name?: string;
  /** false: the Profile API answers 2018218 "No profile available for this user". */
  profile?: boolean;
  profilePic?: string;
  unavailable?: boolean;
}

export interface CustomerAttachmentInput {
  type: string;
  url?: string;
  title?: string;
  /** sticker: the sticker id (default thumbs-up). */
  stickerId?: string;
  /** sticker: how to render it (default: settings.stickerFormat). */
  format?: StickerFormat;
  /** fallback: omit the payload entirely, as Meta does for unsupported shares. */
  noPayload?: boolean;
}

export interface CustomerMessageInput {
  text?: string;
  attachments?: CustomerAttachmentInput[];
  /** Shortcut for one sticker attachment. */
  sticker?: { id?: string; format?: StickerFormat };
  /** The customer tapped a quick reply: `text` defaults to its title. */
  quickReply?: { payload: string; title?: string };
  replyTo?: string;
}

export interface CustomerActionResult {
  readonly mid?: string;
  readonly timestamp: number;
  readonly delivery: Promise<WebhookDelivery[]>;
}

function newSecret(prefix: string, bytes: number): string {
  return prefix + randomBytes(bytes).toString('base64').replace(/[^A-Za-z0-9]/g, '');
}

const FIRST_NAMES = ['Ana', 'Bilal', 'Chen', 'Dara', 'Emeka', 'Freya', 'Goran', 'Hana', 'Ines', 'Jonas', 'Keiko', 'Luca'];
const LAST_NAMES = ['Silva', 'Okafor', 'Nguyen', 'Müller', 'Kowalski', 'Haddad', 'Tanaka', 'Rossi', 'Dubois', 'Larsen'];

export class MetaPlatform {
  state: SimState;
  readonly clock: SimClock;
  readonly settings: SimSettings;
  readonly dispatcher: WebhookDispatcher;
  faults: ActiveFault[] = [];
  readonly #log: (line: string) => void;

  constructor(input: { app: SimState['app']; clock: SimClock; settings: SimSettings; dispatcher: WebhookDispatcher; log?: (line: string) => void }) {
    this.state = createState(input.app);
    this.clock = input.clock;
    this.settings = input.settings;
    this.dispatcher = input.dispatcher;
    this.#log = input.log ?? (() => undefined);
  }

  // ------------------------------------------------------------------ ids

  #next(): number {
    this.state.seq += 1;
    return this.state.seq;
  }

  /** A numeric id `base + n` not yet used (explicit ids given to the control API may sit in the same range). */
  #freshId(base: number, taken: (id: string) => boolean): string {
    for (;;) {
      const id = String(base + this.#next());
      if (!taken(id)) return id;
    }
  }

  newMid(): string {
    return `m_${randomBytes(24).toString('base64url')}`;
  }

  /** Forgets everything: pages, people, tokens, threads, faults, the delivery log; the clock starts over. */
  reset(): void {
    this.state = createState(this.state.app);
    this.faults = [];
    this.dispatcher.clear();
    this.clock.reset();
  }

  // ------------------------------------------------------------------ control: who exists

  createUser(input: CreateUserInput = {}): SimUser {
    const id = input.id ?? this.#freshId(10_000_000_000_000, (candidate) => this.state.users.has(candidate));
    if (this.state.users.has(id)) throw new ControlError(409, `user ${id} already exists`);
    for (const p of input.pages ?? []) {
      const pageId = typeof p === 'string' ? p : p.pageId;
      if (!this.state.pages.has(pageId)) throw new ControlError(404, `page ${pageId} does not exist; create it first`);
    }
    const user: SimUser = { id, name: input.name ?? `Page Admin ${id.slice(-4)}` };
    this.state.users.set(id, user);
    for (const p of input.pages ?? []) {
      const pageId = typeof p === 'string' ? p : p.pageId;
      const tasks = typeof p === 'string' ? [...ALL_PAGE_TASKS] : (p.tasks ?? [...ALL_PAGE_TASKS]);
      this.state.pages.get(pageId)!.roles.set(id, tasks);
    }
    return user;
  }

  createPage(input: CreatePageInput = {}): SimPage {
    const id = input.id ?? this.#freshId(100_000_000_000_000, (candidate) => this.state.pages.has(candidate));
    if (this.state.pages.has(id)) throw new ControlError(409, `page ${id} already exists`);
    if (!/^\d+$/.test(id)) throw new ControlError(400, 'page ids are numeric strings, like Meta\'s');
    for (const a of input.admins ?? []) {
      const userId = typeof a === 'string' ? a : a.userId;
      if (!this.state.users.has(userId)) throw new ControlError(404, `user ${userId} does not exist; create it first`);
    }
    const subscribedFields =
      input.subscribe === true ? [...WEBHOOK_FIELDS] : Array.isArray(input.subscribe) ? validateFields(input.subscribe) : undefined;
    const now = this.clock.now();
    const controlToken = newSecret('EAAsimpage', 48);
    const page: SimPage = {
      id,
      name: input.name ?? `Simulated Page ${id.slice(-4)}`,
      category: input.category ?? 'Local business',
      roles: new Map(),
      subscribedFields,
      controlToken,
    };
    for (const a of input.admins ?? []) {
      const userId = typeof a === 'string' ? a : a.userId;
      page.roles.set(userId, typeof a === 'string' ? [...ALL_PAGE_TASKS] : (a.tasks ?? [...ALL_PAGE_TASKS]));
    }
    this.state.pages.set(id, page);
    this.state.tokens.set(controlToken, {
      value: controlToken,
      type: 'PAGE',
      appId: this.state.app.id,
      pageId: id,
      scopes: [...ALL_PAGE_SCOPES],
      grantedPageIds: [id],
      issuedAt: now,
      expiresAt: null,
      dataAccessExpiresAt: now + DATA_ACCESS_MS,
      longLived: true,
    });
    return page;
  }

  page(pageId: string): SimPage {
    const page = this.state.pages.get(pageId);
    if (!page) throw new ControlError(404, `page ${pageId} does not exist`);
    return page;
  }

  createCustomer(pageId: string, input: CreateCustomerInput = {}): SimCustomer {
    this.page(pageId);
    // PSIDs are page-scoped but never reused across Pages, so generated ones are unique overall.
    const psid = input.psid ?? this.#freshId(2_400_000_000_000_000, (candidate) => [...this.state.customers.values()].some((c) => c.psid === candidate));
    const n = this.state.seq;
    if (!/^\d+$/.test(psid)) throw new ControlError(400, 'PSIDs are numeric strings, like Meta\'s');
    if (this.state.customers.has(customerKey(pageId, psid))) throw new ControlError(409, `customer ${psid} already exists on page ${pageId}`);
    const [nameFirst, ...nameRest] = (input.name ?? '').trim().split(/\s+/);
    const customer: SimCustomer = {
      pageId,
      psid,
      firstName: input.firstName ?? (nameFirst || FIRST_NAMES[n % FIRST_NAMES.length]!),
      lastName: input.lastName ?? (nameRest.length > 0 ? nameRest.join(' ') : input.name ? '' : LAST_NAMES[n % LAST_NAMES.length]!),
      profilePic: input.profilePic ?? `${this.settings.publicUrl}/_sim/media/profile-${psid}.png`,
      hasProfile: input.profile !== false,
      unavailable: input.unavailable === true,
      lastCustomerActionAt: null,
    };
    this.state.customers.set(customerKey(pageId, psid), customer);
    return customer;
  }

  customer(pageId: string, psid: string): SimCustomer {
    this.page(pageId);
    const customer = this.state.customers.get(customerKey(pageId, psid));
    if (!customer) throw new ControlError(404, `customer ${psid} does not exist on page ${pageId}`);
    return customer;
  }

  updateCustomer(pageId: string, psid: string, patch: Partial<Pick<SimCustomer, 'firstName' | 'lastName' | 'profilePic' | 'hasProfile' | 'unavailable'>>): SimCustomer {
    const customer = this.customer(pageId, psid);
    Object.assign(customer, patch);
    return customer;
  }

  windowOf(pageId: string, psid: string): ReplyWindowState {
    return replyWindowState(this.clock.now(), this.customer(pageId, psid).lastCustomerActionAt);
  }

  thread(pageId: string, psid: string): ThreadEntry[] {
    const key = customerKey(pageId, psid);
    let thread = this.state.threads.get(key);
    if (!thread) {
      thread = [];
      this.state.threads.set(key, thread);
    }
    return thread;
  }

  sentBy(pageId: string, options: { includeRejected?: boolean; psid?: string } = {}): SentRecord[] {
    return this.state.sent.filter(
      (r) => r.pageId === pageId && (options.includeRejected || r.accepted) && (options.psid === undefined || r.recipientId === options.psid),
    );
  }

  // ------------------------------------------------------------------ tokens

  /** Resolves the token of a Graph call. App tokens are `{app-id}|{app-secret}`, as at Meta. */
  authenticate(raw: string | undefined, appsecretProof?: string): { ok: true; token: SimToken } | { ok: false; error: GraphError } {
    if (raw !== undefined && raw.includes('|')) {
      const [appId, secret] = raw.split('|');
      if (appId === this.state.app.id && secret === this.state.app.secret) {
        return { ok: true, token: this.#appToken(raw) };
      }
      return { ok: false, error: graphErrors.malformedToken() };
    }
    const token = raw === undefined ? undefined : this.state.tokens.get(raw);
    const problem = checkToken(token, raw, this.clock.now());
    if (problem) return { ok: false, error: problem };
    if (appsecretProof !== undefined) {
      const expected = createHmac('sha256', this.state.app.secret).update(raw!).digest('hex');
      const given = Buffer.from(appsecretProof);
      if (given.length !== expected.length || !timingSafeEqual(given, Buffer.from(expected))) {
        return { ok: false, error: graphErrors.invalidAppSecretProof() };
      }
    }
    return { ok: true, token: token! };
  }

  #appToken(raw: string): SimToken {
    return {
      value: raw,
      type: 'APP',
      appId: this.state.app.id,
      scopes: [],
      grantedPageIds: [],
      issuedAt: 0,
      expiresAt: null,
      dataAccessExpiresAt: 0,
      longLived: true,
    };
  }

  #issueUserToken(input: { userId: string; scopes: string[]; pageIds: string[]; lifetimeSec: number | null }): SimToken {
    const now = this.clock.now();
    const token: SimToken = {
      value: newSecret('EAAsimuser', 48),
      type: 'USER',
      appId: this.state.app.id,
      userId: input.userId,
      scopes: input.scopes,
      grantedPageIds: input.pageIds,
      issuedAt: now,
      expiresAt: input.lifetimeSec === null ? null : now + input.lifetimeSec * 1000,
      dataAccessExpiresAt: now + DATA_ACCESS_MS,
      longLived: input.lifetimeSec === null || input.lifetimeSec >= LONG_LIVED_TOKEN_SEC,
    };
    this.state.tokens.set(token.value, token);
    return token;
  }

  /** The Page token /me/accounts hands out for this user token: stable per (user token, page). */
  #pageTokenFor(userToken: SimToken, pageId: string): SimToken {
    const key = `${userToken.value}:${pageId}`;
    const existing = this.state.pageTokensByGrant.get(key);
    const existingToken = existing === undefined ? undefined : this.state.tokens.get(existing);
    if (existingToken && !existingToken.revoked) return existingToken;
    const now = this.clock.now();
    // §6c: from a short-lived user token the Page token lasts 1 hour; from a long-lived one it never expires.
    const token: SimToken = {
      value: newSecret('EAAsimpage', 48),
      type: 'PAGE',
      appId: userToken.appId,
      ...(userToken.userId === undefined ? {} : { userId: userToken.userId }),
      pageId,
      scopes: userToken.scopes,
      grantedPageIds: [pageId],
      issuedAt: now,
      expiresAt: userToken.longLived ? null : now + HOUR_MS,
      dataAccessExpiresAt: userToken.dataAccessExpiresAt,
      longLived: userToken.longLived,
    };
    this.state.tokens.set(token.value, token);
    this.state.pageTokensByGrant.set(key, token.value);
    return token;
  }

  /** Invalidates tokens (password change, app removed, …): later calls answer 190 with the subcode. Returns how many. */
  revokeTokens(input: { token?: string; pageId?: string; userId?: string; subcode?: number }): number {
    if (input.token === undefined && input.pageId === undefined && input.userId === undefined) {
      throw new ControlError(400, 'say which tokens: token, pageId or userId');
    }
    const subcode = input.subcode ?? 460;
    let n = 0;
    for (const t of this.state.tokens.values()) {
      const hit =
        (input.token !== undefined && t.value === input.token) ||
        (input.pageId !== undefined && t.type === 'PAGE' && t.pageId === input.pageId) ||
        (input.userId !== undefined && t.userId === input.userId);
      if (hit && !t.revoked) {
        t.revoked = { subcode, at: this.clock.now() };
        n++;
      }
    }
    return n;
  }

  // ------------------------------------------------------------------ OAuth (§6)

  /** The person approved the dialog: issue a single-use code bound to client, redirect URI, person and chosen Pages. */
  approveOAuth(input: { userId: string; pageIds?: string[]; state?: string; redirectUri: string; scopes?: string[]; clientId?: string }): {
    code: string;
    redirectUrl: string;
  } {
    const user = this.state.users.get(input.userId);
    if (!user) throw new ControlError(404, `user ${input.userId} does not exist`);
    this.#checkRedirectUri(input.redirectUri);
    const administered = [...this.state.pages.values()].filter((p) => p.roles.has(user.id)).map((p) => p.id);
    const pageIds = input.pageIds ?? administered;
    for (const pageId of pageIds) {
      if (!administered.includes(pageId)) throw new ControlError(400, `user ${user.id} has no role on page ${pageId}`);
    }
    const code: AuthCode = {
      code: newSecret('AQ', 96),
      clientId: input.clientId ?? this.state.app.id,
      redirectUri: input.redirectUri,
      userId: user.id,
      pageIds,
      scopes: unique(['public_profile', ...(input.scopes ?? ALL_PAGE_SCOPES)]),
      issuedAt: this.clock.now(),
    };
    this.state.authCodes.set(code.code, code);
    const url = new URL(input.redirectUri);
    url.searchParams.set('code', code.code);
    if (input.state !== undefined) url.searchParams.set('state', input.state);
    // Meta appends this fragment to login redirects.
    return { code: code.code, redirectUrl: `${url.toString()}#_=_` };
  }

  /** The person pressed Cancel: Meta redirects back with error=access_denied. */
  denyOAuth(input: { redirectUri: string; state?: string }): { redirectUrl: string } {
    this.#checkRedirectUri(input.redirectUri);
    const url = new URL(input.redirectUri);
    url.searchParams.set('error', 'access_denied');
    url.searchParams.set('error_code', '200');
    url.searchParams.set('error_description', 'Permissions error');
    url.searchParams.set('error_reason', 'user_denied');
    if (input.state !== undefined) url.searchParams.set('state', input.state);
    return { redirectUrl: `${url.toString()}#_=_` };
  }

  #checkRedirectUri(redirectUri: string): void {
    let parsed: URL;
    try {
      parsed = new URL(redirectUri);
    } catch {
      throw new ControlError(400, 'redirect_uri must be an absolute URL');
    }
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new ControlError(400, 'redirect_uri must be http(s)');
    const allowed = this.settings.allowedRedirectUris;
    if (allowed && !allowed.some((prefix) => redirectUri.startsWith(prefix))) {
      throw new ControlError(400, "URL Blocked: This redirect failed because the redirect URI is not whitelisted in the app's Client OAuth Settings.");
    }
  }

  /** `GET /oauth/access_token`: code exchange, fb_exchange_token, or client_credentials. */
  oauthAccessToken(params: Record<string, unknown>): GraphResult {
    const clientId = str(params['client_id']);
    const grantType = str(params['grant_type']);
    if (clientId !== this.state.app.id) return err(graphErrors.invalidClientId());
    if (str(params['client_secret']) !== this.state.app.secret) return err(graphErrors.invalidClientSecret());
    const now = this.clock.now();

    if (grantType === 'client_credentials') {
      return ok({ access_token: `${this.state.app.id}|${this.state.app.secret}`, token_type: 'bearer' });
    }
    if (grantType === 'fb_exchange_token') {
      const raw = str(params['fb_exchange_token']);
      if (!raw) return err(graphErrors.invalidParameter('Missing fb_exchange_token parameter'));
      const auth = this.authenticate(raw);
      if (!auth.ok) return err(auth.error); // an expired or revoked token cannot be exchanged (§6c)
      if (auth.token.type !== 'USER') return err(graphErrors.invalidParameter('fb_exchange_token must be a user access token'));
      const t = auth.token;
      const long = this.#issueUserToken({ userId: t.userId!, scopes: t.scopes, pageIds: t.grantedPageIds, lifetimeSec: LONG_LIVED_TOKEN_SEC });
      return ok({ access_token: long.value, token_type: 'bearer', expires_in: LONG_LIVED_TOKEN_SEC });
    }
    if (grantType !== undefined && grantType !== 'authorization_code') {
      return err(graphErrors.invalidParameter(`Unsupported grant_type ${grantType}`));
    }
    const rawCode = str(params['code']);
    if (!rawCode) return err(graphErrors.invalidParameter('Missing authorization code'));
    const code = this.state.authCodes.get(rawCode);
    if (!code || code.clientId !== clientId) return err(graphErrors.invalidCode());
    if (code.usedAt !== undefined) return err(graphErrors.codeUsed());
    if (now - code.issuedAt >= AUTH_CODE_TTL_MS) return err(graphErrors.codeExpired());
    if (str(params['redirect_uri']) !== code.redirectUri) return err(graphErrors.redirectUriMismatch());
    code.usedAt = now;
    const lifetime = this.settings.codeExchangeTokenLifetimeSec;
    const token = this.#issueUserToken({ userId: code.userId, scopes: code.scopes, pageIds: code.pageIds, lifetimeSec: lifetime });
    return ok({ access_token: token.value, token_type: 'bearer', expires_in: lifetime });
  }

  /** `GET /debug_token` (§6d). The caller proves itself with the app token or a valid user token of the app. */
  debugToken(input: { inputToken: string | undefined; accessToken: string | undefined }): GraphResult {
    const caller = this.authenticate(input.accessToken);
    if (!caller.ok) return err(caller.error);
    if (caller.token.appId !== this.state.app.id) return err(graphErrors.malformedToken());
    if (!input.inputToken) return err(graphErrors.invalidParameter('The parameter input_token is required'));
    const now = this.clock.now();
    const appTokenValue = `${this.state.app.id}|${this.state.app.secret}`;
    if (input.inputToken === appTokenValue) {
      return ok({ data: { app_id: this.state.app.id, type: 'APP', application: this.state.app.name, is_valid: true, scopes: [] } });
    }
    const t = this.state.tokens.get(input.inputToken);
    if (!t) {
      return ok({ data: { error: { code: 190, message: 'Invalid OAuth access token - Cannot parse access token' }, is_valid: false, scopes: [] } });
    }
    const problem = checkToken(t, t.value, now);
    const seconds = (ms: number): number => Math.floor(ms / 1000);
    const data: Record<string, unknown> = {
      app_id: t.appId,
      type: t.type,
      application: this.state.app.name,
      data_access_expires_at: seconds(t.dataAccessExpiresAt),
      expires_at: t.expiresAt === null ? 0 : seconds(t.expiresAt),
      is_valid: problem === null,
      issued_at: seconds(t.issuedAt),
      scopes: t.scopes,
      granular_scopes: t.scopes.map((scope) =>
        scope.startsWith('pages_') ? { scope, target_ids: t.grantedPageIds } : { scope },
      ),
    };
    if (t.userId !== undefined) data['user_id'] = t.userId;
    if (t.type === 'PAGE' && t.pageId !== undefined) data['profile_id'] = t.pageId;
    if (problem) {
      data['error'] = { code: problem.code, message: problem.message, ...(problem.subcode === undefined ? {} : { subcode: problem.subcode }) };
    }
    return ok({ data });
  }

  // ------------------------------------------------------------------ Graph reads

  /** `GET /{user-id}/accounts` (§6c): the Pages this person runs and chose in the dialog, with Page tokens. */
  accounts(input: { rawToken: string | undefined; appsecretProof?: string; userIdInPath: string; query: Record<string, unknown>; selfUrl: string }): GraphResult {
    const auth = this.authenticate(input.rawToken, input.appsecretProof);
    if (!auth.ok) return err(auth.error);
    const token = auth.token;
    if (token.type === 'PAGE') return err(graphErrors.nonexistingField('accounts', 'Page'));
    if (token.type !== 'USER') return err(graphErrors.invalidParameter('An active access token must be used to query information about the current user.'));
    if (input.userIdInPath !== 'me' && input.userIdInPath !== token.userId) return err(graphErrors.unsupportedRequest('get', input.userIdInPath));
    if (!token.scopes.includes('pages_show_list')) return err(graphErrors.missingPagesShowList());
    const fields = fieldList(input.query['fields'], ['access_token', 'category', 'name', 'id', 'tasks']);
    const pages = token.grantedPageIds
      .map((id) => this.state.pages.get(id))
      .filter((p): p is SimPage => p !== undefined && p.roles.has(token.userId!));
    const limit = clampInt(input.query['limit'], 25, 1, 100);
    const decode = (cursor: unknown): number | undefined => {
      if (typeof cursor !== 'string') return undefined;
      const id = Buffer.from(cursor, 'base64').toString('utf8');
      const index = pages.findIndex((p) => p.id === id);
      return index < 0 ? undefined : index;
    };
    const afterIndex = decode(input.query['after']);
    const beforeIndex = decode(input.query['before']);
    let start = 0;
    if (afterIndex !== undefined) start = afterIndex + 1;
    else if (beforeIndex !== undefined) start = Math.max(0, beforeIndex - limit);
    const end = beforeIndex !== undefined && afterIndex === undefined ? beforeIndex : Math.min(pages.length, start + limit);
    const slice = pages.slice(start, end);
    const data = slice.map((page) => {
      const row: Record<string, unknown> = {};
      for (const f of fields) {
        if (f === 'access_token') row['access_token'] = this.#pageTokenFor(token, page.id).value;
        else if (f === 'name') row['name'] = page.name;
        else if (f === 'category') row['category'] = page.category;
        else if (f === 'category_list') row['category_list'] = [{ id: '2500', name: page.category }];
        else if (f === 'tasks') row['tasks'] = page.roles.get(token.userId!) ?? [];
      }
      row['id'] = page.id;
      return row;
    });
    const cursor = (p: SimPage): string => Buffer.from(p.id, 'utf8').toString('base64');
    const body: Record<string, unknown> = { data };
    if (slice.length > 0) {
      const paging: Record<string, unknown> = { cursors: { before: cursor(slice[0]!), after: cursor(slice[slice.length - 1]!) } };
      if (end < pages.length) {
        const next = new URL(input.selfUrl);
        next.searchParams.set('after', cursor(slice[slice.length - 1]!));
        next.searchParams.delete('before');
        paging['next'] = next.toString();
      }
      if (start > 0) {
        const previous = new URL(input.selfUrl);
        previous.searchParams.set('before', cursor(slice[0]!));
        previous.searchParams.delete('after');
        paging['previous'] = previous.toString();
      }
      body['paging'] = paging;
    }
    return ok(body);
  }

  /** `GET /{id}`: the Page, the person, or a customer's profile (§7). */
  node(input: { rawToken: string | undefined; appsecretProof?: string; id: string; query: Record<string, unknown> }): GraphResult {
    const auth = this.authenticate(input.rawToken, input.appsecretProof);
    if (!auth.ok) return err(auth.error);
    const token = auth.token;
    let id = input.id;
    if (id === 'me') {
      if (token.type === 'PAGE') id = token.pageId!;
      else if (token.type === 'USER') id = token.userId!;
      else return err(graphErrors.invalidParameter('An active access token must be used to query information about the current user.'));
    }
    const page = this.state.pages.get(id);
    if (page) {
      const fields = fieldList(input.query['fields'], ['name', 'id']);
      const row: Record<string, unknown> = {};
      for (const f of fields) {
        if (f === 'name') row['name'] = page.name;
        else if (f === 'category') row['category'] = page.category;
        else if (f === 'access_token') {
          if (token.type === 'USER' && token.grantedPageIds.includes(page.id) && page.roles.has(token.userId!)) {
            row['access_token'] = this.#pageTokenFor(token, page.id).value;
          } else if (token.type === 'PAGE' && token.pageId === page.id) {
            row['access_token'] = token.value;
          }
        } else if (f !== 'id') return err(graphErrors.nonexistingField(f, 'Page'));
      }
      row['id'] = page.id;
      return ok(row);
    }
    const user = this.state.users.get(id);
    if (user && token.type === 'USER' && token.userId === id) {
      const fields = fieldList(input.query['fields'], ['name', 'id']);
      const row: Record<string, unknown> = {};
      for (const f of fields) {
        if (f === 'name') row['name'] = user.name;
        else if (f !== 'id') return err(graphErrors.nonexistingField(f, 'User'));
      }
      row['id'] = user.id;
      return ok(row);
    }
    if (token.type === 'PAGE') {
      const customer = this.state.customers.get(customerKey(token.pageId!, id));
      if (customer) return this.#profile(customer, input.query['fields']);
    }
    return err(graphErrors.unsupportedRequest('get', input.id));
  }

  #profile(customer: SimCustomer, fieldsParam: unknown): GraphResult {
    if (!customer.hasProfile) return err(graphErrors.noProfile());
    const fields = fieldList(fieldsParam, ['first_name', 'last_name', 'profile_pic', 'id']);
    const row: Record<string, unknown> = {};
    for (const f of fields) {
      if (f === 'first_name') row['first_name'] = customer.firstName;
      else if (f === 'last_name') row['last_name'] = customer.lastName;
      else if (f === 'name') row['name'] = `${customer.firstName} ${customer.lastName}`.trim();
      else if (f === 'profile_pic') row['profile_pic'] = customer.profilePic;
      // Need extra permissions Meta rarely grants; omitted rather than failed, as for apps without them.
      else if (f === 'locale' || f === 'timezone' || f === 'gender') continue;
      else if (f !== 'id') return err(graphErrors.nonexistingField(f, 'User'));
    }
    row['id'] = customer.psid;
    return ok(row);
  }

  // ------------------------------------------------------------------ subscribed_apps (§6e)

  subscribedApps(input: {
    method: 'GET' | 'POST' | 'DELETE';
    rawToken: string | undefined;
    appsecretProof?: string;
    pageIdInPath: string;
    params: Record<string, unknown>;
  }): GraphResult {
    const resolved = this.#pageCall(input.rawToken, input.appsecretProof, input.pageIdInPath, input.method === 'GET' ? 'get' : input.method === 'POST' ? 'post' : 'delete');
    if (!resolved.ok) return resolved;
    const { page, token } = resolved;
    const tasks = token.userId === undefined ? ALL_PAGE_TASKS : (page.roles.get(token.userId) ?? []);
    if (input.method === 'GET') {
      if (!page.subscribedFields) return ok({ data: [] });
      return ok({
        data: [{ category: 'Business', link: `${this.settings.publicUrl}/_sim`, name: this.state.app.name, id: this.state.app.id, subscribed_fields: page.subscribedFields }],
      });
    }
    if (!token.scopes.includes('pages_manage_metadata')) return err(graphErrors.missingMetadataPermission());
    if (!tasks.some((t) => t === 'MANAGE' || t === 'MODERATE' || t === 'CREATE_CONTENT')) return err(graphErrors.missingTask('MODERATE'));
    if (input.method === 'DELETE') {
      page.subscribedFields = undefined;
      return ok({ success: true });
    }
    const raw = readJsonParam(input.params['subscribed_fields']);
    const list = Array.isArray(raw) ? raw.map(String) : typeof raw === 'string' ? raw.split(',').map((s) => s.trim()).filter(Boolean) : [];
    if (list.length === 0) return err(graphErrors.invalidParameter('The parameter subscribed_fields is required.'));
    for (const [i, f] of list.entries()) {
      if (!(WEBHOOK_FIELDS as readonly string[]).includes(f)) {
        return err(graphErrors.invalidParameter(`Param subscribed_fields[${i}] must be one of {${WEBHOOK_FIELDS.join(', ')}} - got "${f}".`));
      }
    }
    const fields = list as WebhookField[];
    const messaging = fields.filter((f) => MESSAGING_FIELDS.has(f));
    if (messaging.length > 0 && !token.scopes.includes('pages_messaging')) {
      return err({ ...graphErrors.missingMessagingPermission(), code: 200, message: `(#200) To subscribe to the ${messaging[0]} field, one of these permissions is needed: pages_messaging` });
    }
    if (messaging.length > 0 && !tasks.some((t) => t === 'MESSAGING' || t === 'MANAGE')) return err(graphErrors.missingTask('MESSAGING'));
    page.subscribedFields = unique(fields);
    return ok({ success: true });
  }

  /** A call on a Page edge: needs a Page token of that Page (`me` = the token's Page). */
  #pageCall(rawToken: string | undefined, proof: string | undefined, pageIdInPath: string, method: 'get' | 'post' | 'delete'):
    | { ok: true; page: SimPage; token: SimToken }
    | { ok: false; error: GraphError } {
    const auth = this.authenticate(rawToken, proof);
    if (!auth.ok) return auth;
    const token = auth.token;
    if (token.type !== 'PAGE') {
      if (pageIdInPath !== 'me' && !this.state.pages.has(pageIdInPath)) return { ok: false, error: graphErrors.unsupportedRequest(method, pageIdInPath) };
      return { ok: false, error: graphErrors.pageTokenRequired() };
    }
    const page = this.state.pages.get(token.pageId!);
    if (!page) return { ok: false, error: graphErrors.malformedToken() };
    if (pageIdInPath !== 'me' && pageIdInPath !== page.id) return { ok: false, error: graphErrors.unsupportedRequest(method, pageIdInPath) };
    if (token.userId !== undefined && !page.roles.has(token.userId)) {
      // The person lost their role on the Page: Meta invalidates the Page token [M: subcode 492].
      return { ok: false, error: graphErrors.revokedToken(492, token.appId, token.userId) };
    }
    return { ok: true, page, token };
  }

  // ------------------------------------------------------------------ Send API (§3)

  /** `POST /{page-id}/messages`: every rule in order (token, permission, rate, shape, recipient, window), then the send. */
  send(input: { rawToken: string | undefined; appsecretProof?: string; pageIdInPath: string; body: Record<string, unknown>; path: string }): GraphResult {
    const resolved = this.#pageCall(input.rawToken, input.appsecretProof, input.pageIdInPath, 'post');
    if (!resolved.ok) return resolved;
    const { page, token } = resolved;
    const now = this.clock.now();
    const request = redactCredentials(input.body);
    const reject = (error: GraphError, recipientId?: string): GraphResult => {
      this.#recordSent({ pageId: page.id, at: now, path: input.path, request, accepted: false, response: { error: publicError(error) }, ...(recipientId ? { recipientId } : {}) });
      return err(error);
    };
    if (!token.scopes.includes('pages_messaging')) return reject(graphErrors.missingMessagingPermission());
    if (token.userId !== undefined) {
      const tasks = page.roles.get(token.userId) ?? [];
      if (!tasks.includes('MESSAGING') && !tasks.includes('MANAGE')) return reject(graphErrors.missingTask('MESSAGING'));
    }
    const admitted = admitSendCall(this.state.sendCalls.get(page.id) ?? [], now, this.settings.sendRateLimitPerSecond);
    this.state.sendCalls.set(page.id, admitted.history);
    if (!admitted.admitted) return reject(graphErrors.rateLimited());

    const parsed = parseSendRequest(input.body);
    if (!parsed.ok) return reject(parsed.error);
    const send = parsed.value;

    let customer: SimCustomer | undefined;
    let comment: SimComment | undefined;
    if (send.recipient.kind === 'psid') {
      customer = this.state.customers.get(customerKey(page.id, send.recipient.id));
      if (!customer) return reject(graphErrors.noMatchingUser());
    } else {
      comment = this.state.comments.get(send.recipient.commentId);
      if (!comment || comment.pageId !== page.id) return reject(graphErrors.invalidParameter('Param recipient[comment_id] must be a valid comment ID'));
      const problem = checkPrivateReply(now, comment);
      if (problem) return reject(problem);
      customer = this.state.customers.get(customerKey(page.id, comment.fromId));
      if (!customer) return reject(graphErrors.cannotReplyToActivity());
    }
    if (customer.unavailable) return reject(graphErrors.personUnavailable(), customer.psid);

    if (send.kind === 'sender_action') return this.#senderAction(send, page, customer, now, input.path, request, reject);

    // Private replies may go out whatever the window (§3e); everything else needs the window.
    if (!comment) {
      const windowProblem = checkReplyWindow({
        now,
        lastCustomerActionAt: customer.lastCustomerActionAt,
        messagingType: send.messagingType,
        ...(send.tag === undefined ? {} : { tag: send.tag }),
      });
      if (windowProblem) return reject(windowProblem, customer.psid);
    }

    const attachment = send.message.attachment;
    let savedAttachmentId: string | undefined;
    let attachmentForThread: InboundAttachment | undefined;
    if (attachment) {
      const resolvedAttachment = this.#resolveOutboundAttachment(page.id, attachment);
      if (!resolvedAttachment.ok) return reject(resolvedAttachment.error, customer.psid);
      attachmentForThread = resolvedAttachment.attachment;
      savedAttachmentId = resolvedAttachment.savedId;
    }

    const mid = this.newMid();
    const entry: ThreadEntry = {
      mid,
      direction: 'outbound',
      at: now,
      kind: 'message',
      ...(send.message.text === undefined ? {} : { text: send.message.text }),
      ...(attachmentForThread ? { attachments: [attachmentForThread] } : {}),
      ...(send.message.quickReplies ? { quickReplies: send.message.quickReplies } : {}),
      appId: token.appId,
      ...(send.message.metadata === undefined ? {} : { metadata: send.message.metadata }),
      messagingType: send.messagingType,
      ...(send.tag === undefined ? {} : { tag: send.tag }),
    };
    this.thread(page.id, customer.psid).push(entry);
    if (comment) comment.privateReplyAt = now;
    const response: Record<string, unknown> = { recipient_id: customer.psid, message_id: mid };
    if (savedAttachmentId !== undefined) response['attachment_id'] = savedAttachmentId;
    this.#recordSent({ pageId: page.id, at: now, path: input.path, request, accepted: true, response, recipientId: customer.psid, messageId: mid });
    void this.#afterPageSent(page.id, customer, entry);
    return ok(response);
  }

  #senderAction(
    send: Extract<SendRequest, { kind: 'sender_action' }>,
    page: SimPage,
    customer: SimCustomer,
    now: number,
    path: string,
    request: Record<string, unknown>,
    reject: (e: GraphError, recipientId?: string) => GraphResult,
  ): GraphResult {
    const problem = checkReplyWindow({ now, lastCustomerActionAt: customer.lastCustomerActionAt, messagingType: 'SENDER_ACTION' });
    if (problem) return reject(problem, customer.psid);
    const thread = this.thread(page.id, customer.psid);
    if (send.payload?.message_id !== undefined && !thread.some((e) => e.mid === send.payload!.message_id)) {
      return reject(graphErrors.invalidParameter('Param payload[message_id] must be a message in this thread'), customer.psid);
    }
    thread.push({
      mid: `sa_${this.#next()}`,
      direction: 'outbound',
      at: now,
      kind: 'sender_action',
      senderAction: send.action,
      ...(send.payload?.reaction === undefined ? {} : { reaction: { reaction: 'other', emoji: send.payload.reaction, action: 'react', mid: send.payload.message_id! } }),
    });
    const response = { recipient_id: customer.psid };
    this.#recordSent({ pageId: page.id, at: now, path, request, accepted: true, response, recipientId: customer.psid });
    return ok(response);
  }

  #resolveOutboundAttachment(
    pageId: string,
    attachment: OutboundAttachment,
  ): { ok: true; attachment: InboundAttachment; savedId?: string } | { ok: false; error: GraphError } {
    if (attachment.type === 'template') return { ok: true, attachment: { type: 'template', payload: attachment.payload } };
    const attachmentId = attachment.payload['attachment_id'];
    if (attachmentId !== undefined) {
      const saved = this.state.attachments.get(String(attachmentId));
      if (!saved || saved.pageId !== pageId) return { ok: false, error: graphErrors.invalidParameter('Param message[attachment][payload][attachment_id] is not a valid attachment') };
      return { ok: true, attachment: { type: saved.type, payload: { url: saved.url } } };
    }
    const url = String(attachment.payload['url']);
    if (attachment.payload['is_reusable'] === true) {
      const saved = this.#saveAttachment(pageId, attachment.type, url);
      return { ok: true, attachment: { type: attachment.type, payload: { url } }, savedId: saved };
    }
    return { ok: true, attachment: { type: attachment.type, payload: { url } } };
  }

  #saveAttachment(pageId: string, type: string, url: string): string {
    const attachmentId = String(1_800_000_000_000_000 + this.#next());
    this.state.attachments.set(attachmentId, { attachmentId, pageId, type, url });
    return attachmentId;
  }

  /** `POST /{page-id}/message_attachments` (§3d) → `{ attachment_id }`. */
  uploadAttachment(input: { rawToken: string | undefined; appsecretProof?: string; pageIdInPath: string; body: Record<string, unknown> }): GraphResult {
    const resolved = this.#pageCall(input.rawToken, input.appsecretProof, input.pageIdInPath, 'post');
    if (!resolved.ok) return resolved;
    if (!resolved.token.scopes.includes('pages_messaging')) return err(graphErrors.missingMessagingPermission());
    const message = readJsonParam(input.body['message']);
    if (typeof message !== 'object' || message === null) return err(graphErrors.invalidParameter('Param message is required'));
    const parsed = parseOutboundAttachment(readJsonParam((message as Record<string, unknown>)['attachment']));
    if (!parsed.ok) return err(parsed.error);
    if (parsed.value.type === 'template' || parsed.value.payload['url'] === undefined) {
      return err(graphErrors.invalidParameter('Param message[attachment][payload][url] is required to upload an attachment'));
    }
    return ok({ attachment_id: this.#saveAttachment(resolved.page.id, parsed.value.type, String(parsed.value.payload['url'])) });
  }

  #recordSent(record: Omit<SentRecord, 'seq'>): void {
    this.state.sent.push({ ...record, seq: this.#next() });
  }

  /** What Meta does after the Page sends: echo to the app, then the customer's device reports delivery (and read). */
  async #afterPageSent(pageId: string, customer: SimCustomer, entry: ThreadEntry): Promise<WebhookDelivery[]> {
    const out: Array<Promise<WebhookDelivery[]>> = [];
    if (this.settings.autoEcho) {
      out.push(
        this.emit([
          echoEvent({
            pageId,
            psid: customer.psid,
            at: entry.at,
            mid: entry.mid,
            appId: entry.appId ?? this.state.app.id,
            ...(entry.text === undefined ? {} : { text: entry.text }),
            ...(entry.attachments ? { attachments: entry.attachments } : {}),
            ...(entry.metadata === undefined ? {} : { metadata: entry.metadata }),
          }),
        ]),
      );
    }
    if (this.settings.autoDelivery) out.push(this.markDelivered(pageId, customer.psid, { mids: [entry.mid] }));
    if (this.settings.autoRead) out.push(this.markRead(pageId, customer.psid, {}));
    return (await Promise.all(out)).flat();
  }

  // ------------------------------------------------------------------ the customer acts (control API)

  /** The customer writes to the Page: opens/renews the 24 h window and posts a `messages` webhook. */
  customerMessage(pageId: string, psid: string, input: CustomerMessageInput): CustomerActionResult {
    const customer = this.customer(pageId, psid);
    const attachments: InboundAttachment[] = [];
    let stickerId: string | undefined;
    const inputs = [...(input.attachments ?? [])];
    if (input.sticker) inputs.push({ type: 'sticker', ...(input.sticker.id ? { stickerId: input.sticker.id } : {}), ...(input.sticker.format ? { format: input.sticker.format } : {}) });
    for (const a of inputs) {
      const built = this.#inboundAttachment(a);
      attachments.push(...built.attachments);
      stickerId ??= built.legacyStickerId;
    }
    const text = input.text ?? input.quickReply?.title;
    if (text === undefined && attachments.length === 0) throw new ControlError(400, 'a customer message needs text, attachments, a sticker or a quick reply');
    if (text !== undefined && typeof text !== 'string') throw new ControlError(400, 'text must be a string');
    const now = this.clock.now();
    const mid = this.newMid();
    customer.lastCustomerActionAt = now;
    this.thread(pageId, psid).push({
      mid,
      direction: 'inbound',
      at: now,
      kind: 'message',
      ...(text === undefined ? {} : { text }),
      ...(attachments.length > 0 ? { attachments } : {}),
      ...(input.quickReply ? { quickReplyPayload: input.quickReply.payload } : {}),
    });
    const delivery = this.emit([
      customerMessageEvent({
        pageId,
        psid,
        at: now,
        mid,
        ...(text === undefined ? {} : { text }),
        ...(attachments.length > 0 ? { attachments } : {}),
        ...(input.quickReply ? { quickReplyPayload: input.quickReply.payload } : {}),
        ...(input.replyTo ? { replyTo: input.replyTo } : {}),
        ...(stickerId === undefined ? {} : { stickerId }),
      }),
    ]);
    return { mid, timestamp: now, delivery };
  }

  #inboundAttachment(a: CustomerAttachmentInput): { attachments: InboundAttachment[]; legacyStickerId?: string } {
    const media = (name: string): string => `${this.settings.publicUrl}/_sim/media/${name}`;
    switch (a.type) {
      case 'sticker': {
        const id = a.stickerId ?? THUMBS_UP_STICKER_ID;
        const url = a.url ?? media(`sticker-${id}.png`);
        const payload = { url, sticker_id: Number.isSafeInteger(Number(id)) ? Number(id) : id };
        const format = a.format ?? this.settings.stickerFormat;
        // Until Aug 30 2026 Meta sends both renderings; older payloads knew only the image one (§2b).
        if (format === 'sticker') return { attachments: [{ type: 'sticker', payload }] };
        if (format === 'image') return { attachments: [{ type: 'image', payload }], legacyStickerId: id };
        return { attachments: [{ type: 'image', payload }, { type: 'sticker', payload }], legacyStickerId: id };
      }
      case 'image':
        return { attachments: [{ type: 'image', payload: { url: a.url ?? media(`image-${this.#next()}.png`) } }] };
      case 'audio':
        return { attachments: [{ type: 'audio', payload: { url: a.url ?? media(`audio-${this.#next()}.mp3`) } }] };
      case 'video':
        return { attachments: [{ type: 'video', payload: { url: a.url ?? media(`video-${this.#next()}.mp4`) } }] };
      case 'file':
        return { attachments: [{ type: 'file', payload: { url: a.url ?? media(`file-${this.#next()}.pdf`) } }] };
      case 'fallback':
        if (a.noPayload) return { attachments: [{ type: 'fallback' }] };
        return { attachments: [{ type: 'fallback', payload: { url: a.url ?? 'https://example.com/shared-link', title: a.title ?? 'Shared link' } }] };
      case 'reel':
      case 'ig_reel':
      case 'post':
      case 'ig_post':
        return { attachments: [{ type: a.type, payload: { url: a.url ?? media(`${a.type}-${this.#next()}.mp4`), ...(a.title ? { title: a.title } : {}) } }] };
      default:
        throw new ControlError(400, `unknown attachment type ${a.type}; use image, audio, video, file, sticker, fallback, reel, ig_reel, post or ig_post`);
    }
  }

  /** The customer tapped a postback button or Get Started: opens the window, posts `messaging_postbacks`. */
  customerPostback(pageId: string, psid: string, input: { payload?: string; title?: string; getStarted?: boolean; referral?: Record<string, unknown> }): CustomerActionResult {
    const customer = this.customer(pageId, psid);
    const payload = input.payload ?? (input.getStarted ? 'GET_STARTED' : undefined);
    if (payload === undefined) throw new ControlError(400, 'a postback needs a payload (or getStarted: true)');
    const title = input.title ?? (input.getStarted ? 'Get Started' : payload);
    const now = this.clock.now();
    const mid = this.newMid();
    customer.lastCustomerActionAt = now;
    this.thread(pageId, psid).push({ mid, direction: 'inbound', at: now, kind: 'postback', text: title, postbackPayload: payload });
    const delivery = this.emit([postbackEvent({ pageId, psid, at: now, mid, title, payload, ...(input.referral ? { referral: input.referral } : {}) })]);
    return { mid, timestamp: now, delivery };
  }

  /** The customer reacted to a message: a reaction renews the window (§8). */
  customerReaction(pageId: string, psid: string, input: { mid: string; reaction?: string; emoji?: string; action?: 'react' | 'unreact' }): CustomerActionResult {
    const customer = this.customer(pageId, psid);
    const thread = this.thread(pageId, psid);
    if (!thread.some((e) => e.mid === input.mid)) throw new ControlError(404, `message ${input.mid} is not in this thread`);
    const action = input.action ?? 'react';
    if (action !== 'react' && action !== 'unreact') throw new ControlError(400, 'action must be react or unreact');
    const reaction = input.reaction ?? 'love';
    const emoji = input.emoji ?? REACTION_EMOJI[reaction] ?? '\u2764\uFE0F';
    const now = this.clock.now();
    if (action === 'react') customer.lastCustomerActionAt = now;
    thread.push({ mid: `r_${this.#next()}`, direction: 'inbound', at: now, kind: 'reaction', reaction: { reaction, emoji, action, mid: input.mid } });
    const delivery = this.emit([reactionEvent({ pageId, psid, at: now, mid: input.mid, reaction, emoji, action })]);
    return { timestamp: now, delivery };
  }

  /** The customer's device got the Page's messages: `message_deliveries` with a watermark (§2e). */
  markDelivered(pageId: string, psid: string, input: { mids?: string[]; watermark?: number }): Promise<WebhookDelivery[]> {
    this.customer(pageId, psid);
    const now = this.clock.now();
    const watermark = input.watermark ?? now;
    for (const e of this.thread(pageId, psid)) if (e.direction === 'outbound' && e.at <= watermark) e.deliveredAt ??= now;
    return this.emit([deliveryEvent({ pageId, psid, at: now, ...(input.mids ? { mids: input.mids } : {}), watermark })]);
  }

  /** The customer read the thread: `message_reads` with a watermark (§2e). */
  markRead(pageId: string, psid: string, input: { watermark?: number }): Promise<WebhookDelivery[]> {
    this.customer(pageId, psid);
    const now = this.clock.now();
    const watermark = input.watermark ?? now;
    for (const e of this.thread(pageId, psid)) if (e.direction === 'outbound' && e.at <= watermark) e.readAt ??= now;
    return this.emit([readEvent({ pageId, psid, at: now, watermark })]);
  }

  /** The Page publishes a post (so customers can comment on it). */
  createPost(pageId: string, input: { message?: string } = {}): SimPost {
    this.page(pageId);
    const post: SimPost = { id: `${pageId}_${this.#next()}`, pageId, message: input.message ?? 'A post by the Page', createdAt: this.clock.now() };
    this.state.posts.set(post.id, post);
    return post;
  }

  /** The customer comments on a Page post: a `feed` change (§2g). Comments do not open the messaging window. */
  customerComment(pageId: string, psid: string, input: { message: string; postId?: string; parentId?: string }): { commentId: string; postId: string; timestamp: number; delivery: Promise<WebhookDelivery[]> } {
    const customer = this.customer(pageId, psid);
    if (typeof input.message !== 'string' || input.message === '') throw new ControlError(400, 'a comment needs a message');
    const post = input.postId ? this.state.posts.get(input.postId) : this.createPost(pageId);
    if (!post || post.pageId !== pageId) throw new ControlError(404, `post ${input.postId} does not exist on page ${pageId}`);
    if (input.parentId !== undefined && !this.state.comments.has(input.parentId)) throw new ControlError(404, `comment ${input.parentId} does not exist`);
    const now = this.clock.now();
    const postNumber = post.id.split('_')[1] ?? post.id;
    const comment: SimComment = {
      id: `${postNumber}_${this.#next()}`,
      postId: post.id,
      pageId,
      fromId: customer.psid,
      fromName: `${customer.firstName} ${customer.lastName}`.trim(),
      message: input.message,
      ...(input.parentId === undefined ? {} : { parentId: input.parentId }),
      createdAt: now,
    };
    this.state.comments.set(comment.id, comment);
    this.thread(pageId, psid).push({ mid: `c_${comment.id}`, direction: 'inbound', at: now, kind: 'comment', text: comment.message });
    const delivery = this.emit([
      feedCommentEvent({
        pageId,
        at: now,
        commentId: comment.id,
        postId: post.id,
        ...(input.parentId === undefined ? {} : { parentId: input.parentId }),
        fromId: comment.fromId,
        fromName: comment.fromName,
        message: comment.message,
      }),
    ]);
    return { commentId: comment.id, postId: post.id, timestamp: now, delivery };
  }

  /** A person answers from Meta's own Page inbox: the app sees only the echo, with the inbox's app id. */
  pageInboxReply(pageId: string, psid: string, input: { text: string }): CustomerActionResult {
    const customer = this.customer(pageId, psid);
    if (typeof input.text !== 'string' || input.text === '') throw new ControlError(400, 'a reply needs text');
    const now = this.clock.now();
    const mid = this.newMid();
    const entry: ThreadEntry = { mid, direction: 'outbound', at: now, kind: 'message', text: input.text, appId: PAGE_INBOX_APP_ID };
    this.thread(pageId, psid).push(entry);
    return { mid, timestamp: now, delivery: this.#afterPageSent(pageId, customer, entry) };
  }

  // ------------------------------------------------------------------ webhooks

  /**
   * Posts events to the product's webhook. With `requireSubscription`, events for fields the Page has
   * not subscribed the app to are logged as skipped and not posted, as Meta would not send them.
   */
  emit(events: readonly PageEvent[]): Promise<WebhookDelivery[]> {
    const deliverable: PageEvent[] = [];
    const skipped: WebhookDelivery[] = [];
    for (const event of events) {
      const page = this.state.pages.get(event.pageId);
      const subscribed = page?.subscribedFields?.includes(event.field) ?? false;
      if (this.settings.requireSubscription && !subscribed) {
        skipped.push(this.dispatcher.recordSkipped([event], `page ${event.pageId} has not subscribed the app to ${event.field}`));
        this.#log(`webhook skipped: page ${event.pageId} not subscribed to ${event.field}`);
      } else {
        deliverable.push(event);
      }
    }
    if (deliverable.length === 0) return Promise.resolve(skipped);
    return this.dispatcher.enqueue(deliverable).then((d) => [...skipped, d]);
  }

  /**
   * What Meta does when the callback URL is configured (§1a): GET it with hub.mode=subscribe, a random
   * hub.challenge and the verify token, and expect the challenge back with 200.
   */
  async verifyWebhook(input: { verifyToken: string; url?: string }): Promise<{ verified: boolean; status?: number; body?: string; challenge: string; error?: string }> {
    const target = input.url ?? this.settings.webhookUrl;
    if (!target) throw new ControlError(400, 'no webhook URL: give url or set webhookUrl');
    const challenge = String(1_000_000_000 + (randomBytes(4).readUInt32BE(0) % 1_000_000_000));
    const url = new URL(target);
    url.searchParams.set('hub.mode', 'subscribe');
    url.searchParams.set('hub.challenge', challenge);
    url.searchParams.set('hub.verify_token', input.verifyToken);
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(20_000) });
      const body = await response.text();
      return { verified: response.status === 200 && body === challenge, status: response.status, body, challenge };
    } catch (error) {
      return { verified: false, challenge, error: error instanceof Error ? error.message : String(error) };
    }
  }

  // ------------------------------------------------------------------ faults

  addFault(spec: FaultSpec): ActiveFault {
    const fault = activateFault(spec, `fault_${this.#next()}`);
    this.faults.push(fault);
    return fault;
  }

  removeFault(id: string): boolean {
    const before = this.faults.length;
    this.faults = this.faults.filter((f) => f.id !== id);
    return this.faults.length !== before;
  }

  /** Decides the faults for a Graph request and drops the ones that are used up. */
  faultsFor(request: RequestFacts): FaultDecision {
    const decision = takeFaults(this.faults, request);
    this.faults = this.faults.filter((f) => f.remaining === null || f.remaining > 0);
    return decision;
  }

  /** The Page a Graph request is about: the `{page-id}` in its path, or the Page of its token. */
  pageOfRequest(firstSegment: string | undefined, rawToken: string | undefined): string | undefined {
    if (firstSegment && this.state.pages.has(firstSegment)) return firstSegment;
    const token = rawToken === undefined ? undefined : this.state.tokens.get(rawToken);
    return token?.pageId;
  }
}

const REACTION_EMOJI: Record<string, string> = {
  love: '\u2764\uFE0F',
  like: '\uD83D\uDC4D',
  dislike: '\uD83D\uDC4E',
  smile: '\uD83D\uDE06',
  wow: '\uD83D\uDE2E',
  sad: '\uD83D\uDE22',
  angry: '\uD83D\uDE20',
  other: '\uD83D\uDE00',
};

function validateFields(fields: string[]): WebhookField[] {
  for (const f of fields) {
    if (!(WEBHOOK_FIELDS as readonly string[]).includes(f)) throw new ControlError(400, `unknown webhook field ${f}; known: ${WEBHOOK_FIELDS.join(', ')}`);
  }
  return unique(fields as WebhookField[]);
}

function unique<T>(values: readonly T[]): T[] {
  return [...new Set(values)];
}

function str(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

function fieldList(param: unknown, defaults: string[]): string[] {
  if (typeof param !== 'string' || param.trim() === '') return defaults;
  return unique(param.split(',').map((f) => f.trim()).filter(Boolean));
}

function clampInt(value: unknown, fallback: number, min: number, max: number): number {
  const n = typeof value === 'string' ? Number.parseInt(value, 10) : typeof value === 'number' ? value : Number.NaN;
  if (!Number.isFinite(n)) return fallback;
  return Math.min(max, Math.max(min, Math.trunc(n)));
}

function redactCredentials(body: Record<string, unknown>): Record<string, unknown> {
  const { access_token: _token, appsecret_proof: _proof, ...rest } = body;
  return rest;
}

function publicError(error: GraphError): Record<string, unknown> {
  return { message: error.message, type: error.type, code: error.code, ...(error.subcode === undefined ? {} : { error_subcode: error.subcode }) };
}
