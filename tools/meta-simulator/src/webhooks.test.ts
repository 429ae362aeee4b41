import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { signMetaPayload } from './signature.ts';
import { startMetaSimulator, type RunningMetaSimulator } from './simulator.ts';
import { customerMessageEvent, postbackEvent } from './webhook-payloads.ts';
import { control, graph, startReceiver, type ReceivedWebhook, type WebhookReceiver } from './test-helpers.ts';

const T0 = Date.UTC(2026, 2, 2, 10, 0, 0);
const SECRET = 'test_app_secret';
const VECTOR_BODY =
  '{"object":"page","entry":[{"id":"111","time":1700000000000,"messaging":[{"sender":{"id":"222"},"recipient":{"id":"111"},"timestamp":1700000000000,"message":{"mid":"m_abc","text":"hi"}}]}]}';

/** What the product's ingress does: HMAC the raw bytes, compare in constant time. */
// Payloads are read loosely; each test asserts the shape it cares about.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
function verifiedBody(webhook: ReceivedWebhook, secret = SECRET): any {
  const header = String(webhook.headers['x-hub-signature-256'] ?? '');
  expect(header).toMatch(/^sha256=[0-9a-f]{64}$/);
  const expected = Buffer.from(createHmac('sha256', secret).update(webhook.raw).digest('hex'));
  const given = Buffer.from(header.slice('sha256='.length));
  expect(given.length === expected.length && timingSafeEqual(given, expected)).toBe(true);
  return JSON.parse(webhook.raw.toString('utf8'));
}

