// outbound-sender end to end: real Kafka and PostgreSQL, the Meta simulator playing Meta, a stub of
// auth-token's token API. Assertions are on what the customer got (the simulator's Send API log) and
// on what outbound-sender told the world (outbound.events.v1).
import { waitFor } from '@parley/testing';
import { cancelCommand, pageDisconnected, sendCommand } from './test-support/commands.ts';
import { startHarness } from './test-support/harness.ts';
import type { Harness } from './test-support/harness.ts';

let h: Harness;

beforeAll(async () => {
  h = await startHarness();
}, 120_000);
afterAll(async () => {
  await h?.close();
});

const inHours = (hours: number) => new Date(Date.now() + hours * 3_600_000).toISOString();

describe('sending', () => {
  it('given an assistant answer, when its command arrives, then the customer sees typing and then the message, once', async () => {
    const { pageId, psid } = h.createPage();
    const command = sendCommand({ pageId, psid, parts: [{ text: 'We open at 9.' }, { text: 'See you soon!' }], replyWindowClosesAt: inHours(23) });

    await h.publish([command]);

    const last = await h.waitForEvent(pageId, 'outbound.message.sent', (e) => e.data.part === 1);
    const calls = h.sent(pageId);
    expect(calls.map((c) => (c.request['sender_action'] as string | undefined) ?? (c.request['message'] as { text: string }).text)).toEqual(['typing_on', 'We open at 9.', 'See you soon!']);
    expect(calls[1]!.request).toMatchObject({ recipient: { id: psid }, messaging_type: 'RESPONSE', message: { metadata: `${command.data.outboundId}:0` } });
    expect(calls[1]!.request).not.toHaveProperty('tag');
    // One sent event per part, with Meta's mid.
    const sent = h.events(pageId).filter((e) => e.type === 'outbound.message.sent');
    expect(sent.map((e) => e.type === 'outbound.message.sent' && [e.data.part, e.data.mid])).toEqual([
      [0, calls[1]!.messageId],
      [1, calls[2]!.messageId],
    ]);
    expect(last).toMatchObject({ conversationId: `${pageId}:${psid}`, causationId: command.id, data: { partCount: 2, author: 'assistant' } });
    expect(h.events(pageId)[0]).toMatchObject({ type: 'outbound.message.scheduled', data: { outboundId: command.data.outboundId } });
  });

  it('given a command that was sent, when it is replayed (same outboundId), then nothing is sent twice', async () => {
    const { pageId, psid } = h.createPage();
    const command = sendCommand({ pageId, psid, parts: [{ text: 'Only once, please.' }] });
    await h.publish([command]);
    await h.waitForEvent(pageId, 'outbound.message.sent');

    // The same command again, once as the same record and once re-published by its producer with a new event id;
    // then a marker on the same conversation (same partition): once it is sent, the replays were handled.
    const marker = sendCommand({ pageId, psid, parts: [{ text: 'marker' }], typingIndicator: false });
    await h.publish([command, { ...command, id: 'replayed-by-producer' }, marker]);
    await h.waitForEvent(pageId, 'outbound.message.sent', (e) => e.data.outboundId === marker.data.outboundId);

    expect(h.sentParts(pageId, command.data.outboundId)).toHaveLength(1);
    expect(h.events(pageId).filter((e) => e.type === 'outbound.message.scheduled' && e.data.outboundId === command.data.outboundId)).toHaveLength(1);
  });

  it('given a send due in ten minutes, then nothing goes out before then, and it goes out when the time comes', async () => {
    const { pageId, psid } = h.createPage();
    const command = sendCommand({ pageId, psid, sendAt: new Date(h.clock.now().getTime() + 10 * 60_000).toISOString(), parts: [{ text: 'Later.' }] });
    await h.publish([command]);
    await h.waitForEvent(pageId, 'outbound.message.scheduled');

    // The dispatcher looked (several times) and left it alone.
    const passes = h.service().dispatcher.passes();
    await waitFor(() => h.service().dispatcher.passes() >= passes + 3, { description: 'the dispatcher to look for due sends' });
    expect(h.sentParts(pageId, command.data.outboundId)).toHaveLength(0);

    h.clock.advance(10 * 60_000);
    h.service().dispatcher.wake();
    await h.waitForEvent(pageId, 'outbound.message.sent');
    expect(h.sentParts(pageId, command.data.outboundId)).toHaveLength(1);
  });

  it("given the customer's window closed at Meta (10/2018278), then the send fails with window_closed and a reason a person understands", async () => {
    const { pageId } = h.createPage();
    // A customer who never wrote: every window is closed at Meta, and the command does not know it.
    const stranger = h.sim.platform.createCustomer(pageId);
    const command = sendCommand({ pageId, psid: stranger.psid, typingIndicator: false });

    await h.publish([command]);

    const failed = await h.waitForEvent(pageId, 'outbound.message.failed');
    expect(failed.data).toMatchObject({
      outboundId: command.data.outboundId,
      category: 'window_closed',
      graphCode: 10,
      graphSubcode: 2018278,
      reason: "The customer's 24-hour reply window closed before this was sent.",
    });
    expect(h.sentParts(pageId, command.data.outboundId)).toHaveLength(0);
  });

  it('given the command says the window closed already, then it fails as window_closed without calling Meta', async () => {
    const { pageId, psid } = h.createPage();
    const command = sendCommand({ pageId, psid, replyWindowClosesAt: new Date(Date.now() - 60_000).toISOString() });

    await h.publish([command]);

    const failed = await h.waitForEvent(pageId, 'outbound.message.failed');
    expect(failed.data).toMatchObject({ category: 'window_closed', graphCode: null, part: null });
    expect(h.sim.platform.sentBy(pageId, { includeRejected: true })).toHaveLength(0);
  });

  it('given an assistant message with the human-agent tag, then it is refused as invalid_request and nothing is sent', async () => {
    const { pageId, psid } = h.createPage();
    const command = sendCommand({ pageId, psid, author: 'assistant', messagingType: 'MESSAGE_TAG', tag: 'HUMAN_AGENT' });

    await h.publish([command]);

    expect((await h.waitForEvent(pageId, 'outbound.message.failed')).data).toMatchObject({ category: 'invalid_request', part: null });
    expect(h.sim.platform.sentBy(pageId, { includeRejected: true })).toHaveLength(0);
  });

  it("given a person's reply with the human-agent tag, then it goes out as MESSAGE_TAG + HUMAN_AGENT without typing", async () => {
    const { pageId, psid } = h.createPage();
    const command = sendCommand({ pageId, psid, author: 'agent', agentId: 'agent-7', purpose: 'manual', messagingType: 'MESSAGE_TAG', tag: 'HUMAN_AGENT', typingIndicator: true });

    await h.publish([command]);

    await h.waitForEvent(pageId, 'outbound.message.sent');
    expect(h.sent(pageId).map((c) => c.request)).toEqual([expect.objectContaining({ messaging_type: 'MESSAGE_TAG', tag: 'HUMAN_AGENT' })]);
  });

  it('given a send scheduled for later, when it is cancelled, then nothing is sent and the cancellation is announced', async () => {
    const { pageId, psid } = h.createPage();
    const command = sendCommand({ pageId, psid, sendAt: new Date(h.clock.now().getTime() + 60_000).toISOString() });
    await h.publish([command]);
    await h.waitForEvent(pageId, 'outbound.message.scheduled');

    await h.publish([cancelCommand({ pageId, psid, outboundId: command.data.outboundId, reason: 'escalated' })]);
    const cancelled = await h.waitForEvent(pageId, 'outbound.message.cancelled');
    h.clock.advance(60_000);
    h.service().dispatcher.wake();

    expect(cancelled.data).toMatchObject({ outboundId: command.data.outboundId, reason: 'escalated', partsSent: 0 });
    const passes = h.service().dispatcher.passes();
    await waitFor(() => h.service().dispatcher.passes() >= passes + 3, { description: 'the dispatcher to look for due sends' });
    expect(h.sent(pageId)).toHaveLength(0);
  });

  it('given a burst of commands waiting together (a replay and a cancellation among them), then each is stored and sent once, the cancelled one never', async () => {
    const { pageId, psid: first } = h.createPage();
    const others = [1, 2, 3].map(() => {
      const customer = h.sim.platform.createCustomer(pageId);
      h.sim.platform.customerMessage(pageId, customer.psid, { text: 'Hi!' });
      return customer.psid;
    });
    const customers = [first, ...others].map((psid) => ({ psid, command: sendCommand({ pageId, psid, parts: [{ text: `Hello ${psid}` }], typingIndicator: false }) }));
    const later = sendCommand({ pageId, psid: first, sendAt: new Date(h.clock.now().getTime() + 60_000).toISOString() });
    const cancel = cancelCommand({ pageId, psid: first, outboundId: later.data.outboundId, reason: 'escalated' });
    // One publish: the consumer finds them waiting together; the cancellation follows its command on the same conversation.
    await h.publish([...customers.map((c) => c.command), later, cancel, { ...customers[1]!.command, id: 'replayed-in-the-burst' }]);

    await h.waitForEvent(pageId, 'outbound.message.cancelled');
    for (const { command } of customers) await h.waitForEvent(pageId, 'outbound.message.sent', (e) => e.data.outboundId === command.data.outboundId);
    for (const { command } of customers) {
      expect(h.sentParts(pageId, command.data.outboundId)).toHaveLength(1);
      expect(h.events(pageId).filter((e) => e.type === 'outbound.message.scheduled' && e.data.outboundId === command.data.outboundId)).toHaveLength(1);
    }
    expect(h.events(pageId).filter((e) => e.type === 'outbound.message.cancelled').map((e) => e.type === 'outbound.message.cancelled' && e.data.outboundId)).toEqual([later.data.outboundId]);
    h.clock.advance(60_000);
    h.service().dispatcher.wake();
    const passes = h.service().dispatcher.passes();
    await waitFor(() => h.service().dispatcher.passes() >= passes + 3, { description: 'the dispatcher to look for due sends' });
    expect(h.sentParts(pageId, later.data.outboundId)).toHaveLength(0);
  });

  it('given a cancellation that arrives before its command, then the command is stored as cancelled and never sent', async () => {
    const { pageId, psid } = h.createPage();
    const command = sendCommand({ pageId, psid });

    await h.publish([cancelCommand({ pageId, psid, outboundId: command.data.outboundId }), command]);

    await h.waitForEvent(pageId, 'outbound.message.cancelled');
    const marker = sendCommand({ pageId, psid, typingIndicator: false });
    await h.publish([marker]);
    await h.waitForEvent(pageId, 'outbound.message.sent');
    expect(h.sentParts(pageId, command.data.outboundId)).toHaveLength(0);
  });

  it('given a Page comment, then the reply goes privately to the comment', async () => {
    const { pageId, psid } = h.createPage();
    const comment = h.sim.platform.customerComment(pageId, psid, { message: 'Do you deliver?' });
    const command = sendCommand({ pageId, psid, channel: 'page_comment', commentId: comment.commentId, parts: [{ text: 'We do!' }, { text: 'Details in your inbox.' }] });

    await h.publish([command]);

    await h.waitForEvent(pageId, 'outbound.message.sent');
    expect(h.sent(pageId).map((c) => c.request)).toEqual([
      expect.objectContaining({ recipient: { comment_id: comment.commentId }, message: { text: 'We do!\n\nDetails in your inbox.', metadata: `${command.data.outboundId}:0` } }),
    ]);
  });

  it('given the Page was disconnected (page.disconnected), then its sends fail with page_disconnected without calling Meta', async () => {
    const { pageId, psid } = h.createPage();
    await h.publish([pageDisconnected({ pageId, at: h.clock.now() })]);
    await waitFor(async () => (await h.sql<{ status: string }>('select status from pages where page_id = ?', [pageId]))[0]?.status === 'disconnected', { description: 'the Page to be known as disconnected' });

    await h.publish([sendCommand({ pageId, psid })]);

    expect((await h.waitForEvent(pageId, 'outbound.message.failed')).data).toMatchObject({ category: 'page_disconnected', reason: 'The Page is no longer connected to Parley, so this was not sent.' });
    expect(h.sent(pageId)).toHaveLength(0);
    expect(h.authToken.requests(pageId)).toBe(0);
  });

  it('given a record on the commands topic that is not an event, then it does not block the conversation: the next command still goes out (the consumer library dead-letters it)', async () => {
    const { pageId, psid } = h.createPage();
    const command = sendCommand({ pageId, psid, typingIndicator: false });

    await h.publishRaw([{ topic: 'outbound.commands.v1', key: `${pageId}:${psid}`, value: '{"type":"outbound.send.requested","data":' }]);
    await h.publish([command]);

    await h.waitForEvent(pageId, 'outbound.message.sent');
    expect(h.sentParts(pageId, command.data.outboundId)).toHaveLength(1);
  });

  it('given a Page auth-token does not know (or that was disconnected), then the send fails with page_disconnected', async () => {
    const { pageId, psid } = h.createPage();
    h.authToken.setPage(pageId, { accessToken: 'x', accountId: 'a', status: 'disconnected' });
    await h.publish([sendCommand({ pageId, psid })]);
    expect((await h.waitForEvent(pageId, 'outbound.message.failed')).data).toMatchObject({ category: 'page_disconnected' });
    expect(h.sent(pageId)).toHaveLength(0);
  });
});
