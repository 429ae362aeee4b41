import { choosePages } from './page-choice.ts';
import type { ManagedPageFacts } from './page-choice.ts';

const ALL_SCOPES = ['pages_messaging', 'pages_manage_metadata', 'pages_read_engagement', 'pages_show_list'];
const page = (pageId: string, tasks: string[], hasToken = true): ManagedPageFacts => ({ pageId, name: `Page ${pageId}`, tasks, hasToken });

describe('which Pages a person may connect', () => {
  it('given full control or messaging plus moderation, then the Page can be picked', () => {
    const choices = choosePages([page('1', ['MANAGE']), page('2', ['MESSAGING', 'MODERATE'])], { accountId: 'a', grantedScopes: ALL_SCOPES, holders: new Map() });
    expect(choices.map((c) => [c.pageId, c.pickable, c.reason])).toEqual([
      ['1', true, null],
      ['2', true, null],
    ]);
  });

  it('given a role without the Messaging task, then the Page is shown with the reason and cannot be picked', () => {
    const [choice] = choosePages([page('1', ['ANALYZE', 'ADVERTISE'])], { accountId: 'a', grantedScopes: ALL_SCOPES, holders: new Map() });
    expect(choice).toMatchObject({ pickable: false, reason: expect.stringContaining('Messaging task') });
  });

  it('given messaging but no right to subscribe apps, then it cannot be picked', () => {
    const [choice] = choosePages([page('1', ['MESSAGING'])], { accountId: 'a', grantedScopes: ALL_SCOPES, holders: new Map() });
    expect(choice).toMatchObject({ pickable: false, reason: expect.stringContaining('connect apps') });
  });

  it('given pages_messaging was switched off in the dialog, then no Page can be picked and the permission is named', () => {
    const [choice] = choosePages([page('1', ['MANAGE'])], { accountId: 'a', grantedScopes: ['pages_manage_metadata', 'pages_show_list'], holders: new Map() });
    expect(choice).toMatchObject({ pickable: false, reason: expect.stringContaining('pages_messaging') });
  });

  it('given Facebook did not say which permissions were granted, then it does not guess', () => {
    expect(choosePages([page('1', ['MANAGE'])], { accountId: 'a', grantedScopes: null, holders: new Map() })[0]?.pickable).toBe(true);
  });

  it('given no Page token, then it cannot be picked', () => {
    expect(choosePages([page('1', ['MANAGE'], false)], { accountId: 'a', grantedScopes: ALL_SCOPES, holders: new Map() })[0]?.pickable).toBe(false);
  });

  it('given a Page another account holds, then it cannot be picked; disconnected there, it can', () => {
    const holders = new Map([
      ['1', { accountId: 'b', status: 'connected' as const }],
      ['2', { accountId: 'b', status: 'disconnected' as const }],
      ['3', { accountId: 'a', status: 'needs_reconnect' as const }],
    ]);
    const choices = choosePages([page('1', ['MANAGE']), page('2', ['MANAGE']), page('3', ['MANAGE'])], { accountId: 'a', grantedScopes: ALL_SCOPES, holders });
    expect(choices.map((c) => [c.pageId, c.pickable, c.reconnect])).toEqual([
      ['1', false, false],
      ['2', true, false],
      ['3', true, true],
    ]);
    expect(choices[0]?.reason).toContain('another Parley account');
  });
});
