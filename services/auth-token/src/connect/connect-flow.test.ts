// The connect flow end to end: the real service (fresh schema), the real Kafka, the Meta simulator.
import { INTERNAL_TOKEN, startHarness } from '../test-harness.ts';
import type { Harness } from '../test-harness.ts';
import { STATE_TTL_MS } from './oauth-state.ts';

const MESSAGING_FIELDS = ['messages', 'messaging_postbacks', 'message_deliveries', 'message_reads', 'message_echoes', 'message_reactions', 'messaging_referrals'];

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h?.stop();
});

type PagesAnswer = Array<{ pageId: string; name: string; status: string; problems: Array<{ code: string; reason: string; action: string | null }>; connectedAt: string | null; tokenCheckedAt: string | null }>;

async function pagesOf(account: Harness['accounts']['a']): Promise<PagesAnswer> {
  const response = await h.call('/v1/pages', { account });
  expect(response.status).toBe(200);
  return (await response.json()) as PagesAnswer;
}

function pageToken(pageId: string): string[] {
  return [...h.meta.state.tokens.values()].filter((t) => t.type === 'PAGE' && t.pageId === pageId).map((t) => t.value);
}

describe('connecting Pages', () => {
  it('redirects to the Facebook dialog with the app, redirect URI, scopes and a signed state', async () => {
    const response = await h.call('/v1/integrations/messenger/connect', { account: h.accounts.a });
    expect(response.status).toBe(302);
    const location = new URL(response.headers.get('location')!);
    expect(`${location.origin}${location.pathname}`).toBe(`${h.meta.url}/v25.0/dialog/oauth`);
    expect(Object.fromEntries(location.searchParams)).toEqual({
      client_id: '1234567890123456',
      redirect_uri: `${h.config.PUBLIC_URL}/v1/integrations/messenger/callback`,
      scope: 'pages_messaging,pages_manage_metadata,pages_read_engagement,pages_show_list',
      response_type: 'code',
      state: expect.stringMatching(/^v1\.[\w-]+\.\d+\.[\w-]{43}$/),
    });
    // The simulated Facebook accepts it (right app id, a redirect URI): it shows its dialog.
    expect((await fetch(location)).status).toBe(200);
  });

  it('asks for an API key', async () => {
    expect((await h.call('/v1/integrations/messenger/connect')).status).toBe(401);
    expect((await h.call('/v1/integrations/messenger/connect', { headers: { authorization: 'Bearer nope' } })).status).toBe(401);
    expect((await h.call('/v1/pages', { headers: { authorization: 'Bearer nope' } })).status).toBe(401);
  });

  it('connects two Pages, shows the one without messaging rights with the reason and refuses it', async () => {
    const { userId, pageIds } = h.createAdmin([{ name: 'Bakery' }, { name: 'Florist', tasks: ['MESSAGING', 'MODERATE'] }, { name: 'Analytics only', tasks: ['ANALYZE', 'ADVERTISE'] }]);
    const [bakery, florist, analytics] = pageIds as [string, string, string];

    const { selectionId, choices } = await h.startConnect({ account: h.accounts.a, userId });
    expect(choices).toEqual(
      expect.arrayContaining([
        { pageId: bakery, pickable: true, reason: null },
        { pageId: florist, pickable: true, reason: null },
        { pageId: analytics, pickable: false, reason: expect.stringContaining('does not let you manage its messages') },
      ]),
    );

    // The form offers no checkbox for it, but a crafted submit must not connect it either.
    const result = await h.pick(selectionId, [bakery, florist, analytics]);
    expect(result.status).toBe(200);
    expect(JSON.parse(result.body).pages).toEqual([
      expect.objectContaining({ pageId: bakery, outcome: 'connected', status: 'connected' }),
      expect.objectContaining({ pageId: florist, outcome: 'connected', status: 'connected' }),
      expect.objectContaining({ pageId: analytics, outcome: 'refused', status: null, reason: expect.stringContaining('Messaging task') }),
    ]);

    // Subscribed in the simulated Facebook, with every messaging field (no feed unless asked).
    expect(h.meta.platform.page(bakery).subscribedFields).toEqual(MESSAGING_FIELDS);
    expect(h.meta.platform.page(florist).subscribedFields).toEqual(MESSAGING_FIELDS);
    expect(h.meta.platform.page(analytics).subscribedFields).toBeUndefined();

    const connected = await h.waitForEvent(bakery, 'page.connected');
    expect(connected).toMatchObject({ accountId: h.accounts.a.id, pageId: bakery, data: { name: 'Bakery', subscribedFields: MESSAGING_FIELDS, reconnect: false } });
    await h.waitForEvent(florist, 'page.connected');
    expect(await h.waitForEvent(bakery, 'page.connection.changed')).toMatchObject({ accountId: h.accounts.a.id, data: { status: 'connected', previousStatus: null } });
    expect(h.eventsOf(analytics)).toEqual([]);

    const pages = await pagesOf(h.accounts.a);
    expect(pages.filter((p) => pageIds.includes(p.pageId))).toEqual([
      { pageId: bakery, name: 'Bakery', status: 'connected', problems: [], connectedAt: expect.any(String), tokenCheckedAt: null },
      { pageId: florist, name: 'Florist', status: 'connected', problems: [], connectedAt: expect.any(String), tokenCheckedAt: null },
    ]);
    // Another account sees none of them.
    expect((await pagesOf(h.accounts.b)).map((p) => p.pageId)).not.toContain(bakery);

    // The internal token API hands out exactly the Page token Facebook gave.
    const tokenAnswer = await h.call(`/internal/v1/pages/${bakery}/token`, { headers: { authorization: `Bearer ${INTERNAL_TOKEN}` }, raw: true });
    expect(tokenAnswer.status).toBe(200);
    const body = (await tokenAnswer.json()) as { accessToken: string };
    expect(body).toEqual({ pageId: bakery, accountId: h.accounts.a.id, accessToken: expect.any(String), status: 'connected' });
    expect(pageToken(bakery)).toContain(body.accessToken);
    // Stored encrypted: the database never holds the token itself.
    const [row] = await h.db.query<{ page_token: string }>('select page_token from pages where page_id = ?', [bakery]);
    expect(row!.page_token).toMatch(/^gAAAAA/);
    expect(row!.page_token).not.toContain(body.accessToken);
  });

  it('subscribes to feed (Page comments) when the connect request asks for it', async () => {
    const { userId, pageIds } = h.createAdmin([{ name: 'Comments' }]);
    const { selectionId } = await h.startConnect({ account: h.accounts.a, userId, comments: true });
    expect(JSON.parse((await h.pick(selectionId, pageIds, {})).body).pages[0].outcome).toBe('connected');
    expect(h.meta.platform.page(pageIds[0]!).subscribedFields).toEqual([...MESSAGING_FIELDS, 'feed']);
  });

  it('connects through the HTML form as a browser would, and the selection works once', async () => {
    const { userId, pageIds } = h.createAdmin([{ name: 'Form Page' }]);
    const { selectionId } = await h.startConnect({ account: h.accounts.a, userId });
    const first = await h.pick(selectionId, pageIds, { form: true });
    expect(first.status).toBe(200);
    expect(first.body).toContain(`data-page-id="${pageIds[0]}" data-outcome="connected"`);
    const again = await h.pick(selectionId, pageIds, { form: true });
    expect(again.status).toBe(410);
    expect(again.body).toContain('data-problem="selection_used"');
  });

  it('answers malformed, oversized, unknown and replayed input with clear problems, connecting nothing', async () => {
    const post = (body: string, type = 'application/json') => h.call('/v1/integrations/messenger/pages', { method: 'POST', headers: { 'content-type': type }, body });
    const problem = async (response: Response) => ({ status: response.status, code: ((await response.json()) as { code: string }).code });
    expect(await problem(await post('{oops'))).toEqual({ status: 400, code: 'malformed_json' });
    expect(await problem(await post(JSON.stringify({ selectionId: 'x', pageIds: 'all' })))).toEqual({ status: 400, code: 'invalid_body' });
    expect(await problem(await post('selection=x', 'text/plain'))).toEqual({ status: 415, code: 'unsupported_media_type' });
    expect(await problem(await post(JSON.stringify({ selectionId: 'x', pageIds: ['1'], pad: 'y'.repeat(70_000) })))).toEqual({ status: 413, code: 'body_too_large' });
    expect(await problem(await post(JSON.stringify({ selectionId: 'never-issued', pageIds: ['1'] })))).toEqual({ status: 410, code: 'selection_used' });
    expect(await problem(await post(JSON.stringify({ pageIds: ['1'] })))).toEqual({ status: 400, code: 'selection_missing' });
    const badOption = await h.call('/v1/integrations/messenger/connect', { method: 'POST', account: h.accounts.a, headers: { 'content-type': 'application/json' }, body: '{"comments":"maybe"}' });
    expect(await problem(badOption)).toEqual({ status: 400, code: 'invalid_option' });
    // A Page that was not offered in the selection is refused; the offered one is unaffected.
    const { userId, pageIds } = h.createAdmin([{ name: 'Offered' }]);
    const { selectionId } = await h.startConnect({ account: h.accounts.a, userId });
    const result = JSON.parse((await h.pick(selectionId, ['999999999'])).body).pages;
    expect(result).toEqual([expect.objectContaining({ pageId: '999999999', outcome: 'refused' })]);
    expect(h.meta.platform.page(pageIds[0]!).subscribedFields).toBeUndefined();
  });

  it('answers the internal token API only with the shared secret, and 404 for unknown Pages', async () => {
    expect((await h.call('/internal/v1/pages/123/token')).status).toBe(401);
    expect((await h.call('/internal/v1/pages/123/token', { headers: { authorization: 'Bearer wrong-secret-wrong-secret' } })).status).toBe(401);
    const unknown = await h.call('/internal/v1/pages/123/token', { headers: { authorization: `Bearer ${INTERNAL_TOKEN}` } });
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toMatchObject({ code: 'page_not_connected' });
  });
});

