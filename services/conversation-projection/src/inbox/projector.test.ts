import { RetriableError } from '@parley/messaging';
import type { EventPublisher } from '@parley/messaging';
import {
  apiClient,
  createProjectionTopics,
  dropSchemas,
  feed,
  OUR_APP_ID,
  sql,
  startTestProjection,
  testConfig,
  testKafka,
  uniqueName,
  waitFor,
} from '../test-support.ts';
import type { Json, TestTopics } from '../test-support.ts';
import type { ProjectionConfig } from '../config.ts';
import type { RunningProjection } from '../service.ts';
import { imageAttachment, inboxEvents } from './fixtures.ts';

// The projection against a real broker and database: every event kind, duplicates, events out of
// order, a crash between batches, a full redelivery, poison records.

let topics: TestTopics;
let publisher: EventPublisher;
let config: ProjectionConfig;
let service: RunningProjection;
const api = apiClient(() => service.url);
const MIN = 60_000;

beforeAll(async () => {
  topics = await createProjectionTopics('projector');
  ({ publisher } = testKafka());
  config = testConfig(topics);
  service = await startTestProjection(config);
  await service.host.ready;
});

afterAll(async () => {
  await service?.stop();
  await publisher?.disconnect();
  await topics?.delete();
  if (config) await dropSchemas(config.DB_SCHEMA);
});

const db = () => service.host.current().db;

function newPage(accountId = 'acme') {
  const pageId = uniqueName('page');
  return { pageId, e: inboxEvents(pageId, { accountId }) };
}

async function conversationOf(id: string, until: (body: Json) => boolean, description: string): Promise<Json> {
  return waitFor(
    async () => {
      const res = await api.get(`/v1/conversations/${encodeURIComponent(id)}`);
      return res.status === 200 && until(res.body) ? res.body : undefined;
    },
    { description, timeoutMs: 30_000 },
  );
}

async function messagesOf(id: string): Promise<Json[]> {
  const res = await api.get(`/v1/conversations/${encodeURIComponent(id)}/messages?limit=200`);
  expect(res.status).toBe(200);
  return res.body.items;
}

async function pendingKeys(conversationId: string): Promise<string[]> {
  return (await db().query<{ waits_for: string }>('select waits_for from pending_events where conversation_id = ? order by seq', [conversationId])).map((r) => r.waits_for);
}

