// Integration: the rules service started in-process against the real Kafka and PostgreSQL. Each
// test uses its own Page ids on the shared topics; the service's consumer groups (and the test's
// observer) start at the end of the topics, so neither reads other tests' events.
import { EVENT_TOPICS, TOPICS, createEvent } from '@parley/contracts';
import type { EventOf, ParleyEvent } from '@parley/contracts';
import { createEventPublisher, createKafkaClient, provisionTopics, startEventConsumer } from '@parley/messaging';
import type { EventPublisher, Kafka, RunningConsumer } from '@parley/messaging';
import { createLogger } from '@parley/observability';
import { openDatabase } from '@parley/persistence';
import type { Database } from '@parley/persistence';
import { createTestSchema, testDatabaseUrl, testKafkaBrokers, uniqueName, waitFor } from '@parley/testing';
import type { TestSchema } from '@parley/testing';
import type { RulesConfig } from './config.ts';
import { migrations } from './migrations.ts';
import { startRules } from './service.ts';
import type { RunningRules } from './service.ts';
import { createRulesStore } from './store/store.ts';
import type { RulesStore } from './store/store.ts';
import { HOUR, MINUTE, messageEchoed, messageReceived, pageConnected, resolved } from './test-support/fixtures.ts';

const logger = createLogger({ service: 'rules-test', level: process.env['TEST_LOG_LEVEL'] ?? 'silent' });
const ACCOUNT_A = { accountId: 'acct-a', key: 'key-a' };
const ACCOUNT_B = { accountId: 'acct-b', key: 'key-b' };
const META_APP_ID = 'parley-test-app';

let kafka: Kafka;
let publisher: EventPublisher;
let schema: TestSchema;
let rules: RunningRules;
let observer: RunningConsumer;
let db: Database;
let store: RulesStore;
/** Moves the service's clock (decisions and the reply-window scheduler) ahead of real time. */
let clockOffsetMs = 0;
const seen: ParleyEvent[] = [];

/**
 * Commits the group's offsets at the end of each topic, so it starts there rather than at the
 * beginning of the shared log (where it would decide every other test's events). Checked, because
 * a group that silently starts at the beginning would publish decisions about other tests' Pages.
 */
async function startGroupAtEnd(groupId: string, topics: ReadonlyArray<string>): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    for (const topic of topics) {
      const ends = await admin.fetchTopicOffsets(topic);
      await admin.setOffsets({ groupId, topic, partitions: ends.map((p) => ({ partition: p.partition, offset: p.high })) });
      const [committed] = await admin.fetchOffsets({ groupId, topics: [topic] });
      for (const end of ends) {
        const offset = committed!.partitions.find((p) => p.partition === end.partition)?.offset;
        if (offset !== end.high) throw new Error(`${groupId} did not start at the end of ${topic}[${end.partition}]: ${offset} ≠ ${end.high}`);
      }
    }
  } finally {
    await admin.disconnect();
  }
}

beforeAll(async () => {
  kafka = createKafkaClient({ brokers: testKafkaBrokers(), clientId: uniqueName('rules-test'), logger });
  await provisionTopics(kafka, EVENT_TOPICS);
  publisher = createEventPublisher({ kafka, logger });
  schema = await createTestSchema(testDatabaseUrl(), 'rules');
  const prefix = uniqueName('rules-test');
  await startGroupAtEnd(`${prefix}.pages`, [TOPICS.pages]);
  await startGroupAtEnd(`${prefix}.inbound`, [TOPICS.inbound]);
  await startGroupAtEnd(`${prefix}.outbound`, [TOPICS.outboundEvents]);
  await startGroupAtEnd(`${prefix}.decisions`, [TOPICS.decisions]);
  const observerGroup = uniqueName('rules-test-observer');
  const observed = [TOPICS.decisions, TOPICS.outboundCommands, TOPICS.pages];
  await startGroupAtEnd(observerGroup, observed);

  const config: RulesConfig = {
    KAFKA_BROKERS: testKafkaBrokers(),
    KAFKA_NAMESPACE: '',
    DATABASE_URL: testDatabaseUrl(),
    DATABASE_PREPARED_STATEMENTS: true,
    DATABASE_SCHEMA: schema.schema,
    PORT: 0,
    LOG_LEVEL: 'silent',
    API_KEYS: new Map([
      [ACCOUNT_A.key, ACCOUNT_A.accountId],
      [ACCOUNT_B.key, ACCOUNT_B.accountId],
    ]),
    META_APP_ID,
    CONSUMER_GROUP_PREFIX: prefix,
    REPLY_WINDOW_ALERT_LEAD_MINUTES: 60,
    WINDOW_SCHEDULER_INTERVAL_MS: 200,
    UNKNOWN_PAGE_GRACE_SECONDS: 2,
    PROCESSED_EVENTS_RETENTION_HOURS: 168,
    // Other projects' tests share these topics: decide only this test's Pages.
    PAGE_ID_FILTER: /^rules-page-/,
  };
  rules = await startRules(config, { logger, clock: () => new Date(Date.now() + clockOffsetMs), random: () => 0.5 });
  observer = await startEventConsumer({
    kafka,
    publisher,
    logger,
    groupId: observerGroup,
    topics: observed,
    handle: async (event) => {
      if (event.pageId.startsWith('rules-page-')) seen.push(event);
    },
  });
  await Promise.all([rules.ready, observer.ready]);
  db = await openDatabase({ databaseUrl: testDatabaseUrl(), schema: schema.schema, logger, migrations });
  store = createRulesStore(db);
});

