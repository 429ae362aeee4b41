import { EVENT_TOPICS, TOPICS, deterministicId } from '@parley/contracts';
import type { ParleyEvent } from '@parley/contracts';
import { createKafkaClient, provisionTopics, startEventConsumer, createEventPublisher } from '@parley/messaging';
import type { RunningConsumer } from '@parley/messaging';
import { createLogger } from '@parley/observability';
import { testKafkaBrokers, uniqueName, waitFor } from '@parley/testing';
import { startIngress } from '../service.ts';
import type { RunningIngress } from '../service.ts';
import { signatureHeader } from './signature.ts';

// Real broker: a signed webhook must end up as events on messenger.inbound.v1.
const SECRET = 'integration-secret';
const logger = createLogger({ service: 'ingress-test', level: 'silent' });
const brokers = testKafkaBrokers();
const kafka = createKafkaClient({ brokers, clientId: 'ingress-test', logger });

let ingress: RunningIngress;
let consumer: RunningConsumer;
const seen: ParleyEvent[] = [];

beforeAll(async () => {
  await provisionTopics(kafka, EVENT_TOPICS);
  ingress = await startIngress(
    {
      KAFKA_BROKERS: brokers,
      META_APP_SECRET: ['old-secret', SECRET],
      META_VERIFY_TOKEN: 'verify-me',
      PORT: 0,
      WEBHOOK_BODY_LIMIT_BYTES: 64 * 1024,
      PUBLISH_TIMEOUT_MS: 10_000,
      DEDUPE_WINDOW_MS: 300_000,
      SENDER_LIMIT_PER_MINUTE: 5,
    },
    { logger },
  );
  // One reader for the whole file: every test uses its own Page id, so it only looks at its own events.
  const publisher = createEventPublisher({ kafka, logger });
  consumer = await startEventConsumer({
    kafka,
    publisher,
    logger,
    groupId: uniqueName('ingress-test-reader'),
    topics: [TOPICS.inbound],
    fromBeginning: false,
    handle: async (event) => {
      seen.push(event);
    },
  });
  await consumer.ready;
});

afterAll(async () => {
  await consumer?.stop();
  await ingress?.stop();
});

const eventsOf = (pageId: string) => seen.filter((e) => e.pageId === pageId);

function post(body: string | Buffer, headers: Record<string, string> = {}) {
  return fetch(`${ingress.url}/webhooks/messenger`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-hub-signature-256': signatureHeader(body, SECRET), ...headers },
    body,
  });
}

function message(pageId: string, psid: string, mid: string, text = 'hello') {
  return { sender: { id: psid }, recipient: { id: pageId }, timestamp: Date.now(), message: { mid, text } };
}

