// Reconciliation with Meta's echoes, on the real Kafka and PostgreSQL with the Meta simulator: a part
// whose delivery Meta did not confirm (the process died during the call, or Meta did not answer in
// time) is settled by its echo, or sent again once when no echo comes by the deadline. The simulator
// echoes what the Pages send; a stand-in for ingress publishes the echoes onto messenger.inbound.v1.
import { waitFor } from '@parley/testing';
import { echoEvent, sendCommand } from './test-support/commands.ts';
import { startHarness } from './test-support/harness.ts';
import type { Harness, TestPage } from './test-support/harness.ts';

const ECHO_WAIT_MS = 30_000;
let h: Harness;

beforeAll(async () => {
  // A short Graph timeout, so a test can make Meta answer too late without waiting long.
  h = await startHarness({ echoes: true, env: { ECHO_WAIT_MS: String(ECHO_WAIT_MS), GRAPH_TIMEOUT_MS: '1000' } });
}, 120_000);
afterAll(async () => {
  await h?.close();
});

type PartRow = { part: number; state: string; mid: string | null; attempts: number };
const partsOf = (outboundId: string) => h.sql<PartRow>('select part, state, mid, attempts from send_parts where outbound_id = ? order by part', [outboundId]);
const textsSent = (pageId: string, outboundId: string) => h.sentParts(pageId, outboundId).map((r) => (r.request['message'] as { text: string }).text);

/** A send due in 30 minutes, stored, then the service stopped: the stage for a crash. */
async function storedWhileRunning(page: TestPage, texts: string[]) {
  const sendAt = new Date(h.clock.now().getTime() + 30 * 60_000);
  const command = sendCommand({ pageId: page.pageId, psid: page.psid, sendAt: sendAt.toISOString(), typingIndicator: false, parts: texts.map((text) => ({ text })) });
  await h.publish([command]);
  await h.waitForEvent(page.pageId, 'outbound.message.scheduled', (e) => e.data.outboundId === command.data.outboundId);
  return command;
}

/** What a process that died between "mark sending" and "mark sent" leaves behind. */
async function crashedDuring(outboundId: string, part: number): Promise<void> {
  await h.sql(`update send_parts set state = 'sending', sending_started_at = now() where outbound_id = ? and part = ?`, [outboundId, part]);
}

/** The dead process's Send API call, which Meta did deliver: the simulator records it and echoes it. */
function deliveredBeforeTheCrash(page: TestPage, outboundId: string, part: number, text: string): string {
  const result = h.sim.platform.send({
    rawToken: page.accessToken,
    pageIdInPath: 'me',
    path: '/v25.0/me/messages',
    body: { recipient: { id: page.psid }, messaging_type: 'RESPONSE', message: { text, metadata: `${outboundId}:${part}` } },
  });
  if (!result.ok) throw new Error(`the simulator refused the message: ${JSON.stringify(result.error)}`);
  return (result.body as { message_id: string }).message_id;
}

