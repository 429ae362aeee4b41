import { NOT_SURE } from '@parley/builtin-assistant';
import { EVENT_TOPICS, TOPICS, deterministicId, encodeEvent, keyOf } from '@parley/contracts';
import type { EventOf, ParleyEvent } from '@parley/contracts';
import { generateFernetKey } from '@parley/fernet';
import { createEventPublisher, createKafkaClient, provisionTopics, startEventConsumer } from '@parley/messaging';
import type { EventPublisher, RunningConsumer } from '@parley/messaging';
import { createLogger } from '@parley/observability';
import { openDatabase } from '@parley/persistence';
import type { Database } from '@parley/persistence';
import { createTestSchema, createTestTopics, deleteTestTopics, testDatabaseUrl, testKafkaBrokers, uniqueName, waitFor } from '@parley/testing';
import type { TestSchema } from '@parley/testing';
import type { InputTopics } from './consumers.ts';
import { migrations } from './migrations.ts';
import { startResponder } from './service.ts';
import type { RunningResponder } from './service.ts';
import { DEFAULT_SHAPE, shapeAnswer } from './shaping/shape.ts';
import { escalated, messageReceived, pageConnected, replyRequested, resolved } from './test-fixtures.ts';

/**
 * The responder end to end with the real broker and database: events in on fresh input topics
 * (so that this responder acts on nothing but this file's events), commands and suppressions out
 * on Parley's topics, read back by a collector and filtered by this file's unique Pages. Time is an
 * injected clock the tests move forward, so "due" never depends on how fast the machine is.
 */

const logger = createLogger({ service: 'responder-test', level: process.env['TEST_LOG_LEVEL'] ?? 'silent' });
const brokers = testKafkaBrokers();
const kafka = createKafkaClient({ brokers, clientId: uniqueName('responder-test'), logger });
const inputTopics: InputTopics = {
  decisions: uniqueName('responder-test-decisions'),
  pages: uniqueName('responder-test-pages'),
  inbound: uniqueName('responder-test-inbound'),
  outboundEvents: uniqueName('responder-test-outbound-events'),
};
const apiKeys = new Map([
  ['key-a', 'acct-a'],
  ['key-b', 'acct-b'],
]);

let now = new Date();
const clock = { now: () => now };
const advanceTo = (time: Date) => {
  if (time > now) now = new Date(time.getTime());
};

let schema: TestSchema;
let db: Database;
let service: RunningResponder;
let publisher: EventPublisher;
let collector: RunningConsumer;
const pages = new Set<string>();
const collected: ParleyEvent[] = [];

beforeAll(async () => {
  await provisionTopics(kafka, EVENT_TOPICS);
  await createTestTopics(brokers, Object.values(inputTopics));
  schema = await createTestSchema(testDatabaseUrl(), 'responder_it');
  service = await startResponder(
    {
      kafkaBrokers: brokers,
      databaseUrl: testDatabaseUrl(),
      databaseSchema: schema.schema,
      databasePreparedStatements: true,
      port: 0,
      apiKeys,
      tokenEncryptionKeys: [generateFernetKey()],
      apiKeyRefs: new Map(),
      consumerGroups: { decisions: uniqueName('responder-test-decisions'), context: uniqueName('responder-test-context') },
      inputTopics,
      pollIntervalMs: 100,
      llmTimeoutMs: 2_000,
      allowPrivateNetwork: true,
      maxReplyLatenessMs: 3_600_000,
      contextWaitMs: 5_000,
      shape: DEFAULT_SHAPE,
    },
    { logger, clock },
  );
  db = await openDatabase({ databaseUrl: testDatabaseUrl(), schema: schema.schema, logger, migrations });
  publisher = createEventPublisher({ kafka, logger });
  collector = await startEventConsumer({
    kafka,
    publisher,
    logger,
    groupId: uniqueName('responder-test-collector'),
    topics: [TOPICS.outboundCommands, TOPICS.decisions],
    fromBeginning: true,
    handle: async (event) => {
      if (pages.has(event.pageId)) collected.push(event);
    },
  });
}, 120_000);