afterAll(async () => {
  await observer?.stop();
  await rules?.stop();
  await publisher?.disconnect();
  await db?.close();
  await schema?.drop();
});

function newPageId(): string {
  return uniqueName('rules-page');
}

function eventsOf<T extends ParleyEvent['type']>(type: T, filter: (event: EventOf<T>) => boolean): Array<EventOf<T>> {
  return seen.filter((e): e is EventOf<T> => e.type === type && filter(e as EventOf<T>));
}

function waitForEvent<T extends ParleyEvent['type']>(type: T, filter: (event: EventOf<T>) => boolean, description: string): Promise<EventOf<T>> {
  return waitFor(() => eventsOf(type, filter)[0], { description, timeoutMs: 30_000 });
}

function decisionFor(trigger: ParleyEvent) {
  return waitFor(() => seen.find((e) => (e.type === 'conversation.reply.requested' || e.type === 'conversation.reply.suppressed') && e.causationId === trigger.id), {
    description: `the decision on ${trigger.type} ${trigger.id}`,
    timeoutMs: 30_000,
  });
}

function api(path: string, init: { method?: string; key?: string | null; body?: unknown; rawBody?: string; contentType?: string } = {}) {
  const headers: Record<string, string> = {};
  if (init.key !== null) headers['authorization'] = `Bearer ${init.key ?? ACCOUNT_A.key}`;
  if (init.body !== undefined || init.rawBody !== undefined) headers['content-type'] = init.contentType ?? 'application/json';
  return fetch(`${rules.url}${path}`, {
    method: init.method ?? 'GET',
    headers,
    body: init.rawBody ?? (init.body === undefined ? undefined : JSON.stringify(init.body)),
  });
}

/** Connects a Page to account A and waits until rules knows it. */
async function connectPage(pageId: string, accountId = ACCOUNT_A.accountId): Promise<void> {
  await publisher.publish([pageConnected({ pageId, accountId, at: new Date() })]);
  await waitFor(async () => (await api(`/v1/pages/${pageId}/settings`, { key: accountId === ACCOUNT_A.accountId ? ACCOUNT_A.key : ACCOUNT_B.key })).status === 200, {
    description: `rules to know Page ${pageId}`,
    timeoutMs: 30_000,
  });
}

async function putSettings(pageId: string, settings: Record<string, unknown>) {
  const response = await api(`/v1/pages/${pageId}/settings`, { method: 'PUT', body: settings });
  expect(response.status).toBe(200);
  return response.json();
}

const baseSettings = { autoReply: true, assistantId: 'assistant-1', responseDelay: 'instant', escalationKeywords: [] as string[] };

