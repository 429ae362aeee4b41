import { LONG_LIVED_TOKEN_SEC } from './platform.ts';
import { startMetaSimulator, type RunningMetaSimulator } from './simulator.ts';
import { control, graph } from './test-helpers.ts';

const T0 = Date.UTC(2026, 2, 2, 10, 0, 0);
const HOUR = 60 * 60 * 1000;
const REDIRECT = 'https://parley.test/v1/integrations/messenger/callback';
const SCOPE = 'pages_messaging,pages_manage_metadata,pages_read_engagement,pages_show_list';

describe('OAuth, tokens and /me/accounts', () => {
  let sim: RunningMetaSimulator;
  let userId: string;
  let pageIds: string[];
  const appId = '5550001112223334';
  const appSecret = 'oauth-test-secret';

  beforeEach(async () => {
    sim = await startMetaSimulator({ port: 0, frozenAt: T0, appId, appSecret });
    pageIds = [];
    for (const name of ['Bakery', 'Bikes', 'Books']) pageIds.push((await control(sim.url, 'POST', '/_sim/pages', { name })).body.id);
    const user = await control(sim.url, 'POST', '/_sim/users', {
      name: 'Dana',
      pages: [pageIds[0], pageIds[1], { pageId: pageIds[2], tasks: ['ANALYZE'] }],
    });
    userId = user.body.id;
  });

  afterEach(async () => {
    await sim.stop();
  });

  const approve = async (body: Record<string, unknown> = {}): Promise<{ code: string; redirectUrl: string }> =>
    (await control(sim.url, 'POST', '/_sim/oauth/approve', { userId, redirect_uri: REDIRECT, state: 's-123', scope: SCOPE, ...body })).body;

  const exchange = (code: string, extra: Record<string, unknown> = {}) =>
    graph(sim.url, 'GET', '/v25.0/oauth/access_token', { client_id: appId, client_secret: appSecret, redirect_uri: REDIRECT, code, ...extra });

  it('redirects back with code and state, and exchanges the code exactly once', async () => {
    const { code, redirectUrl } = await approve();
    const url = new URL(redirectUrl);
    expect(url.origin + url.pathname).toBe(REDIRECT);
    expect(url.searchParams.get('code')).toBe(code);
    expect(url.searchParams.get('state')).toBe('s-123');

    const first = await exchange(code);
    expect(first.status).toBe(200);
    expect(first.body).toEqual({ access_token: expect.any(String), token_type: 'bearer', expires_in: 3600 });

    const second = await exchange(code);
    expect(second.status).toBe(400);
    expect(second.body.error).toMatchObject({ code: 100, type: 'OAuthException', message: 'This authorization code has been used.' });
  });

  it('refuses a different redirect_uri, a wrong secret, an unknown code and an expired code', async () => {
    const { code } = await approve();
    expect((await exchange(code, { redirect_uri: 'https://evil.test/cb' })).body.error?.message).toContain('redirect_uri');
    expect((await exchange(code, { client_secret: 'nope' })).body.error?.message).toBe('Error validating client secret.');
    expect((await exchange('not-a-code')).body.error).toMatchObject({ code: 100 });
    expect((await exchange(code)).status).toBe(200); // failed attempts did not burn it
    const { code: stale } = await approve();
    await control(sim.url, 'POST', '/_sim/clock/advance', { ms: HOUR });
    expect((await exchange(stale)).body.error?.message).toBe('This authorization code has expired.');
  });

  it('lists only the Pages the person chose, with tasks and Page tokens, paginated', async () => {
    const { code } = await approve({ pageIds: [pageIds[0], pageIds[2]] });
    const userToken = (await exchange(code)).body['access_token'] as string;
    const page1 = await graph(sim.url, 'GET', '/v25.0/me/accounts', { access_token: userToken, fields: 'name,access_token,tasks,id', limit: '1' });
    expect(page1.status).toBe(200);
    expect(page1.body['data']).toEqual([{ name: 'Bakery', access_token: expect.any(String), tasks: expect.arrayContaining(['MESSAGING', 'MANAGE']), id: pageIds[0] }]);
    const paging = page1.body['paging'] as { cursors: { before: string; after: string }; next?: string };
    expect(paging.cursors).toEqual({ before: expect.any(String), after: expect.any(String) });
    expect(paging.next).toBeDefined();
    const page2 = await graph(sim.url, 'GET', `/v25.0/${userId}/accounts`, { access_token: userToken, fields: 'name,tasks', limit: '1', after: paging.cursors.after });
    expect(page2.body['data']).toEqual([{ name: 'Books', tasks: ['ANALYZE'], id: pageIds[2] }]);
    expect((page2.body['paging'] as { next?: string }).next).toBeUndefined();
  });

  it('gives Page tokens that expire with a short-lived user token, and never with a long-lived one', async () => {
    const { code } = await approve({ pageIds: [pageIds[0]] });
    const shortToken = (await exchange(code)).body['access_token'] as string;
    const long = await graph(sim.url, 'GET', '/v25.0/oauth/access_token', { grant_type: 'fb_exchange_token', client_id: appId, client_secret: appSecret, fb_exchange_token: shortToken });
    expect(long.body).toEqual({ access_token: expect.any(String), token_type: 'bearer', expires_in: LONG_LIVED_TOKEN_SEC });
    const accountsWith = async (token: string): Promise<string> =>
      ((await graph(sim.url, 'GET', '/v25.0/me/accounts', { access_token: token, fields: 'access_token' })).body['data'] as Array<{ access_token: string }>)[0]!.access_token;
    const shortPageToken = await accountsWith(shortToken);
    const longPageToken = await accountsWith(long.body['access_token'] as string);

    const debug = async (token: string) => (await graph(sim.url, 'GET', '/v25.0/debug_token', { input_token: token, access_token: `${appId}|${appSecret}` })).body['data'] as Record<string, unknown>;
    expect(await debug(longPageToken)).toMatchObject({ type: 'PAGE', is_valid: true, expires_at: 0, profile_id: pageIds[0] });

    await control(sim.url, 'POST', '/_sim/clock/advance', { ms: HOUR });
    const expired = await graph(sim.url, 'GET', `/v25.0/${pageIds[0]}/subscribed_apps`, { access_token: shortPageToken });
    expect(expired.body.error).toMatchObject({ code: 190, error_subcode: 463 });
    expect((await graph(sim.url, 'GET', `/v25.0/${pageIds[0]}/subscribed_apps`, { access_token: longPageToken })).status).toBe(200);
    // An expired user token cannot be exchanged (§6c).
    const late = await graph(sim.url, 'GET', '/v25.0/oauth/access_token', { grant_type: 'fb_exchange_token', client_id: appId, client_secret: appSecret, fb_exchange_token: shortToken });
    expect(late.body.error).toMatchObject({ code: 190, error_subcode: 463 });
  });

  it('describes tokens with debug_token (§6d)', async () => {
    const { code } = await approve({ pageIds: [pageIds[0], pageIds[1]] });
    const userToken = (await exchange(code)).body['access_token'] as string;
    const debugged = await graph(sim.url, 'GET', '/v25.0/debug_token', { input_token: userToken, access_token: `${appId}|${appSecret}` });
    expect(debugged.status).toBe(200);
    expect(debugged.body['data']).toEqual({
      app_id: appId,
      type: 'USER',
      application: expect.any(String),
      data_access_expires_at: Math.floor((T0 + 90 * 24 * HOUR) / 1000),
      expires_at: Math.floor((T0 + HOUR) / 1000),
      is_valid: true,
      issued_at: Math.floor(T0 / 1000),
      scopes: ['public_profile', ...SCOPE.split(',')],
      granular_scopes: expect.arrayContaining([
        { scope: 'pages_messaging', target_ids: [pageIds[0], pageIds[1]] },
        { scope: 'public_profile' },
      ]),
      user_id: userId,
    });

    await control(sim.url, 'POST', '/_sim/tokens/revoke', { userId, subcode: 460 });
    const revoked = (await graph(sim.url, 'GET', '/v25.0/debug_token', { input_token: userToken, access_token: `${appId}|${appSecret}` })).body['data'];
    expect(revoked).toMatchObject({ is_valid: false, error: { code: 190, subcode: 460 } });

    const garbage = (await graph(sim.url, 'GET', '/v25.0/debug_token', { input_token: 'garbage', access_token: `${appId}|${appSecret}` })).body['data'];
    expect(garbage).toMatchObject({ is_valid: false, error: { code: 190 } });
    const wrongApp = await graph(sim.url, 'GET', '/v25.0/debug_token', { input_token: userToken, access_token: `${appId}|wrong` });
    expect(wrongApp.body.error).toMatchObject({ code: 190 });
  });

  it('refuses a user token on the Send API with 210', async () => {
    const { code } = await approve();
    const userToken = (await exchange(code)).body['access_token'] as string;
    const sent = await graph(sim.url, 'POST', '/v25.0/me/messages', { access_token: userToken, recipient: { id: '1' }, messaging_type: 'RESPONSE', message: { text: 'x' } });
    expect(sent.body.error).toMatchObject({ code: 210 });
  });

  describe('the dialog a person sees', () => {
    const dialogUrl = (extra = ''): string =>
      `${sim.url}/v25.0/dialog/oauth?client_id=${appId}&redirect_uri=${encodeURIComponent(REDIRECT)}&state=st%3C1&scope=${SCOPE}${extra}`;

    it('lists the person\'s Pages with the state carried through, escaped', async () => {
      const response = await fetch(dialogUrl());
      expect(response.status).toBe(200);
      const html = await response.text();
      expect(html).toContain('Bakery');
      expect(html).toContain(`value="${pageIds[1]}"`);
      expect(html).toContain('value="st&lt;1"');
      expect(html).not.toContain('st<1');
    });

    it('refuses an unknown client_id', async () => {
      const response = await fetch(dialogUrl().replace(appId, '42'));
      expect(response.status).toBe(400);
    });

    it('redirects with a code on Continue and with access_denied on Cancel', async () => {
      const submit = (fields: Array<[string, string]>) =>
        fetch(`${sim.url}/v25.0/dialog/oauth`, { method: 'POST', body: new URLSearchParams(fields), redirect: 'manual' });
      const common: Array<[string, string]> = [
        ['client_id', appId],
        ['redirect_uri', REDIRECT],
        ['state', 'st-9'],
        ['scope', SCOPE],
        ['user_id', userId],
      ];
      const approved = await submit([...common, ['page_ids', pageIds[1]!], ['decision', 'approve']]);
      expect(approved.status).toBe(302);
      const location = new URL(approved.headers.get('location')!);
      expect(location.searchParams.get('state')).toBe('st-9');
      const token = (await exchange(location.searchParams.get('code')!)).body['access_token'] as string;
      const pages = (await graph(sim.url, 'GET', '/v25.0/me/accounts', { access_token: token, fields: 'name' })).body['data'];
      expect(pages).toEqual([{ name: 'Bikes', id: pageIds[1] }]);

      const cancelled = await submit([...common, ['decision', 'cancel']]);
      expect(cancelled.status).toBe(302);
      const denied = new URL(cancelled.headers.get('location')!);
      expect(Object.fromEntries(denied.searchParams)).toMatchObject({
        error: 'access_denied',
        error_reason: 'user_denied',
        error_description: expect.any(String),
        state: 'st-9',
      });
      expect(denied.searchParams.get('code')).toBeNull();
    });
  });
});