describe('webhook delivery to the product', () => {
  let receiver: WebhookReceiver;
  let sim: RunningMetaSimulator;
  let pageId: string;
  let pageToken: string;
  let psid: string;

  beforeEach(async () => {
    receiver = await startReceiver();
    sim = await startMetaSimulator({
      port: 0,
      frozenAt: T0,
      appId: '777000111222333',
      appSecret: SECRET,
      webhookUrl: receiver.url,
      retry: { maxAttempts: 3, initialDelayMs: 5, factor: 2, maxDelayMs: 20 },
    });
    const page = await control(sim.url, 'POST', '/_sim/pages', { name: 'Bakery', subscribe: true });
    pageId = page.body.id;
    pageToken = page.body.accessToken;
    psid = (await control(sim.url, 'POST', `/_sim/pages/${pageId}/customers`, { firstName: 'Zoë', lastName: 'Grünwald' })).body.psid;
  });

  afterEach(async () => {
    await sim.stop();
    await receiver.close();
  });

  const customer = (path: string, body: Record<string, unknown>) => control(sim.url, 'POST', `/_sim/pages/${pageId}/customers/${psid}/${path}`, { ...body, wait: true });

  it('signs the reference test vector body exactly as §1b says', async () => {
    const delivery = await sim.deliverWebhook(VECTOR_BODY);
    expect(delivery.status).toBe('delivered');
    expect(receiver.received).toHaveLength(1);
    const [webhook] = receiver.received;
    expect(webhook!.raw.toString('utf8')).toBe(VECTOR_BODY);
    expect(webhook!.headers['x-hub-signature-256']).toBe('sha256=73d0cb4b059dde4d52209725bad4dadb8468534b198acc817403fc6fe355697c');
    expect(webhook!.headers['x-hub-signature']).toBe('sha1=bf472404a82ea66089874a4c787d8a1190febf91');
    expect(webhook!.headers['content-type']).toBe('application/json');
  });

  it('posts a customer message signed over the raw bytes, with non-ASCII escaped like Meta', async () => {
    const answer = await customer('messages', { text: 'Grüße 😀' });
    expect(answer.status).toBe(200);
    expect(answer.body.deliveries).toEqual([expect.objectContaining({ status: 'delivered', attempts: [expect.objectContaining({ statusCode: 200 })] })]);
    const webhook = receiver.received[0]!;
    const raw = webhook.raw.toString('utf8');
    expect(raw).toContain('"text":"Gr\\u00fc\\u00dfe \\ud83d\\ude00"');
    expect(/^[\x20-\x7e]*$/.test(raw)).toBe(true);
    const payload = verifiedBody(webhook);
    expect(payload).toEqual({
      object: 'page',
      entry: [
        {
          id: pageId,
          time: T0,
          messaging: [{ sender: { id: psid }, recipient: { id: pageId }, timestamp: T0, message: { mid: answer.body.mid, text: 'Grüße 😀' } }],
        },
      ],
    });
    // Re-serialising the parsed JSON gives different bytes: a receiver must hash what it received.
    expect(signMetaPayload(JSON.stringify(payload), SECRET)).not.toBe(webhook.headers['x-hub-signature-256']);
  });

  it('retries with backoff until the receiver answers 200, and logs every attempt', async () => {
    receiver.script.push(500, 503);
    const answer = await customer('messages', { text: 'retry me' });
    expect(answer.body.deliveries[0].status).toBe('delivered');
    expect(receiver.received.map((r) => r.answeredWith)).toEqual([500, 503, 200]);
    // The same bytes and signature every time, so the product can deduplicate by mid.
    expect(new Set(receiver.received.map((r) => r.raw.toString()))).toHaveProperty('size', 1);
    const log = await control(sim.url, 'GET', '/_sim/webhooks/deliveries');
    expect(log.body.data.at(-1).attempts.map((a: { statusCode: number }) => a.statusCode)).toEqual([500, 503, 200]);
  });

  it('gives up after the configured attempts and keeps going with later events', async () => {
    receiver.script.push(500, 500, 500);
    const failed = await customer('messages', { text: 'lost cause' });
    expect(failed.body.deliveries[0]).toMatchObject({ status: 'failed', attempts: [{ statusCode: 500 }, { statusCode: 500 }, { statusCode: 500 }] });
    const next = await customer('messages', { text: 'next one' });
    expect(next.body.deliveries[0].status).toBe('delivered');
  });

  it('counts a non-200 success code as a failure, as Meta does', async () => {
    receiver.script.push(204);
    await customer('messages', { text: 'x' });
    expect(receiver.received.map((r) => r.answeredWith)).toEqual([204, 200]);
  });

  it('records a failed attempt when the receiver is unreachable', async () => {
    await receiver.close();
    const answer = await customer('messages', { text: 'nobody home' });
    expect(answer.body.deliveries[0]).toMatchObject({ status: 'failed', attempts: [expect.objectContaining({ error: expect.any(String) }), expect.anything(), expect.anything()] });
    receiver = await startReceiver(); // afterEach closes it
  });

  it('does not post fields the Page has not subscribed to', async () => {
    await graph(sim.url, 'POST', `/v25.0/${pageId}/subscribed_apps`, { access_token: pageToken, subscribed_fields: 'messaging_postbacks' });
    const answer = await customer('messages', { text: 'unheard' });
    expect(answer.body.deliveries[0]).toMatchObject({ status: 'skipped', reason: expect.stringContaining('messages') });
    await customer('postbacks', { getStarted: true });
    expect(receiver.received).toHaveLength(1);
    expect(verifiedBody(receiver.received[0]!).entry[0].messaging[0].postback).toEqual({ mid: expect.stringMatching(/^m_/), title: 'Get Started', payload: 'GET_STARTED' });
  });

  it('echoes what the Page sent (is_echo, app_id, metadata) and reports delivery', async () => {
    await customer('messages', { text: 'hi' });
    const sent = await graph(sim.url, 'POST', '/v25.0/me/messages', {
      access_token: pageToken,
      recipient: { id: psid },
      messaging_type: 'RESPONSE',
      message: { text: 'Hello Zoë', metadata: 'outbound:42' },
    });
    await sim.whenIdle();
    const events = receiver.received.slice(1).map((r) => verifiedBody(r).entry[0].messaging[0]);
    expect(events).toEqual([
      {
        sender: { id: pageId },
        recipient: { id: psid },
        timestamp: T0,
        message: { is_echo: true, app_id: 777000111222333, metadata: 'outbound:42', mid: sent.body['message_id'], text: 'Hello Zoë' },
      },
      { sender: { id: psid }, recipient: { id: pageId }, timestamp: T0, delivery: { mids: [sent.body['message_id']], watermark: T0 } },
    ]);
    const read = await customer('reads', {});
    expect(read.body.deliveries[0].status).toBe('delivered');
    expect(verifiedBody(receiver.received.at(-1)!).entry[0].messaging[0].read).toEqual({ watermark: T0 });
  });

  it('can turn echoes and deliveries off and reads on', async () => {
    await customer('messages', { text: 'hi' });
    await control(sim.url, 'PATCH', '/_sim/settings', { autoEcho: false, autoDelivery: false, autoRead: true });
    await graph(sim.url, 'POST', '/v25.0/me/messages', { access_token: pageToken, recipient: { id: psid }, messaging_type: 'RESPONSE', message: { text: 'x' } });
    await sim.whenIdle();
    expect(receiver.received.slice(1).map((r) => Object.keys(verifiedBody(r).entry[0].messaging[0]))).toEqual([['sender', 'recipient', 'timestamp', 'read']]);
  });

  it('echoes replies made in Meta\'s Page inbox with the inbox app id', async () => {
    await customer('page-inbox-replies', { text: 'human here' });
    await sim.whenIdle();
    expect(verifiedBody(receiver.received[0]!).entry[0].messaging[0].message).toMatchObject({ is_echo: true, app_id: 263902037430900, text: 'human here' });
  });

  it('sends stickers as both sticker and image until told otherwise, and every attachment type', async () => {
    await customer('messages', { sticker: {} });
    const both = verifiedBody(receiver.received[0]!).entry[0].messaging[0].message;
    expect(both.attachments.map((a: { type: string }) => a.type)).toEqual(['image', 'sticker']);
    expect(both.attachments[1].payload).toEqual({ url: expect.stringContaining('/_sim/media/'), sticker_id: 369239263222822 });
    expect(both.sticker_id).toBe(369239263222822);

    await customer('messages', { attachments: [{ type: 'sticker', stickerId: '123', format: 'sticker' }] });
    expect(verifiedBody(receiver.received[1]!).entry[0].messaging[0].message.attachments).toEqual([{ type: 'sticker', payload: { url: expect.any(String), sticker_id: 123 } }]);

    await customer('messages', {
      attachments: [{ type: 'image' }, { type: 'audio' }, { type: 'video' }, { type: 'file', url: 'https://files.example/a.pdf' }, { type: 'fallback', noPayload: true }],
    });
    const mixed = verifiedBody(receiver.received[2]!).entry[0].messaging[0].message;
    expect(mixed.attachments).toEqual([
      { type: 'image', payload: { url: expect.stringMatching(/\.png$/) } },
      { type: 'audio', payload: { url: expect.stringMatching(/\.mp3$/) } },
      { type: 'video', payload: { url: expect.stringMatching(/\.mp4$/) } },
      { type: 'file', payload: { url: 'https://files.example/a.pdf' } },
      { type: 'fallback' },
    ]);
    // Slashes are escaped on the wire, like Meta's encoder.
    expect(receiver.received[2]!.raw.toString()).toContain('https:\\/\\/files.example\\/a.pdf');

    const bad = await customer('messages', { attachments: [{ type: 'hologram' }] });
    expect(bad.status).toBe(400);
    expect(bad.body.detail).toContain('hologram');
  });

  it('sends quick-reply taps with their payload', async () => {
    await customer('messages', { quickReply: { payload: 'SIZE_L', title: 'Large' } });
    expect(verifiedBody(receiver.received[0]!).entry[0].messaging[0].message).toMatchObject({ text: 'Large', quick_reply: { payload: 'SIZE_L' } });
  });

  it('sends reactions, and a comment as a feed change', async () => {
    await customer('messages', { text: 'hi' });
    const sent = await graph(sim.url, 'POST', '/v25.0/me/messages', { access_token: pageToken, recipient: { id: psid }, messaging_type: 'RESPONSE', message: { text: 'x' } });
    await sim.whenIdle();
    receiver.received.length = 0;
    await customer('reactions', { mid: sent.body['message_id'], reaction: 'love' });
    expect(verifiedBody(receiver.received[0]!).entry[0].messaging[0].reaction).toEqual({ reaction: 'love', emoji: '\u2764\uFE0F', action: 'react', mid: sent.body['message_id'] });

    const comment = await customer('comments', { message: 'Open on Sunday?' });
    const entry = verifiedBody(receiver.received[1]!).entry[0];
    expect(entry.messaging).toBeUndefined();
    expect(entry.changes).toEqual([
      {
        field: 'feed',
        value: {
          from: { id: psid, name: 'Zoë Grünwald' },
          post_id: comment.body.postId,
          comment_id: comment.body.commentId,
          parent_id: comment.body.postId,
          created_time: Math.floor(T0 / 1000),
          item: 'comment',
          verb: 'add',
          message: 'Open on Sunday?',
        },
      },
    ]);
  });

  it('batches events made close together into one POST with several entries', async () => {
    // A window far longer than the test: the flush below closes it, so slow machines batch the same.
    await control(sim.url, 'PATCH', '/_sim/settings', { batchWindowMs: 600_000 });
    const second = await control(sim.url, 'POST', `/_sim/pages/${pageId}/customers`, {});
    await Promise.all([
      control(sim.url, 'POST', `/_sim/pages/${pageId}/customers/${psid}/messages`, { text: 'one' }),
      control(sim.url, 'POST', `/_sim/pages/${pageId}/customers/${second.body.psid}/messages`, { text: 'two' }),
    ]);
    expect(receiver.received).toHaveLength(0);
    await control(sim.url, 'POST', '/_sim/webhooks/idle', { flush: true });
    expect(receiver.received).toHaveLength(1);
    const payload = verifiedBody(receiver.received[0]!);
    expect(payload.entry.map((e: { messaging: Array<{ message: { text: string } }> }) => e.messaging[0]!.message.text).sort()).toEqual(['one', 'two']);
  });

  it('posts events given together in-process as one payload', async () => {
    const deliveries = await sim.deliverEvents([
      customerMessageEvent({ pageId, psid, at: T0, mid: 'm_1', text: 'a' }),
      postbackEvent({ pageId, psid, at: T0, mid: 'm_2', title: 'Menu', payload: 'MENU' }),
    ]);
    expect(deliveries).toHaveLength(1);
    expect(verifiedBody(receiver.received[0]!).entry).toHaveLength(2);
  });

  it('performs the verification handshake against the webhook URL', async () => {
    const ok = await control(sim.url, 'POST', '/_sim/webhooks/verify', { verifyToken: 'vt' });
    expect(ok.body).toEqual({ verified: true, status: 200, body: ok.body.challenge, challenge: expect.stringMatching(/^\d+$/) });
    const wrong = await control(sim.url, 'POST', '/_sim/webhooks/verify', { verifyToken: 'guess' });
    expect(wrong.body).toMatchObject({ verified: false, status: 403 });
  });

  it('can post raw and deliberately mis-signed payloads for receiver tests', async () => {
    const delivery = await control(sim.url, 'POST', '/_sim/webhooks/raw', { body: '{"object":"instagram"}', signature: 'sha256=00', wait: true });
    expect(delivery.body.deliveries[0].status).toBe('delivered');
    expect(receiver.received[0]!.headers['x-hub-signature-256']).toBe('sha256=00');
    expect(receiver.received[0]!.headers['x-hub-signature']).toBeUndefined();
    await control(sim.url, 'POST', '/_sim/webhooks/raw', { payload: { object: 'page', entry: [] }, signature: null, wait: true });
    expect(receiver.received[1]!.headers['x-hub-signature-256']).toBeUndefined();
  });
});

