import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { TOPICS } from '@parley/contracts';
import type { EventOf, ParleyEvent } from '@parley/contracts';
import { createGraphApiClient } from '@parley/graph-api';
import { startEventConsumer } from '@parley/messaging';
import type { ConsumedEvent, EventPublisher, RunningConsumer } from '@parley/messaging';
import { openDatabase } from '@parley/persistence';
import type { Database } from '@parley/persistence';
import { startMetaSimulator } from '@parley/meta-simulator';
import type { RunningMetaSimulator } from '@parley/meta-simulator';
import { createTestSchema, testDatabaseUrl } from '@parley/testing';
import type { TestSchema } from '@parley/testing';
import { inboxEvents } from '../inbox/fixtures.ts';
import { inboxMigrations } from '../inbox/migrations.ts';
import { fallbackCustomerName } from '../inbox/model.ts';
import { createProjector } from '../inbox/projector.ts';
import type { Projector } from '../inbox/projector.ts';
import { createProjectionTopics, dropSchemas, feed, OUR_APP_ID, provisionEventTopics, startTestProjection, testConfig, testKafka, testLogger, uniqueName, waitFor } from '../test-support.ts';
import { createProfileEnricher } from './enricher.ts';
import { createPageTokens } from './page-tokens.ts';

// The profile enricher against the Meta simulator (Graph API), a stub of auth-token's internal
// token endpoint, and the real database: names for customers with a profile, "no profile" (2018218)
// for the others, and a later attempt while the Page's token is not available.

const INTERNAL = 'internal-secret';
let sim: RunningMetaSimulator;
let stub: { url: string; server: Server; needsReconnect: Set<string>; tokens: Map<string, string>; calls: number };