describe('every kind of event', () => {
  it('builds the conversation a support tool reads', async () => {
    const { pageId, e } = newPage();
    const psid = 'psid-all';
    const id = e.conversationId(psid);
    const t = Date.now() - 10 * MIN;
    const cdn = `https://scontent.xx.fbcdn.net/v/t1/photo.jpg?_nc_cat=1&oe=${Math.floor((t - MIN) / 1000).toString(16).toUpperCase()}`;
    await feed(publisher, topics, [
      e.pageConnected({ accountId: 'acme', name: 'Sunny Bakery', at: t - MIN }),
      e.settingsChanged({ at: t - MIN }),
      e.received(psid, { mid: 'in-1', text: 'Do you deliver on Sundays?', at: t }),
      e.received(psid, { mid: 'in-2', text: null, attachments: [imageAttachment(cdn)], at: t + 1_000 }),
      e.replyRequested(psid, { at: t + 2_000 }),
      e.sendRequested(psid, { outboundId: 'o-1', parts: [{ text: 'Yes, we do!' }], sendAt: t + 3_000, at: t + 3_000 }),
      e.scheduled(psid, { outboundId: 'o-1', parts: [{ text: 'Yes, we do!' }], sendAt: t + 3_000, at: t + 3_000 }),
      e.sent(psid, { outboundId: 'o-1', mid: 'out-1', content: { text: 'Yes, we do!' }, sentAt: t + 4_000 }),
      e.echoed(psid, { mid: 'out-1', appId: OUR_APP_ID, at: t + 3_900 }),
      e.delivery(psid, { watermark: t + 4_000, mids: ['out-1'], at: t + 5_000 }),
      e.read(psid, { watermark: t + 4_000, at: t + 6_000 }),
      e.reaction(psid, { mid: 'out-1', emoji: '👍', at: t + 7_000 }),
      e.postback(psid, { mid: 'pb-1', title: 'Opening hours', at: t + 8_000 }),
      e.referral(psid, { at: t + 9_000 }),
      e.echoed(psid, { mid: 'human-1', appId: '263902037430900', text: 'Hi, Sam from the bakery here', at: t + 10_000 }),
      e.replySuppressed(psid, { at: t + 10_500 }),
      e.sendRequested(psid, { outboundId: 'o-2', parts: [{ text: 'a' }, { text: 'b' }], sendAt: t + 11_000, at: t + 11_000 }),
      e.failed(psid, { outboundId: 'o-2', part: null, reason: 'The customer blocked the Page.', graphCode: 551, at: t + 12_000 }),
      e.sendRequested(psid, { outboundId: 'o-3', author: 'page', purpose: 'away', sendAt: t + 13_000, at: t + 13_000 }),
      e.deferred(psid, { outboundId: 'o-3', at: t + 13_500 }),
      e.sendRequested(psid, { outboundId: 'o-4', sendAt: t + 14_000, at: t + 14_000 }),
      e.sendCancelled(psid, { outboundId: 'o-4', at: t + 14_500 }),
      e.messageCancelled(psid, { outboundId: 'o-4', at: t + 14_600 }),
      e.tokenRejected({ at: t + 15_000 }),
      e.unsupported({ at: t + 15_000 }),
      e.escalated(psid, { reason: 'human_requested', at: t + 16_000 }),
      e.profile(psid, { available: true, firstName: 'Ana', lastName: 'Silva', displayName: 'Ana Silva', at: t + 17_000 }),
      e.comment('fb-commenter', { commentId: 'c-1', message: 'Price?', name: 'Bo Chen', at: t + 18_000 }),
      e.comment('fb-commenter', { commentId: 'c-1', verb: 'edited', message: 'Price please?', at: t + 19_000 }),
      e.comment('fb-other', { commentId: 'c-2', rootCommentId: 'c-1', message: 'spam', at: t + 19_500 }),
      e.comment('fb-other', { commentId: 'c-2', rootCommentId: 'c-1', verb: 'remove', message: null, at: t + 19_600 }),
      e.comment(pageId, { commentId: 'c-3', rootCommentId: 'c-1', fromPage: true, message: 'Sent you a DM', at: t + 20_000 }),
      e.pageConnectionChanged({ status: 'needs_reconnect', accountId: 'acme', at: t + 21_000 }),
    ]);

    const conversation = await conversationOf(id, (c) => c.status === 'escalated' && c.customer.name === 'Ana Silva' && c.page.status === 'needs_reconnect', 'the full conversation');
    expect(conversation).toMatchObject({
      id,
      channel: 'messenger',
      pageId,
      page: { name: 'Sunny Bakery', status: 'needs_reconnect' },
      customer: { psid, name: 'Ana Silva', nameSource: 'profile' },
      status: 'escalated',
      escalation: { reason: 'human_requested', by: 'rules', at: new Date(t + 16_000).toISOString() },
      lastInboundAt: new Date(t + 9_000).toISOString(),
      replyWindowClosesAt: new Date(t + 9_000 + 24 * 60 * MIN).toISOString(),
      humanAgentWindowClosesAt: new Date(t + 9_000 + 7 * 24 * 60 * MIN).toISOString(),
      // The person in Meta's inbox answered after the customer's last message.
      unreadCount: 0,
    });

    // Each topic is read at its own pace: wait for the last fact of every one of them.
    const messages = await waitFor(
      async () => {
        const list = await messagesOf(id);
        const byId = Object.fromEntries(list.map((m) => [m.id, m]));
        return list.length === 9 && byId['o-4:0']?.status === 'cancelled' && byId['o-3:0']?.deferred && byId['o-2:1']?.status === 'failed' && byId['o-1:0']?.reaction ? list : undefined;
      },
      { description: 'every message of the conversation', timeoutMs: 30_000 },
    );
    const byId = Object.fromEntries(messages.map((m) => [m.id, m]));
    expect(messages.map((m) => m.id)).toEqual(['in-1', 'in-2', 'o-1:0', 'pb-1', 'human-1', 'o-2:0', 'o-2:1', 'o-3:0', 'o-4:0']);
    expect(byId['in-1']).toMatchObject({ direction: 'inbound', author: 'customer', status: 'received', text: 'Do you deliver on Sundays?' });
    // Meta's link kept, and said to be expired (its `oe` is in the past), instead of showing nothing.
    expect(byId['in-2'].attachments).toEqual([{ type: 'image', url: cdn, expiresAt: expect.any(String), expired: true }]);
    expect(byId['o-1:0']).toMatchObject({ author: 'assistant', status: 'read', text: 'Yes, we do!', outboundId: 'o-1', reaction: { emoji: '👍' } });
    expect(byId['o-1:0'].sentAt).toBe(new Date(t + 3_900).toISOString());
    expect(byId['pb-1']).toMatchObject({ kind: 'postback', text: 'Opening hours', author: 'customer' });
    expect(byId['human-1']).toMatchObject({ author: 'page_inbox', status: 'sent', text: 'Hi, Sam from the bakery here' });
    expect(byId['o-2:1']).toMatchObject({ status: 'failed', failure: { reason: 'The customer blocked the Page.', graphCode: 551, category: 'window_closed' } });
    expect(byId['o-3:0']).toMatchObject({ author: 'page', purpose: 'away', status: 'scheduled', deferred: { reason: 'page_needs_reconnect' } });
    expect(byId['o-4:0']).toMatchObject({ status: 'cancelled' });

    const thread = await conversationOf(e.commentConversationId('c-1'), (c) => c.lastMessagePreview === 'Sent you a DM', 'the comment thread');
    expect(thread).toMatchObject({ channel: 'page_comment', customer: { psid: 'fb-commenter', name: 'Bo Chen', nameSource: 'meta' }, unreadCount: 0 });
    const comments = await messagesOf(e.commentConversationId('c-1'));
    expect(comments.map((m) => [m.id, m.text ?? null, m.edited ?? false, m.removed ?? false])).toEqual([
      ['c-1', 'Price please?', true, false],
      ['c-2', null, false, true],
      ['c-3', 'Sent you a DM', false, false],
    ]);

    await feed(publisher, topics, [e.pageDisconnected({ accountId: 'acme', at: t + 22_000 })]);
    await conversationOf(id, (c) => c.page.status === 'disconnected', 'the Page disconnected');
  });
});

