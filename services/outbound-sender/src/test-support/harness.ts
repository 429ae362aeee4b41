// Integration-test harness: the real Kafka and PostgreSQL, the Meta simulator in-process, a stub of
// auth-token's token API, and outbound-sender started in-process through its composition root.
// Test support only.
import { EVENT_TOPICS, TOPICS } from '@parley/contracts';
import type { EventOf, ParleyEvent } from '@parley/contracts';
import { createEventPublisher, createKafkaClient, provisionTopics, startEventConsumer } from '@parley/messaging';
import type { EventPublisher, RunningConsumer } from '@parley/messaging';
import { startMetaSimulator } from '@parley/meta-simulator';
import type { RunningMetaSimulator, SentRecord } from '@parley/meta-simulator';
import { createLogger } from '@parley/observability';
import { openDatabase } from '@parley/persistence';
import { createTestSchema, testDatabaseUrl, testKafkaBrokers, uniqueName, waitFor } from '@parley/testing';
import type { TestSchema } from '@parley/testing';
import { loadConfig } from '@parley/config';
import { createAdjustableClock } from '../clock.ts';
import type { AdjustableClock } from '../clock.ts';
import { configShape } from '../config.ts';
import { migrations } from '../migrations.ts';
import { startOutboundSender } from '../service.ts';
import type { RunningOutboundSender } from '../service.ts';
import { startAuthTokenStub } from './auth-token-stub.ts';
import type { AuthTokenStub } from './auth-token-stub.ts';
import { echoEvent, pageConnected, sendCommand } from './commands.ts';
import { startEchoRelay } from './echo-relay.ts';
import type { EchoRelay } from './echo-relay.ts';

const APP_ID = '1234567890123456';
const APP_SECRET = 'outbound-sender-test-secret';

export type TestPage = { pageId: string; psid: string; accessToken: string };

export type Harness = {
  sim: RunningMetaSimulator;
  /** With `echoes: true`: the simulator's echoes, published as ingress would (else null). */
  echoes: EchoRelay | null;
  authToken: AuthTokenStub;
  clock: AdjustableClock;
  schema: TestSchema;
  /** The running service (replaced by restart()). */
  service(): RunningOutboundSender;
  /** Stops the service as a deployment would (graceful), and starts a new one on the same schema and groups. */
  restart(): Promise<void>;
  stopService(): Promise<void>;
  /** Another instance on the same schema and consumer groups: a second replica. Stop it yourself. */
  startReplica(): Promise<RunningOutboundSender>;
  startService(): Promise<void>;
  publish(events: ReadonlyArray<ParleyEvent>): Promise<void>;
  /** Raw records, for malformed input. */
  publishRaw(records: Parameters<EventPublisher['publishRaw']>[0]): Promise<void>;
  /** A connected Page in the simulator and in the auth-token stub, with one customer whose window is open. */
  createPage(): TestPage;
  /** Events outbound-sender produced about a Page, oldest first. */
  events(pageId: string): ParleyEvent[];
  waitForEvent<T extends ParleyEvent['type']>(pageId: string, type: T, match?: (event: EventOf<T>) => boolean, timeoutMs?: number): Promise<EventOf<T>>;
  /** Accepted Send API calls of a Page (messages and sender actions), oldest first. */
  sent(pageId: string): SentRecord[];
  /** Accepted messages (not sender actions) whose metadata says they belong to this outboundId. */
  sentParts(pageId: string, outboundId: string): SentRecord[];
  /** Raw SQL on the service's schema, parameters as `?`. */
  sql<T = Record<string, unknown>>(text: string, params?: unknown[]): Promise<T[]>;
  /**
   * Runs `select … for update` (parameters as `?`) in a transaction of its own and keeps it open, with
   * its row locks, until the returned function is called: another process holding those rows.
   */
  holdLocks(text: string, params?: unknown[]): Promise<() => Promise<void>>;
  /** A counter of the running service's /metrics (0 when absent); `labels` like `outcome="confirmed"`. */
  metric(name: string, labels?: string): Promise<number>;
  close(): Promise<void>;
};

/**
 * `echoes`: the simulator echoes what the Pages send (as Meta does for a Page subscribed to
 * message_echoes) and a stand-in for ingress publishes the echoes onto messenger.inbound.v1.
 */
