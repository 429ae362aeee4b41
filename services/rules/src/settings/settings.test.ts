import { DEFAULT_SETTINGS, evolvePage, initialPage } from '../pages/page-state.ts';
import type { PageState } from '../pages/page-state.ts';
import { T0, at, pageConnected } from '../test-support/fixtures.ts';
import { decideSettingsChange, parseSettings } from './settings.ts';

const valid = { autoReply: true, assistantId: 'assistant-1', responseDelay: 'short', greetingMessage: 'Hi!', awayMessage: null, escalationKeywords: ['refund'] };

function connected(): PageState & { accountId: string } {
  return evolvePage(initialPage('page-1'), pageConnected({ accountId: 'acct-1' })) as PageState & { accountId: string };
}

describe('parseSettings', () => {
  it('accepts the contract\'s document', () => {
    expect(parseSettings(valid)).toEqual({ ok: true, settings: valid });
  });

  it('lets the greeting and away message be left out, and treats blank ones as none', () => {
    const { greetingMessage: _g, awayMessage: _a, ...rest } = valid;
    expect(parseSettings(rest)).toEqual({ ok: true, settings: { ...rest, greetingMessage: null, awayMessage: null } });
    expect(parseSettings({ ...valid, greetingMessage: '   ', awayMessage: '  Back soon  ' })).toMatchObject({ ok: true, settings: { greetingMessage: null, awayMessage: 'Back soon' } });
  });

  it('trims keywords and drops duplicates that differ only in case', () => {
    expect(parseSettings({ ...valid, escalationKeywords: [' Refund ', 'refund', 'cancel   order', 'REFUND'] })).toMatchObject({ ok: true, settings: { escalationKeywords: ['Refund', 'cancel order'] } });
  });

  it.each([
    ['an unknown field', { ...valid, autoreply: false }, '(body)'],
    ['a missing field', { ...valid, autoReply: undefined }, 'autoReply'],
    ['a wrong type', { ...valid, autoReply: 'yes' }, 'autoReply'],
    ['an unknown delay', { ...valid, responseDelay: 'slow' }, 'responseDelay'],
    ['an empty assistant id', { ...valid, assistantId: '' }, 'assistantId'],
    ['a greeting over 2,000 characters', { ...valid, greetingMessage: 'x'.repeat(2001) }, 'greetingMessage'],
    ['more than 100 keywords', { ...valid, escalationKeywords: Array.from({ length: 101 }, (_, i) => `k${i}`) }, 'escalationKeywords'],
    ['a keyword over 100 characters', { ...valid, escalationKeywords: ['k'.repeat(101)] }, 'escalationKeywords.0'],
    ['a blank keyword', { ...valid, escalationKeywords: ['  '] }, 'escalationKeywords.0'],
  ])('rejects %s', (_name, body, path) => {
    const result = parseSettings(body);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.problems.map((p) => p.path)).toContain(path);
  });
});

describe('decideSettingsChange', () => {
  const settings = { ...DEFAULT_SETTINGS, assistantId: 'assistant-1' };

  it('emits the full new settings for the Page\'s account', () => {
    const events = decideSettingsChange(connected(), settings, T0, 'event-1', 'request-1');
    expect(events).toEqual([
      expect.objectContaining({ id: 'event-1', type: 'page.settings.changed', pageId: 'page-1', accountId: 'acct-1', correlationId: 'request-1', occurredAt: T0.toISOString(), data: { settings } }),
    ]);
  });

  it('emits nothing when nothing changes (defaults, or a repeated PUT)', () => {
    expect(decideSettingsChange(connected(), DEFAULT_SETTINGS, T0, 'e', null)).toEqual([]);
    const changed = decideSettingsChange(connected(), settings, T0, 'e1', null).reduce(evolvePage, connected() as PageState) as PageState & { accountId: string };
    expect(decideSettingsChange(changed, { ...settings }, at(1000), 'e2', null)).toEqual([]);
  });

  it('orders two changes in the same millisecond', () => {
    const first = decideSettingsChange(connected(), settings, T0, 'e1', null);
    const page = first.reduce(evolvePage, connected() as PageState) as PageState & { accountId: string };
    const second = decideSettingsChange(page, { ...settings, autoReply: false }, T0, 'e2', null);
    expect(second[0]!.occurredAt).toBe(at(1).toISOString());
    expect(second.reduce(evolvePage, page).settings!.autoReply).toBe(false);
  });
});