describe('duplicates and replays', () => {
  it('the same records twice, and the same facts under new offsets, change nothing', async () => {
    const { e } = newPage();
    const id = e.conversationId('psid-dup');
    const t = Date.now() - MIN;
    const story = [
      e.pageConnected({ accountId: 'acme', at: t - 1 }),
      e.received('psid-dup', { mid: 'd-1', at: t }),
      e.received('psid-dup', { mid: 'd-2', at: t + 1 }),
      e.sent('psid-dup', { outboundId: 'od-1', mid: 'dm-1', sentAt: t - 5 }),
    ];
    await feed(publisher, topics, story);
    await conversationOf(id, (c) => c.unreadCount === 2, 'two unread messages');
    // Redelivered records (new offsets, same events) and the same fact with a new event id.
    await feed(publisher, topics, [...story, e.received('psid-dup', { mid: 'd-1', at: t }), e.received('psid-dup', { mid: 'd-3', at: t + 2 })]);
    await conversationOf(id, (c) => c.unreadCount === 3, 'the one new message');
    expect((await messagesOf(id)).map((m) => m.id)).toEqual(['od-1:0', 'd-1', 'd-2', 'd-3']);
  });
});

describe('events out of order are kept and applied when they can be', () => {
  it('a read before the message it covers', async () => {
    const { e } = newPage();
    const id = e.conversationId('p');
    const t = Date.now() - MIN;
    await feed(publisher, topics, [e.pageConnected({ accountId: 'acme', at: t - 1 }), e.received('p', { mid: 'r-in', at: t }), e.read('p', { watermark: t + 5_000, at: t + 6_000 })]);
    await waitFor(async () => (await db().query('select 1 from conversation_watermarks where conversation_id = ?', [id])).length === 1, { description: 'the watermark kept' });
    await feed(publisher, topics, [e.sent('p', { outboundId: 'r-o', mid: 'r-mid', sentAt: t + 1_000 })]);
    await waitFor(async () => (await messagesOf(id)).find((m) => m.id === 'r-o:0')?.status === 'read', { description: 'the message read' });
  });

  it('a delivery naming a mid we do not know yet', async () => {
    const { e } = newPage();
    const id = e.conversationId('p');
    const t = Date.now() - MIN;
    await feed(publisher, topics, [e.pageConnected({ accountId: 'acme', at: t - 1 }), e.received('p', { mid: 'dl-in', at: t }), e.delivery('p', { watermark: t, mids: ['dl-mid'], at: t + 2_000 })]);
    await waitFor(async () => (await pendingKeys(id)).includes('mid:dl-mid'), { description: 'the delivery pending' });
    await feed(publisher, topics, [e.sent('p', { outboundId: 'dl-o', mid: 'dl-mid', sentAt: t + 1_000 })]);
    await waitFor(async () => (await messagesOf(id)).find((m) => m.id === 'dl-o:0')?.status === 'delivered', { description: 'the message delivered' });
    expect(await pendingKeys(id)).toEqual([]);
  });

  it('a sent event before its scheduled event', async () => {
    const { e } = newPage();
    const id = e.conversationId('p');
    const t = Date.now() - MIN;
    await feed(publisher, topics, [e.pageConnected({ accountId: 'acme', at: t - 1 }), e.sent('p', { outboundId: 'ss-o', mid: 'ss-mid', sentAt: t + 1_000 })]);
    await waitFor(async () => (await api.get(`/v1/conversations/${encodeURIComponent(id)}/messages`)).body.items?.[0]?.status === 'sent', { description: 'sent' });
    await feed(publisher, topics, [e.scheduled('p', { outboundId: 'ss-o', sendAt: t }), e.received('p', { mid: 'ss-marker', at: t + 2_000 })]);
    await conversationOf(id, (c) => c.lastMessagePreview === 'hello', 'the later marker message');
    expect((await messagesOf(id)).find((m) => m.id === 'ss-o:0')).toMatchObject({ status: 'sent', scheduledFor: new Date(t).toISOString(), createdAt: new Date(t).toISOString() });
  });

  it('an echo of our send before the sent event', async () => {
    const { e } = newPage();
    const id = e.conversationId('p');
    const t = Date.now() - MIN;
    await feed(publisher, topics, [e.pageConnected({ accountId: 'acme', at: t - 1 }), e.received('p', { mid: 'ec-in', at: t }), e.echoed('p', { mid: 'ec-mid', appId: OUR_APP_ID, at: t + 1_000 })]);
    await waitFor(async () => (await pendingKeys(id)).includes('mid:ec-mid'), { description: 'the echo pending' });
    expect((await messagesOf(id)).map((m) => m.id)).toEqual(['ec-in']);
    await feed(publisher, topics, [e.sent('p', { outboundId: 'ec-o', mid: 'ec-mid', sentAt: t + 1_500 })]);
    await waitFor(async () => (await pendingKeys(id)).length === 0, { description: 'the echo applied' });
    const messages = await messagesOf(id);
    expect(messages.map((m) => [m.id, m.author])).toEqual([['ec-in', 'customer'], ['ec-o:0', 'assistant']]);
    expect(messages[1].sentAt).toBe(new Date(t + 1_000).toISOString());
  });

  it('a reaction before the message, and a failure before the send it is about', async () => {
    const { e } = newPage();
    const id = e.conversationId('p');
    const t = Date.now() - MIN;
    await feed(publisher, topics, [
      e.pageConnected({ accountId: 'acme', at: t - 1 }),
      e.received('p', { mid: 'rx-in', at: t }),
      e.reaction('p', { mid: 'rx-mid', at: t + 3_000 }),
      e.failed('p', { outboundId: 'fx-o', at: t + 4_000 }),
    ]);
    await waitFor(async () => (await pendingKeys(id)).length === 2, { description: 'both pending' });
    await feed(publisher, topics, [e.sent('p', { outboundId: 'rx-o', mid: 'rx-mid', sentAt: t + 1_000 }), e.sendRequested('p', { outboundId: 'fx-o', sendAt: t + 2_000 })]);
    await waitFor(async () => (await pendingKeys(id)).length === 0, { description: 'both applied' });
    const byId = Object.fromEntries((await messagesOf(id)).map((m) => [m.id, m]));
    expect(byId['rx-o:0'].reaction).toMatchObject({ emoji: '❤️' });
    expect(byId['fx-o:0'].status).toBe('failed');
  });
});