describe('a part left in sending by a process that died mid-call', () => {
  it('given Meta did deliver it, when its echo arrives while the part waits, then it is recorded sent (echo mid) and not sent again, and the next part goes out', async () => {
    const page = h.createPage();
    const command = await storedWhileRunning(page, ['first', 'second']);
    const { outboundId } = command.data;
    await h.stopService();
    await crashedDuring(outboundId, 0);
    // Hold the echo back until the restarted service has found the part and is waiting for it.
    h.echoes!.hold();
    const mid = deliveredBeforeTheCrash(page, outboundId, 0, 'first');
    await h.sim.whenIdle({ flush: true });

    h.clock.advance(30 * 60_000);
    await h.startService();
    await waitFor(async () => (await partsOf(outboundId))[0]?.state === 'unconfirmed', { description: 'the part to wait for its echo' });
    expect(h.sentParts(page.pageId, outboundId)).toHaveLength(1); // only the dead process's call
    await h.echoes!.release();

    const second = await h.waitForEvent(page.pageId, 'outbound.message.sent', (e) => e.data.outboundId === outboundId && e.data.part === 1);
    const first = h.events(page.pageId).find((e) => e.type === 'outbound.message.sent' && e.data.outboundId === outboundId && e.data.part === 0);
    expect(first).toMatchObject({ data: { mid, part: 0, partCount: 2 } });
    expect(second.data.mid).not.toBe(mid);
    expect(textsSent(page.pageId, outboundId)).toEqual(['first', 'second']);
    expect(await partsOf(outboundId)).toEqual([
      { part: 0, state: 'sent', mid, attempts: 1 },
      { part: 1, state: 'sent', mid: second.data.mid, attempts: 0 },
    ]);
    expect(h.events(page.pageId).filter((e) => e.type === 'outbound.message.failed')).toHaveLength(0);
    // The send is closed once its worker lets go of it (just after the last part's event).
    await waitFor(async () => (await h.sql<{ status: string }>('select status from sends where outbound_id = ?', [outboundId]))[0]?.status === 'sent', { description: 'the send to be closed as sent' });
  });

  it('given Meta did not deliver it, when no echo comes by the deadline (ECHO_WAIT_MS on the injectable clock), then it is sent again exactly once, then the next part', async () => {
    const page = h.createPage();
    const command = await storedWhileRunning(page, ['first', 'second']);
    const { outboundId } = command.data;
    await h.stopService();
    await crashedDuring(outboundId, 0);

    h.clock.advance(30 * 60_000);
    await h.startService();
    await waitFor(async () => (await partsOf(outboundId))[0]?.state === 'unconfirmed', { description: 'the part to wait for its echo' });
    // Before the deadline nothing goes out, however often the dispatcher looks.
    const passes = h.service().dispatcher.passes();
    h.service().dispatcher.wake();
    await waitFor(() => h.service().dispatcher.passes() > passes + 2, { description: 'the dispatcher to look again' });
    expect(h.sent(page.pageId)).toHaveLength(0);

    h.clock.advance(ECHO_WAIT_MS);
    h.service().dispatcher.wake();

    const second = await h.waitForEvent(page.pageId, 'outbound.message.sent', (e) => e.data.outboundId === outboundId && e.data.part === 1);
    // The echoes of both parts come back and change nothing.
    await waitFor(async () => (await h.metric('outbound_echoes_total', 'outcome="already_sent"')) >= 2, { description: 'the echoes of the parts to be read' });
    expect(textsSent(page.pageId, outboundId)).toEqual(['first', 'second']);
    const first = h.events(page.pageId).find((e) => e.type === 'outbound.message.sent' && e.data.outboundId === outboundId && e.data.part === 0);
    expect(first?.type === 'outbound.message.sent' && first.data.mid).toBe(h.sentParts(page.pageId, outboundId)[0]?.messageId);
    expect((await partsOf(outboundId)).map((p) => [p.state, p.mid])).toEqual([
      ['sent', h.sentParts(page.pageId, outboundId)[0]?.messageId],
      ['sent', second.data.mid],
    ]);
    expect(await h.metric('outbound_parts_resent_total')).toBe(1);
  });
});

describe('a Send API call Meta does not answer in time', () => {
  it('given Meta delivered it after all, when its echo arrives, then the part is sent once (not retried) and the next part follows', async () => {
    const page = h.createPage();
    // Meta takes longer than GRAPH_TIMEOUT_MS over the first message, then delivers it anyway.
    h.sim.platform.addFault({ kind: 'latency', ms: 1_600, match: { pageId: page.pageId, path: '/me/messages' }, count: 1 });
    const command = sendCommand({ pageId: page.pageId, psid: page.psid, typingIndicator: false, parts: [{ text: 'slow one' }, { text: 'next one' }] });

    await h.publish([command]);

    const { outboundId } = command.data;
    const deferred = await h.waitForEvent(page.pageId, 'outbound.message.deferred', (e) => e.data.outboundId === outboundId);
    expect(deferred.data.reason).toBe('graph_unavailable');
    await h.waitForEvent(page.pageId, 'outbound.message.sent', (e) => e.data.outboundId === outboundId && e.data.part === 1);
    expect(textsSent(page.pageId, outboundId)).toEqual(['slow one', 'next one']);
    const parts = await partsOf(outboundId);
    expect(parts.map((p) => p.state)).toEqual(['sent', 'sent']);
    expect(parts[0]?.mid).toBe(h.sentParts(page.pageId, outboundId)[0]?.messageId);
    expect(await h.metric('outbound_parts_unconfirmed_total', 'cause="timeout"')).toBeGreaterThanOrEqual(1);
  });
});

