// The dispatcher's wake-ups, against real Kafka and PostgreSQL with polling made slow (a minute), so
// that only a wake-up can explain a send going out at once.
import { waitFor } from '@parley/testing';
import { sendCommand } from './test-support/commands.ts';
import { startHarness } from './test-support/harness.ts';
import type { Harness } from './test-support/harness.ts';

let h: Harness;

beforeAll(async () => {
  h = await startHarness({ env: { DISPATCH_POLL_MS: '60000', DISPATCH_CONCURRENCY: '4' } });
}, 120_000);
afterAll(async () => {
  await h?.close();
});

describe('waking the dispatcher', () => {
  it('given idle workers, when a command is stored, then one worker sends it at once and the others sleep on', async () => {
    const { pageId, psid } = h.createPage();
    // Every worker has looked once at start and is asleep for a minute.
    await waitFor(() => h.service().dispatcher.passes() >= 4, { description: 'the four workers to look once' });
    const before = h.service().dispatcher.passes();

    await h.publish([sendCommand({ pageId, psid, parts: [{ text: 'Right away.' }], typingIndicator: false })]);
    await h.waitForEvent(pageId, 'outbound.message.sent', () => true, 20_000);

    // One worker: its claim, then one more look that finds nothing. Waking all four would be five or more.
    const looks = h.service().dispatcher.passes() - before;
    expect(looks).toBeGreaterThanOrEqual(1);
    expect(looks).toBeLessThan(4);
  });
});