describe('webhook order', () => {
  /** A receiver that holds back its answer to every message whose text starts with "slow" until released. */
  async function startHoldingReceiver() {
    const seen: string[] = [];
    const held: Array<() => void> = [];
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        const text = String(JSON.parse(Buffer.concat(chunks).toString('utf8')).entry[0].messaging[0].message.text);
        seen.push(text);
        const answer = () => res.writeHead(200).end();
        if (text.startsWith('slow')) held.push(answer);
        else answer();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return {
      url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/webhook`,
      seen,
      release: () => held.splice(0).forEach((answer) => answer()),
      close: () => new Promise<void>((resolve) => server.close(() => resolve())),
    };
  }

  async function twoPagesWriting(webhookOrder: 'global' | 'per-page' | undefined) {
    const receiver = await startHoldingReceiver();
    const sim = await startMetaSimulator({ port: 0, appSecret: SECRET, webhookUrl: receiver.url, autoEcho: false, autoDelivery: false, ...(webhookOrder ? { webhookOrder } : {}) });
    const [a, b] = [sim.platform.createPage({ subscribe: true }), sim.platform.createPage({ subscribe: true })];
    const [ca, cb] = [sim.platform.createCustomer(a.id), sim.platform.createCustomer(b.id)];
    const slow = sim.platform.customerMessage(a.id, ca.psid, { text: 'slow 1' });
    const next = sim.platform.customerMessage(a.id, ca.psid, { text: 'a 2' });
    const other = sim.platform.customerMessage(b.id, cb.psid, { text: 'b 1' });
    return { receiver, sim, slow, next, other };
  }

  it("by default posts one webhook at a time for the whole platform: a slow answer holds back every Page's", async () => {
    const { receiver, sim, next, other } = await twoPagesWriting(undefined);
    try {
      while (receiver.seen.length === 0) await new Promise((resolve) => setTimeout(resolve, 10));
      receiver.release();
      await Promise.all([next.delivery, other.delivery]);
      expect(receiver.seen).toEqual(['slow 1', 'a 2', 'b 1']);
    } finally {
      await sim.stop();
      await receiver.close();
    }
  });

  it("per Page: each Page's webhooks in order, while a slow answer to one Page holds back no other Page", async () => {
    const { receiver, sim, slow, next, other } = await twoPagesWriting('per-page');
    try {
      const [delivered] = await other.delivery;
      expect(delivered!.status).toBe('delivered');
      // Page A's second message waits for its first, which is still unanswered.
      expect(receiver.seen).toEqual(['slow 1', 'b 1']);
      receiver.release();
      await Promise.all([slow.delivery, next.delivery]);
      expect(receiver.seen).toEqual(['slow 1', 'b 1', 'a 2']);
      await sim.whenIdle();
    } finally {
      await sim.stop();
      await receiver.close();
    }
  });
});
