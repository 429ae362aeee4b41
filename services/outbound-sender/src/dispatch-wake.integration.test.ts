// The dispatcher's wake-ups, against real Kafka and PostgreSQL.
import { waitFor } from '@parley/testing';
import { sendCommand } from './test-support/commands.ts';
import { startHarness } from './test-support/harness.ts';
import type { Harness } from './test-support/harness.ts';

describe('waking the dispatcher (polling made slow, a minute: only a wake-up explains a send going out at once)', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ env: { DISPATCH_POLL_MS: '60000', DISPATCH_CONCURRENCY: '4' } });
  }, 120_000);
  afterAll(async () => {
    await h?.close();
  });

  it('given idle workers, when a command is stored, then one worker sends it at once and the others sleep on', async () => {
    const { pageId, psid } = h.createPage();
    // Every worker has looked once at start and is asleep for a minute.
    await waitFor(() => h.service().dispatcher.passes() >= 4, { description: 'the four workers to look once' });
    const before = h.service().dispatcher.passes();

    await h.publish([sendCommand({ pageId, psid, parts: [{ text: 'Right away.' }], typingIndicator: false })]);
    await h.waitForEvent(pageId, 'outbound.message.sent', () => true, 20_000);

    // One worker, one look: its claim. Waking all four would be five or more; looking again after the
    // send, or waking a second worker in case more were due, two.
    const looks = h.service().dispatcher.passes() - before;
    expect(looks).toBe(1);
  });

  it('given a send goes out with nothing deferred, then the outbox relay reads once per event it is woken for, and not again after the claim commits', async () => {
    const { pageId, psid } = h.createPage();
    await waitFor(() => h.service().dispatcher.passes() >= 4, { description: 'the four workers to look once' });
    const before = h.service().relay.reads();
    await h.publish([sendCommand({ pageId, psid, parts: [{ text: 'Once.' }], typingIndicator: false })]);
    await h.waitForEvent(pageId, 'outbound.message.sent', () => true, 20_000);
    await new Promise((resolve) => setTimeout(resolve, 300));
    // Two events (scheduled, sent), each written and woken for once: two reads at most (one if they
    // came together). Waking the relay after the claiming transaction too made it three.
    const reads = h.service().relay.reads() - before;
    expect(reads).toBeGreaterThanOrEqual(1);
    expect(reads).toBeLessThanOrEqual(2);
  });

  it('given more new sends than workers at once, then each is sent without waiting for the poll: busy workers look again for the wakes they missed', async () => {
    const pages = Array.from({ length: 10 }, () => h.createPage());
    await waitFor(() => h.service().dispatcher.passes() >= 4, { description: 'the four workers to look once' });
    await h.publish(pages.map(({ pageId, psid }) => sendCommand({ pageId, psid, parts: [{ text: 'All at once.' }], typingIndicator: false })));
    for (const { pageId } of pages) await h.waitForEvent(pageId, 'outbound.message.sent', () => true, 20_000);
  });
});

describe('an idle dispatcher', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ env: { DISPATCH_POLL_MS: '100', DISPATCH_CONCURRENCY: '8' } });
  }, 120_000);
  afterAll(async () => {
    await h?.close();
  });

  it('looks for due sends once per poll interval, not once per worker, and still finds a send that became due with time', async () => {
    const { pageId, psid } = h.createPage();
    await waitFor(() => h.service().dispatcher.passes() >= 8, { description: 'the eight workers to look once' });
    const before = h.service().dispatcher.passes();
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    const looks = h.service().dispatcher.passes() - before;
    // Two seconds at 100 ms: about 20 looks (fewer on a slow machine); every worker on its own timer would be about 160.
    expect(looks).toBeGreaterThan(0);
    expect(looks).toBeLessThanOrEqual(30);

    // Due in a second: no wake-up tells the dispatcher, only its tick.
    const command = sendCommand({ pageId, psid, parts: [{ text: 'Later.' }], typingIndicator: false, sendAt: new Date(h.clock.now().getTime() + 1_000).toISOString() });
    await h.publish([command]);
    await h.waitForEvent(pageId, 'outbound.message.scheduled');
    h.clock.advance(1_000);
    await h.waitForEvent(pageId, 'outbound.message.sent', () => true, 20_000);
  });
});