describe('settings API', () => {
  it('serves the defaults of a connected Page, only to its account', async () => {
    const pageId = newPageId();
    const unknown = await api(`/v1/pages/${pageId}/settings`);
    expect(unknown.status).toBe(404);
    expect(unknown.headers.get('content-type')).toContain('application/problem+json');
    expect(await unknown.json()).toMatchObject({ status: 404, code: 'page_not_found' });

    await connectPage(pageId);
    const response = await api(`/v1/pages/${pageId}/settings`);
    expect(await response.json()).toEqual({ autoReply: true, assistantId: null, responseDelay: 'instant', greetingMessage: null, awayMessage: null, escalationKeywords: [] });

    // Another account's Page looks exactly like an unknown one.
    const other = await api(`/v1/pages/${pageId}/settings`, { key: ACCOUNT_B.key });
    expect(other.status).toBe(404);
    expect(await other.json()).toMatchObject({ code: 'page_not_found' });
    expect((await api(`/v1/pages/${pageId}/settings`, { method: 'PUT', key: ACCOUNT_B.key, body: baseSettings })).status).toBe(404);

    const anonymous = await api(`/v1/pages/${pageId}/settings`, { key: null });
    expect(anonymous.status).toBe(401);
    expect(await anonymous.json()).toMatchObject({ code: 'unauthorized' });
    expect((await api(`/v1/pages/${pageId}/settings`, { key: 'wrong' })).status).toBe(401);
  });

  it('rejects malformed, unknown and oversized settings with problems, changing nothing', async () => {
    const pageId = newPageId();
    await connectPage(pageId);
    const path = `/v1/pages/${pageId}/settings`;
    const cases: Array<[number, string, Parameters<typeof api>[1]]> = [
      [400, 'malformed_json', { method: 'PUT', rawBody: '{"autoReply": tru' }],
      [400, 'invalid_body', { method: 'PUT', body: [baseSettings] }],
      [415, 'unsupported_media_type', { method: 'PUT', rawBody: 'autoReply=true', contentType: 'text/plain' }],
      [422, 'invalid_settings', { method: 'PUT', body: { ...baseSettings, autoreply: false } }],
      [422, 'invalid_settings', { method: 'PUT', body: { ...baseSettings, responseDelay: 'slow' } }],
      [422, 'invalid_settings', { method: 'PUT', body: { ...baseSettings, greetingMessage: 'x'.repeat(2001) } }],
      [413, 'body_too_large', { method: 'PUT', body: { ...baseSettings, greetingMessage: 'x'.repeat(40_000) } }],
    ];
    for (const [status, code, init] of cases) {
      const response = await api(path, init);
      expect({ status: response.status, code: ((await response.json()) as { code: string }).code }).toEqual({ status, code });
    }
    const invalid = (await (await api(path, { method: 'PUT', body: { ...baseSettings, autoreply: false } })).json()) as { errors: unknown[] };
    expect(invalid.errors).toEqual([expect.objectContaining({ path: '(body)' })]);
    expect(await (await api(path)).json()).toMatchObject({ assistantId: null });
  });

  it('stores a change, answers with it, and emits page.settings.changed with the full settings once per change', async () => {
    const pageId = newPageId();
    await connectPage(pageId);
    const settings = { ...baseSettings, responseDelay: 'short', greetingMessage: 'Welcome!', escalationKeywords: ['refund', ' Refund '] };
    const stored = { ...settings, awayMessage: null, escalationKeywords: ['refund'] };
    expect(await putSettings(pageId, settings)).toEqual(stored);
    expect(await (await api(`/v1/pages/${pageId}/settings`)).json()).toEqual(stored);

    const changed = await waitForEvent('page.settings.changed', (e) => e.pageId === pageId, 'page.settings.changed');
    expect(changed).toMatchObject({ accountId: ACCOUNT_A.accountId, data: { settings: stored } });

    // The same settings again change nothing; a different change emits a second event.
    await putSettings(pageId, settings);
    await putSettings(pageId, { ...settings, autoReply: false });
    await waitFor(() => eventsOf('page.settings.changed', (e) => e.pageId === pageId && !e.data.settings.autoReply)[0], { description: 'the second change', timeoutMs: 30_000 });
    expect(eventsOf('page.settings.changed', (e) => e.pageId === pageId)).toHaveLength(2);
  });
});