afterAll(async () => {
  await collector?.stop();
  await service?.stop();
  await publisher?.disconnect();
  await db?.close();
  await schema?.drop();
  await deleteTestTopics(brokers, Object.values(inputTopics));
});

// ---------------------------------------------------------------------------------------------

function newPage(accountId = 'acct-a') {
  const pageId = uniqueName('page');
  pages.add(pageId);
  return { pageId, psid: uniqueName('psid'), accountId };
}

async function send(topic: string, ...events: ParleyEvent[]): Promise<void> {
  await publisher.publishRaw(events.map((event) => ({ topic, key: keyOf(event), value: encodeEvent(event), headers: { 'event-type': event.type } })));
}

async function createAssistant(key: string, body: Record<string, unknown>): Promise<string> {
  const response = await fetch(`${service.url}/v1/assistants`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'Harbour FAQ', provider: { type: 'builtin' }, ...body }),
  });
  expect(response.status).toBe(201);
  return ((await response.json()) as { id: string }).id;
}

const HOURS =
  'We are open Monday to Friday from 9:00 to 17:00. On Saturdays we open from 10:00 to 14:00, and on Sundays we are closed. ' +
  'On public holidays we follow the Sunday hours unless we announce otherwise on this Page. ' +
  'During the summer season, from June to August, we stay open until 19:00 on Thursdays and Fridays. ' +
  'If you want to visit outside these hours, write to us and we will try to arrange an appointment.';
const RETURNS = 'You can return any item within 30 days for a full refund. Please bring the receipt.';

const knowledge = [
  { title: 'Opening hours', content: HOURS },
  { title: 'Returns and refunds', content: RETURNS },
];

/** The Page is connected to its account, and the responder knows it. */
async function connectPage(who: { pageId: string; accountId: string }): Promise<void> {
  await send(inputTopics.pages, pageConnected(who.pageId, who.accountId));
  await waitFor(async () => (await db.query('select 1 from page_accounts where page_id = ?', [who.pageId])).length > 0, { description: 'the Page\'s account', timeoutMs: 30_000 });
}

const conversationOf = (who: { pageId: string; psid: string }) => `${who.pageId}:${who.psid}`;

async function pendingTriggers(conversationId: string): Promise<string[] | null> {
  const rows = await db.query<{ trigger_event_ids: string[] }>('select trigger_event_ids from pending_replies where conversation_id = ?', [conversationId]);
  return rows[0]?.trigger_event_ids ?? null;
}

async function inContext(eventId: string): Promise<boolean> {
  return (await db.query('select 1 from conversation_messages where event_id = ?', [eventId])).length > 0;
}

const commandsFor = (pageId: string) => collected.filter((e): e is EventOf<'outbound.send.requested'> => e.type === 'outbound.send.requested' && e.pageId === pageId);
const suppressionsFor = (pageId: string) => collected.filter((e): e is EventOf<'conversation.reply.suppressed'> => e.type === 'conversation.reply.suppressed' && e.pageId === pageId);

/** Sends the customer's message and the rules' request, and waits until the responder holds both. */
async function customerAsks(who: ReturnType<typeof newPage>, text: string, assistantId: string, replyInMs = 10_000) {
  const message = messageReceived(who, { text, occurredAt: now });
  const request = replyRequested({ pageId: who.pageId, psid: who.psid }, { triggerEventIds: [message.id], assistantId, replyAt: new Date(now.getTime() + replyInMs) });
  await send(inputTopics.inbound, message);
  await send(inputTopics.decisions, request);
  await waitFor(() => inContext(message.id), { description: 'the message in the context', timeoutMs: 30_000 });
  await waitFor(async () => (await pendingTriggers(conversationOf(who)))?.includes(message.id), { description: 'the pending reply', timeoutMs: 30_000 });
  return { message, request };
}

// ---------------------------------------------------------------------------------------------