describe('bad input', () => {
  it('a record that is not an event goes to the dead-letter topic and the partition moves on', async () => {
    const { e } = newPage();
    const inbound = topics.names.find((n) => n.endsWith('messenger.inbound.v1'))!;
    const key = e.conversationId('p');
    await publisher.publishRaw([
      { topic: inbound, key, value: '{not json' },
      { topic: inbound, key, value: JSON.stringify({ type: 'messenger.message.received', id: 'x', data: {} }) },
    ]);
    await feed(publisher, topics, [e.pageConnected({ accountId: 'acme' }), e.received('p', { mid: 'after-poison', at: Date.now() })]);
    await conversationOf(key, (c) => c.unreadCount === 1, 'the event after the bad records');
  });

  it('an event the projection cannot apply is recorded with its error; the rest of its batch is applied', async () => {
    const { e } = newPage();
    const id = e.conversationId('p');
    // A pending entry that cannot be applied (as a bug would leave it): the message it waits for
    // arrives, applying it fails, and only that record is set aside.
    await db().query(`insert into pending_events (conversation_id, waits_for, event_id, event) values (?, 'mid:poison', 'bogus', '{"type":"bogus"}'::jsonb)`, [id]);
    const poison = e.received('p', { mid: 'poison', at: Date.now() - 2_000 });
    await feed(publisher, topics, [e.pageConnected({ accountId: 'acme' }), poison, e.received('p', { mid: 'fine', at: Date.now() - 1_000 })]);
    await conversationOf(id, (c) => c.unreadCount === 1, 'the other message');
    const skipped = await db().query<{ event_id: string; error: string }>('select event_id, error from skipped_events where event_id = ?', [poison.id]);
    expect(skipped).toEqual([{ event_id: poison.id, error: expect.stringContaining('not a timeline event') }]);
    expect((await messagesOf(id)).map((m) => m.id)).toEqual(['fine']);
  });
});