describe('decisions', () => {
  it('requests the reply and greets a new customer, once, whatever Kafka redelivers', async () => {
    const pageId = newPageId();
    await connectPage(pageId);
    await putSettings(pageId, { ...baseSettings, responseDelay: 'short', greetingMessage: 'Hello from the Page!' });

    const first = messageReceived({ pageId, psid: 'customer-1', at: new Date(), text: 'Do you deliver?' });
    await publisher.publish([first, first]);
    const decision = await decisionFor(first);
    expect(decision).toMatchObject({
      type: 'conversation.reply.requested',
      accountId: ACCOUNT_A.accountId,
      conversationId: first.conversationId,
      causationId: first.id,
      correlationId: first.correlationId,
      data: { assistantId: 'assistant-1', responseDelay: 'short', triggerEventIds: [first.id] },
    });
    // random 0.5 in the short range (5–15 s): 10 s after the event was recorded.
    expect(Date.parse((decision as EventOf<'conversation.reply.requested'>).data.replyAt) - Date.parse(first.recordedAt)).toBe(10_000);
    const greeting = await waitForEvent('outbound.send.requested', (e) => e.causationId === first.id, 'the greeting');
    expect(greeting.data).toMatchObject({ author: 'page', purpose: 'greeting', messagingType: 'RESPONSE', parts: [{ text: 'Hello from the Page!' }] });

    // A second message (and the first again): one more decision, no second greeting.
    const second = messageReceived({ pageId, psid: 'customer-1', at: new Date(), text: 'To Lyon?' });
    await publisher.publish([first, second]);
    expect((await decisionFor(second)).type).toBe('conversation.reply.requested');
    const decisionsForFirst = seen.filter((e) => e.type.startsWith('conversation.reply.') && e.causationId === first.id);
    expect(decisionsForFirst).toHaveLength(1);
    expect(eventsOf('outbound.send.requested', (e) => e.pageId === pageId)).toHaveLength(1);
  });

  it('decides a burst of waiting events (several per conversation, a duplicate among them) as it would one at a time', async () => {
    const pageId = newPageId();
    await connectPage(pageId);
    await putSettings(pageId, { ...baseSettings, greetingMessage: 'Welcome!' });
    const at = new Date();
    const burst = ['customer-a', 'customer-b', 'customer-c'].flatMap((psid) =>
      [1, 2, 3].map((n) => messageReceived({ pageId, psid, at: new Date(at.getTime() + n), text: `Question ${n} from ${psid}?` })),
    );
    // One publish: the consumer finds them waiting together (and the second copy of one of them).
    await publisher.publish([...burst, burst[4]!]);
    await waitFor(() => burst.every((m) => seen.some((e) => e.type === 'conversation.reply.requested' && e.causationId === m.id)), {
      description: 'a decision for each of the nine messages',
      timeoutMs: 30_000,
    });
    for (const message of burst) expect(seen.filter((e) => e.type.startsWith('conversation.reply.') && e.causationId === message.id)).toHaveLength(1);
    // Each conversation greeted once, on its first message: later events of a batch see the earlier ones' effects.
    const greetings = eventsOf('outbound.send.requested', (e) => e.pageId === pageId && e.data.purpose === 'greeting');
    expect(greetings.map((g) => g.causationId).sort()).toEqual([burst[0]!.id, burst[3]!.id, burst[6]!.id].sort());
    const state = await store.loadConversation(burst[8]!.conversationId!);
    expect(state).toMatchObject({ lastInboundEventId: burst[8]!.id, firstContactSeen: true });
  });

  it('suppresses messages for a Page it has never seen connected, after waiting briefly for the connection', async () => {
    const message = messageReceived({ pageId: newPageId(), at: new Date() });
    await publisher.publish([message]);
    expect(await decisionFor(message)).toMatchObject({ type: 'conversation.reply.suppressed', data: { reason: 'page_disconnected', triggerEventId: message.id } });
  });

  it('escalates on a keyword and stops replying until a person resolves the conversation', async () => {
    const pageId = newPageId();
    await connectPage(pageId);
    await putSettings(pageId, { ...baseSettings, escalationKeywords: ['refund'] });
    const psid = 'customer-2';
    const conversationId = `${pageId}:${psid}`;

    const refund = messageReceived({ pageId, psid, at: new Date(), text: 'I want a REFUND' });
    await publisher.publish([refund]);
    expect(await decisionFor(refund)).toMatchObject({ type: 'conversation.reply.suppressed', data: { reason: 'escalated' } });
    const escalation = await waitForEvent('conversation.escalated', (e) => e.causationId === refund.id, 'the escalation');
    expect(escalation.data).toMatchObject({ reason: 'keyword', by: 'rules', triggerEventId: refund.id });

    const meanwhile = messageReceived({ pageId, psid, at: new Date(), text: 'hello?' });
    await publisher.publish([meanwhile]);
    expect(await decisionFor(meanwhile)).toMatchObject({ type: 'conversation.reply.suppressed', data: { reason: 'escalated' } });

    // A person resolves it through the projection.
    await publisher.publish([resolved({ pageId, psid, at: new Date(Date.now() + 1), accountId: ACCOUNT_A.accountId })]);
    await waitFor(async () => (await store.loadConversation(conversationId))?.escalation === null, { description: 'the resolution applied', timeoutMs: 30_000 });

    const after = messageReceived({ pageId, psid, at: new Date(), text: 'Thanks, one more question' });
    await publisher.publish([after]);
    expect(await decisionFor(after)).toMatchObject({ type: 'conversation.reply.requested' });
  });

  it('escalates when a person answers from Meta\'s inbox, and not for our own echoes', async () => {
    const pageId = newPageId();
    await connectPage(pageId);
    await putSettings(pageId, baseSettings);
    const psid = 'customer-3';
    const ours = messageEchoed({ pageId, psid, at: new Date(), appId: META_APP_ID });
    const inbox = messageEchoed({ pageId, psid, at: new Date(), appId: '263902037430900' });
    await publisher.publish([ours, inbox]);
    expect(await decisionFor(ours)).toMatchObject({ data: { reason: 'page_echo' } });
    expect(await decisionFor(inbox)).toMatchObject({ data: { reason: 'page_echo' } });
    const escalations = await waitFor(() => {
      const found = eventsOf('conversation.escalated', (e) => e.pageId === pageId);
      return found.length > 0 ? found : undefined;
    }, { description: 'the escalation', timeoutMs: 30_000 });
    expect(escalations.map((e) => [e.causationId, e.data.reason, e.data.by])).toEqual([[inbox.id, 'human_took_over', 'page_inbox']]);
  });
});

