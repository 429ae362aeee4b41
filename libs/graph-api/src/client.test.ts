// The client against a small local HTTP server answering in Meta's shapes (meta-platform.md §3, §4a,
// §6). Not the Meta simulator: these tests pin the client's own behaviour (URLs, proofs, error
// parsing, the breaker) with answers chosen per test.
import { createHmac } from 'node:crypto';
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { GraphApiError, createGraphApiClient } from './index.ts';
import type { BreakerState, GraphApiClient, GraphApiClientOptions } from './index.ts';

interface SeenRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: IncomingMessage['headers'];
  body: unknown;
}

type Answer = { status: number; body: unknown; headers?: Record<string, string> } | 'hang';
type Handler = (request: SeenRequest) => Answer;

const APP_ID = '1234567890';
const APP_SECRET = 'app-secret-0123456789';
const PAGE_TOKEN = 'EAAPageToken0123456789abcdef';
const USER_TOKEN = 'EAAUserToken0123456789abcdef';
const proof = (token: string) => createHmac('sha256', APP_SECRET).update(token).digest('hex');

const metaError = (status: number, error: Record<string, unknown>, headers?: Record<string, string>): Answer => ({
  status,
  body: { error: { fbtrace_id: 'AbCdEf123', ...error } },
  ...(headers === undefined ? {} : { headers }),
});
const INVALID_TOKEN = metaError(401, { message: 'Invalid OAuth access token.', type: 'OAuthException', code: 190, error_subcode: 463 });
const WINDOW_CLOSED = metaError(400, {
  message: '(#10) This message is sent outside of allowed window.',
  type: 'OAuthException',
  code: 10,
  error_subcode: 2018278,
});
const SERVER_ERROR = metaError(500, { message: 'An unexpected error has occurred. Please retry your request later.', type: 'OAuthException', code: 2, is_transient: true });
const SENT: Answer = { status: 200, body: { recipient_id: 'psid-1', message_id: 'm_abc' } };

let server: Server;
let baseUrl: string;
let handler: Handler;
let seen: SeenRequest[];
const hanging: ServerResponse[] = [];
const clients: GraphApiClient[] = [];

