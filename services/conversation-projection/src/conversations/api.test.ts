import { TOPICS } from '@parley/contracts';
import type { EventOf, ParleyEvent } from '@parley/contracts';
import { startEventConsumer } from '@parley/messaging';
import type { EventPublisher, RunningConsumer } from '@parley/messaging';
import { conversationList, conversationView, messageList, problemView, replyAccepted } from '../api/views.ts';
import type { ProjectionConfig } from '../config.ts';
import { inboxEvents } from '../inbox/fixtures.ts';
import type { RunningProjection } from '../service.ts';
import { apiClient, createProjectionTopics, dropSchemas, feed, provisionEventTopics, startTestProjection, testConfig, testKafka, testLogger, uniqueName, waitFor } from '../test-support.ts';
import type { TestTopics } from '../test-support.ts';

// Every route, filter and error of the projection API against a real broker and database, including
// proof that one account's key cannot read, list or act on another account's conversations.

const MIN = 60_000;
const DAY = 24 * 60 * MIN;
let topics: TestTopics;
let publisher: EventPublisher;
let config: ProjectionConfig;
let service: RunningProjection;
let reader: RunningConsumer;
const published: ParleyEvent[] = [];
const api = apiClient(() => service.url);
const now = Date.now();

const A1 = uniqueName('pageA1');
const A2 = uniqueName('pageA2');
const A3 = uniqueName('pageA3');
const G1 = uniqueName('pageG1');
const a1 = inboxEvents(A1);
const a2 = inboxEvents(A2);
const a3 = inboxEvents(A3);
const g1 = inboxEvents(G1);
const enc = encodeURIComponent;

const ids = {
  ana: a1.conversationId('ana'),
  escalated: a1.conversationId('esc'),
  resolved: a1.conversationId('res'),
  twoDays: a1.conversationId('two-days'),
  eightDays: a1.conversationId('eight-days'),
  comment: a1.commentConversationId('cm-root'),
  reconnect: a2.conversationId('rc'),
  disconnected: a3.conversationId('dc'),
  globex: g1.conversationId('gx'),
};