export async function startHarness(options: { env?: Record<string, string>; echoes?: boolean } = {}): Promise<Harness> {
  const brokers = testKafkaBrokers();
  const databaseUrl = testDatabaseUrl();
  const logger = createLogger({ service: 'outbound-sender-test', level: process.env['TEST_LOG_LEVEL'] ?? 'silent' });
  const kafka = createKafkaClient({ brokers, clientId: uniqueName('outbound-sender-test'), logger });
  await provisionTopics(kafka, EVENT_TOPICS);
  const publisher: EventPublisher = createEventPublisher({ kafka, logger });
  const echoes = options.echoes ? await startEchoRelay((events) => publisher.publish(events)) : null;
  const sim = await startMetaSimulator({
    appId: APP_ID,
    appSecret: APP_SECRET,
    autoEcho: echoes !== null,
    autoDelivery: false,
    ...(echoes ? { webhookUrl: echoes.url } : {}),
  });
  const authToken = await startAuthTokenStub();
  const schema = await createTestSchema(databaseUrl, 'outbound_sender_test');
  // The test's own window on the service's tables (parameters as `?`).
  const db = await openDatabase({ databaseUrl, schema: schema.schema, logger, migrations, poolSize: 2 });
  const clock = createAdjustableClock();
  const groupId = uniqueName('outbound-sender-test');

  // What outbound-sender produced, read from the real topic by a group of our own, from the
  // beginning (no race with the first event), kept only for the Pages of this harness.
  const ourPages = new Set<string>();
  const seen: ParleyEvent[] = [];
  const reader: RunningConsumer = await startEventConsumer({
    kafka,
    publisher,
    logger,
    groupId: uniqueName('outbound-sender-test-reader'),
    topics: [TOPICS.outboundEvents],
    fromBeginning: true,
    handle: async (event) => {
      if (ourPages.has(event.pageId)) seen.push(event);
    },
  });

  const config = loadConfig('outbound-sender', configShape, {
    KAFKA_BROKERS: brokers.join(','),
    DATABASE_URL: databaseUrl,
    DATABASE_SCHEMA: schema.schema,
    PORT: '0',
    LOG_LEVEL: process.env['TEST_LOG_LEVEL'] ?? 'silent',
    GRAPH_API_BASE_URL: sim.url,
    GRAPH_API_VERSION: 'v25.0',
    META_APP_ID: APP_ID,
    META_APP_SECRET: APP_SECRET,
    AUTH_TOKEN_URL: authToken.url,
    INTERNAL_API_TOKEN: authToken.internalApiToken,
    CONSUMER_GROUP_ID: groupId,
    // A test service must not act on other tests' commands in the shared topics: it starts at the end.
    CONSUME_FROM_BEGINNING: 'false',
    DISPATCH_POLL_MS: '50',
    SEND_RETRY_BASE_MS: '50',
    SEND_RETRY_MAX_MS: '400',
    TOKEN_RETRY_MS: '100',
    HOLD_RECHECK_MS: '600000',
    GRAPH_TIMEOUT_MS: '3000',
    GRAPH_BREAKER_RESET_MS: '400',
    GRAPH_BREAKER_VOLUME_THRESHOLD: '3',
    ...options.env,
  });

  let service: RunningOutboundSender | undefined;
  let sentinels = 0;
  const sentinelPrefix = uniqueName('sentinel');

  /**
   * Starting at the end of a topic races with the first records a test publishes; so, like a
   * deployment's smoke test, publish sentinels until the service has stored one of each, and echoed
   * one of its sends (which also leaves each group with committed offsets: records published while
   * the service is stopped are read after a restart).
   */
  async function waitUntilConsuming(): Promise<void> {
    const running = service!;
    await running.ready;
    const sentinelPage = `${sentinelPrefix}-${sentinels}`;
    await waitFor(
      async () => {
        sentinels++;
        const command = sendCommand({ pageId: sentinelPage, outboundId: `${sentinelPage}-${sentinels}`, sendAt: new Date(clock.now().getTime() + 365 * 24 * 3_600_000).toISOString() });
        await publisher.publish([command, pageConnected({ pageId: sentinelPage, at: clock.now() })]);
        return waitFor(
          async () => {
            const [sends] = await sql<{ n: string }>('select count(*) as n from sends where page_id = ?', [sentinelPage]);
            const [pages] = await sql<{ n: string }>('select count(*) as n from pages where page_id = ?', [sentinelPage]);
            return Number(sends?.n) > 0 && Number(pages?.n) > 0;
          },
          { description: 'the service to store a sentinel', timeoutMs: 3_000 },
        ).catch(() => false);
      },
      { description: 'outbound-sender to consume its topics', timeoutMs: 60_000, intervalMs: 10 },
    );
    // Its echo consumer: an echo of the sentinel send's (pending) part makes it sent, and makes the
    // send due, which wakes a dispatcher to close it. Done when the send is closed: until then a
    // test counting the dispatcher's looks could count that one.
    const [stored] = await sql<{ outbound_id: string }>('select outbound_id from sends where page_id = ? order by seq limit 1', [sentinelPage]);
    const outboundId = stored!.outbound_id;
    let echoes = 0;
    await waitFor(
      async () => {
        echoes++;
        await publisher.publish([echoEvent({ pageId: sentinelPage, psid: '2400000000000001', mid: `${outboundId}-mid-${echoes}`, appId: APP_ID, metadata: `${outboundId}:0` })]);
        return waitFor(
          async () => {
            const [part] = await sql<{ state: string }>('select state from send_parts where outbound_id = ? and part = 0', [outboundId]);
            const [send] = await sql<{ status: string }>('select status from sends where outbound_id = ?', [outboundId]);
            return part?.state === 'sent' && send?.status === 'sent';
          },
          { description: 'the service to apply a sentinel echo', timeoutMs: 3_000 },
        ).catch(() => false);
      },
      { description: 'outbound-sender to consume echoes', timeoutMs: 60_000, intervalMs: 10 },
    );
  }

  async function sql<T>(text: string, params: unknown[] = []): Promise<T[]> {
    return db.query<T>(text, params);
  }

  async function holdLocks(text: string, params: unknown[] = []): Promise<() => Promise<void>> {
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    let locked!: () => void;
    const holding = new Promise<void>((resolve) => (locked = resolve));
    const done = db.transaction(async (tx) => {
      await db.query(text, params, tx);
      locked();
      await released;
    });
    await Promise.race([holding, done]);
    return async () => {
      release();
      await done;
    };
  }

  const acceptPage = (pageId: string) => ourPages.has(pageId) || pageId.startsWith(sentinelPrefix);

  async function startService(): Promise<void> {
    service = await startOutboundSender(config, { logger, clock, acceptPage });
    await waitUntilConsuming();
  }

  async function close(): Promise<void> {
    await service?.stop();
    await reader.stop();
    await sim.stop();
    await echoes?.stop();
    await publisher.disconnect();
    await authToken.stop();
    await db.close();
    await schema.drop();
  }

  try {
    await startService();
  } catch (error) {
    // Leave nothing running behind a failed start (Jest would wait for it forever).
    await close().catch(() => undefined);
    throw error;
  }

  const sentParts = (pageId: string, outboundId: string) =>
    sim.platform.sentBy(pageId).filter((r) => {
      const message = r.request['message'] as { metadata?: string } | undefined;
      return message?.metadata?.startsWith(`${outboundId}:`) === true;
    });

  return {
    sim,
    echoes,
    authToken,
    clock,
    schema,
    service: () => service!,
    startService,
    async stopService() {
      await service?.stop();
    },
    async startReplica() {
      const replica = await startOutboundSender(config, { logger, clock, acceptPage });
      await replica.ready;
      return replica;
    },
    async restart() {
      await service?.stop();
      await startService();
    },
    publish: (events) => publisher.publish(events),
    publishRaw: (records) => publisher.publishRaw(records),
    createPage() {
      // Numeric like Meta's, and unique across every test sharing the broker (simulators number Pages alike).
      const page = sim.platform.createPage({ id: uniquePageId(), subscribe: true });
      const customer = sim.platform.createCustomer(page.id);
      sim.platform.customerMessage(page.id, customer.psid, { text: 'Hello, are you open today?' });
      authToken.setPage(page.id, { accessToken: page.controlToken, accountId: 'account-1', status: 'connected' });
      ourPages.add(page.id);
      return { pageId: page.id, psid: customer.psid, accessToken: page.controlToken };
    },
    events: (pageId) => seen.filter((e) => e.pageId === pageId),
    async waitForEvent(pageId, type, match = () => true, timeoutMs = 30_000) {
      return waitFor(() => seen.find((e) => e.pageId === pageId && e.type === type && match(e as never)) as never, {
        description: `${type} for page ${pageId}`,
        timeoutMs,
      });
    },
    sent: (pageId) => sim.platform.sentBy(pageId),
    sentParts,
    sql,
    holdLocks,
    async metric(name, labels = '') {
      const text = await (await fetch(`${service!.url}/metrics`)).text();
      const line = text.split('\n').find((l) => (l.startsWith(`${name}{`) || l.startsWith(`${name} `)) && l.includes(labels));
      return line ? Number(line.split(' ').pop()) : 0;
    },
    close,
  };
}

