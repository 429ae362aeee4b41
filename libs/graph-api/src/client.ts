// A thin Graph API client: one function per call Parley makes, global fetch with a per-request
// timeout, and every request through one named opossum circuit breaker per client.
//
// Tokens and secrets: access tokens travel in the query string, as Meta documents, so URLs are
// never put into errors; errors name `METHOD /path` only, and Meta's own messages (which can echo
// a malformed token) are scrubbed of every secret used in the request. Redirects are refused so a
// token can never follow one to another host, and paging links are only followed on our origin.
//
// Bad answers: a non-JSON or unexpectedly shaped 2xx is a GraphApiError of kind 'invalid_response'
// (not retriable: the call may have taken effect); a non-2xx without Meta's error object is kind
// 'graph' with only the HTTP status, classified by status (5xx transient, 4xx permanent).
import { createHmac } from 'node:crypto';
import CircuitBreaker from 'opossum';
import type { BreakerState } from '@parley/observability';
import { GraphApiError, isBreakerFailure } from './graph-api-error.ts';
import { parseUsageHeaders } from './usage.ts';
import type { GraphUsage } from './usage.ts';


export interface GraphApiBreakerOptions {
  /** Name used in state-change reports and metrics. Default 'graph-api'. */
  name?: string;
  /** Opossum's own timeout, a backstop behind the per-request timeout. Default: timeoutMs + 1000. */
  timeout?: number;
  /** Percentage of failed calls in the rolling window that opens the breaker. Default 50. */
  errorThresholdPercentage?: number;
  /** How long the breaker stays open before letting one trial call through. Default 30000 ms. */
  resetTimeout?: number;
  /** Calls needed in the rolling window before the breaker may open. Default 10. */
  volumeThreshold?: number;
  /** Length of the rolling statistics window. Default 10000 ms. */
  rollingCountTimeout?: number;
}

export interface GraphApiClientOptions {
  appId: string;
  /** Enables appsecret_proof on every call; required for exchangeCode, exchangeForLongLivedUserToken and debugToken. */
  appSecret?: string;
  /** Default https://graph.facebook.com. */
  baseUrl?: string;
  /** Pinned Graph API version, e.g. 'v25.0'. */
  version: string;
  /** Per-request timeout (connect, headers and body). Default 10000 ms. */
  timeoutMs?: number;
  breaker?: GraphApiBreakerOptions;
  /** Called on every breaker transition, e.g. to log it and export a gauge. */
  onStateChange?: (name: string, state: BreakerState) => void;
  /** Called with the usage headers of every answer, e.g. to slow down before Meta throttles. */
  onUsage?: (usage: GraphUsage, operation: string) => void;
}

export type MessagingType = 'RESPONSE' | 'UPDATE' | 'MESSAGE_TAG' | 'UTILITY';
export type MessageTag = 'CONFIRMED_EVENT_UPDATE' | 'POST_PURCHASE_UPDATE' | 'ACCOUNT_UPDATE' | 'HUMAN_AGENT' | 'CUSTOMER_FEEDBACK';
export type AttachmentType = 'audio' | 'file' | 'image' | 'template' | 'video';

/** Send API body (meta-platform.md §3b), in Meta's own field names. */
export interface SendMessageRequest {
  recipient: { id: string } | { comment_id: string } | { post_id: string } | { user_ref: string };
  messaging_type: MessagingType;
  tag?: MessageTag;
  message: {
    text?: string;
    attachment?: {
      type: AttachmentType;
      payload: { url?: string; is_reusable?: boolean; attachment_id?: string; [key: string]: unknown };
    };
    quick_replies?: ReadonlyArray<Record<string, unknown>>;
    metadata?: string;
  };
  notification_type?: 'REGULAR' | 'SILENT_PUSH' | 'NO_PUSH';
  persona_id?: string;
  reply_to?: { mid: string };
}

export interface SendMessageResult {
  /** Omitted by Meta for user_ref and phone-number recipients. */
  recipientId: string | undefined;
  messageId: string;
}

export type SenderAction = 'typing_on' | 'typing_off' | 'mark_seen' | 'react' | 'unreact';

export interface UploadAttachmentRequest {
  type: 'audio' | 'file' | 'image' | 'video';
  /** Public URL Meta fetches the asset from. */
  url: string;
}

export interface UserProfile {
  id: string;
  name?: string;
  firstName?: string;
  lastName?: string;
  /** Expires: do not store it long-term. */
  profilePic?: string;
}