describe('the callback refuses what it did not issue', () => {
  it('a forged state: 400 page saying so and how to start again; nothing connected', async () => {
    const { userId, pageIds } = h.createAdmin([{ name: 'Forged' }]);
    const { callbackUrl } = await h.approve({ account: h.accounts.a, userId });
    const forged = new URL(callbackUrl);
    const state = forged.searchParams.get('state')!;
    forged.searchParams.set('state', `${state.slice(0, -2)}${state.endsWith('AA') ? 'BB' : 'AA'}`);
    const opened = await h.openCallback(forged.toString());
    expect(opened.status).toBe(400);
    expect(opened.html).toContain('data-problem="state_invalid"');
    expect(opened.html).toContain('Start again');
    expect(opened.selectionId).toBeNull();
    expect(h.meta.platform.page(pageIds[0]!).subscribedFields).toBeUndefined();
  });

  it('a missing state or code: 400 pages', async () => {
    expect((await h.openCallback(`${h.service.url}/v1/integrations/messenger/callback?code=abc`)).html).toContain('data-problem="state_missing"');
    const { callbackUrl } = await h.approve({ account: h.accounts.a, userId: h.createAdmin([{ name: 'No code' }]).userId });
    const withoutCode = new URL(callbackUrl);
    withoutCode.searchParams.delete('code');
    const opened = await h.openCallback(withoutCode.toString());
    expect(opened.status).toBe(400);
    expect(opened.html).toContain('data-problem="code_missing"');
  });

  it('a reused state: the second visit is refused', async () => {
    const { userId } = h.createAdmin([{ name: 'Reused' }]);
    const { callbackUrl } = await h.approve({ account: h.accounts.a, userId });
    expect((await h.openCallback(callbackUrl)).status).toBe(200);
    const second = await h.openCallback(callbackUrl);
    expect(second.status).toBe(400);
    expect(second.html).toContain('data-problem="state_reused"');
  });

  it('an expired state: older than 10 minutes is refused', async () => {
    const { userId } = h.createAdmin([{ name: 'Expired' }]);
    const { callbackUrl } = await h.approve({ account: h.accounts.a, userId });
    h.advanceClock(STATE_TTL_MS + 1_000);
    const opened = await h.openCallback(callbackUrl);
    expect(opened.status).toBe(400);
    expect(opened.html).toContain('data-problem="state_expired"');
  });

  it('a denied dialog (Cancel): a calm "nothing was connected" page, and the link is spent', async () => {
    const response = await h.call('/v1/integrations/messenger/connect', { account: h.accounts.a });
    const dialog = new URL(response.headers.get('location')!);
    const { redirectUrl } = h.meta.platform.denyOAuth({ redirectUri: dialog.searchParams.get('redirect_uri')!, state: dialog.searchParams.get('state')! });
    const cancelled = await h.openCallback(redirectUrl);
    expect(cancelled.status).toBe(200);
    expect(cancelled.html).toContain('You cancelled; nothing was connected');
    // Approving afterwards with the same state does not work: it was used by the cancel.
    const { userId } = h.createAdmin([{ name: 'After cancel' }]);
    const { redirectUrl: approved } = h.meta.platform.approveOAuth({ userId, redirectUri: dialog.searchParams.get('redirect_uri')!, state: dialog.searchParams.get('state')! });
    expect((await h.openCallback(approved)).html).toContain('data-problem="state_reused"');
  });
});