beforeAll(async () => {
  topics = await createProjectionTopics('api');
  const kafka = testKafka();
  publisher = kafka.publisher;
  await provisionEventTopics(kafka.kafka);
  config = testConfig(topics);
  service = await startTestProjection(config);
  await service.host.ready;
  // What the API publishes goes to the real topics: read them from now on.
  reader = await startEventConsumer({
    kafka: kafka.kafka,
    publisher,
    logger: testLogger(),
    groupId: uniqueName('api-test-reader'),
    topics: [TOPICS.outboundCommands, TOPICS.decisions],
    fromBeginning: false,
    handle: async (event) => {
      if ([A1, A2, A3, G1].includes(event.pageId)) published.push(event);
    },
  });
  await reader.ready;

  const t = now - 30 * MIN;
  const filler = Array.from({ length: 5 }, (_, i) => a1.received(`filler-${i}`, { mid: uniqueName('f'), text: `filler ${i}`, at: t + i * 1_000 }));
  await feed(publisher, topics, [
    a1.pageConnected({ accountId: 'acme', name: 'Acme Bakery', at: t - DAY * 10 }),
    a2.pageConnected({ accountId: 'acme', name: 'Acme Deli', at: t - DAY * 10 }),
    a3.pageConnected({ accountId: 'acme', name: 'Acme Old', at: t - DAY * 10 }),
    g1.pageConnected({ accountId: 'globex', name: 'Globex', at: t - DAY * 10 }),
    ...filler,
    a1.received('ana', { mid: uniqueName('m'), text: 'I would like a REFUND please, 100% broken', at: t + 10_000 }),
    a1.received('ana', { mid: uniqueName('m'), text: 'hello?', at: t + 11_000 }),
    a1.profile('ana', { available: true, firstName: 'Ana', lastName: 'Silva', displayName: 'Ana Silva', at: t + 12_000 }),
    a1.received('esc', { mid: uniqueName('m'), text: 'I want a human', at: t + 20_000 }),
    a1.escalated('esc', { reason: 'human_requested', at: t + 21_000 }),
    a1.received('res', { mid: uniqueName('m'), text: 'thanks, all good', at: t + 30_000 }),
    a1.resolved('res', { at: t + 31_000 }),
    a1.received('two-days', { mid: uniqueName('m'), text: 'are you there', at: now - 2 * DAY }),
    a1.received('eight-days', { mid: uniqueName('m'), text: 'old question', at: now - 8 * DAY }),
    a1.comment('commenter', { commentId: 'cm-root', message: 'Do you ship to Lyon?', name: 'Bo Chen', at: t + 40_000 }),
    a2.received('rc', { mid: uniqueName('m'), text: 'deli question', at: t + 50_000 }),
    a3.received('dc', { mid: uniqueName('m'), text: 'old page', at: t + 60_000 }),
    g1.received('gx', { mid: uniqueName('m'), text: 'REFUND globex secret', at: t + 70_000 }),
    a2.pageConnectionChanged({ status: 'needs_reconnect', accountId: 'acme', at: t + 80_000 }),
    a3.pageDisconnected({ accountId: 'acme', at: t + 80_000 }),
  ]);
  await waitFor(
    async () => {
      const [acme, globex, deli, old] = await Promise.all([
        api.get('/v1/conversations?limit=200'),
        api.get('/v1/conversations', 'key-globex'),
        api.get(`/v1/conversations/${enc(ids.reconnect)}`),
        api.get(`/v1/conversations/${enc(ids.disconnected)}`),
      ]);
      return (
        acme.body.items?.length === 13 &&
        globex.body.items?.length === 1 &&
        acme.body.items.some((c: { customer: { name: string } }) => c.customer.name === 'Ana Silva') &&
        deli.body.page?.status === 'needs_reconnect' &&
        old.body.page?.status === 'disconnected'
      );
    },
    { description: 'the inbox projected', timeoutMs: 30_000 },
  );
});

afterAll(async () => {
  await reader?.stop();
  await service?.stop();
  await publisher?.disconnect();
  await topics?.delete();
  if (config) await dropSchemas(config.DB_SCHEMA);
});

function expectProblem(res: { status: number; body: unknown; headers: Headers }, status: number, code: string) {
  expect(res.status).toBe(status);
  expect(res.headers.get('content-type')).toContain('application/problem+json');
  expect(problemView.parse(res.body)).toMatchObject({ status, code });
}

describe('authentication', () => {
  it('401 without a key, with a malformed header, or with an unknown key', async () => {
    for (const res of [await api.get('/v1/conversations', ''), await api.get('/v1/conversations', 'nope'), await api.get('/v1/conversations', '', { authorization: 'Basic abc' })]) {
      expectProblem(res, 401, 'unauthorized');
      expect(res.headers.get('www-authenticate')).toContain('Bearer');
    }
  });
});

