// When the poller looks for due replies. What a look does with a reply is tested against PostgreSQL
// and Kafka (pending-reply-store.test.ts, responder.test.ts); here only the store's claim is watched.
import { createLogger } from '@parley/observability';
import { createReplyPoller } from './reply-poller.ts';
import type { ReplyPoller, ReplyPollerOptions } from './reply-poller.ts';

const settle = () => new Promise((resolve) => setTimeout(resolve, 100));

/** A poller whose store finds no reply; `duringPrune` / `duringClaim` run while it looks. */
function pollerWatching(hooks: { duringPrune?: () => void; duringClaim?: () => void }): { poller: ReplyPoller; claims: () => number } {
  let claims = 0;
  const replies = {
    pruneProcessed: async () => (hooks.duringPrune?.(), 0),
    claimDue: async () => {
      claims++;
      if (claims === 1) hooks.duringClaim?.();
      return [];
    },
  };
  const options = {
    logger: createLogger({ service: 'test', level: 'silent' }),
    replies,
    clock: { now: () => new Date() },
    // A minute: only a wake explains a second look within the test.
    intervalMs: 60_000,
    leaseMs: 30_000,
  } as unknown as ReplyPollerOptions;
  const poller = createReplyPoller(options);
  return { poller, claims: () => claims };
}

describe('the reply poller, woken while it looks', () => {
  it('does not look again for a wake its claim already covered (it came before the claim began)', async () => {
    const watched = pollerWatching({ duringPrune: () => poller.wake() });
    const poller = watched.poller;
    poller.start();
    await settle();
    await poller.stop();
    expect(watched.claims()).toBe(1);
  });

  it('looks again at once for a wake that came after its claim began (a reply it could not see)', async () => {
    const watched = pollerWatching({ duringClaim: () => poller.wake() });
    const poller = watched.poller;
    poller.start();
    await settle();
    await poller.stop();
    expect(watched.claims()).toBe(2);
  });

  it('looks at once when woken while idle, and not before the interval otherwise', async () => {
    const watched = pollerWatching({});
    watched.poller.start();
    await settle();
    expect(watched.claims()).toBe(1);
    await settle();
    expect(watched.claims()).toBe(1);
    watched.poller.wake();
    await settle();
    await watched.poller.stop();
    expect(watched.claims()).toBe(2);
  });
});