describe('when Facebook does not cooperate', () => {
  it('a failed subscription: subscription_failed with Meta\'s reason, then the next check subscribes it', async () => {
    const { userId, pageIds } = h.createAdmin([{ name: 'Unsubscribable' }]);
    const pageId = pageIds[0]!;
    h.meta.platform.addFault({ kind: 'subscriptionFailure', match: { pageId } });
    const { selectionId } = await h.startConnect({ account: h.accounts.a, userId });
    const result = JSON.parse((await h.pick(selectionId, [pageId])).body).pages[0];
    expect(result).toMatchObject({ outcome: 'subscription_failed', status: 'subscription_failed', reason: expect.stringContaining('(#200)') });

    const changed = await h.waitForEvent(pageId, 'page.connection.changed');
    expect(changed).toMatchObject({ accountId: h.accounts.a.id, data: { status: 'subscription_failed', previousStatus: null, graphCode: 200, reason: expect.stringContaining('Facebook refused to subscribe') } });
    expect(h.eventsOf(pageId).some((e) => e.type === 'page.connected')).toBe(false);
    const listed = (await pagesOf(h.accounts.a)).find((p) => p.pageId === pageId)!;
    expect(listed).toMatchObject({ status: 'subscription_failed', problems: [expect.objectContaining({ code: 'subscription_failed', action: expect.any(String) })] });

    // The fault was for one request: the retry at the next check succeeds.
    h.advanceClock(h.config.TOKEN_CHECK_RETRY_MS + 1_000);
    await h.waitForEvent(pageId, 'page.connection.changed', (e) => e.data.status === 'connected');
    expect(h.meta.platform.page(pageId).subscribedFields).toEqual(MESSAGING_FIELDS);
  });

  it('a Page connected to another account cannot be connected here', async () => {
    const { userId, pageIds } = h.createAdmin([{ name: 'Owned by A' }]);
    const pageId = pageIds[0]!;
    await h.connectPages(h.accounts.a, userId, [pageId]);
    // The same person (an admin of the Page) now tries from account B.
    const { selectionId, choices } = await h.startConnect({ account: h.accounts.b, userId });
    expect(choices).toEqual([{ pageId, pickable: false, reason: expect.stringContaining('connected to another Parley account') }]);
    const result = JSON.parse((await h.pick(selectionId, [pageId])).body).pages[0];
    expect(result).toMatchObject({ outcome: 'refused', reason: expect.stringContaining('another Parley account') });
    expect((await pagesOf(h.accounts.a)).find((p) => p.pageId === pageId)?.status).toBe('connected');
  });
});

