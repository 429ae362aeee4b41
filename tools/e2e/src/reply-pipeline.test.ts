// End to end: a customer writes to a connected Page in the simulator and gets the assistant's
// answer back through the Send API, within the Page's rules, across real Kafka and PostgreSQL and
// the six services running as processes. Assertions are on what the customer receives.
import { uniqueName, waitFor } from '@parley/testing';
import { connectNewPage, createAssistant, messagesSentTo, saveSettings, senderActionsTo } from './test-support/flows.ts';
import type { Settings } from './test-support/flows.ts';
import { startStack } from './test-support/stack.ts';
import type { Stack } from './test-support/stack.ts';

let stack: Stack;
let assistantId: string;

const HOURS = 'We are open Monday to Friday from 9am to 6pm, and on Saturday from 10am to 2pm.';
const RETURNS =
  'You can return any item within 30 days of delivery. Pack it in its original box, print the prepaid label from your order page, and drop it at any post office. ' +
  'Refunds reach your card within 5 business days after we receive the parcel. Items bought on sale can be exchanged but not refunded. ' +
  'If the item arrived damaged, send us a photo first so that we can ship a replacement straight away, without waiting for the return.';

beforeAll(async () => {
  // A short breaker reset keeps the outage test quick; the breaker itself is the production one.
  stack = await startStack({ env: { 'outbound-sender': { GRAPH_BREAKER_RESET_MS: '2000', GRAPH_BREAKER_VOLUME_THRESHOLD: '3' } } });
  assistantId = await createAssistant(stack, {
    name: 'Shop helper',
    instructions: 'You answer customers of a small shop, briefly and politely.',
    knowledge: [
      { title: 'Opening hours', content: HOURS },
      { title: 'Returns and refunds policy', content: RETURNS },
    ],
  });
}, 180_000);

afterAll(async () => {
  await stack?.stop();
}, 60_000);

const settings = (overrides: Partial<Settings> = {}): Settings => ({
  autoReply: true,
  assistantId,
  responseDelay: 'instant',
  greetingMessage: null,
  awayMessage: null,
  escalationKeywords: [],
  ...overrides,
});

async function pageWith(overrides: Partial<Settings> = {}) {
  const page = await connectNewPage(stack, uniqueName('Shop'));
  await saveSettings(stack, page.pageId, settings(overrides));
  return page;
}

function customerOf(pageId: string, firstName = 'Ana') {
  return stack.meta.platform.createCustomer(pageId, { firstName });
}

async function say(pageId: string, psid: string, text: string) {
  const sent = stack.meta.platform.customerMessage(pageId, psid, { text });
  await sent.delivery;
  return sent;
}

const answers = (pageId: string, psid: string) => messagesSentTo(stack, pageId, psid).map((m) => m.text ?? '[attachment]');