describe('echoes that change nothing', () => {
  it('given every part was sent and echoed, when the echoes arrive again (duplicates), then nothing more happens', async () => {
    const page = h.createPage();
    const command = sendCommand({ pageId: page.pageId, psid: page.psid, typingIndicator: false, parts: [{ text: 'one' }, { text: 'two' }] });
    const { outboundId } = command.data;
    await h.publish([command]);
    await h.waitForEvent(page.pageId, 'outbound.message.sent', (e) => e.data.outboundId === outboundId && e.data.part === 1);
    const ours = () => h.echoes!.published().filter((e) => e.data.metadata?.startsWith(`${outboundId}:`));
    await waitFor(() => ours().length === 2, { description: 'both echoes to be published' });
    const alreadySent = await h.metric('outbound_echoes_total', 'outcome="already_sent"');
    const before = await partsOf(outboundId);

    await h.publish(ours());
    await waitFor(async () => (await h.metric('outbound_echoes_total', 'outcome="already_sent"')) >= alreadySent + 2, { description: 'the duplicates to be read' });

    expect(await partsOf(outboundId)).toEqual(before);
    expect(textsSent(page.pageId, outboundId)).toEqual(['one', 'two']);
    expect(await h.sql('select event_id from outbox')).toEqual([]);
    expect(h.events(page.pageId).filter((e) => e.type === 'outbound.message.sent')).toHaveLength(2);
  });

  it('given a part already sent, when its echo arrives again while another transaction holds the part, then the echo is read at once, without waiting for that lock', async () => {
    const page = h.createPage();
    const command = sendCommand({ pageId: page.pageId, psid: page.psid, typingIndicator: false, parts: [{ text: 'only' }] });
    const { outboundId } = command.data;
    // The first echo settles the part or finds it settled by the Send API's answer.
    const echoesRead = async () => (await h.metric('outbound_echoes_total', 'outcome="already_sent"')) + (await h.metric('outbound_echoes_total', 'outcome="confirmed"'));
    const before = await echoesRead();
    await h.publish([command]);
    await h.waitForEvent(page.pageId, 'outbound.message.sent', (e) => e.data.outboundId === outboundId);
    await waitFor(async () => (await echoesRead()) > before, { description: 'the first echo to be read' });
    const echo = h.echoes!.published().find((e) => e.data.metadata === `${outboundId}:0`)!;
    const alreadySent = await h.metric('outbound_echoes_total', 'outcome="already_sent"');

    const release = await h.holdLocks('select 1 from send_parts where outbound_id = ? and part = 0 for update', [outboundId]);
    try {
      await h.publish([echo]);
      // Locking the part first, the handler would wait here until the lock is released.
      await waitFor(async () => (await h.metric('outbound_echoes_total', 'outcome="already_sent"')) > alreadySent, { description: 'the duplicate echo to be read while the part is locked', timeoutMs: 10_000 });
    } finally {
      await release();
    }
    expect((await partsOf(outboundId))[0]).toMatchObject({ state: 'sent' });
    expect(h.sentParts(page.pageId, outboundId)).toHaveLength(1);
  });

  it("given an echo of a part with another mid (the late echo of a part that was sent again), then it is counted as a duplicate delivery and the record stands", async () => {
    const page = h.createPage();
    const command = sendCommand({ pageId: page.pageId, psid: page.psid, typingIndicator: false, parts: [{ text: 'only' }] });
    const { outboundId } = command.data;
    await h.publish([command]);
    const sent = await h.waitForEvent(page.pageId, 'outbound.message.sent', (e) => e.data.outboundId === outboundId);
    await waitFor(() => h.echoes!.published().some((e) => e.data.metadata === `${outboundId}:0`), { description: 'the echo to be published' });
    const duplicates = await h.metric('outbound_echoes_total', 'outcome="duplicate_delivery"');
    const echo = h.echoes!.published().find((e) => e.data.metadata === `${outboundId}:0`)!;

    await h.publish([echoEvent({ pageId: page.pageId, psid: page.psid, mid: `${echo.data.mid}-earlier`, appId: echo.data.appId, metadata: echo.data.metadata })]);
    await waitFor(async () => (await h.metric('outbound_echoes_total', 'outcome="duplicate_delivery"')) > duplicates, { description: 'the late echo to be read' });

    expect((await partsOf(outboundId))[0]).toMatchObject({ state: 'sent', mid: sent.data.mid });
    expect(h.sentParts(page.pageId, outboundId)).toHaveLength(1);
  });

  it("given echoes of other apps' messages or of a person writing in Meta's inbox, then they are ignored", async () => {
    const page = h.createPage();
    const notOurs = await h.metric('outbound_echoes_total', 'outcome="not_ours"');
    // A person replies from Meta's Page inbox: the echo carries the inbox's app id and no metadata.
    h.sim.platform.pageInboxReply(page.pageId, page.psid, { text: 'a person here' });
    await waitFor(async () => (await h.metric('outbound_echoes_total', 'outcome="not_ours"')) > notOurs, { description: 'the echo to be read' });
    expect(h.events(page.pageId).filter((e) => e.type === 'outbound.message.sent')).toHaveLength(0);
  });
});