describe('GET /v1/conversations', () => {
  it('lists the account\'s conversations, newest activity first, in the documented shape', async () => {
    const res = await api.get('/v1/conversations?limit=200');
    expect(res.status).toBe(200);
    const body = conversationList.parse(res.body);
    const times = body.items.map((c) => Date.parse(c.lastActivityAt));
    expect(times).toEqual([...times].sort((a, b) => b - a));
    expect(body.items.every((c) => [A1, A2, A3].includes(c.pageId))).toBe(true);
    expect(body.nextCursor).toBeNull();
    const ana = body.items.find((c) => c.id === ids.ana)!;
    expect(ana).toMatchObject({ customer: { psid: 'ana', name: 'Ana Silva', nameSource: 'profile' }, unreadCount: 2, lastMessagePreview: 'hello?', status: 'open' });
    const filler = body.items.find((c) => c.customer.psid === 'filler-0')!;
    expect(filler.customer).toEqual({ psid: 'filler-0', name: expect.stringMatching(/^Customer [0-9a-f]{4}$/), nameSource: 'fallback' });
  });

  it('pages through everything with the opaque cursor, without gaps or repeats', async () => {
    const all = (await api.get('/v1/conversations?limit=200')).body.items.map((c: { id: string }) => c.id);
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const res: { status: number; body: { items: Array<{ id: string }>; nextCursor: string | null } } = await api.get(`/v1/conversations?limit=4${cursor ? `&cursor=${enc(cursor)}` : ''}`);
      expect(res.status).toBe(200);
      expect(res.body.items.slice(4)).toEqual([]); // never more than the page size
      seen.push(...res.body.items.map((c) => c.id));
      cursor = res.body.nextCursor;
    } while (cursor);
    expect(seen).toEqual(all);
  });

  it('filters by Page, channel and status', async () => {
    const byPage = await api.get(`/v1/conversations?pageId=${A2}`);
    expect(byPage.body.items.map((c: { id: string }) => c.id)).toEqual([ids.reconnect]);
    const comments = await api.get('/v1/conversations?channel=page_comment');
    expect(comments.body.items.map((c: { id: string }) => c.id)).toEqual([ids.comment]);
    const escalated = await api.get('/v1/conversations?status=escalated');
    expect(escalated.body.items.map((c: { id: string }) => c.id)).toEqual([ids.escalated]);
    expect(escalated.body.items[0].escalation).toMatchObject({ reason: 'human_requested', by: 'rules' });
    const resolved = await api.get(`/v1/conversations?status=resolved&pageId=${A1}`);
    expect(resolved.body.items.map((c: { id: string }) => c.id)).toEqual([ids.resolved]);
    const messengerOpen = await api.get(`/v1/conversations?status=open&channel=messenger&pageId=${A1}&limit=200`);
    expect(messengerOpen.body.items).toHaveLength(8);
  });

  it('searches customer names and message text, partially and case-insensitively, never across accounts', async () => {
    const byName = await api.get('/v1/conversations?q=silv');
    expect(byName.body.items.map((c: { id: string }) => c.id)).toEqual([ids.ana]);
    const byText = await api.get('/v1/conversations?q=refund');
    expect(byText.body.items.map((c: { id: string }) => c.id)).toEqual([ids.ana]);
    // LIKE wildcards are searched for literally.
    const percent = await api.get(`/v1/conversations?q=${enc('100%')}`);
    expect(percent.body.items.map((c: { id: string }) => c.id)).toEqual([ids.ana]);
    const underscore = await api.get(`/v1/conversations?q=${enc('_')}`);
    expect(underscore.body.items).toEqual([]);
    const commentAuthor = await api.get('/v1/conversations?q=bo%20chen');
    expect(commentAuthor.body.items.map((c: { id: string }) => c.id)).toEqual([ids.comment]);
    const globexSecret = await api.get('/v1/conversations?q=globex%20secret');
    expect(globexSecret.body.items).toEqual([]);
  });

  it('answers 400 for bad parameters and cursors, 404 for a Page that is not the account\'s', async () => {
    expectProblem(await api.get('/v1/conversations?limit=0'), 400, 'invalid_query');
    expectProblem(await api.get('/v1/conversations?limit=201'), 400, 'invalid_query');
    expectProblem(await api.get('/v1/conversations?status=closed'), 400, 'invalid_query');
    expectProblem(await api.get('/v1/conversations?channel=sms'), 400, 'invalid_query');
    expectProblem(await api.get('/v1/conversations?unknown=1'), 400, 'invalid_query');
    expectProblem(await api.get('/v1/conversations?q='), 400, 'invalid_query');
    expectProblem(await api.get('/v1/conversations?cursor=not-a-cursor!'), 400, 'invalid_cursor');
    expectProblem(await api.get(`/v1/conversations?cursor=${Buffer.from('[1,2]').toString('base64url')}`), 400, 'invalid_cursor');
    expectProblem(await api.get(`/v1/conversations?pageId=${G1}`), 404, 'page_not_found');
    expectProblem(await api.get('/v1/conversations?pageId=nope'), 404, 'page_not_found');
  });
});