describe('a customer writes to a connected Page', () => {
  it('gets the assistant\'s answer, after a typing indicator, as a response inside the window', async () => {
    const { pageId } = await pageWith();
    const customer = customerOf(pageId);
    await say(pageId, customer.psid, 'Hi, what are your opening hours on Saturday?');
    await waitFor(() => answers(pageId, customer.psid).length > 0, { description: 'an answer', timeoutMs: 30_000 });
    const [answer] = messagesSentTo(stack, pageId, customer.psid);
    expect(answer!.text).toContain('Saturday from 10am to 2pm');
    expect(answer!.request).toMatchObject({ messaging_type: 'RESPONSE' });
    expect(answer!.request['tag']).toBeUndefined();
    expect(senderActionsTo(stack, pageId, customer.psid)[0]).toBe('typing_on');
  });

  it('waits for the Page\'s response delay before answering', async () => {
    const { pageId } = await pageWith({ responseDelay: 'short' });
    const customer = customerOf(pageId);
    const sent = await say(pageId, customer.psid, 'When are you open?');
    await waitFor(() => answers(pageId, customer.psid).length > 0, { description: 'the delayed answer', timeoutMs: 40_000, intervalMs: 250 });
    const answeredAt = stack.meta.platform.sentBy(pageId, { psid: customer.psid }).find((r) => r.request['message'])!.at;
    // "short" is 5–15 s, drawn at random; processing adds a little on top.
    expect(answeredAt - sent.timestamp).toBeGreaterThanOrEqual(5_000);
    expect(answeredAt - sent.timestamp).toBeLessThan(25_000);
  });

  it('is greeted on first contact, then answered', async () => {
    const { pageId } = await pageWith({ greetingMessage: 'Welcome to our shop! 👋' });
    const customer = customerOf(pageId);
    await say(pageId, customer.psid, 'What are your opening hours?');
    await waitFor(() => answers(pageId, customer.psid).length >= 2, { description: 'greeting and answer', timeoutMs: 30_000 });
    expect(answers(pageId, customer.psid)[0]).toBe('Welcome to our shop! 👋');
    expect(answers(pageId, customer.psid)[1]).toContain('Monday to Friday');
  });

  it('gets the away message, and no assistant answer, when auto-reply is off', async () => {
    const { pageId } = await pageWith({ autoReply: false, awayMessage: 'We are away; a person will answer soon.' });
    const customer = customerOf(pageId);
    await say(pageId, customer.psid, 'Hello? What are your opening hours?');
    await waitFor(() => answers(pageId, customer.psid).length > 0, { description: 'the away message', timeoutMs: 30_000 });
    // A second message within 24 h gets no second away message; a marker on another Page of the
    // same stack shows the pipeline has moved past it.
    await say(pageId, customer.psid, 'Anyone there?');
    const marker = await pageWith();
    const other = customerOf(marker.pageId);
    await say(marker.pageId, other.psid, 'Opening hours?');
    await waitFor(() => answers(marker.pageId, other.psid).length > 0, { description: 'the marker answer', timeoutMs: 30_000 });
    expect(answers(pageId, customer.psid)).toEqual(['We are away; a person will answer soon.']);
  });

  it('is handed to a person on a request for a human: the assistant stops answering', async () => {
    const { pageId } = await pageWith({ escalationKeywords: ['refund now'] });
    const customer = customerOf(pageId);
    await say(pageId, customer.psid, 'What are your opening hours?');
    await waitFor(() => answers(pageId, customer.psid).length === 1, { description: 'the first answer', timeoutMs: 30_000 });
    await say(pageId, customer.psid, 'I want to talk to a real person please');
    await say(pageId, customer.psid, 'What is your returns policy?');
    const marker = await pageWith();
    const other = customerOf(marker.pageId);
    await say(marker.pageId, other.psid, 'Opening hours?');
    await waitFor(() => answers(marker.pageId, other.psid).length > 0, { description: 'the marker answer', timeoutMs: 30_000 });
    expect(answers(pageId, customer.psid)).toHaveLength(1);
  });

  it('gets no automated answer to a message older than the 24-hour window (a late redelivery)', async () => {
    const { pageId } = await pageWith();
    const customer = customerOf(pageId);
    const dayAgo = Date.now() - 25 * 3600_000;
    await stack.meta.deliverWebhook({
      object: 'page',
      entry: [{ id: pageId, time: dayAgo, messaging: [{ sender: { id: customer.psid }, recipient: { id: pageId }, timestamp: dayAgo, message: { mid: `m_${uniqueName('old')}`, text: 'What are your opening hours?' } }] }],
    });
    const marker = await pageWith();
    const other = customerOf(marker.pageId);
    await say(marker.pageId, other.psid, 'Opening hours?');
    await waitFor(() => answers(marker.pageId, other.psid).length > 0, { description: 'the marker answer', timeoutMs: 30_000 });
    expect(answers(pageId, customer.psid)).toEqual([]);
    expect(stack.meta.platform.sentBy(pageId, { includeRejected: true })).toEqual([]);
  });

  it('is told the assistant cannot see an image it sent, and offered a person', async () => {
    const { pageId } = await pageWith();
    const customer = customerOf(pageId);
    await stack.meta.platform.customerMessage(pageId, customer.psid, { attachments: [{ type: 'image' }] }).delivery;
    await waitFor(() => answers(pageId, customer.psid).length > 0, { description: 'an answer to the image', timeoutMs: 30_000 });
    const text = answers(pageId, customer.psid).join(' ');
    expect(text).toMatch(/image|photo|picture/i);
    expect(text).toMatch(/person|someone|human|team/i);
  });

  it('receives a long answer as several messages of at most 320 characters, in order', async () => {
    const { pageId } = await pageWith();
    const customer = customerOf(pageId);
    await say(pageId, customer.psid, 'What is your returns and refunds policy?');
    await waitFor(() => answers(pageId, customer.psid).length >= 2, { description: 'a split answer', timeoutMs: 30_000 });
    await new Promise((resolve) => setTimeout(resolve, 1_000)); // let every part of this one answer arrive
    const parts = answers(pageId, customer.psid);
    for (const part of parts) expect(part.length).toBeLessThanOrEqual(320);
    const joined = parts.join(' ').replace(/\s+/g, ' ');
    expect(joined).toContain('within 30 days of delivery');
    expect(joined.indexOf('30 days')).toBeLessThan(joined.indexOf('5 business days'));
    expect(joined.indexOf('5 business days')).toBeLessThan(joined.indexOf('replacement'));
  });
});

describe('when Meta or Parley misbehave', () => {
  it('holds answers through a Graph outage (the breaker opens) and sends each exactly once after recovery', async () => {
    const { pageId } = await pageWith();
    // Meta answers "(#2) Service temporarily unavailable" to every Send API call until the outage
    // ends: an outage of Meta, not of one Page (the breaker is per remote, not per Page).
    const outage = stack.meta.platform.addFault({ kind: 'serverError', code: 2, match: { path: '*/messages' }, count: null } as never);
    const customers = [customerOf(pageId, 'A'), customerOf(pageId, 'B'), customerOf(pageId, 'C')];
    for (const customer of customers) await say(pageId, customer.psid, 'What are your opening hours?');
    await waitFor(
      async () => /circuit_breaker_state\{[^}]*breaker="graph-api"[^}]*\} 2/.test(await (await fetch(`${stack.url('outbound-sender')}/metrics`)).text()),
      { description: 'the Graph API breaker open', timeoutMs: 60_000, intervalMs: 500 },
    );
    expect(customers.map((c) => answers(pageId, c.psid).length)).toEqual([0, 0, 0]);
    stack.meta.platform.removeFault(outage.id);
    await waitFor(() => customers.every((c) => answers(pageId, c.psid).length >= 1), { description: 'every customer answered after the outage', timeoutMs: 90_000, intervalMs: 500 });
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    for (const customer of customers) expect(answers(pageId, customer.psid)).toHaveLength(1);
  }, 180_000);

  it('sends each answer exactly once when outbound-sender is killed mid-stream and restarted', async () => {
    const { pageId } = await pageWith();
    const customers = Array.from({ length: 6 }, (_, i) => customerOf(pageId, `K${i}`));
    await Promise.all(customers.map((c) => say(pageId, c.psid, 'What are your opening hours?')));
    await stack.kill('outbound-sender');
    await stack.start('outbound-sender');
    await waitFor(() => customers.every((c) => answers(pageId, c.psid).length >= 1), { description: 'every customer answered after the restart', timeoutMs: 90_000, intervalMs: 500 });
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    for (const customer of customers) expect(answers(pageId, customer.psid).length).toBeLessThanOrEqual(1);
  }, 180_000);
});