let pageCounter = 0;
function uniquePageId(): string {
  pageCounter = (pageCounter + 1) % 1000;
  return `77${Date.now()}${String(process.pid % 1000).padStart(3, '0')}${String(pageCounter).padStart(3, '0')}`;
}

/** A fresh Page token from the simulator, as a reconnect through OAuth would give. */
export function mintPageToken(sim: RunningMetaSimulator, pageId: string): string {
  const user = sim.platform.createUser({ pages: [pageId] });
  const redirectUri = 'https://parley.test/callback';
  const { code } = sim.platform.approveOAuth({ userId: user.id, pageIds: [pageId], redirectUri });
  const exchanged = sim.platform.oauthAccessToken({ client_id: APP_ID, client_secret: APP_SECRET, code, redirect_uri: redirectUri });
  if (!exchanged.ok) throw new Error('the simulator refused the code exchange');
  const userToken = (exchanged.body as { access_token: string }).access_token;
  const accounts = sim.platform.accounts({ rawToken: userToken, userIdInPath: 'me', query: {}, selfUrl: `${sim.url}/v25.0/me/accounts` });
  if (!accounts.ok) throw new Error('the simulator refused /me/accounts');
  const page = (accounts.body as { data: Array<{ id: string; access_token: string }> }).data.find((p) => p.id === pageId);
  if (!page) throw new Error(`no token for page ${pageId}`);
  return page.access_token;
}
