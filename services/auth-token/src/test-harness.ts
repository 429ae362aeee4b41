// Test support for auth-token's integration tests (imported by *.test.ts only): the real service
// in-process on a fresh schema, the real Kafka, and the Meta simulator playing Facebook. It drives
// the connect flow the way a browser would (dialog → callback → selection form) and collects what
// the service published on page.events.v1.
import { randomBytes, randomInt } from 'node:crypto';
import { EVENT_TOPICS, TOPICS, createEvent } from '@parley/contracts';
import type { ParleyEvent } from '@parley/contracts';
import { generateFernetKey } from '@parley/fernet';
import { createEventPublisher, createKafkaClient, provisionTopics, startEventConsumer } from '@parley/messaging';
import type { EventPublisher, RunningConsumer } from '@parley/messaging';
import { startMetaSimulator } from '@parley/meta-simulator';
import type { PageTask, RunningMetaSimulator } from '@parley/meta-simulator';
import { createLogger } from '@parley/observability';
import type { Logger } from '@parley/observability';
import { openDatabase } from '@parley/persistence';
import type { Database } from '@parley/persistence';
import { createTestSchema, testDatabaseUrl, testKafkaBrokers, uniqueName, waitFor } from '@parley/testing';
import type { TestSchema } from '@parley/testing';
import { loadAuthTokenConfig } from './config.ts';
import type { AuthTokenConfig } from './config.ts';
import { migrations } from './migrations.ts';
import { startAuthToken } from './service.ts';
import type { RunningAuthToken } from './service.ts';

export const APP_ID = '1234567890123456';
export const APP_SECRET = 'simulated-app-secret-for-auth-token-tests';
export const INTERNAL_TOKEN = `internal-${randomBytes(12).toString('hex')}`;

export type Account = { id: string; key: string };
export type Choice = { pageId: string; pickable: boolean; reason: string | null };
export type Recorded = { method: string; path: string; status: number; headers: Record<string, string>; body: string };

export type Harness = {
  meta: RunningMetaSimulator;
  service: RunningAuthToken;
  config: AuthTokenConfig;
  db: Database;
  schema: TestSchema;
  accounts: { a: Account; b: Account };
  /** The service's clock: wall time plus what tests advanced. */
  advanceClock(ms: number): void;
  /** Every HTTP answer the service gave through `call` (for the no-leak assertions). */
  responses: Recorded[];
  call(path: string, init?: RequestInit & { account?: Account; raw?: boolean }): Promise<Response & { text(): Promise<string> }>;
  /** A Page id no other test run uses (events are filtered by it on the shared topic). */
  newPageId(): string;
  /** A person in the simulator running new Pages with the given tasks (all tasks by default). */
  createAdmin(pages: Array<{ name: string; tasks?: PageTask[] }>): { userId: string; pageIds: string[] };
  /** Starts the flow and lets the simulated person approve the dialog; returns the callback URL. */
  approve(options: { account: Account; userId: string; pageIds?: string[]; scopes?: string[]; comments?: boolean }): Promise<{ callbackUrl: string; state: string }>;
  /** Opens the callback (as the browser does after Facebook's redirect) and reads the selection page. */
  openCallback(callbackUrl: string): Promise<{ status: number; html: string; selectionId: string | null; choices: Choice[] }>;
  /** approve + openCallback. */
  startConnect(options: { account: Account; userId: string; pageIds?: string[]; scopes?: string[]; comments?: boolean }): Promise<{ selectionId: string; choices: Choice[]; callbackUrl: string }>;
  /** Submits the selection (JSON, or the HTML form when `form` is set). */
  pick(selectionId: string, pageIds: string[], options?: { form?: boolean }): Promise<{ status: number; body: string }>;
  /** The whole flow for Pages that must end up connected. */
  connectPages(account: Account, userId: string, pageIds: string[]): Promise<void>;
  eventsOf(pageId: string): ParleyEvent[];
  waitForEvent<T extends ParleyEvent['type']>(pageId: string, type: T, predicate?: (event: Extract<ParleyEvent, { type: T }>) => boolean): Promise<Extract<ParleyEvent, { type: T }>>;
  publishTokenRejected(pageId: string, graphCode: number, graphSubcode: number | null): Promise<ParleyEvent>;
  /** Stops the service and starts it again on the same schema, with other settings (e.g. keys). */
  restartService(env?: Record<string, string>): Promise<void>;
  stop(): Promise<void>;
};

