// outbound-sender when things go wrong: Meta failing in bursts (breaker), a rejected token (held
// sends, reconnect), the service stopped mid-stream. (A crash in the middle of a Send API call, and a
// call Meta does not answer: reconciliation.integration.test.ts.)
import { waitFor } from '@parley/testing';
import { pageConnected, pageConnectionChanged, sendCommand } from './test-support/commands.ts';
import { mintPageToken, startHarness } from './test-support/harness.ts';
import type { Harness } from './test-support/harness.ts';

let h: Harness;

beforeAll(async () => {
  h = await startHarness();
}, 120_000);
afterAll(async () => {
  await h?.close();
});

const inHours = (hours: number) => new Date(Date.now() + hours * 3_600_000).toISOString();

async function metric(name: string, labels: string): Promise<number> {
  const text = await (await fetch(`${h.service().url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && l.includes(labels));
  return line ? Number(line.split(' ').pop()) : 0;
}

describe('when Meta fails', () => {
  it('given bursts of 5xx, then the breaker opens, the sends are deferred (not failed) and go out after recovery, none twice', async () => {
    const { pageId } = h.createPage();
    const customers = [0, 1, 2].map(() => {
      const customer = h.sim.platform.createCustomer(pageId);
      h.sim.platform.customerMessage(pageId, customer.psid, { text: 'hi' });
      return customer.psid;
    });
    const opened = await metric('circuit_breaker_transitions_total', 'state="open"');
    h.sim.platform.addFault({ kind: 'serverError', match: { pageId }, count: 6 });

    const commands = customers.map((psid) => sendCommand({ pageId, psid, typingIndicator: false, parts: [{ text: `for ${psid}` }] }));
    await h.publish(commands);

    for (const command of commands) {
      await h.waitForEvent(pageId, 'outbound.message.sent', (e) => e.data.outboundId === command.data.outboundId, 60_000);
      expect(h.sentParts(pageId, command.data.outboundId)).toHaveLength(1);
    }
    expect(await metric('circuit_breaker_transitions_total', 'state="open"')).toBeGreaterThan(opened);
    const deferred = h.events(pageId).filter((e) => e.type === 'outbound.message.deferred');
    expect(deferred.length).toBeGreaterThan(0);
    expect(deferred.every((e) => e.type === 'outbound.message.deferred' && e.data.reason === 'graph_unavailable' && e.data.retryAt !== null)).toBe(true);
    // Announced once per send, however many retries (5xx, then the open breaker) it took.
    const announcements = deferred.map((e) => (e.type === 'outbound.message.deferred' ? e.data.outboundId : ''));
    expect(new Set(announcements).size).toBe(announcements.length);
    expect(h.events(pageId).filter((e) => e.type === 'outbound.message.failed')).toHaveLength(0);
  });

  it('given Meta rate-limits the Page (613), then the send waits (deferred rate_limited) and goes out once', async () => {
    const { pageId, psid } = h.createPage();
    h.sim.platform.addFault({ kind: 'rateLimit', match: { pageId, path: '/me/messages' }, count: 1 });
    const command = sendCommand({ pageId, psid, typingIndicator: false });

    await h.publish([command]);

    await h.waitForEvent(pageId, 'outbound.message.sent');
    expect(h.events(pageId).find((e) => e.type === 'outbound.message.deferred')).toMatchObject({ data: { reason: 'rate_limited' } });
    expect(h.sentParts(pageId, command.data.outboundId)).toHaveLength(1);
  });

  it('given a permanent error (551, customer unavailable), then the send fails at that part and later parts are never sent', async () => {
    const { pageId, psid } = h.createPage();
    const command = sendCommand({ pageId, psid, typingIndicator: false, parts: [{ text: 'one' }, { text: 'two' }, { text: 'three' }] });
    // The customer blocks the Page right after the first part reached them.
    const original = h.sim.platform.send.bind(h.sim.platform);
    h.sim.platform.send = (input) => {
      const metadata = (input.body['message'] as { metadata?: string } | undefined)?.metadata;
      if (metadata === `${command.data.outboundId}:1`) h.sim.platform.updateCustomer(pageId, psid, { unavailable: true });
      return original(input);
    };
    try {
      await h.publish([command]);
      const failed = await h.waitForEvent(pageId, 'outbound.message.failed');
      expect(failed.data).toMatchObject({ outboundId: command.data.outboundId, part: 1, category: 'recipient_unavailable', graphCode: 551 });
      expect(h.sentParts(pageId, command.data.outboundId).map((r) => (r.request['message'] as { text: string }).text)).toEqual(['one']);
    } finally {
      h.sim.platform.send = original;
    }
  });
});

describe('when Meta rejects the token', () => {
  it('given a 190, then outbound.token.rejected is emitted, the sends are held (not failed), and a reconnect releases them, once each', async () => {
    const { pageId, psid } = h.createPage();
    h.sim.platform.revokeTokens({ pageId, subcode: 460 });
    const first = sendCommand({ pageId, psid, parts: [{ text: 'first' }], replyWindowClosesAt: inHours(23) });

    await h.publish([first]);

    const rejected = await h.waitForEvent(pageId, 'outbound.token.rejected');
    expect(rejected).toMatchObject({ conversationId: null, data: { graphCode: 190, graphSubcode: 460 } });
    expect((await h.waitForEvent(pageId, 'outbound.message.deferred')).data).toMatchObject({ outboundId: first.data.outboundId, reason: 'page_needs_reconnect' });

    // While the Page is held, new sends are held without calling Meta.
    const callsBefore = h.sim.platform.sentBy(pageId, { includeRejected: true }).length;
    const second = sendCommand({ pageId, psid: h.sim.platform.createCustomer(pageId).psid, parts: [{ text: 'second' }], replyWindowClosesAt: inHours(23) });
    await h.publish([second]);
    await h.waitForEvent(pageId, 'outbound.message.deferred', (e) => e.data.outboundId === second.data.outboundId);
    expect(h.sim.platform.sentBy(pageId, { includeRejected: true })).toHaveLength(callsBefore);
    expect(h.events(pageId).filter((e) => e.type === 'outbound.message.failed')).toHaveLength(0);

    // The Page admin reconnects: auth-token has a new token and says so.
    const customer = h.sim.platform.state.customers.get(`${pageId}:${second.data.customer.psid}`)!;
    h.sim.platform.customerMessage(pageId, customer.psid, { text: 'hello?' });
    h.authToken.setPage(pageId, { accessToken: mintPageToken(h.sim, pageId), accountId: 'account-1', status: 'connected' });
    await h.publish([pageConnected({ pageId, reconnect: true })]);

    await h.waitForEvent(pageId, 'outbound.message.sent', (e) => e.data.outboundId === first.data.outboundId);
    await h.waitForEvent(pageId, 'outbound.message.sent', (e) => e.data.outboundId === second.data.outboundId);
    expect(h.sentParts(pageId, first.data.outboundId)).toHaveLength(1);
    expect(h.sentParts(pageId, second.data.outboundId)).toHaveLength(1);
  });

  it('given held sends, when the Page comes back after the window of one of them closed, then that one fails (window_closed) and the other goes out', async () => {
    const { pageId, psid } = h.createPage();
    h.authToken.setPage(pageId, { accessToken: 'x', accountId: 'account-1', status: 'needs_reconnect' });
    await h.publish([pageConnectionChanged({ pageId, status: 'needs_reconnect', at: h.clock.now() })]);
    const closesSoon = sendCommand({ pageId, psid, parts: [{ text: 'too late' }], typingIndicator: false, replyWindowClosesAt: new Date(h.clock.now().getTime() + 60 * 60_000).toISOString() });
    const agentReply = sendCommand({ pageId, psid: h.sim.platform.createCustomer(pageId).psid, author: 'agent', messagingType: 'MESSAGE_TAG', tag: 'HUMAN_AGENT', typingIndicator: false, parts: [{ text: 'a person answers' }], replyWindowClosesAt: new Date(h.clock.now().getTime() + 60 * 60_000).toISOString() });
    h.sim.platform.customerMessage(pageId, agentReply.data.customer.psid, { text: 'hi' });
    await h.publish([closesSoon, agentReply]);
    await h.waitForEvent(pageId, 'outbound.message.deferred', (e) => e.data.outboundId === closesSoon.data.outboundId);
    await h.waitForEvent(pageId, 'outbound.message.deferred', (e) => e.data.outboundId === agentReply.data.outboundId);

    // Two hours later: the 24-hour window of the first has closed; the person's reply is inside 7 days.
    h.clock.advance(2 * 60 * 60_000);
    h.authToken.setPage(pageId, { accessToken: mintPageToken(h.sim, pageId), accountId: 'account-1', status: 'connected' });
    await h.publish([pageConnectionChanged({ pageId, status: 'connected', previousStatus: 'needs_reconnect', at: h.clock.now() })]);

    expect((await h.waitForEvent(pageId, 'outbound.message.failed')).data).toMatchObject({ outboundId: closesSoon.data.outboundId, category: 'window_closed' });
    await h.waitForEvent(pageId, 'outbound.message.sent', (e) => e.data.outboundId === agentReply.data.outboundId);
    expect(h.sentParts(pageId, closesSoon.data.outboundId)).toHaveLength(0);
  });
});

describe('two replicas', () => {
  it('given two instances dispatching from one ledger, then every part goes out exactly once, in order per conversation', async () => {
    const replica = await h.startReplica();
    try {
      const { pageId } = h.createPage();
      const customers = Array.from({ length: 4 }, () => {
        const customer = h.sim.platform.createCustomer(pageId);
        h.sim.platform.customerMessage(pageId, customer.psid, { text: 'hi' });
        return customer.psid;
      });
      // Two sends per conversation, three parts each.
      const commands = customers.flatMap((psid) =>
        [0, 1].map((n) => sendCommand({ pageId, psid, typingIndicator: false, parts: [1, 2, 3].map((i) => ({ text: `${psid} send ${n} part ${i}` })) })),
      );
      await h.publish(commands);

      for (const command of commands) {
        await h.waitForEvent(pageId, 'outbound.message.sent', (e) => e.data.outboundId === command.data.outboundId && e.data.part === 2, 60_000);
      }
      for (const psid of customers) {
        const texts = h.sent(pageId).filter((r) => r.recipientId === psid).map((r) => (r.request['message'] as { text: string }).text);
        expect(texts).toEqual([0, 1].flatMap((n) => [1, 2, 3].map((i) => `${psid} send ${n} part ${i}`)));
      }
    } finally {
      await replica.stop();
    }
  });
});

describe('stopping and crashing', () => {
  it('given the service is stopped mid-stream and started again, then each part goes out exactly once', async () => {
    const { pageId, psid } = h.createPage();
    const parts = Array.from({ length: 6 }, (_, i) => ({ text: `part ${i + 1}` }));
    const command = sendCommand({ pageId, psid, parts, replyWindowClosesAt: inHours(23) });
    // Slow Meta down so the stop lands between parts.
    const slow = h.sim.platform.addFault({ kind: 'latency', ms: 300, match: { pageId } });

    await h.publish([command]);
    await waitFor(() => h.sentParts(pageId, command.data.outboundId).length >= 1, { description: 'the first part to go out' });
    await h.stopService();
    const sentWhileStopping = h.sentParts(pageId, command.data.outboundId).length;
    expect(sentWhileStopping).toBeLessThan(parts.length);
    h.sim.platform.removeFault(slow.id);

    await h.startService();

    await h.waitForEvent(pageId, 'outbound.message.sent', (e) => e.data.part === parts.length - 1);
    const texts = h.sentParts(pageId, command.data.outboundId).map((r) => (r.request['message'] as { text: string }).text);
    expect(texts).toEqual(parts.map((p) => p.text));
    // One typing indicator, before the first part only.
    expect(h.sent(pageId).filter((r) => r.request['sender_action'] === 'typing_on')).toHaveLength(1);
    const sentEvents = h.events(pageId).filter((e) => e.type === 'outbound.message.sent');
    expect(new Set(sentEvents.map((e) => e.id)).size).toBe(parts.length);
  });
});