beforeAll(async () => {
  sim = await startMetaSimulator({ appId: OUR_APP_ID });
  const tokens = new Map<string, string>();
  const needsReconnect = new Set<string>();
  const app = express();
  const state = { calls: 0 };
  app.get('/internal/v1/pages/:pageId/token', (req, res) => {
    state.calls += 1;
    if (req.header('authorization') !== `Bearer ${INTERNAL}`) return void res.status(401).json({ code: 'unauthorized' });
    const pageId = req.params.pageId;
    if (needsReconnect.has(pageId)) return void res.status(409).json({ code: 'page_needs_reconnect' });
    const token = tokens.get(pageId);
    if (!token) return void res.status(404).json({ code: 'page_not_found' });
    res.json({ pageId, accountId: 'acme', accessToken: token, status: 'connected' });
  });
  const server = await new Promise<Server>((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  stub = {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    server,
    needsReconnect,
    tokens,
    get calls() {
      return state.calls;
    },
  };
});

afterAll(async () => {
  await sim?.stop();
  await new Promise<void>((resolve) => (stub ? stub.server.close(() => resolve()) : resolve()));
});

function connectSimulatedPage(name: string) {
  const page = sim.platform.createPage({ name });
  stub.tokens.set(page.id, page.controlToken);
  return page;
}

describe('the profile enricher', () => {
  let schema: TestSchema;
  let db: Database;
  let projector: Projector;
  let offset = 0;

  beforeAll(async () => {
    schema = await createTestSchema(testDatabaseUrl(), 'enricher');
    db = await openDatabase({ databaseUrl: testDatabaseUrl(), schema: schema.schema, logger: testLogger(), migrations: inboxMigrations, poolSize: 2 });
    projector = createProjector({ db, logger: testLogger(), context: { ourAppIds: new Set([OUR_APP_ID]) } });
  });
  afterAll(async () => {
    await db?.close();
    await schema?.drop();
  });

  /** Applies events as the consumer would (one partition, increasing offsets). */
  const apply = (events: ParleyEvent[]) =>
    projector.applyBatch({
      topic: 'test',
      partition: 0,
      events: events.map((event): ConsumedEvent => ({ topic: 'test', partition: 0, offset: String(offset++), event, headers: {} })),
    });

  const customerRow = async (pageId: string, psid: string) =>
    (await db.query<{ profile_status: string; attempts: number; next_attempt_at: Date; last_error: string | null }>(
      'select profile_status, attempts, next_attempt_at, last_error from customers where page_id = ? and psid = ?',
      [pageId, psid],
    ))[0];

  it('names customers Meta has a profile for, says "no profile" for the others, and waits for a Page that needs reconnecting', async () => {
    const page = connectSimulatedPage('Sunny Bakery');
    const ana = sim.platform.createCustomer(page.id, { name: 'Ana Silva' });
    const phoneOnly = sim.platform.createCustomer(page.id, { profile: false });
    const later = connectSimulatedPage('Reconnect Me');
    const bo = sim.platform.createCustomer(later.id, { name: 'Bo Chen' });
    stub.needsReconnect.add(later.id);
    const e = inboxEvents(page.id);
    const l = inboxEvents(later.id);
    const applied = await apply([
      e.pageConnected({ accountId: 'acme' }),
      l.pageConnected({ accountId: 'acme' }),
      e.received(ana.psid, { mid: uniqueName('m'), at: Date.now() }),
      e.received(phoneOnly.psid, { mid: uniqueName('m'), at: Date.now() }),
      l.received(bo.psid, { mid: uniqueName('m'), at: Date.now() }),
    ]);
    expect(applied.newCustomers).toBe(true);

    let now = Date.now();
    const published: Array<EventOf<'messenger.customer.profile.updated'>> = [];
    const enricher = createProfileEnricher({
      inbox: () => ({ db }),
      graph: createGraphApiClient({ appId: OUR_APP_ID, baseUrl: sim.url, version: 'v25.0' }),
      tokens: createPageTokens({ authTokenUrl: stub.url, internalToken: INTERNAL, clock: () => now }),
      publish: async (events) => {
        published.push(...(events as Array<EventOf<'messenger.customer.profile.updated'>>));
      },
      logger: testLogger(),
      clock: () => now,
      autoStart: false,
    });

    expect(await enricher.runOnce()).toBe(3);
    const byPsid = Object.fromEntries(published.map((p) => [p.data.customer.psid, p]));
    expect(byPsid[ana.psid]).toMatchObject({
      type: 'messenger.customer.profile.updated',
      pageId: page.id,
      accountId: 'acme',
      conversationId: e.conversationId(ana.psid),
      data: { available: true, firstName: 'Ana', lastName: 'Silva', displayName: 'Ana Silva', reason: null, profilePicUrl: null },
    });
    expect(byPsid[phoneOnly.psid]!.data).toMatchObject({ available: false, displayName: fallbackCustomerName(phoneOnly.psid), reason: 'no_profile', firstName: null });
    expect(byPsid[bo.psid]).toBeUndefined();
    expect(await customerRow(later.id, bo.psid)).toMatchObject({ profile_status: 'needed', attempts: 1, last_error: 'page_needs_reconnect' });
    expect(await customerRow(page.id, ana.psid)).toMatchObject({ profile_status: 'published' });

    // The projection records the answers; nobody is asked twice.
    await apply(published.splice(0));
    const names = await db.query<{ id: string; customer_name: string; customer_name_source: string }>(
      'select id, customer_name, customer_name_source from conversations where page_id = ? order by id',
      [page.id],
    );
    expect(Object.fromEntries(names.map((n) => [n.id, [n.customer_name, n.customer_name_source]]))).toEqual({
      [e.conversationId(ana.psid)]: ['Ana Silva', 'profile'],
      [e.conversationId(phoneOnly.psid)]: [fallbackCustomerName(phoneOnly.psid), 'fallback'],
    });
    expect(await enricher.runOnce()).toBe(0);

    // After the reconnect, once its wait is over, Bo is asked again.
    stub.needsReconnect.delete(later.id);
    now += 61_000;
    expect(await enricher.runOnce()).toBe(1);
    expect(published.map((p) => [p.data.customer.psid, p.data.displayName])).toEqual([[bo.psid, 'Bo Chen']]);
    await enricher.stop();
  });

  it('caches Page tokens, and asks again once the cache is dropped', async () => {
    const page = connectSimulatedPage('Cache');
    let now = 0;
    const tokens = createPageTokens({ authTokenUrl: stub.url, internalToken: INTERNAL, clock: () => now });
    const before = stub.calls;
    expect(await tokens.get(page.id)).toMatchObject({ kind: 'token', token: page.controlToken });
    await tokens.get(page.id);
    expect(stub.calls - before).toBe(1);
    tokens.invalidate(page.id);
    await tokens.get(page.id);
    now += 61_000;
    await tokens.get(page.id);
    expect(stub.calls - before).toBe(3);
    expect(await tokens.get('unknown-page')).toEqual({ kind: 'unavailable', reason: 'page_not_connected' });
    const wrongSecret = createPageTokens({ authTokenUrl: stub.url, internalToken: 'wrong' });
    await expect(wrongSecret.get(page.id)).rejects.toMatchObject({ retriable: true });
  });
});

describe('the service with enrichment on', () => {
  let publisher: EventPublisher;
  let reader: RunningConsumer;
  const seen: ParleyEvent[] = [];

  it('publishes messenger.customer.profile.updated on messenger.inbound.v1 for a new customer', async () => {
    const topics = await createProjectionTopics('enrich');
    const kafka = testKafka();
    publisher = kafka.publisher;
    await provisionEventTopics(kafka.kafka);
    const config = testConfig(topics, { PROFILE_ENRICHMENT: true, GRAPH_API_BASE_URL: sim.url, AUTH_TOKEN_URL: stub.url, INTERNAL_API_TOKEN: INTERNAL });
    const page = connectSimulatedPage('Service Bakery');
    const customer = sim.platform.createCustomer(page.id, { name: 'Cy Dorsey' });
    reader = await startEventConsumer({
      kafka: kafka.kafka,
      publisher,
      logger: testLogger(),
      groupId: uniqueName('enricher-reader'),
      topics: [TOPICS.inbound],
      fromBeginning: false,
      handle: async (event) => {
        if (event.pageId === page.id) seen.push(event);
      },
    });
    await reader.ready;
    const service = await startTestProjection(config);
    try {
      const e = inboxEvents(page.id);
      await feed(publisher, topics, [e.pageConnected({ accountId: 'acme' }), e.received(customer.psid, { mid: uniqueName('m'), at: Date.now() })]);
      const event = await waitFor(() => seen.find((s) => s.type === 'messenger.customer.profile.updated'), { description: 'the profile event', timeoutMs: 30_000 });
      expect(event).toMatchObject({ pageId: page.id, data: { available: true, displayName: 'Cy Dorsey', customer: { psid: customer.psid } } });
    } finally {
      await service.stop();
      await reader.stop();
      await publisher.disconnect();
      await topics.delete();
      await dropSchemas(config.DB_SCHEMA);
    }
  });
});
