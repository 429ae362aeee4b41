import type { ParleyEvent } from '@parley/contracts';
import { MINUTE, T0, at, connectionChanged, pageConnected, pageDisconnected, settingsChanged } from '../test-support/fixtures.ts';
import { DEFAULT_SETTINGS, connectionVerdict, effectiveSettings, evolvePage, initialPage, isKnownPage } from './page-state.ts';
import type { PageState } from './page-state.ts';

function given(...events: ParleyEvent[]): PageState {
  return events.reduce(evolvePage, initialPage('page-1'));
}

const custom = { ...DEFAULT_SETTINGS, assistantId: 'assistant-1', responseDelay: 'short' as const };

describe('page state', () => {
  it('is unknown until connected, then belongs to the connecting account with the default settings', () => {
    expect(isKnownPage(initialPage('page-1'))).toBe(false);
    const page = given(pageConnected({ accountId: 'acct-9' }));
    expect(page).toMatchObject({ accountId: 'acct-9', status: 'connected' });
    expect(isKnownPage(page)).toBe(true);
    expect(effectiveSettings(page)).toEqual({ autoReply: true, assistantId: null, responseDelay: 'instant', greetingMessage: null, awayMessage: null, escalationKeywords: [] });
  });

  it('follows connection changes and keeps the account after a disconnect', () => {
    expect(given(pageConnected({ at: T0 }), connectionChanged({ at: at(MINUTE), status: 'needs_reconnect' })).status).toBe('needs_reconnect');
    const disconnected = given(pageConnected({ at: T0 }), pageDisconnected({ at: at(MINUTE) }));
    expect(disconnected).toMatchObject({ status: 'disconnected', accountId: 'acct-1' });
    expect(given(pageConnected({ at: T0 }), pageDisconnected({ at: at(MINUTE) }), pageConnected({ at: at(2 * MINUTE), accountId: 'acct-2' }))).toMatchObject({ status: 'connected', accountId: 'acct-2' });
  });

  it('ignores a status older than the one it has (out of order, replayed)', () => {
    const changed = connectionChanged({ at: at(MINUTE), status: 'needs_reconnect' });
    const reconnected = pageConnected({ at: at(2 * MINUTE) });
    expect(given(pageConnected({ at: T0 }), changed, reconnected, changed).status).toBe('connected');
    expect(given(reconnected, pageDisconnected({ at: at(MINUTE) })).status).toBe('connected');
  });

  it('applies settings changes newer than the stored ones only', () => {
    const change = settingsChanged({ at: at(MINUTE), settings: custom });
    const page = given(pageConnected(), change);
    expect(effectiveSettings(page)).toEqual(custom);
    expect(given(pageConnected(), change, settingsChanged({ at: T0, settings: DEFAULT_SETTINGS }))).toEqual(page);
    expect(evolvePage(page, change)).toEqual(page);
  });

  it.each([
    [null, 'page_disconnected'],
    ['connected', 'answer'],
    ['degraded', 'answer'],
    ['needs_reconnect', 'answer'],
    ['subscription_failed', 'answer'],
    ['revoked', 'page_needs_reconnect'],
    ['disconnected', 'page_disconnected'],
  ] as const)('a Page whose status is %s: %s', (status, verdict) => {
    const page = status === null ? initialPage('page-1') : { ...given(pageConnected()), status };
    expect(connectionVerdict(page)).toBe(verdict);
  });

  it('answers no Page that was never connected', () => {
    expect(connectionVerdict(null)).toBe('page_disconnected');
  });
});
