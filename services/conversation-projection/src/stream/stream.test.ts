import type { EventPublisher } from '@parley/messaging';
import type { ProjectionConfig } from '../config.ts';
import { inboxEvents } from '../inbox/fixtures.ts';
import type { RunningProjection } from '../service.ts';
import { createProjectionTopics, dropSchemas, feed, startTestProjection, testConfig, testKafka, uniqueName, waitFor } from '../test-support.ts';
import type { TestTopics } from '../test-support.ts';

// GET /v1/stream against a real broker and database: an account sees its own changes only,
// heartbeats keep the connection alive, Last-Event-ID resumes, an unknown position resets.

let topics: TestTopics;
let publisher: EventPublisher;
let config: ProjectionConfig;
let service: RunningProjection;
const acme = inboxEvents(uniqueName('acme-page'));
const globex = inboxEvents(uniqueName('globex-page'));

type SseEvent = { id?: string; event?: string; data?: string; comment?: string };
type Stream = { status: number; events: SseEvent[]; close(): void };

async function openStream(key: string, headers: Record<string, string> = {}): Promise<Stream> {
  const controller = new AbortController();
  const res = await fetch(`${service.url}/v1/stream`, { headers: { authorization: `Bearer ${key}`, ...headers }, signal: controller.signal });
  const events: SseEvent[] = [];
  if (res.ok && res.body) {
    const reader = res.body.getReader();
    const decoder = new TextDecoder();
    let buffer = '';
    void (async () => {
      try {
        for (;;) {
          const { value, done } = await reader.read();
          if (done) return;
          buffer += decoder.decode(value, { stream: true });
          for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
            const block = buffer.slice(0, end);
            buffer = buffer.slice(end + 2);
            const event: SseEvent = {};
            for (const line of block.split('\n')) {
              if (line.startsWith(':')) event.comment = line.slice(1).trim();
              else if (line.startsWith('id: ')) event.id = line.slice(4);
              else if (line.startsWith('event: ')) event.event = line.slice(7);
              else if (line.startsWith('data: ')) event.data = line.slice(6);
            }
            events.push(event);
          }
        }
      } catch {
        // aborted
      }
    })();
  }
  return { status: res.status, events, close: () => controller.abort() };
}

const updatesOf = (stream: Stream) =>
  stream.events.filter((e) => e.event === 'conversation.updated').map((e) => ({ id: e.id!, conversation: (JSON.parse(e.data!) as { conversation: { id: string; pageId: string } }).conversation }));

beforeAll(async () => {
  topics = await createProjectionTopics('stream');
  ({ publisher } = testKafka());
  config = testConfig(topics, { SSE_HEARTBEAT_MS: 200 });
  service = await startTestProjection(config);
  await service.host.ready;
  await feed(publisher, topics, [acme.pageConnected({ accountId: 'acme' }), globex.pageConnected({ accountId: 'globex' })]);
  await waitFor(async () => (await service.host.current().db.query('select 1 from pages where page_id in (?, ?)', [acme.pageId, globex.pageId])).length === 2, {
    description: 'both Pages known',
  });
});

afterAll(async () => {
  await service?.stop();
  await publisher?.disconnect();
  await topics?.delete();
  if (config) await dropSchemas(config.DB_SCHEMA);
});

describe('GET /v1/stream', () => {
  it('needs a key', async () => {
    const res = await fetch(`${service.url}/v1/stream`);
    expect(res.status).toBe(401);
  });

  it('streams the caller\'s own changes only, with heartbeats', async () => {
    const acmeStream = await openStream('key-acme');
    const globexStream = await openStream('key-globex');
    try {
      expect(acmeStream.status).toBe(200);
      await feed(publisher, topics, [acme.received('ana', { mid: uniqueName('m'), text: 'for acme', at: Date.now() }), globex.received('gus', { mid: uniqueName('m'), text: 'for globex', at: Date.now() })]);
      await waitFor(() => updatesOf(acmeStream).some((u) => u.conversation.id === acme.conversationId('ana')), { description: 'acme\'s change on acme\'s stream' });
      await waitFor(() => updatesOf(globexStream).some((u) => u.conversation.id === globex.conversationId('gus')), { description: 'globex\'s change on globex\'s stream' });
      expect(updatesOf(acmeStream).every((u) => u.conversation.pageId === acme.pageId)).toBe(true);
      expect(updatesOf(globexStream).every((u) => u.conversation.pageId === globex.pageId)).toBe(true);
      await waitFor(() => acmeStream.events.some((e) => e.comment?.startsWith('heartbeat')), { description: 'a heartbeat' });
    } finally {
      acmeStream.close();
      globexStream.close();
    }
  });

  it('resumes after Last-Event-ID, and says reset when the position means nothing here', async () => {
    const first = await openStream('key-acme');
    let lastId: string;
    try {
      await feed(publisher, topics, [acme.received('bo', { mid: uniqueName('m'), at: Date.now() })]);
      const update = await waitFor(() => updatesOf(first).find((u) => u.conversation.id === acme.conversationId('bo')), { description: 'the first change' });
      lastId = update.id;
      expect(lastId).toMatch(/^\d+\.\d+$/);
    } finally {
      first.close();
    }
    // While disconnected, two conversations change.
    await feed(publisher, topics, [acme.received('cy', { mid: uniqueName('m'), at: Date.now() }), acme.received('di', { mid: uniqueName('m'), at: Date.now() })]);
    await waitFor(async () => (await service.host.current().db.query('select 1 from conversations where id in (?, ?)', [acme.conversationId('cy'), acme.conversationId('di')])).length === 2, {
      description: 'the changes made while away',
    });
    const resumed = await openStream('key-acme', { 'last-event-id': lastId });
    try {
      await waitFor(() => updatesOf(resumed).filter((u) => [acme.conversationId('cy'), acme.conversationId('di')].includes(u.conversation.id)).length === 2, {
        description: 'the missed changes after resuming',
      });
      expect(updatesOf(resumed).map((u) => u.conversation.id)).not.toContain(acme.conversationId('bo'));
    } finally {
      resumed.close();
    }
    const unknown = await openStream('key-acme', { 'last-event-id': '999.1' });
    try {
      await waitFor(() => unknown.events.some((e) => e.event === 'reset'), { description: 'a reset' });
    } finally {
      unknown.close();
    }
  });
});
