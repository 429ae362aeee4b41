import { pageConnected, pageConnectionChanged, pageDisconnected } from '../test-support/commands.ts';
import { connectionVerdict, evolvePage, tokenRejected, unknownPage } from './page-connection.ts';
import { createEvent } from '@parley/contracts';

const pageId = '100000000000001';
const at = (minute: number) => new Date(Date.UTC(2026, 10, 26, 10, minute));

describe("a Page's connection, from page events", () => {
  it('given nothing is known, when the Page is connected, then it sends and remembers its account', () => {
    const { page, applied, wakeHeldSends } = evolvePage(unknownPage(pageId), pageConnected({ pageId, at: at(0), accountId: 'acc-9' }));
    expect(applied).toBe(true);
    expect(wakeHeldSends).toBe(true);
    expect(page).toMatchObject({ status: 'connected', accountId: 'acc-9', source: 'event', statusAt: at(0) });
    expect(connectionVerdict(page.status)).toBe('send');
  });

  it('given a Page whose token Meta rejected, when auth-token says it needs reconnecting, then its sends stay held and are not woken', () => {
    const held = tokenRejected(evolvePage(unknownPage(pageId), pageConnected({ pageId, at: at(0) })).page, 'fp-old', at(1));
    const { page, wakeHeldSends } = evolvePage(held, pageConnectionChanged({ pageId, status: 'needs_reconnect', at: at(2) }));
    expect(connectionVerdict(page.status)).toBe('hold');
    expect(page.rejectedTokenFingerprint).toBe('fp-old');
    expect(wakeHeldSends).toBe(false);
  });

  it('given a held Page, when it is reconnected (page.connected) or back to connected, then its held sends are woken', () => {
    const held = tokenRejected(unknownPage(pageId), 'fp-old', at(1));
    expect(evolvePage(held, pageConnected({ pageId, at: at(5), reconnect: true }))).toMatchObject({ wakeHeldSends: true, page: { status: 'connected', rejectedTokenFingerprint: null } });
    expect(evolvePage(held, pageConnectionChanged({ pageId, status: 'connected', at: at(5) }))).toMatchObject({ wakeHeldSends: true, page: { status: 'connected' } });
  });

  it('given a token rejected at 10:05, when a "connected" event from 10:03 arrives late, then it changes nothing (out of order)', () => {
    const held = tokenRejected(unknownPage(pageId), 'fp', at(5));
    expect(evolvePage(held, pageConnectionChanged({ pageId, status: 'connected', at: at(3) }))).toEqual({ page: held, applied: false, wakeHeldSends: false });
  });

  it('given the same event twice, then the state is the same', () => {
    const event = pageConnectionChanged({ pageId, status: 'degraded', at: at(4) });
    const once = evolvePage(unknownPage(pageId), event).page;
    expect(evolvePage(once, event).page).toEqual(once);
  });

  it('given a disconnection, then held sends are woken (to fail) and new ones fail', () => {
    const held = tokenRejected(unknownPage(pageId), 'fp', at(1));
    const { page, wakeHeldSends } = evolvePage(held, pageDisconnected({ pageId, at: at(2) }));
    expect(connectionVerdict(page.status)).toBe('disconnected');
    expect(wakeHeldSends).toBe(true);
  });

  it('given a settings change, then the connection is untouched', () => {
    const settings = createEvent('page.settings.changed', {
      id: 's1',
      pageId,
      occurredAt: at(9),
      recordedAt: at(9),
      data: { settings: { autoReply: true, assistantId: null, responseDelay: 'instant', greetingMessage: null, awayMessage: null, escalationKeywords: [] } },
    });
    expect(evolvePage(unknownPage(pageId), settings).applied).toBe(false);
  });

  it.each([
    ['connected', 'send'],
    ['degraded', 'send'],
    ['subscription_failed', 'send'],
    ['needs_reconnect', 'hold'],
    ['revoked', 'hold'],
    ['disconnected', 'disconnected'],
  ] as const)('a %s Page means %s', (status, verdict) => {
    expect(connectionVerdict(status)).toBe(verdict);
  });
});