describe('disconnecting', () => {
  it('unsubscribes the webhook, destroys the token, emits page.disconnected; conversations are not ours to delete', async () => {
    const { userId, pageIds } = h.createAdmin([{ name: 'Leaving' }]);
    const pageId = pageIds[0]!;
    await h.connectPages(h.accounts.a, userId, [pageId]);
    expect(h.meta.platform.page(pageId).subscribedFields).toBeDefined();

    expect((await h.call(`/v1/pages/${pageId}`, { method: 'DELETE', account: h.accounts.b })).status).toBe(404);
    const response = await h.call(`/v1/pages/${pageId}`, { method: 'DELETE', account: h.accounts.a });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ pageId, status: 'disconnected', unsubscribed: true });

    expect(h.meta.platform.page(pageId).subscribedFields).toBeUndefined();
    const [row] = await h.db.query<{ page_token: string | null; grant_id: string | null; status: string }>('select page_token, grant_id, status from pages where page_id = ?', [pageId]);
    expect(row).toEqual({ page_token: null, grant_id: null, status: 'disconnected' });
    expect(await h.waitForEvent(pageId, 'page.disconnected')).toMatchObject({ accountId: h.accounts.a.id, data: { reason: expect.stringContaining('disconnected') } });
    await h.waitForEvent(pageId, 'page.connection.changed', (e) => e.data.status === 'disconnected');

    const tokenAnswer = await h.call(`/internal/v1/pages/${pageId}/token`, { headers: { authorization: `Bearer ${INTERNAL_TOKEN}` } });
    expect(tokenAnswer.status).toBe(404);
    expect((await pagesOf(h.accounts.a)).find((p) => p.pageId === pageId)?.status).toBe('disconnected');
    // Twice is the same as once; an unknown Page is 404.
    expect((await h.call(`/v1/pages/${pageId}`, { method: 'DELETE', account: h.accounts.a })).status).toBe(200);
    expect(h.eventsOf(pageId).filter((e) => e.type === 'page.disconnected')).toHaveLength(1);
    expect((await h.call('/v1/pages/424242', { method: 'DELETE', account: h.accounts.a })).status).toBe(404);
  });
});