describe('reply window scheduler', () => {
  afterEach(() => {
    clockOffsetMs = 0;
  });

  it('escalates an unanswered customer when an hour of the window is left, once', async () => {
    const pageId = newPageId();
    await connectPage(pageId);
    const psid = 'customer-4';
    const conversationId = `${pageId}:${psid}`;
    const message = messageReceived({ pageId, psid, at: new Date(), text: 'Are you open on Sunday?' });
    await publisher.publish([message]);
    await decisionFor(message); // no assistant yet: suppressed, and the customer waits
    expect(await store.loadConversation(conversationId)).toMatchObject({ lastInboundEventId: message.id, escalation: null });

    clockOffsetMs = 23 * HOUR + MINUTE;
    const escalation = await waitForEvent('conversation.escalated', (e) => e.conversationId === conversationId, 'the window-closing escalation');
    expect(escalation).toMatchObject({ accountId: ACCOUNT_A.accountId, causationId: message.id, data: { reason: 'reply_window_closing', by: 'rules', triggerEventId: message.id } });

    // Stored as alerted: the next passes find nothing more to do for this conversation.
    await rules.windowScheduler.tick();
    expect((await store.loadConversation(conversationId))?.windowAlertedFor).toBe(message.occurredAt);
    expect(eventsOf('conversation.escalated', (e) => e.conversationId === conversationId)).toHaveLength(1);
  });

  it('does not escalate a customer who was answered', async () => {
    const pageId = newPageId();
    await connectPage(pageId);
    const psid = 'customer-5';
    const conversationId = `${pageId}:${psid}`;
    const message = messageReceived({ pageId, psid, at: new Date() });
    await publisher.publish([message]);
    await decisionFor(message);
    const sent = createEvent('outbound.message.sent', {
      id: uniqueName('sent'),
      pageId,
      accountId: ACCOUNT_A.accountId,
      conversationId,
      occurredAt: new Date(Date.now() + 1_000),
      recordedAt: new Date(Date.now() + 1_000),
      data: {
        outboundId: uniqueName('out'),
        customer: { psid },
        channel: 'messenger',
        author: 'agent',
        part: 0,
        partCount: 1,
        mid: uniqueName('mid'),
        content: { text: 'Yes, from 10 to 4.' },
        messagingType: 'RESPONSE',
        tag: null,
        sentAt: new Date(Date.now() + 1_000).toISOString(),
      },
    });
    await publisher.publish([sent]);
    await waitFor(async () => (await store.loadConversation(conversationId))?.lastAnsweredAt === sent.data.sentAt, { description: 'the answer applied', timeoutMs: 30_000 });

    clockOffsetMs = 23 * HOUR + MINUTE;
    await rules.windowScheduler.tick();
    expect(eventsOf('conversation.escalated', (e) => e.conversationId === conversationId)).toHaveLength(0);
    expect(await store.loadConversation(conversationId)).toMatchObject({ escalation: null, windowAlertedFor: null });
  });
});

describe('processed event ids', () => {
  it('are forgotten after the retention, and only the old ones', async () => {
    const pageId = newPageId();
    await connectPage(pageId);
    const message = messageReceived({ pageId, psid: 'customer-prune', at: new Date() });
    await publisher.publish([message]);
    await decisionFor(message);
    const old = Array.from({ length: 25 }, (_, i) => `${pageId}-old-${i}`);
    await db.query(
      `insert into processed_events (event_id, event_type, processed_at) select id, 'test.old', now() - interval '8 days' from unnest(?::text[]) id`,
      [old],
    );

    const pruned = await rules.processedEventsPruner.prune();

    expect(pruned).toBeGreaterThanOrEqual(25);
    expect(await db.query('select 1 from processed_events where event_id = any(?::text[])', [old])).toEqual([]);
    // What was applied within the retention is still recognised.
    expect(await store.isProcessed(message.id)).toBe(true);
  });
});