export interface SubscribedApp {
  id: string;
  name?: string;
  category?: string;
  link?: string;
  subscribedFields: string[];
}

export interface UserAccessToken {
  accessToken: string;
  tokenType: string | undefined;
  /** Seconds until expiry, when Meta says. */
  expiresIn: number | undefined;
}

export interface ManagedPage {
  id: string;
  name: string | undefined;
  /** Missing when the person lacks a task on the Page that grants a token. */
  accessToken: string | undefined;
  tasks: string[];
}

export interface TokenDebugInfo {
  isValid: boolean;
  appId: string | undefined;
  type: string | undefined;
  application: string | undefined;
  userId: string | undefined;
  profileId: string | undefined;
  /** Epoch seconds; 0 means it never expires. */
  expiresAt: number | undefined;
  dataAccessExpiresAt: number | undefined;
  issuedAt: number | undefined;
  scopes: string[];
  granularScopes: Array<{ scope: string; targetIds: string[] }>;
  error: { code: number | undefined; subcode: number | undefined; message: string | undefined } | undefined;
}

export interface GraphApiClient {
  /** Send API: POST /me/messages with a Page token. */
  sendMessage(pageToken: string, body: SendMessageRequest): Promise<SendMessageResult>;
  /** Typing indicator, mark-seen or reaction; `payload` is for react/unreact (`{ message_id, reaction? }`). */
  sendSenderAction(
    pageToken: string,
    psid: string,
    action: SenderAction,
    payload?: { message_id: string; reaction?: string },
  ): Promise<{ recipientId: string | undefined }>;
  /** Attachment Upload API from a URL; the id is reusable for 90 days. */
  uploadAttachment(pageToken: string, attachment: UploadAttachmentRequest): Promise<{ attachmentId: string }>;
  /** User Profile API for a customer (PSID). */
  getUserProfile(pageToken: string, psid: string, fields?: readonly string[]): Promise<UserProfile>;
  /** Subscribes the app to the Page's webhook fields. */
  subscribeApp(pageId: string, pageToken: string, fields: readonly string[]): Promise<void>;
  /** Apps subscribed to the Page, with their fields. */
  getSubscribedApps(pageId: string, pageToken: string): Promise<SubscribedApp[]>;
  /** Removes the app's subscription from the Page. */
  unsubscribeApp(pageId: string, pageToken: string): Promise<void>;
  /** OAuth: exchanges a login code for a (short-lived) user token. */
  exchangeCode(input: { code: string; redirectUri: string }): Promise<UserAccessToken>;
  /** OAuth: exchanges a short-lived user token for a ~60-day one. */
  exchangeForLongLivedUserToken(userToken: string): Promise<UserAccessToken>;
  /** Every Page the user manages (follows paging), with Page tokens and tasks. */
  listPages(userToken: string): Promise<ManagedPage[]>;
  /** Inspects a token with the app token `appId|appSecret`. */
  debugToken(inputToken: string): Promise<TokenDebugInfo>;
  readonly breakerName: string;
  breakerState(): BreakerState;
  /** Stops the breaker's timers; later calls fail with kind 'breaker_open'. */
  shutdown(): void;
}

type HttpMethod = 'GET' | 'POST' | 'DELETE';

interface RequestSpec {
  readonly method: HttpMethod;
  /** Absolute URL without credentials. */
  readonly url: URL;
  readonly accessToken: string | undefined;
  /** Other secrets in the query (client_secret, code, input_token…), for redaction. */
  readonly secrets: readonly string[];
  readonly body: string | undefined;
}

interface GraphResponse {
  readonly body: unknown;
}

const DEFAULT_BASE_URL = 'https://graph.facebook.com';
const DEFAULT_TIMEOUT_MS = 10_000;
const MAX_PAGES = 100;
const PAGE_FIELDS = 'name,access_token,tasks,id';
const DEFAULT_PROFILE_FIELDS = ['first_name', 'last_name', 'profile_pic'] as const;
const SECRET_QUERY_PARAMS = /\b(access_token|appsecret_proof|client_secret|code|fb_exchange_token|input_token)=[^&\s"']+/g;

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
const str = (value: unknown): string | undefined => (typeof value === 'string' ? value : undefined);
const num = (value: unknown): number | undefined => (typeof value === 'number' && Number.isFinite(value) ? value : undefined);
const strings = (value: unknown): string[] =>
  Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];