describe('a crash between batches', () => {
  it('loses nothing and counts nothing twice', async () => {
    const crashTopics = await createProjectionTopics('crash');
    const crashConfig = testConfig(crashTopics);
    const { publisher: crashPublisher } = testKafka();
    const { e } = newPage();
    const id = e.conversationId('crash');
    let crashing = true;
    let crashes = 0;
    // Crash right after a batch of the customer's messages committed its rows and offsets, before
    // Kafka's own commit; stay crashed (every retry fails) until the process is stopped.
    const first = await startTestProjection(crashConfig, {
      afterBatchCommitted: (batch) => {
        if (crashing && batch.applied > 0 && batch.conversationIds.includes(id)) {
          crashes += 1;
          throw new RetriableError('simulated crash after the database commit');
        }
        if (crashing && crashes > 0) throw new RetriableError('still crashed');
      },
    });
    let second: RunningProjection | undefined;
    try {
      const t = Date.now() - 10 * MIN;
      const messages = Array.from({ length: 40 }, (_, i) => e.received('crash', { mid: `cr-${i}`, text: `message ${i}`, at: t + i * 1_000 }));
      await feed(crashPublisher, crashTopics, [e.pageConnected({ accountId: 'acme', at: t - 1 })]);
      for (let i = 0; i < messages.length; i += 10) await feed(crashPublisher, crashTopics, messages.slice(i, i + 10));
      await waitFor(() => crashes > 0, { description: 'the simulated crash' });
      const appliedBefore = await first.host.current().db.query<{ n: string }>('select count(*)::text as n from messages where conversation_id = ?', [id]);
      await first.stop();
      crashing = false;

      second = await startTestProjection(crashConfig);
      const view = await waitFor(
        async () => {
          const res = await fetch(`${second!.url}/v1/conversations/${encodeURIComponent(id)}`, { headers: { authorization: 'Bearer key-acme' } });
          const body = res.status === 200 ? ((await res.json()) as { unreadCount: number }) : undefined;
          return body && body.unreadCount >= 40 ? body : undefined;
        },
        { description: 'every message after the restart', timeoutMs: 45_000 },
      );
      expect(Number(appliedBefore[0]!.n)).toBeGreaterThan(0);
      expect(view.unreadCount).toBe(40);
      const rows = await second.host.current().db.query<{ n: string }>('select count(*)::text as n from messages where conversation_id = ?', [id]);
      expect(rows[0]!.n).toBe('40');
    } finally {
      await second?.stop();
      if (crashing) await first.stop().catch(() => undefined);
      // A producer that wrote to a topic breaks once it is deleted (kafkajs keeps asking for it).
      await crashPublisher.disconnect();
      await crashTopics.delete();
      await dropSchemas(crashConfig.DB_SCHEMA);
    }
  });

  it('a full redelivery from the start of the log (a new consumer group) changes nothing', async () => {
    const replayTopics = await createProjectionTopics('replay');
    const replayConfig = testConfig(replayTopics);
    const { publisher: replayPublisher } = testKafka();
    const first = await startTestProjection(replayConfig);
    let second: RunningProjection | undefined;
    try {
      const { e } = newPage();
      const id = e.conversationId('replay');
      const t = Date.now() - MIN;
      await feed(replayPublisher, replayTopics, [e.pageConnected({ accountId: 'acme', at: t - 1 }), e.received('replay', { mid: 'rp-1', at: t }), e.received('replay', { mid: 'rp-2', at: t + 1 })]);
      const before = await waitFor(
        async () => {
          const res = await fetch(`${first.url}/v1/conversations/${encodeURIComponent(id)}`, { headers: { authorization: 'Bearer key-acme' } });
          return res.status === 200 ? ((await res.json()) as { unreadCount: number }) : undefined;
        },
        { description: 'the conversation' },
      );
      await first.stop();
      // Forget Kafka's position: the next start reads every record again.
      await sql(`update "${replayConfig.DB_SCHEMA}".projection_state set group_id = $1`, [uniqueName('fresh-group')]);

      second = await startTestProjection(replayConfig);
      await second.host.ready;
      const marker = e.received('replay', { mid: 'rp-3', at: t + 2 });
      await feed(replayPublisher, replayTopics, [marker]);
      const after = await waitFor(
        async () => {
          const res = await fetch(`${second!.url}/v1/conversations/${encodeURIComponent(id)}`, { headers: { authorization: 'Bearer key-acme' } });
          const body = res.status === 200 ? ((await res.json()) as { unreadCount: number; lastMessageAt: string }) : undefined;
          return body && body.lastMessageAt === new Date(t + 2).toISOString() ? body : undefined;
        },
        { description: 'the marker after the replay' },
      );
      expect(before.unreadCount).toBe(2);
      expect(after.unreadCount).toBe(3);
    } finally {
      await second?.stop();
      await replayPublisher.disconnect();
      await replayTopics.delete();
      await dropSchemas(replayConfig.DB_SCHEMA);
    }
  });
});