describe('the responder', () => {
  it('given a reply request, when it is due, then the assistant\'s answer is requested as messages of at most 320 characters', async () => {
    const who = newPage();
    const assistantId = await createAssistant('key-a', { knowledge });
    await connectPage(who);
    const { message, request } = await customerAsks(who, 'What are your opening hours?', assistantId);

    // Not due yet: nothing is sent.
    await service.poller.tick();
    expect(commandsFor(who.pageId)).toEqual([]);

    advanceTo(new Date(request.data.replyAt));
    const [command] = await waitFor(() => commandsFor(who.pageId).length > 0 && commandsFor(who.pageId), { description: 'outbound.send.requested' });
    const expectedParts = shapeAnswer(HOURS);
    expect(expectedParts.length).toBeGreaterThan(1);
    expect(command).toMatchObject({
      accountId: 'acct-a',
      conversationId: conversationOf(who),
      causationId: request.id,
      data: {
        outboundId: deterministicId('reply', message.id),
        customer: { psid: who.psid },
        channel: 'messenger',
        author: 'assistant',
        purpose: 'reply',
        messagingType: 'RESPONSE',
        tag: null,
        typingIndicator: true,
        sendAt: now.toISOString(),
        parts: expectedParts.map((text) => ({ text })),
      },
    });
    for (const part of command!.data.parts) expect('text' in part && part.text.length <= 320).toBe(true);
    await waitFor(async () => (await pendingTriggers(conversationOf(who))) === null, { description: 'the pending reply forgotten' });

    // The same request delivered again changes nothing: a later event on the same (single-partition)
    // topic is applied, and still no reply is pending for the first conversation.
    const marker = { pageId: who.pageId, psid: uniqueName('psid') };
    await send(inputTopics.decisions, request, escalated(marker));
    await waitFor(async () => (await db.query('select 1 from reply_conversations where conversation_id = ? and escalated', [conversationOf(marker)])).length > 0, { description: 'the marker applied' });
    expect(await pendingTriggers(conversationOf(who))).toBeNull();
    expect(commandsFor(who.pageId)).toHaveLength(1);
  });

  it('given two messages before the reply is due, then ONE command answers both, due at the first request\'s time', async () => {
    const who = newPage();
    const assistantId = await createAssistant('key-a', { knowledge });
    await connectPage(who);
    const first = await customerAsks(who, 'What are your opening hours?', assistantId, 10_000);
    advanceTo(new Date(now.getTime() + 2_000));
    const second = await customerAsks(who, 'And can I return things?', assistantId, 12_000);
    expect(await pendingTriggers(conversationOf(who))).toEqual([first.message.id, second.message.id]);

    advanceTo(new Date(first.request.data.replyAt));
    const [command] = await waitFor(() => commandsFor(who.pageId).length > 0 && commandsFor(who.pageId), { description: 'outbound.send.requested' });
    expect(command!.data.outboundId).toBe(deterministicId('reply', first.message.id));
    expect(command!.data.parts).toEqual(shapeAnswer(`${HOURS} ${RETURNS}`).map((text) => ({ text })));
    await waitFor(async () => (await pendingTriggers(conversationOf(who))) === null, { description: 'the pending reply forgotten' });
    expect(commandsFor(who.pageId)).toHaveLength(1);
  });

  it('given a pending reply, when the conversation is escalated, then nothing is sent; requests are refused until a person resolves it', async () => {
    const who = newPage();
    const assistantId = await createAssistant('key-a', { knowledge });
    await connectPage(who);
    const { request } = await customerAsks(who, 'What are your opening hours?', assistantId);

    await send(inputTopics.decisions, escalated({ pageId: who.pageId, psid: who.psid }));
    await waitFor(async () => (await pendingTriggers(conversationOf(who))) === null, { description: 'the pending reply cancelled' });
    advanceTo(new Date(Date.parse(request.data.replyAt) + 1_000));
    await service.poller.tick();

    // While escalated, a late request is refused with a reason, not answered.
    const late = messageReceived(who, { text: 'Hello?', occurredAt: now });
    await send(inputTopics.decisions, replyRequested({ pageId: who.pageId, psid: who.psid }, { triggerEventIds: [late.id], assistantId, replyAt: now }));
    const [refused] = await waitFor(() => suppressionsFor(who.pageId).length > 0 && suppressionsFor(who.pageId), { description: 'the refusal' });
    expect(refused!.data).toMatchObject({ triggerEventId: late.id, reason: 'escalated' });
    expect(commandsFor(who.pageId)).toEqual([]);

    // Resolved by a person: the assistant answers again.
    await send(inputTopics.decisions, resolved({ pageId: who.pageId, psid: who.psid }));
    const again = await customerAsks(who, 'What are your opening hours?', assistantId, 1_000);
    advanceTo(new Date(again.request.data.replyAt));
    await waitFor(() => commandsFor(who.pageId).length === 1, { description: 'an answer after the resolution' });
    expect(commandsFor(who.pageId)[0]!.data.outboundId).toBe(deterministicId('reply', again.message.id));
  });

  it('given an instant reply whose message has not reached the context yet, then it waits for the message and answers it', async () => {
    const who = newPage();
    const assistantId = await createAssistant('key-a', { knowledge });
    await connectPage(who);
    const message = messageReceived(who, { text: 'Can I return a gift?', occurredAt: now });
    await send(inputTopics.decisions, replyRequested({ pageId: who.pageId, psid: who.psid }, { triggerEventIds: [message.id], assistantId, replyAt: now }));
    await waitFor(() => pendingTriggers(conversationOf(who)), { description: 'the pending reply' });
    await service.poller.tick();
    expect(commandsFor(who.pageId)).toEqual([]);

    await send(inputTopics.inbound, message);
    await waitFor(() => inContext(message.id), { description: 'the message in the context' });
    // The reply looks again a moment later (still well within the context wait).
    advanceTo(new Date(now.getTime() + 1_000));
    const [command] = await waitFor(() => commandsFor(who.pageId).length > 0 && commandsFor(who.pageId), { description: 'the answer' });
    expect(command!.data.parts).toEqual([{ text: RETURNS }]);
  });

  it('given an assistant that does not exist, or is private to another account, then the reply is suppressed with the reason', async () => {
    const who = newPage('acct-a');
    await connectPage(who);
    const missing = await customerAsks(who, 'Hello?', 'no-such-assistant', 1_000);
    advanceTo(new Date(missing.request.data.replyAt));
    const [noAssistant] = await waitFor(() => suppressionsFor(who.pageId).length > 0 && suppressionsFor(who.pageId), { description: 'no_assistant' });
    expect(noAssistant).toMatchObject({ accountId: 'acct-a', data: { triggerEventId: missing.message.id, reason: 'no_assistant' } });

    const theirs = await createAssistant('key-b', { visibility: 'private', knowledge });
    const other = { ...who, psid: uniqueName('psid') };
    const privateOne = await customerAsks(other, 'What are your opening hours?', theirs, 1_000);
    advanceTo(new Date(privateOne.request.data.replyAt));
    await waitFor(() => suppressionsFor(who.pageId).some((e) => e.data.reason === 'assistant_private'), { description: 'assistant_private' });
    expect(suppressionsFor(who.pageId).find((e) => e.data.reason === 'assistant_private')!.data.triggerEventId).toBe(privateOne.message.id);
    expect(commandsFor(who.pageId)).toEqual([]);

    // Another account's public assistant may be used.
    const shared = await createAssistant('key-b', { visibility: 'public', knowledge: [] });
    const third = { ...who, psid: uniqueName('psid') };
    const publicOne = await customerAsks(third, 'Do you sell gift cards?', shared, 1_000);
    advanceTo(new Date(publicOne.request.data.replyAt));
    const [answer] = await waitFor(() => commandsFor(who.pageId).length > 0 && commandsFor(who.pageId), { description: 'an answer from the public assistant' });
    expect(answer!.data.parts).toEqual([{ text: NOT_SURE }]);
  });
});