function requireNonEmpty(name: string, value: unknown): string {
  if (typeof value !== 'string' || value.length === 0) throw new TypeError(`${name} must be a non-empty string`);
  return value;
}

function parseRetryAfter(value: string | null): number | undefined {
  if (value === null) return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}

/** Creates a client with its own circuit breaker; create one per process and share it. */
export function createGraphApiClient(options: GraphApiClientOptions): GraphApiClient {
  const appId = requireNonEmpty('appId', options.appId);
  const appSecret = options.appSecret === undefined || options.appSecret === '' ? undefined : options.appSecret;
  if (!/^v\d+\.\d+$/.test(options.version ?? '')) throw new TypeError("version must look like 'v25.0'");
  const version = options.version;
  const base = new URL(options.baseUrl ?? DEFAULT_BASE_URL);
  if (base.protocol !== 'https:' && base.protocol !== 'http:') throw new TypeError('baseUrl must be an http(s) URL');
  const basePath = base.pathname.replace(/\/+$/, '');
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const breakerName = options.breaker?.name ?? 'graph-api';

  const redactor = (spec: RequestSpec) => {
    const secrets = [spec.accessToken, appSecret, spec.accessToken && proofFor(spec.accessToken), ...spec.secrets]
      .filter((s): s is string => typeof s === 'string' && s.length >= 4)
      .sort((a, b) => b.length - a.length);
    return (text: string): string => {
      let out = text.replace(SECRET_QUERY_PARAMS, '$1=[redacted]');
      for (const secret of secrets) out = out.split(secret).join('[redacted]');
      return out;
    };
  };

  function proofFor(accessToken: string): string | undefined {
    return appSecret === undefined ? undefined : createHmac('sha256', appSecret).update(accessToken).digest('hex');
  }

  function apiUrl(path: string, query: Record<string, string | undefined> = {}): URL {
    const url = new URL(`${basePath}/${version}${path}`, base);
    for (const [key, value] of Object.entries(query)) if (value !== undefined) url.searchParams.set(key, value);
    return url;
  }

  const operationOf = (spec: RequestSpec) => `${spec.method} ${spec.url.pathname}`;

  async function perform(spec: RequestSpec): Promise<GraphResponse> {
    const operation = operationOf(spec);
    const redact = redactor(spec);
    const url = new URL(spec.url);
    if (spec.accessToken !== undefined) {
      url.searchParams.set('access_token', spec.accessToken);
      const proof = proofFor(spec.accessToken);
      if (proof !== undefined) url.searchParams.set('appsecret_proof', proof);
    }

    let status: number;
    let headers: Headers;
    let text: string;
    try {
      const init: RequestInit = {
        method: spec.method,
        headers:
          spec.body === undefined
            ? { accept: 'application/json' }
            : { accept: 'application/json', 'content-type': 'application/json' },
        redirect: 'error',
        signal: AbortSignal.timeout(timeoutMs),
      };
      if (spec.body !== undefined) init.body = spec.body;
      const response = await fetch(url, init);
      status = response.status;
      headers = response.headers;
      text = await response.text();
    } catch (error) {
      const err = error as { name?: string; message?: string; cause?: { code?: string; message?: string } };
      if (err.name === 'TimeoutError' || err.name === 'AbortError') {
        throw new GraphApiError({ kind: 'timeout', operation, message: `Graph API ${operation} timed out after ${timeoutMs} ms` });
      }
      const detail = err.cause?.code ?? err.cause?.message ?? err.message ?? 'unknown error';
      throw new GraphApiError({ kind: 'network', operation, message: redact(`Graph API ${operation} failed: ${detail}`) });
    }

    const usage = parseUsageHeaders(headers);
    if (options.onUsage !== undefined && (usage.maxUsagePercent !== undefined || usage.regainAccessMinutes !== undefined)) {
      try {
        options.onUsage(usage, operation);
      } catch {
        // Metrics must never break a call.
      }
    }

    let body: unknown;
    let parsed = true;
    try {
      body = JSON.parse(text);
    } catch {
      parsed = false;
    }

    const metaError = parsed && isRecord(body) && isRecord(body['error']) ? body['error'] : undefined;
    if (metaError !== undefined || status < 200 || status > 299) {
      const code = num(metaError?.['code']);
      const retryAfter = parseRetryAfter(headers.get('retry-after'));
      const regainMinutes = usage.regainAccessMinutes ?? 0;
      const regainMs = regainMinutes > 0 ? regainMinutes * 60_000 : undefined;
      const rateLimited = code === 4 || code === 17 || code === 32 || code === 613 || status === 429;
      const metaMessage = str(metaError?.['message']);
      const userTitle = str(metaError?.['error_user_title']);
      const userMessage = str(metaError?.['error_user_msg']);
      throw new GraphApiError({
        kind: 'graph',
        operation,
        message: redact(metaMessage ?? `Graph API ${operation} answered HTTP ${status}`),
        httpStatus: status,
        code,
        subcode: num(metaError?.['error_subcode']),
        type: str(metaError?.['type']),
        fbtraceId: str(metaError?.['fbtrace_id']),
        isTransient: metaError?.['is_transient'] === true,
        retryAfterMs: retryAfter ?? (rateLimited ? regainMs : undefined),
        userTitle: userTitle === undefined ? undefined : redact(userTitle),
        userMessage: userMessage === undefined ? undefined : redact(userMessage),
      });
    }
    if (!parsed || !isRecord(body)) {
      throw new GraphApiError({
        kind: 'invalid_response',
        operation,
        httpStatus: status,
        message: `Graph API ${operation} answered HTTP ${status} with a body that is not a JSON object`,
      });
    }
    return { body };
  }

  const breaker = new CircuitBreaker<[RequestSpec], GraphResponse>(perform, {
    name: breakerName,
    timeout: options.breaker?.timeout ?? timeoutMs + 1000,
    errorThresholdPercentage: options.breaker?.errorThresholdPercentage ?? 50,
    resetTimeout: options.breaker?.resetTimeout ?? 30_000,
    volumeThreshold: options.breaker?.volumeThreshold ?? 10,
    rollingCountTimeout: options.breaker?.rollingCountTimeout ?? 10_000,
    // Permanent answers (bad token, closed window, blocked customer…) show Meta is healthy: they
    // must not open the breaker and stop every other Page's traffic.
    errorFilter: (error: unknown) => !isBreakerFailure(error),
  });

  const report = (state: BreakerState) => () => {
    try {
      options.onStateChange?.(breakerName, state);
    } catch {
      // A failing logger must not break the breaker (opossum emits synchronously inside a call).
    }
  };
  breaker.on('open', report('open'));
  breaker.on('halfOpen', report('half_open'));
  breaker.on('close', report('closed'));

  async function call(spec: RequestSpec): Promise<Record<string, unknown>> {
    const operation = operationOf(spec);
    try {
      const response = await breaker.fire(spec);
      return response.body as Record<string, unknown>;
    } catch (error) {
      if (error instanceof GraphApiError) throw error;
      const code = (error as { code?: unknown }).code;
      if (code === 'EOPENBREAKER' || code === 'ESHUTDOWN' || breaker.isShutdown) {
        throw new GraphApiError({
          kind: 'breaker_open',
          operation,
          message: `Graph API circuit breaker '${breakerName}' is open; ${operation} was not attempted`,
        });
      }
      if (code === 'ETIMEDOUT') {
        throw new GraphApiError({ kind: 'timeout', operation, message: `Graph API ${operation} timed out` });
      }
      const detail = (error as Error)?.message ?? String(error);
      throw new GraphApiError({ kind: 'network', operation, message: redactor(spec)(`Graph API ${operation} failed: ${detail}`) });
    }
  }

  const invalid = (spec: RequestSpec, what: string) =>
    new GraphApiError({
      kind: 'invalid_response',
      operation: operationOf(spec),
      httpStatus: 200,
      message: `Graph API ${operationOf(spec)} answered without ${what}`,
    });

  interface RequestExtras {
    query?: Record<string, string | undefined>;
    body?: unknown;
    secrets?: string[];
  }

  // Serialises the body here, outside the breaker, so a bad body is a caller bug and not a breaker failure.
  function request(method: HttpMethod, path: string, accessToken: string | undefined, extra: RequestExtras = {}): RequestSpec {
    return {
      method,
      url: apiUrl(path, extra.query),
      accessToken,
      secrets: extra.secrets ?? [],
      body: extra.body === undefined ? undefined : JSON.stringify(extra.body),
    };
  }

  async function expectSuccess(spec: RequestSpec): Promise<void> {
    const body = await call(spec);
    if (body['success'] !== true) throw invalid(spec, '"success": true');
  }

  /** Follows `paging.next` on our own origin only, with our own credentials, up to MAX_PAGES pages. */
  async function collectPages(first: RequestSpec): Promise<unknown[]> {
    const items: unknown[] = [];
    const seen = new Set<string>();
    let spec: RequestSpec | undefined = first;
    for (let page = 0; spec !== undefined; page++) {
      if (page >= MAX_PAGES) throw invalid(first, `an end to paging after ${MAX_PAGES} pages`);
      const body = await call(spec);
      if (!Array.isArray(body['data'])) throw invalid(spec, 'a data array');
      items.push(...body['data']);
      const next = isRecord(body['paging']) ? str(body['paging']['next']) : undefined;
      if (next === undefined) break;
      let nextUrl: URL;
      try {
        nextUrl = new URL(next);
      } catch {
        throw invalid(spec, 'a valid paging.next URL');
      }
      if (nextUrl.origin !== base.origin) throw invalid(spec, 'a paging.next URL on the Graph API origin');
      nextUrl.searchParams.delete('access_token');
      nextUrl.searchParams.delete('appsecret_proof');
      if (seen.has(nextUrl.href)) throw invalid(spec, 'progress in paging (paging.next repeats)');
      seen.add(nextUrl.href);
      spec = { method: 'GET', url: nextUrl, accessToken: spec.accessToken, secrets: spec.secrets, body: undefined };
    }
    return items;
  }

  function requireAppSecret(method: string): string {
    if (appSecret === undefined) throw new TypeError(`${method} needs the app secret (appSecret option)`);
    return appSecret;
  }

  function toUserAccessToken(spec: RequestSpec, body: Record<string, unknown>): UserAccessToken {
    const accessToken = str(body['access_token']);
    if (accessToken === undefined) throw invalid(spec, 'an access_token');
    return { accessToken, tokenType: str(body['token_type']), expiresIn: num(body['expires_in']) };
  }

  const seg = (name: string, value: string) => encodeURIComponent(requireNonEmpty(name, value));

  return {
    breakerName,
    breakerState: () => (breaker.opened ? 'open' : breaker.halfOpen ? 'half_open' : 'closed'),
    shutdown: () => breaker.shutdown(),

    async sendMessage(pageToken, body) {
      const spec = request('POST', '/me/messages', requireNonEmpty('pageToken', pageToken), { body });
      const answer = await call(spec);
      const messageId = str(answer['message_id']);
      if (messageId === undefined) throw invalid(spec, 'a message_id');
      return { recipientId: str(answer['recipient_id']), messageId };
    },

    async sendSenderAction(pageToken, psid, action, payload) {
      const body: Record<string, unknown> = { recipient: { id: requireNonEmpty('psid', psid) }, sender_action: action };
      if (payload !== undefined) body['payload'] = payload;
      const answer = await call(request('POST', '/me/messages', requireNonEmpty('pageToken', pageToken), { body }));
      return { recipientId: str(answer['recipient_id']) };
    },

    async uploadAttachment(pageToken, attachment) {
      // TODO: local files need a multipart upload with `filedata`; Parley only re-sends assets by URL for now.
      const payload = { url: requireNonEmpty('url', attachment.url), is_reusable: true };
      const body = { message: { attachment: { type: attachment.type, payload } } };
      const spec = request('POST', '/me/message_attachments', requireNonEmpty('pageToken', pageToken), { body });
      const answer = await call(spec);
      const attachmentId = str(answer['attachment_id']);
      if (attachmentId === undefined) throw invalid(spec, 'an attachment_id');
      return { attachmentId };
    },

    async getUserProfile(pageToken, psid, fields = DEFAULT_PROFILE_FIELDS) {
      const spec = request('GET', `/${seg('psid', psid)}`, requireNonEmpty('pageToken', pageToken), {
        query: { fields: fields.join(',') },
      });
      const answer = await call(spec);
      // Meta used to answer {} when profile access is not allowed: that is "no profile", not an error.
      const profile: UserProfile = { id: str(answer['id']) ?? psid };
      const name = str(answer['name']);
      const firstName = str(answer['first_name']);
      const lastName = str(answer['last_name']);
      const profilePic = str(answer['profile_pic']);
      if (name !== undefined) profile.name = name;
      if (firstName !== undefined) profile.firstName = firstName;
      if (lastName !== undefined) profile.lastName = lastName;
      if (profilePic !== undefined) profile.profilePic = profilePic;
      return profile;
    },

    async subscribeApp(pageId, pageToken, fields) {
      if (fields.length === 0) throw new TypeError('subscribeApp needs at least one webhook field');
      await expectSuccess(
        request('POST', `/${seg('pageId', pageId)}/subscribed_apps`, requireNonEmpty('pageToken', pageToken), {
          query: { subscribed_fields: fields.join(',') },
        }),
      );
    },

    async getSubscribedApps(pageId, pageToken) {
      const spec = request('GET', `/${seg('pageId', pageId)}/subscribed_apps`, requireNonEmpty('pageToken', pageToken));
      const items = await collectPages(spec);
      return items.filter(isRecord).map((app) => {
        const id = str(app['id']);
        if (id === undefined) throw invalid(spec, 'an id for every subscribed app');
        const result: SubscribedApp = { id, subscribedFields: strings(app['subscribed_fields']) };
        for (const key of ['name', 'category', 'link'] as const) {
          const value = str(app[key]);
          if (value !== undefined) result[key] = value;
        }
        return result;
      });
    },

    async unsubscribeApp(pageId, pageToken) {
      await expectSuccess(request('DELETE', `/${seg('pageId', pageId)}/subscribed_apps`, requireNonEmpty('pageToken', pageToken)));
    },

    async exchangeCode({ code, redirectUri }) {
      const secret = requireAppSecret('exchangeCode');
      const spec = request('GET', '/oauth/access_token', undefined, {
        query: {
          client_id: appId,
          redirect_uri: requireNonEmpty('redirectUri', redirectUri),
          client_secret: secret,
          code: requireNonEmpty('code', code),
        },
        secrets: [code],
      });
      return toUserAccessToken(spec, await call(spec));
    },

    async exchangeForLongLivedUserToken(userToken) {
      const secret = requireAppSecret('exchangeForLongLivedUserToken');
      const spec = request('GET', '/oauth/access_token', undefined, {
        query: {
          grant_type: 'fb_exchange_token',
          client_id: appId,
          client_secret: secret,
          fb_exchange_token: requireNonEmpty('userToken', userToken),
        },
        secrets: [userToken],
      });
      return toUserAccessToken(spec, await call(spec));
    },

    async listPages(userToken) {
      const spec = request('GET', '/me/accounts', requireNonEmpty('userToken', userToken), {
        query: { fields: PAGE_FIELDS, limit: '100' },
      });
      const items = await collectPages(spec);
      return items.filter(isRecord).map((page) => {
        const id = str(page['id']);
        if (id === undefined) throw invalid(spec, 'an id for every page');
        return { id, name: str(page['name']), accessToken: str(page['access_token']), tasks: strings(page['tasks']) };
      });
    },

    async debugToken(inputToken) {
      const secret = requireAppSecret('debugToken');
      const spec = request('GET', '/debug_token', `${appId}|${secret}`, {
        query: { input_token: requireNonEmpty('inputToken', inputToken) },
        secrets: [inputToken],
      });
      const answer = await call(spec);
      const data = answer['data'];
      if (!isRecord(data)) throw invalid(spec, 'a data object');
      const error = isRecord(data['error'])
        ? { code: num(data['error']['code']), subcode: num(data['error']['subcode']), message: str(data['error']['message']) }
        : undefined;
      return {
        isValid: data['is_valid'] === true,
        appId: str(data['app_id']) ?? (num(data['app_id']) === undefined ? undefined : String(data['app_id'])),
        type: str(data['type']),
        application: str(data['application']),
        userId: str(data['user_id']),
        profileId: str(data['profile_id']),
        expiresAt: num(data['expires_at']),
        dataAccessExpiresAt: num(data['data_access_expires_at']),
        issuedAt: num(data['issued_at']),
        scopes: strings(data['scopes']),
        granularScopes: (Array.isArray(data['granular_scopes']) ? data['granular_scopes'] : []).filter(isRecord).flatMap((g) => {
          const scope = str(g['scope']);
          return scope === undefined ? [] : [{ scope, targetIds: strings(g['target_ids']) }];
        }),
        error:
          error === undefined
            ? undefined
            : { ...error, message: error.message === undefined ? undefined : redactor(spec)(error.message) },
      };
    },
  };
}