describe('POST /webhooks/messenger against a real broker', () => {
  it('answers Meta\'s handshake with the challenge, and 403 for a wrong verify token', async () => {
    const ok = await fetch(`${ingress.url}/webhooks/messenger?hub.mode=subscribe&hub.verify_token=verify-me&hub.challenge=1158201444`);
    expect(ok.status).toBe(200);
    expect(await ok.text()).toBe('1158201444');
    const wrong = await fetch(`${ingress.url}/webhooks/messenger?hub.mode=subscribe&hub.verify_token=nope&hub.challenge=1`);
    expect(wrong.status).toBe(403);
    const missing = await fetch(`${ingress.url}/webhooks/messenger`);
    expect(missing.status).toBe(400);
  });

  it('turns a signed batch for two Pages into one event per item, all on the topic once 200 is answered', async () => {
    const pageA = uniqueName('page');
    const pageB = uniqueName('page');
    const body = JSON.stringify({
      object: 'page',
      entry: [
        { id: pageA, time: Date.now(), messaging: [message(pageA, 'c1', `${pageA}-m1`), message(pageA, 'c2', `${pageA}-m2`)] },
        { id: pageB, time: Date.now(), messaging: [{ sender: { id: 'c3' }, recipient: { id: pageB }, timestamp: Date.now(), read: { watermark: 1 } }] },
      ],
    });
    const res = await post(body);
    expect(res.status).toBe(200);
    await waitFor(() => eventsOf(pageA).length === 2 && eventsOf(pageB).length === 1, { description: 'three events on messenger.inbound.v1' });
    // Different customers are different conversations (different partitions): no order between them.
    expect(eventsOf(pageA).map((e) => [e.type, e.conversationId]).sort()).toEqual([
      ['messenger.message.received', `${pageA}:c1`],
      ['messenger.message.received', `${pageA}:c2`],
    ]);
    expect(eventsOf(pageB)[0]).toMatchObject({ type: 'messenger.read.received', conversationId: `${pageB}:c3` });
  });

  it('acknowledges a webhook delivered twice and publishes its events once', async () => {
    const pageId = uniqueName('page');
    const body = JSON.stringify({ object: 'page', entry: [{ id: pageId, time: Date.now(), messaging: [message(pageId, 'c1', `${pageId}-dup`)] }] });
    const [first, second] = await Promise.all([post(body), post(body)]);
    expect([first.status, second.status]).toEqual([200, 200]);
    expect((await post(body)).status).toBe(200);
    // A marker posted afterwards proves the reader has caught up past the duplicates.
    const marker = JSON.stringify({ object: 'page', entry: [{ id: pageId, time: Date.now(), messaging: [message(pageId, 'c1', `${pageId}-marker`)] }] });
    expect((await post(marker)).status).toBe(200);
    await waitFor(() => eventsOf(pageId).some((e) => e.id === deterministicId('message', `${pageId}-marker`)), { description: 'the marker event' });
    expect(eventsOf(pageId).filter((e) => e.id === deterministicId('message', `${pageId}-dup`))).toHaveLength(1);
  });

  it('records a sender over the limit but flags its events as throttled', async () => {
    const pageId = uniqueName('page');
    for (let i = 0; i < 6; i++) {
      const body = JSON.stringify({ object: 'page', entry: [{ id: pageId, time: Date.now(), messaging: [message(pageId, 'spammer', `${pageId}-s${i}`)] }] });
      expect((await post(body)).status).toBe(200);
    }
    await waitFor(() => eventsOf(pageId).length === 6, { description: 'six events from the same sender' });
    expect(eventsOf(pageId).map((e) => (e.data as { throttled: boolean }).throttled)).toEqual([false, false, false, false, false, true]);
  });

  it('keeps a broken item and an unknown object as unsupported events, and answers 200', async () => {
    const pageId = uniqueName('page');
    const body = JSON.stringify({ object: 'page', entry: [{ id: pageId, time: Date.now(), messaging: [message(pageId, 'c1', `${pageId}-ok`), { sender: { id: 'c1' }, recipient: { id: pageId }, timestamp: Date.now(), message: { text: 'no mid' } }] }] });
    expect((await post(body)).status).toBe(200);
    const instagram = JSON.stringify({ object: 'instagram', entry: [{ id: pageId, time: Date.now(), messaging: [] }] });
    expect((await post(instagram)).status).toBe(200);
    await waitFor(() => eventsOf(pageId).length === 3, { description: 'the good event and two unsupported ones' });
    expect(eventsOf(pageId).map((e) => e.type).sort()).toEqual(['messenger.event.unsupported', 'messenger.event.unsupported', 'messenger.message.received']);
  });

  it('rejects unsigned, wrongly signed, malformed, non-Meta and oversized bodies with a clear problem, publishing nothing', async () => {
    const pageId = uniqueName('page');
    const body = JSON.stringify({ object: 'page', entry: [{ id: pageId, time: Date.now(), messaging: [message(pageId, 'c1', `${pageId}-x`)] }] });

    const unsigned = await fetch(`${ingress.url}/webhooks/messenger`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-request-id': 'trace-me-1' }, body });
    expect(unsigned.status).toBe(401);
    // Served without express, but with the same problem+json and request id as every other route.
    expect(unsigned.headers.get('x-request-id')).toBe('trace-me-1');
    expect(await unsigned.json()).toMatchObject({ type: 'https://parley.dev/problems/signature_missing', code: 'signature_missing', status: 401, title: 'Invalid signature' });
    const wrong = await post(body, { 'x-hub-signature-256': signatureHeader(body, 'someone-else') });
    expect(wrong.status).toBe(401);
    expect(await wrong.json()).toMatchObject({ code: 'signature_mismatch' });

    const notJson = await post('{"object": "page", entry');
    expect(notJson.status).toBe(400);
    expect(await notJson.json()).toMatchObject({ code: 'malformed_json' });
    const notMeta = await post(JSON.stringify({ hello: 'world' }));
    expect(notMeta.status).toBe(400);
    expect(await notMeta.json()).toMatchObject({ code: 'not_a_meta_webhook' });
    const huge = await post(JSON.stringify({ object: 'page', entry: [], padding: 'x'.repeat(70 * 1024) }));
    expect(huge.status).toBe(413);
    expect(huge.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(await huge.json()).toMatchObject({ code: 'body_too_large', status: 413, instance: '/webhooks/messenger' });
    // Without a Content-Length (chunked), the limit is found while reading.
    const chunks = [`{"object":"page","entry":[],"padding":"`, 'x'.repeat(40 * 1024), 'x'.repeat(40 * 1024), '"}'];
    const chunked = await fetch(`${ingress.url}/webhooks/messenger`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-hub-signature-256': signatureHeader(chunks.join(''), SECRET) },
      body: new ReadableStream({
        start(controller) {
          for (const chunk of chunks) controller.enqueue(new TextEncoder().encode(chunk));
          controller.close();
        },
      }),
      duplex: 'half',
    } as RequestInit);
    expect(chunked.status).toBe(413);
    expect(await chunked.json()).toMatchObject({ code: 'body_too_large' });

    const marker = JSON.stringify({ object: 'page', entry: [{ id: pageId, time: Date.now(), messaging: [message(pageId, 'c1', `${pageId}-marker`)] }] });
    expect((await post(marker)).status).toBe(200);
    await waitFor(() => eventsOf(pageId).length > 0, { description: 'the marker event' });
    expect(eventsOf(pageId).map((e) => e.id)).toEqual([deterministicId('message', `${pageId}-marker`)]);
  });

  it('says it is ready while the broker is reachable', async () => {
    const res = await fetch(`${ingress.url}/readyz`);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ checks: { kafka: true } });
  });

  it('counts webhook POSTs in the request-duration metric like every other route', async () => {
    const metrics = await (await fetch(`${ingress.url}/metrics`)).text();
    const count = (status: number) =>
      Number(new RegExp(`http_request_duration_seconds_count\\{[^}]*method="POST",route="/webhooks/messenger",status="${status}"\\} (\\d+)`).exec(metrics)?.[1] ?? 0);
    // Earlier tests in this file posted accepted, unsigned and oversized webhooks.
    expect(count(200)).toBeGreaterThan(0);
    expect(count(401)).toBeGreaterThan(0);
    expect(count(413)).toBeGreaterThan(0);
  });
});