describe('GET /v1/conversations/{id} and its messages', () => {
  it('answers one conversation, and its messages oldest first with a cursor', async () => {
    const res = await api.get(`/v1/conversations/${enc(ids.ana)}`);
    expect(res.status).toBe(200);
    expect(conversationView.parse(res.body)).toMatchObject({ id: ids.ana, page: { name: 'Acme Bakery', status: 'connected' } });
    const first = await api.get(`/v1/conversations/${enc(ids.ana)}/messages?limit=1`);
    expect(messageList.parse(first.body).items.map((m) => m.text)).toEqual(['I would like a REFUND please, 100% broken']);
    const second = await api.get(`/v1/conversations/${enc(ids.ana)}/messages?limit=1&cursor=${enc(first.body.nextCursor)}`);
    expect(second.body.items.map((m: { text: string }) => m.text)).toEqual(['hello?']);
    expect(second.body.nextCursor).toBeNull();
    expectProblem(await api.get(`/v1/conversations/${enc(ids.ana)}/messages?cursor=${Buffer.from('["2026-01-01",1]').toString('base64url')}`), 400, 'invalid_cursor');
  });

  it('404 for an unknown conversation, and for another account\'s', async () => {
    expectProblem(await api.get('/v1/conversations/nope'), 404, 'conversation_not_found');
    expectProblem(await api.get(`/v1/conversations/${enc(ids.globex)}`), 404, 'conversation_not_found');
    expectProblem(await api.get(`/v1/conversations/${enc(ids.globex)}/messages`), 404, 'conversation_not_found');
    expectProblem(await api.get(`/v1/conversations/${enc(ids.ana)}`, 'key-globex'), 404, 'conversation_not_found');
    expectProblem(await api.get(`/v1/conversations/${enc(ids.ana)}/messages`, 'key-globex'), 404, 'conversation_not_found');
  });

  it('another account\'s key lists only its own conversations', async () => {
    const res = await api.get('/v1/conversations?limit=200', 'key-globex');
    expect(res.body.items.map((c: { id: string }) => c.id)).toEqual([ids.globex]);
    expectProblem(await api.get(`/v1/conversations?pageId=${A1}`, 'key-globex'), 404, 'page_not_found');
  });
});