export async function startHarness(options: { logger?: Logger; keys?: string[]; env?: Record<string, string> } = {}): Promise<Harness> {
  const logger = options.logger ?? createLogger({ service: 'auth-token-test', level: process.env['TEST_LOG_LEVEL'] ?? 'silent' });
  const brokers = testKafkaBrokers();
  const kafka = createKafkaClient({ brokers, clientId: uniqueName('auth-token-test'), logger });
  await provisionTopics(kafka, EVENT_TOPICS);
  const publisher: EventPublisher = createEventPublisher({ kafka, logger });

  const schema = await createTestSchema(testDatabaseUrl(), 'auth_token');
  const meta = await startMetaSimulator({ port: 0, host: '127.0.0.1', appId: APP_ID, appSecret: APP_SECRET });
  const run = uniqueName('acct');
  const accounts = { a: { id: `${run}-a`, key: `key-a-${randomBytes(12).toString('hex')}` }, b: { id: `${run}-b`, key: `key-b-${randomBytes(12).toString('hex')}` } };
  let offset = 0;
  const now = () => Date.now() + offset;
  const baseEnv: Record<string, string> = {
    KAFKA_BROKERS: brokers.join(','),
    DATABASE_URL: testDatabaseUrl(),
    DATABASE_SCHEMA: schema.schema,
    PORT: '0',
    LOG_LEVEL: 'debug',
    META_APP_ID: APP_ID,
    META_APP_SECRET: APP_SECRET,
    GRAPH_API_BASE_URL: meta.url,
    GRAPH_API_VERSION: 'v25.0',
    FACEBOOK_DIALOG_URL: `${meta.url}/{version}/dialog/oauth`,
    TOKEN_ENCRYPTION_KEYS: (options.keys ?? [generateFernetKey()]).join(','),
    API_KEYS: `${accounts.a.id}:${accounts.a.key},${accounts.b.id}:${accounts.b.key}`,
    INTERNAL_API_TOKEN: INTERNAL_TOKEN,
    OAUTH_STATE_SECRET: randomBytes(32).toString('hex'),
    HEALTH_POLL_INTERVAL_MS: '100',
    TOKEN_REJECTED_GROUP_ID: uniqueName('auth-token-rejected'),
    TOKEN_REJECTED_FROM_BEGINNING: 'true',
    ...options.env,
  };

  let config: AuthTokenConfig;
  let service: RunningAuthToken;
  const start = async (env: Record<string, string>) => {
    // PUBLIC_URL (the OAuth redirect URI) must name the service's port, so the port is chosen first.
    for (let attempt = 1; ; attempt++) {
      const port = 20_000 + randomInt(20_000);
      config = loadAuthTokenConfig({ ...baseEnv, ...env, PORT: String(port), PUBLIC_URL: `http://127.0.0.1:${port}` });
      try {
        service = await startAuthToken(config, { logger, now });
        break;
      } catch (error) {
        if ((error as { code?: string }).code !== 'EADDRINUSE' || attempt >= 5) throw error;
      }
    }
    await service.consumerReady;
  };
  await start({});
  const db = await openDatabase({ databaseUrl: testDatabaseUrl(), schema: schema.schema, logger, migrations, poolSize: 2 });

  const events: ParleyEvent[] = [];
  const collector: RunningConsumer = await startEventConsumer({
    kafka,
    publisher,
    logger,
    groupId: uniqueName('auth-token-test-events'),
    topics: [TOPICS.pages],
    fromBeginning: true,
    handle: async (event) => {
      events.push(event);
    },
  });
  await collector.ready;

  const responses: Recorded[] = [];
  const call: Harness['call'] = async (path, init = {}) => {
    const { account, raw, ...rest } = init;
    const headers = new Headers(rest.headers);
    if (account) headers.set('authorization', `Bearer ${account.key}`);
    const url = path.startsWith('http') ? path : `${service.url}${path}`;
    const response = await fetch(url, { ...rest, headers, redirect: 'manual' });
    const body = await response.text();
    // The answer (headers and body); the request's own URL (which may carry Facebook's code) is not part of it.
    if (!raw) responses.push({ method: rest.method ?? 'GET', path: new URL(url).pathname, status: response.status, headers: Object.fromEntries(response.headers), body });
    return Object.assign(response, { text: async () => body, json: async () => JSON.parse(body) as unknown });
  };

  const harness: Harness = {
    meta,
    get service() {
      return service;
    },
    get config() {
      return config;
    },
    db,
    schema,
    accounts,
    responses,
    advanceClock: (ms) => {
      offset += ms;
    },
    call,
    newPageId: () => `9${Date.now()}${String(randomInt(1_000_000)).padStart(6, '0')}`,
    createAdmin(pages) {
      const pageIds = pages.map((p) => meta.platform.createPage({ id: harness.newPageId(), name: p.name }).id);
      const user = meta.platform.createUser({ pages: pages.map((p, i) => ({ pageId: pageIds[i]!, ...(p.tasks ? { tasks: p.tasks } : {}) })) });
      return { userId: user.id, pageIds };
    },
    async approve({ account, userId, pageIds, scopes, comments }) {
      const started = await call('/v1/integrations/messenger/connect', {
        method: 'POST',
        account,
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(comments === undefined ? {} : { comments }),
      });
      if (started.status !== 200) throw new Error(`connect answered ${started.status}: ${await started.text()}`);
      const dialog = new URL(((await started.json()) as { url: string }).url);
      const state = dialog.searchParams.get('state')!;
      const { redirectUrl } = meta.platform.approveOAuth({
        userId,
        redirectUri: dialog.searchParams.get('redirect_uri')!,
        state,
        clientId: dialog.searchParams.get('client_id')!,
        ...(pageIds ? { pageIds } : {}),
        ...(scopes ? { scopes } : {}),
      });
      return { callbackUrl: redirectUrl, state };
    },
    async openCallback(callbackUrl) {
      const response = await call(callbackUrl);
      const html = await response.text();
      const selectionId = /name="selection" value="([^"]+)"/.exec(html)?.[1] ?? null;
      const choices: Choice[] = [...html.matchAll(/<div class="page" data-page-id="(\d+)" data-pickable="(true|false)">(.*?)<\/div>/gs)].map((m) => ({
        pageId: m[1]!,
        pickable: m[2] === 'true',
        reason: /<p class="why">(.*?)<\/p>/s.exec(m[3]!)?.[1] ?? null,
      }));
      return { status: response.status, html, selectionId, choices };
    },
    async startConnect(options) {
      const { callbackUrl } = await harness.approve(options);
      const opened = await harness.openCallback(callbackUrl);
      if (opened.status !== 200 || opened.selectionId === null) throw new Error(`callback answered ${opened.status}: ${opened.html}`);
      return { selectionId: opened.selectionId, choices: opened.choices, callbackUrl };
    },
    async pick(selectionId, pageIds, pickOptions = {}) {
      const response = pickOptions.form
        ? await call('/v1/integrations/messenger/pages', {
            method: 'POST',
            headers: { 'content-type': 'application/x-www-form-urlencoded' },
            body: new URLSearchParams([['selection', selectionId], ...pageIds.map((id) => ['page_id', id] as [string, string])]).toString(),
          })
        : await call('/v1/integrations/messenger/pages', {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ selectionId, pageIds }),
          });
      return { status: response.status, body: await response.text() };
    },
    async connectPages(account, userId, pageIds) {
      const { selectionId } = await harness.startConnect({ account, userId, pageIds });
      const result = await harness.pick(selectionId, pageIds);
      const outcomes = (JSON.parse(result.body) as { pages: Array<{ outcome: string }> }).pages;
      if (result.status !== 200 || !outcomes.every((o) => o.outcome === 'connected' || o.outcome === 'reconnected')) {
        throw new Error(`connecting ${pageIds.join(', ')} failed: ${result.body}`);
      }
    },
    eventsOf: (pageId) => events.filter((e) => e.pageId === pageId),
    waitForEvent(pageId, type, predicate = () => true) {
      return waitFor(
        () => events.find((e): e is Extract<ParleyEvent, { type: typeof type }> => e.pageId === pageId && e.type === type && predicate(e as never)),
        { description: `${type} for Page ${pageId}`, timeoutMs: 20_000 },
      );
    },
    async publishTokenRejected(pageId, graphCode, graphSubcode) {
      const event = createEvent('outbound.token.rejected', {
        id: uniqueName('rejected'),
        pageId,
        conversationId: `${pageId}:psid-1`,
        occurredAt: new Date(now()),
        recordedAt: new Date(now()),
        data: { graphCode, graphSubcode, detail: 'Meta rejected the Page token while sending' },
      });
      await publisher.publish([event]);
      return event;
    },
    async restartService(env = {}) {
      await service.stop();
      await start(env);
    },
    async stop() {
      await collector.stop();
      await service.stop();
      await publisher.disconnect();
      await meta.stop();
      await db.close();
      await schema.drop();
    },
  };
  return harness;
}