beforeAll(async () => {
  server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://localhost');
      const raw = Buffer.concat(chunks).toString('utf8');
      const request: SeenRequest = {
        method: req.method ?? '',
        path: url.pathname,
        query: url.searchParams,
        headers: req.headers,
        body: raw === '' ? undefined : JSON.parse(raw),
      };
      seen.push(request);
      const answer = handler(request);
      if (answer === 'hang') {
        hanging.push(res); // never answers; destroyed in afterEach
        return;
      }
      res.writeHead(answer.status, { 'content-type': 'application/json', ...answer.headers });
      res.end(typeof answer.body === 'string' ? answer.body : JSON.stringify(answer.body));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

beforeEach(() => {
  seen = [];
  handler = () => ({ status: 404, body: { error: { message: 'Unknown path', code: 803 } } });
});

afterEach(() => {
  // Only the connections left hanging: closing idle keep-alive sockets too would race the next test's requests.
  for (const res of hanging.splice(0)) res.destroy();
  for (const client of clients.splice(0)) client.shutdown();
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

function client(overrides: Partial<GraphApiClientOptions> = {}): GraphApiClient {
  const created = createGraphApiClient({ appId: APP_ID, appSecret: APP_SECRET, baseUrl, version: 'v25.0', ...overrides });
  clients.push(created);
  return created;
}

async function failure(promise: Promise<unknown>): Promise<GraphApiError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof GraphApiError) return error;
    throw error;
  }
  throw new Error('expected a GraphApiError');
}

async function waitFor(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

function serialised(error: GraphApiError): string {
  return `${error.message} ${error.stack ?? ''} ${JSON.stringify(error)} ${String(error)}`;
}

describe('sending', () => {
  it('posts the Send API body with the Page token and its appsecret_proof', async () => {
    handler = () => SENT;
    const body = { recipient: { id: 'psid-1' }, messaging_type: 'RESPONSE' as const, message: { text: 'Hello!' } };
    await expect(client().sendMessage(PAGE_TOKEN, body)).resolves.toEqual({ recipientId: 'psid-1', messageId: 'm_abc' });
    expect(seen).toHaveLength(1);
    const [request] = seen as [SeenRequest];
    expect(request.method).toBe('POST');
    expect(request.path).toBe('/v25.0/me/messages');
    expect(request.query.get('access_token')).toBe(PAGE_TOKEN);
    expect(request.query.get('appsecret_proof')).toBe(proof(PAGE_TOKEN));
    expect(request.headers['content-type']).toBe('application/json');
    expect(request.body).toEqual(body);
  });

  it('omits appsecret_proof when no app secret is configured', async () => {
    handler = () => SENT;
    await client({ appSecret: undefined }).sendMessage(PAGE_TOKEN, { recipient: { user_ref: 'u' }, messaging_type: 'RESPONSE', message: { text: 'x' } });
    expect(seen[0]?.query.has('appsecret_proof')).toBe(false);
  });

  it('accepts a send without recipient_id (user_ref recipients) but not one without message_id', async () => {
    handler = () => ({ status: 200, body: { message_id: 'm_1' } });
    const body = { recipient: { user_ref: 'ref' }, messaging_type: 'RESPONSE' as const, message: { text: 'x' } };
    await expect(client().sendMessage(PAGE_TOKEN, body)).resolves.toEqual({ recipientId: undefined, messageId: 'm_1' });
    handler = () => ({ status: 200, body: { recipient_id: 'psid-1' } });
    const error = await failure(client().sendMessage(PAGE_TOKEN, body));
    expect({ kind: error.kind, retriable: error.retriable }).toEqual({ kind: 'invalid_response', retriable: false });
  });

  it('sends sender actions with only recipient, sender_action and the reaction payload', async () => {
    handler = () => ({ status: 200, body: { recipient_id: 'psid-1' } });
    await expect(client().sendSenderAction(PAGE_TOKEN, 'psid-1', 'typing_on')).resolves.toEqual({ recipientId: 'psid-1' });
    await client().sendSenderAction(PAGE_TOKEN, 'psid-1', 'react', { message_id: 'm_1', reaction: '😊' });
    expect(seen.map((r) => r.body)).toEqual([
      { recipient: { id: 'psid-1' }, sender_action: 'typing_on' },
      { recipient: { id: 'psid-1' }, sender_action: 'react', payload: { message_id: 'm_1', reaction: '😊' } },
    ]);
  });

  it('uploads an attachment by URL as reusable', async () => {
    handler = () => ({ status: 200, body: { attachment_id: '1857777774821032' } });
    await expect(client().uploadAttachment(PAGE_TOKEN, { type: 'image', url: 'https://example.com/a.jpg' })).resolves.toEqual({
      attachmentId: '1857777774821032',
    });
    expect(seen[0]?.path).toBe('/v25.0/me/message_attachments');
    expect(seen[0]?.body).toEqual({ message: { attachment: { type: 'image', payload: { url: 'https://example.com/a.jpg', is_reusable: true } } } });
  });
});

describe("Meta's errors", () => {
  it('parses an invalid token (190) into a permanent auth_invalid error', async () => {
    handler = () => INVALID_TOKEN;
    const error = await failure(client().sendMessage(PAGE_TOKEN, { recipient: { id: 'p' }, messaging_type: 'RESPONSE', message: { text: 'x' } }));
    expect(error).toMatchObject({
      name: 'GraphApiError',
      kind: 'graph',
      operation: 'POST /v25.0/me/messages',
      httpStatus: 401,
      code: 190,
      subcode: 463,
      type: 'OAuthException',
      message: 'Invalid OAuth access token.',
      fbtraceId: 'AbCdEf123',
      isTransient: false,
      category: 'auth_invalid',
      retriable: false,
    });
    expect(error.reason).toContain('reconnect');
  });

  it('parses a closed reply window (10/2018278)', async () => {
    handler = () => WINDOW_CLOSED;
    const error = await failure(client().sendMessage(PAGE_TOKEN, { recipient: { id: 'p' }, messaging_type: 'RESPONSE', message: { text: 'x' } }));
    expect({ code: error.code, subcode: error.subcode, category: error.category, retriable: error.retriable }).toEqual({
      code: 10,
      subcode: 2018278,
      category: 'window_closed',
      retriable: false,
    });
    expect(error.reason).toContain('24-hour reply window');
  });

  it('fails on a 500 and succeeds on the next call (retrying is the caller’s choice)', async () => {
    let calls = 0;
    handler = () => (++calls === 1 ? SERVER_ERROR : SENT);
    const graph = client();
    const body = { recipient: { id: 'psid-1' }, messaging_type: 'RESPONSE' as const, message: { text: 'x' } };
    const error = await failure(graph.sendMessage(PAGE_TOKEN, body));
    expect({ httpStatus: error.httpStatus, code: error.code, isTransient: error.isTransient, category: error.category, retriable: error.retriable }).toEqual({
      httpStatus: 500,
      code: 2,
      isTransient: true,
      category: 'transient',
      retriable: true,
    });
    await expect(graph.sendMessage(PAGE_TOKEN, body)).resolves.toEqual({ recipientId: 'psid-1', messageId: 'm_abc' });
    expect(seen).toHaveLength(2);
  });

  it('classifies a non-JSON 502 from a proxy by its status', async () => {
    handler = () => ({ status: 502, body: '<html>Bad Gateway</html>', headers: { 'content-type': 'text/html' } });
    const error = await failure(client().listPages(USER_TOKEN));
    expect({ kind: error.kind, httpStatus: error.httpStatus, code: error.code, category: error.category, retriable: error.retriable }).toEqual({
      kind: 'graph',
      httpStatus: 502,
      code: undefined,
      category: 'transient',
      retriable: true,
    });
  });

  it('rejects a 200 whose body is not JSON as invalid_response', async () => {
    handler = () => ({ status: 200, body: 'OK', headers: { 'content-type': 'text/plain' } });
    const error = await failure(client().getUserProfile(PAGE_TOKEN, 'psid-1'));
    expect({ kind: error.kind, retriable: error.retriable }).toEqual({ kind: 'invalid_response', retriable: false });
  });

  it('takes the retry delay from Retry-After, or from the usage headers for rate limits', async () => {
    handler = () => metaError(400, { message: '(#613) Calls to this api have exceeded the rate limit.', code: 613 }, { 'retry-after': '7' });
    const byHeader = await failure(client().getUserProfile(PAGE_TOKEN, 'psid-1'));
    expect({ category: byHeader.category, retryAfterMs: byHeader.retryAfterMs }).toEqual({ category: 'rate_limited', retryAfterMs: 7000 });

    handler = () =>
      metaError(400, { message: '(#32) Page request limit reached', code: 32 }, {
        'x-business-use-case-usage': JSON.stringify({ '111': [{ type: 'pages', call_count: 100, total_time: 10, total_cputime: 10, estimated_time_to_regain_access: 4 }] }),
      });
    const byUsage = await failure(client().getUserProfile(PAGE_TOKEN, 'psid-1'));
    expect({ category: byUsage.category, retryAfterMs: byUsage.retryAfterMs }).toEqual({ category: 'rate_limited', retryAfterMs: 240_000 });
  });

  it('reports usage headers of every answer to onUsage', async () => {
    handler = () => ({ status: 200, body: { id: 'psid-1' }, headers: { 'x-app-usage': '{"call_count":85,"total_time":3,"total_cputime":2}' } });
    const reports: unknown[] = [];
    await client({ onUsage: (usage, operation) => reports.push({ usage, operation }) }).getUserProfile(PAGE_TOKEN, 'psid-1');
    expect(reports).toEqual([{ usage: { maxUsagePercent: 85 }, operation: 'GET /v25.0/psid-1' }]);
  });
});

describe('secrets never reach an error', () => {
  it('scrubs a token Meta echoes back in its message', async () => {
    handler = () => metaError(400, { message: `Malformed access token ${PAGE_TOKEN}`, code: 190, type: 'OAuthException', error_user_msg: `token ${PAGE_TOKEN}` });
    const error = await failure(client().getUserProfile(PAGE_TOKEN, 'psid-1'));
    expect(error.message).toBe('Malformed access token [redacted]');
    for (const secret of [PAGE_TOKEN, APP_SECRET, proof(PAGE_TOKEN)]) expect(serialised(error)).not.toContain(secret);
  });

  it('scrubs URLs with credentials that appear in messages', async () => {
    handler = () => metaError(400, { message: `See ${baseUrl}/v25.0/oauth/access_token?client_secret=abc123&code=xyz789`, code: 100 });
    const error = await failure(client().exchangeCode({ code: 'the-login-code', redirectUri: 'https://parley.example/cb' }));
    expect(error.message).toBe(`See ${baseUrl}/v25.0/oauth/access_token?client_secret=[redacted]&code=[redacted]`);
  });

  it('keeps the token, app secret and login code out of OAuth errors', async () => {
    handler = () => metaError(400, { message: `Invalid verification code format. code=the-login-code secret ${APP_SECRET}`, code: 100, type: 'OAuthException' });
    const error = await failure(client().exchangeCode({ code: 'the-login-code', redirectUri: 'https://parley.example/cb' }));
    for (const secret of ['the-login-code', APP_SECRET]) expect(serialised(error)).not.toContain(secret);
    expect(error.operation).toBe('GET /v25.0/oauth/access_token');
  });

  it('keeps the token out of network errors', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const error = await failure(client({ baseUrl: `http://127.0.0.1:${port}` }).listPages(USER_TOKEN));
    expect({ kind: error.kind, category: error.category, retriable: error.retriable }).toEqual({ kind: 'network', category: 'transient', retriable: true });
    expect(serialised(error)).not.toContain(USER_TOKEN);
  });
});

describe('timeouts', () => {
  it('turns a request Meta never answers into a retriable timeout error', async () => {
    handler = () => 'hang';
    const error = await failure(client({ timeoutMs: 200 }).sendMessage(PAGE_TOKEN, { recipient: { id: 'p' }, messaging_type: 'RESPONSE', message: { text: 'x' } }));
    expect({ kind: error.kind, isTransient: error.isTransient, category: error.category, retriable: error.retriable }).toEqual({
      kind: 'timeout',
      isTransient: true,
      category: 'transient',
      retriable: true,
    });
    expect(serialised(error)).not.toContain(PAGE_TOKEN);
  });
});

describe('circuit breaker', () => {
  const breakerClient = (states: Array<[string, BreakerState]>, overrides: Partial<GraphApiClientOptions> = {}) =>
    client({
      breaker: { name: 'graph-test', volumeThreshold: 3, errorThresholdPercentage: 50, resetTimeout: 60_000 },
      onStateChange: (name, state) => states.push([name, state]),
      ...overrides,
    });

  it('opens after transient failures and then fails fast without calling Meta', async () => {
    handler = () => SERVER_ERROR;
    const states: Array<[string, BreakerState]> = [];
    const graph = breakerClient(states);
    for (let i = 0; i < 3; i++) expect((await failure(graph.listPages(USER_TOKEN))).kind).toBe('graph');
    expect(states).toEqual([['graph-test', 'open']]);
    expect(graph.breakerState()).toBe('open');

    handler = () => ({ status: 200, body: { data: [] } });
    const rejected = await failure(graph.listPages(USER_TOKEN));
    expect({ kind: rejected.kind, retriable: rejected.retriable, category: rejected.category }).toEqual({
      kind: 'breaker_open',
      retriable: true,
      category: 'transient',
    });
    expect(seen).toHaveLength(3);
  });

  it('counts timeouts as failures', async () => {
    handler = () => 'hang';
    const states: Array<[string, BreakerState]> = [];
    const graph = breakerClient(states, { timeoutMs: 100 });
    for (let i = 0; i < 3; i++) expect((await failure(graph.getUserProfile(PAGE_TOKEN, 'p'))).kind).toBe('timeout');
    expect(states).toEqual([['graph-test', 'open']]);
  });

  it('does not open on permanent errors (190, 10/2018278, 551, 100)', async () => {
    const answers = [
      INVALID_TOKEN,
      WINDOW_CLOSED,
      metaError(400, { message: "(#551) This person isn't available right now.", code: 551 }),
      metaError(400, { message: '(#100) Invalid parameter', code: 100 }),
    ];
    let i = 0;
    handler = () => answers[i++ % answers.length] as Answer;
    const states: Array<[string, BreakerState]> = [];
    const graph = breakerClient(states);
    const body = { recipient: { id: 'p' }, messaging_type: 'RESPONSE' as const, message: { text: 'x' } };
    for (let n = 0; n < 12; n++) expect((await failure(graph.sendMessage(PAGE_TOKEN, body))).kind).toBe('graph');
    expect(states).toEqual([]);
    expect(graph.breakerState()).toBe('closed');
    expect(seen).toHaveLength(12);
  });

  it('does not open on a Page-level rate limit but does on the app-wide one', async () => {
    handler = () => metaError(400, { message: '(#32) Page request limit reached', code: 32 });
    const pageStates: Array<[string, BreakerState]> = [];
    const perPage = breakerClient(pageStates);
    for (let n = 0; n < 5; n++) await failure(perPage.getUserProfile(PAGE_TOKEN, 'p'));
    expect(pageStates).toEqual([]);

    handler = () => metaError(400, { message: '(#4) Application request limit reached', code: 4 });
    const appStates: Array<[string, BreakerState]> = [];
    const appWide = breakerClient(appStates);
    for (let n = 0; n < 3; n++) await failure(appWide.getUserProfile(PAGE_TOKEN, 'p'));
    expect(appStates).toEqual([['graph-test', 'open']]);
  });

  it('half-opens after the reset timeout and closes on a successful trial call', async () => {
    handler = () => SERVER_ERROR;
    const states: Array<[string, BreakerState]> = [];
    const graph = client({
      breaker: { name: 'graph-test', volumeThreshold: 2, errorThresholdPercentage: 50, resetTimeout: 50 },
      onStateChange: (name, state) => states.push([name, state]),
    });
    for (let i = 0; i < 2; i++) await failure(graph.listPages(USER_TOKEN));
    await waitFor(() => graph.breakerState() === 'half_open', 'the breaker to half-open');
    handler = () => ({ status: 200, body: { data: [] } });
    await expect(graph.listPages(USER_TOKEN)).resolves.toEqual([]);
    expect(states.map(([, state]) => state)).toEqual(['open', 'half_open', 'closed']);
    expect(graph.breakerState()).toBe('closed');
  });

  it('survives an onStateChange callback that throws', async () => {
    handler = () => SERVER_ERROR;
    const graph = breakerClient([], {
      onStateChange: () => {
        throw new Error('logger down');
      },
    });
    for (let i = 0; i < 3; i++) expect((await failure(graph.listPages(USER_TOKEN))).kind).toBe('graph');
    expect(graph.breakerState()).toBe('open');
  });

  it('fails fast after shutdown', async () => {
    handler = () => ({ status: 200, body: { data: [] } });
    const graph = client();
    graph.shutdown();
    expect((await failure(graph.listPages(USER_TOKEN))).kind).toBe('breaker_open');
    expect(seen).toHaveLength(0);
  });
});

describe('pages, subscriptions and tokens', () => {
  it('lists every Page across paging, re-signing each page request', async () => {
    handler = (request) => {
      if (request.query.get('after') === null) {
        return {
          status: 200,
          body: {
            data: [{ id: 'page-1', name: 'Bakery', access_token: 'EAAPage1', tasks: ['MESSAGING', 'MODERATE'] }],
            paging: { cursors: { after: 'c1' }, next: `${baseUrl}/v25.0/me/accounts?fields=name&access_token=${USER_TOKEN}&limit=100&after=c1` },
          },
        };
      }
      return { status: 200, body: { data: [{ id: 'page-2', name: 'Florist', tasks: [] }], paging: { cursors: { before: 'c1' } } } };
    };
    await expect(client().listPages(USER_TOKEN)).resolves.toEqual([
      { id: 'page-1', name: 'Bakery', accessToken: 'EAAPage1', tasks: ['MESSAGING', 'MODERATE'] },
      { id: 'page-2', name: 'Florist', accessToken: undefined, tasks: [] },
    ]);
    expect(seen).toHaveLength(2);
    expect(seen[0]?.path).toBe('/v25.0/me/accounts');
    expect(seen[0]?.query.get('fields')).toBe('name,access_token,tasks,id');
    for (const request of seen) {
      expect(request.query.getAll('access_token')).toEqual([USER_TOKEN]);
      expect(request.query.get('appsecret_proof')).toBe(proof(USER_TOKEN));
    }
  });

  it('refuses to follow a paging link to another host (it would carry the token there)', async () => {
    handler = () => ({ status: 200, body: { data: [], paging: { next: 'https://attacker.example/v25.0/me/accounts?after=x' } } });
    const error = await failure(client().listPages(USER_TOKEN));
    expect(error.kind).toBe('invalid_response');
    expect(seen).toHaveLength(1);
  });

  it('stops a paging loop that never advances', async () => {
    handler = () => ({ status: 200, body: { data: [{ id: 'p' }], paging: { next: `${baseUrl}/v25.0/me/accounts?after=same` } } });
    const error = await failure(client().listPages(USER_TOKEN));
    expect(error.kind).toBe('invalid_response');
    expect(seen).toHaveLength(2);
  });

  it('subscribes, lists and unsubscribes the app on a Page', async () => {
    handler = (request) =>
      request.method === 'GET'
        ? { status: 200, body: { data: [{ id: APP_ID, name: 'Parley', category: 'Business', link: 'https://x', subscribed_fields: ['messages', 'feed'] }] } }
        : { status: 200, body: { success: true } };
    const graph = client();
    await graph.subscribeApp('page-1', PAGE_TOKEN, ['messages', 'message_echoes']);
    await expect(graph.getSubscribedApps('page-1', PAGE_TOKEN)).resolves.toEqual([
      { id: APP_ID, name: 'Parley', category: 'Business', link: 'https://x', subscribedFields: ['messages', 'feed'] },
    ]);
    await graph.unsubscribeApp('page-1', PAGE_TOKEN);
    expect(seen.map((r) => `${r.method} ${r.path}`)).toEqual([
      'POST /v25.0/page-1/subscribed_apps',
      'GET /v25.0/page-1/subscribed_apps',
      'DELETE /v25.0/page-1/subscribed_apps',
    ]);
    expect(seen[0]?.query.get('subscribed_fields')).toBe('messages,message_echoes');
  });

  it('treats a subscription answer without success: true as invalid', async () => {
    handler = () => ({ status: 200, body: { success: false } });
    expect((await failure(client().subscribeApp('page-1', PAGE_TOKEN, ['messages']))).kind).toBe('invalid_response');
  });

  it('exchanges a login code and then a long-lived token with the app credentials', async () => {
    handler = (request) => ({
      status: 200,
      body: { access_token: request.query.has('code') ? 'EAAShort' : 'EAALong', token_type: 'bearer', expires_in: 5183944 },
    });
    const graph = client();
    await expect(graph.exchangeCode({ code: 'login-code', redirectUri: 'https://parley.example/cb' })).resolves.toEqual({
      accessToken: 'EAAShort',
      tokenType: 'bearer',
      expiresIn: 5183944,
    });
    await expect(graph.exchangeForLongLivedUserToken('EAAShort')).resolves.toEqual({ accessToken: 'EAALong', tokenType: 'bearer', expiresIn: 5183944 });
    const [first, second] = seen as [SeenRequest, SeenRequest];
    expect(first.path).toBe('/v25.0/oauth/access_token');
    expect(Object.fromEntries(first.query)).toEqual({
      client_id: APP_ID,
      redirect_uri: 'https://parley.example/cb',
      client_secret: APP_SECRET,
      code: 'login-code',
    });
    expect(Object.fromEntries(second.query)).toEqual({
      grant_type: 'fb_exchange_token',
      client_id: APP_ID,
      client_secret: APP_SECRET,
      fb_exchange_token: 'EAAShort',
    });
  });

  it('refuses OAuth calls without an app secret before calling Meta', async () => {
    const graph = client({ appSecret: undefined });
    await expect(graph.exchangeCode({ code: 'c', redirectUri: 'https://x' })).rejects.toThrow(TypeError);
    await expect(graph.debugToken('EAAx')).rejects.toThrow(TypeError);
    expect(seen).toHaveLength(0);
  });

  it('debugs a token with the app token and reads granular scopes', async () => {
    handler = () => ({
      status: 200,
      body: {
        data: {
          app_id: APP_ID,
          type: 'USER',
          application: 'Parley',
          data_access_expires_at: 1790000000,
          expires_at: 0,
          is_valid: true,
          issued_at: 1780000000,
          scopes: ['pages_show_list', 'pages_messaging'],
          granular_scopes: [{ scope: 'pages_messaging', target_ids: ['page-1'] }, { scope: 'pages_show_list' }],
          user_id: '42',
        },
      },
    });
    await expect(client().debugToken(USER_TOKEN)).resolves.toEqual({
      isValid: true,
      appId: APP_ID,
      type: 'USER',
      application: 'Parley',
      userId: '42',
      profileId: undefined,
      expiresAt: 0,
      dataAccessExpiresAt: 1790000000,
      issuedAt: 1780000000,
      scopes: ['pages_show_list', 'pages_messaging'],
      granularScopes: [
        { scope: 'pages_messaging', targetIds: ['page-1'] },
        { scope: 'pages_show_list', targetIds: [] },
      ],
      error: undefined,
    });
    const appToken = `${APP_ID}|${APP_SECRET}`;
    expect(seen[0]?.path).toBe('/v25.0/debug_token');
    expect(seen[0]?.query.get('input_token')).toBe(USER_TOKEN);
    expect(seen[0]?.query.get('access_token')).toBe(appToken);
    expect(seen[0]?.query.get('appsecret_proof')).toBe(proof(appToken));
  });

  it('reads an invalid token report from debug_token without throwing', async () => {
    handler = () => ({
      status: 200,
      body: { data: { app_id: APP_ID, is_valid: false, scopes: [], error: { code: 190, subcode: 460, message: 'The session has been invalidated because the user changed their password.' } } },
    });
    const info = await client().debugToken(USER_TOKEN);
    expect({ isValid: info.isValid, error: info.error }).toEqual({
      isValid: false,
      error: { code: 190, subcode: 460, message: 'The session has been invalidated because the user changed their password.' },
    });
  });

  it('reads a customer profile and treats an empty answer as no profile', async () => {
    handler = () => ({ status: 200, body: { first_name: 'Peter', last_name: 'Chang', profile_pic: 'https://pic', id: 'psid-1' } });
    await expect(client().getUserProfile(PAGE_TOKEN, 'psid-1')).resolves.toEqual({ id: 'psid-1', firstName: 'Peter', lastName: 'Chang', profilePic: 'https://pic' });
    expect(seen[0]?.query.get('fields')).toBe('first_name,last_name,profile_pic');
    handler = () => ({ status: 200, body: {} });
    await expect(client().getUserProfile(PAGE_TOKEN, 'psid-2')).resolves.toEqual({ id: 'psid-2' });
  });

  it('escapes ids used as path segments', async () => {
    handler = () => ({ status: 200, body: { id: 'x' } });
    await client().getUserProfile(PAGE_TOKEN, '../me/accounts');
    expect(seen[0]?.path).toBe('/v25.0/..%2Fme%2Faccounts');
  });
});

describe('configuration', () => {
  it('rejects a version that is not pinned like v25.0 and a non-http base URL', () => {
    expect(() => createGraphApiClient({ appId: APP_ID, version: 'latest' })).toThrow(TypeError);
    expect(() => createGraphApiClient({ appId: APP_ID, version: 'v25.0', baseUrl: 'ftp://graph' })).toThrow(TypeError);
  });
});