describe('POST /v1/conversations/{id}/replies', () => {
  const commandsFor = (outboundId: string) =>
    published.filter((e): e is EventOf<'outbound.send.requested'> => e.type === 'outbound.send.requested' && e.data.outboundId === outboundId);

  it('inside the 24-hour window: a normal response by an agent', async () => {
    const res = await api.post(`/v1/conversations/${enc(ids.ana)}/replies`, { text: 'Sorry about that, Ana!', attachments: [{ type: 'image', url: 'https://cdn.example.com/label.png' }], agentId: 'sam' });
    expect(res.status).toBe(202);
    expect(replyAccepted.parse(res.body)).toEqual({ id: expect.any(String), status: 'scheduled', messagingType: 'RESPONSE', tag: null });
    const [command] = await waitFor(() => (commandsFor(res.body.id).length > 0 ? commandsFor(res.body.id) : undefined), { description: 'the command on outbound.commands.v1' });
    expect(command).toMatchObject({
      accountId: 'acme',
      pageId: A1,
      conversationId: ids.ana,
      data: {
        customer: { psid: 'ana' },
        channel: 'messenger',
        author: 'agent',
        purpose: 'manual',
        agentId: 'sam',
        messagingType: 'RESPONSE',
        tag: null,
        commentId: null,
        parts: [{ text: 'Sorry about that, Ana!' }, { attachment: { type: 'image', url: 'https://cdn.example.com/label.png' } }],
      },
    });
  });

  it('after 24 hours and within 7 days: MESSAGE_TAG with HUMAN_AGENT', async () => {
    const res = await api.post(`/v1/conversations/${enc(ids.twoDays)}/replies`, { text: 'Still there?' });
    expect(res.status).toBe(202);
    expect(res.body).toMatchObject({ messagingType: 'MESSAGE_TAG', tag: 'HUMAN_AGENT' });
    const [command] = await waitFor(() => (commandsFor(res.body.id).length > 0 ? commandsFor(res.body.id) : undefined), { description: 'the tagged command' });
    expect(command!.data).toMatchObject({ messagingType: 'MESSAGE_TAG', tag: 'HUMAN_AGENT' });
  });

  it('after 7 days: 409 reply_window_closed, said so a person understands', async () => {
    const res = await api.post(`/v1/conversations/${enc(ids.eightDays)}/replies`, { text: 'Hello?' });
    expectProblem(res, 409, 'reply_window_closed');
    expect(res.body.detail).toMatch(/last wrote on .+ 7 days/);
  });

  it('a comment thread takes text only (422 for attachments) and answers the latest comment', async () => {
    expectProblem(await api.post(`/v1/conversations/${enc(ids.comment)}/replies`, { text: 'Yes!', attachments: [{ type: 'image', url: 'https://cdn.example.com/a.png' }] }), 422, 'attachments_not_allowed');
    const res = await api.post(`/v1/conversations/${enc(ids.comment)}/replies`, { text: 'Yes, we ship to Lyon.' });
    expect(res.status).toBe(202);
    const [command] = await waitFor(() => (commandsFor(res.body.id).length > 0 ? commandsFor(res.body.id) : undefined), { description: 'the comment reply command' });
    expect(command!.data).toMatchObject({ channel: 'page_comment', commentId: 'cm-root', customer: { psid: 'commenter' } });
  });

  it('a disconnected Page: 409 page_disconnected; a Page that needs reconnecting: accepted and held', async () => {
    expectProblem(await api.post(`/v1/conversations/${enc(ids.disconnected)}/replies`, { text: 'hi' }), 409, 'page_disconnected');
    const held = await api.post(`/v1/conversations/${enc(ids.reconnect)}/replies`, { text: 'hi' });
    expect(held.status).toBe(202);
    expect(held.body).toMatchObject({ status: 'scheduled', note: expect.stringContaining('reconnected') });
  });

  it('a double click (the same id, or Idempotency-Key) sends once', async () => {
    const body = { text: 'Only once, please', id: uniqueName('click') };
    const [first, second] = await Promise.all([
      api.post(`/v1/conversations/${enc(ids.ana)}/replies`, body),
      api.post(`/v1/conversations/${enc(ids.ana)}/replies`, body),
    ]);
    const third = await api.post(`/v1/conversations/${enc(ids.ana)}/replies`, { text: 'Only once, please' }, undefined, { 'idempotency-key': body.id });
    expect([first.status, second.status, third.status]).toEqual([202, 202, 202]);
    expect(second.body.id).toBe(first.body.id);
    expect(third.body.id).toBe(first.body.id);
    await waitFor(() => commandsFor(first.body.id).length > 0, { description: 'the command' });
    // Concurrent clicks may both publish, but as the same event: one send (outbound-sender is idempotent by outboundId).
    expect(new Set(commandsFor(first.body.id).map((c) => c.id)).size).toBe(1);
    const reused = await api.post(`/v1/conversations/${enc(ids.ana)}/replies`, { text: 'Something else', id: body.id });
    expectProblem(reused, 409, 'idempotency_key_reused');
    expectProblem(await api.post(`/v1/conversations/${enc(ids.ana)}/replies`, { text: 'x', id: 'a' }, undefined, { 'idempotency-key': 'b' }), 400, 'invalid_request');
  });

  it('400 for bodies that are not a reply, 404 for another account\'s conversation (nothing published)', async () => {
    expectProblem(await api.post(`/v1/conversations/${enc(ids.ana)}/replies`, {}), 400, 'invalid_request');
    expectProblem(await api.post(`/v1/conversations/${enc(ids.ana)}/replies`, { text: '   ' }), 400, 'invalid_request');
    expectProblem(await api.post(`/v1/conversations/${enc(ids.ana)}/replies`, { text: 'x'.repeat(2001) }), 400, 'invalid_request');
    expectProblem(await api.post(`/v1/conversations/${enc(ids.ana)}/replies`, { text: 'hi', extra: true }), 400, 'invalid_request');
    expectProblem(await api.post(`/v1/conversations/${enc(ids.ana)}/replies`, { attachments: [{ type: 'pdf', url: 'https://x.example/a' }] }), 400, 'invalid_request');
    expectProblem(await api.post(`/v1/conversations/${enc(ids.ana)}/replies`, { attachments: [{ type: 'file', url: 'ftp://x.example/a' }] }), 400, 'invalid_request');
    expectProblem(await api.post(`/v1/conversations/${enc(ids.ana)}/replies`, '{oops'), 400, 'malformed_json');
    expectProblem(await api.post(`/v1/conversations/${enc(ids.ana)}/replies`, { text: 'y'.repeat(70_000) }), 413, 'body_too_large');
    const before = published.length;
    expectProblem(await api.post(`/v1/conversations/${enc(ids.ana)}/replies`, { text: 'not yours' }, 'key-globex'), 404, 'conversation_not_found');
    expectProblem(await api.post(`/v1/conversations/${enc(ids.globex)}/replies`, { text: 'not yours' }), 404, 'conversation_not_found');
    expectProblem(await api.post('/v1/conversations/nope/replies', { text: 'hi' }), 404, 'conversation_not_found');
    expect(published.slice(before).filter((e) => e.type === 'outbound.send.requested' && 'parts' in e.data && JSON.stringify(e.data.parts).includes('not yours'))).toEqual([]);
  });
});

describe('POST /v1/conversations/{id}/resolve and /escalate', () => {
  it('publish conversation.resolved and conversation.escalated by an agent', async () => {
    const resolved = await api.post(`/v1/conversations/${enc(ids.escalated)}/resolve`, { agentId: 'sam' });
    expect(resolved.status).toBe(202);
    expect(resolved.body).toEqual({ conversationId: ids.escalated, status: 'resolved', eventId: expect.any(String) });
    const escalated = await api.post(`/v1/conversations/${enc(ids.resolved)}/escalate`, { note: 'VIP customer' });
    expect(escalated.status).toBe(202);
    const noBody = await api.post(`/v1/conversations/${enc(ids.twoDays)}/escalate`);
    expect(noBody.status).toBe(202);
    await waitFor(() => published.some((e) => e.id === resolved.body.eventId) && published.some((e) => e.id === escalated.body.eventId), { description: 'both decisions' });
    expect(published.find((e) => e.id === resolved.body.eventId)).toMatchObject({ type: 'conversation.resolved', accountId: 'acme', conversationId: ids.escalated, data: { by: 'agent', agentId: 'sam', customer: { psid: 'esc' } } });
    expect(published.find((e) => e.id === escalated.body.eventId)).toMatchObject({ type: 'conversation.escalated', data: { by: 'agent', reason: 'agent', detail: 'VIP customer' } });
  });

  it('404 for another account\'s conversation, 400 for a bad body', async () => {
    expectProblem(await api.post(`/v1/conversations/${enc(ids.ana)}/resolve`, {}, 'key-globex'), 404, 'conversation_not_found');
    expectProblem(await api.post(`/v1/conversations/${enc(ids.ana)}/escalate`, {}, 'key-globex'), 404, 'conversation_not_found');
    expectProblem(await api.post(`/v1/conversations/${enc(ids.ana)}/escalate`, { reason: 'nope' }), 400, 'invalid_request');
  });
});
