// Token health end to end: rejections reported by outbound-sender, the scheduled check, lost
// subscriptions, reconnecting, and Facebook being unreachable.
import { waitFor } from '@parley/testing';
import { INTERNAL_TOKEN, startHarness } from '../test-harness.ts';
import type { Harness } from '../test-harness.ts';

const DAY = 24 * 60 * 60 * 1000;

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h?.stop();
});

async function statusOf(pageId: string): Promise<{ status: string; problems: Array<{ code: string; reason: string; action: string | null }>; tokenCheckedAt: string | null }> {
  const pages = (await (await h.call('/v1/pages', { account: h.accounts.a })).json()) as Array<{ pageId: string; status: string; problems: []; tokenCheckedAt: string | null }>;
  return pages.find((p) => p.pageId === pageId)!;
}

async function tokenApi(pageId: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await h.call(`/internal/v1/pages/${pageId}/token`, { headers: { authorization: `Bearer ${INTERNAL_TOKEN}` }, raw: true });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

/** Makes every connected Page's check due, then runs a round of checks. */
async function runChecks(): Promise<void> {
  h.advanceClock(h.config.TOKEN_CHECK_INTERVAL_MS + 1_000);
  await h.service.runHealthChecks();
}

describe('a token Meta rejected while sending', () => {
  it('is re-checked at once: 190/460 → needs_reconnect with a reason and an action; reconnecting brings it back', async () => {
    const { userId, pageIds } = h.createAdmin([{ name: 'Password changed' }]);
    const pageId = pageIds[0]!;
    await h.connectPages(h.accounts.a, userId, [pageId]);
    const oldToken = (await tokenApi(pageId)).body['accessToken'];

    // The admin changes their Facebook password: Meta invalidates the tokens (190/460).
    h.meta.platform.revokeTokens({ userId, subcode: 460 });
    const rejected = await h.publishTokenRejected(pageId, 190, 460);

    const changed = await h.waitForEvent(pageId, 'page.connection.changed', (e) => e.data.status === 'needs_reconnect');
    expect(changed).toMatchObject({
      accountId: h.accounts.a.id,
      data: {
        previousStatus: 'connected',
        graphCode: 190,
        graphSubcode: 460,
        reason: expect.stringContaining('password'),
        action: "Reconnect the Page from Settings → Pages; the Page's password was changed.",
      },
    });
    expect(changed.causationId).toBe(rejected.id);
    expect(await statusOf(pageId)).toMatchObject({ status: 'needs_reconnect', problems: [expect.objectContaining({ code: 'password_changed' })], tokenCheckedAt: expect.any(String) });
    expect(await tokenApi(pageId)).toEqual({ status: 409, body: expect.objectContaining({ code: 'page_needs_reconnect' }) });

    // The admin reconnects: a new token, status back to connected, page.connected with reconnect: true.
    await h.connectPages(h.accounts.a, userId, [pageId]);
    expect(await h.waitForEvent(pageId, 'page.connected', (e) => e.data.reconnect)).toMatchObject({ accountId: h.accounts.a.id, data: { reconnect: true } });
    await h.waitForEvent(pageId, 'page.connection.changed', (e) => e.data.status === 'connected' && e.data.previousStatus === 'needs_reconnect');
    expect((await statusOf(pageId)).status).toBe('connected');
    const fresh = await tokenApi(pageId);
    expect(fresh).toMatchObject({ status: 200, body: { status: 'connected' } });
    expect(fresh.body['accessToken']).not.toBe(oldToken);
  });

  it('changes nothing when the token is in fact fine (the check decides, not the report)', async () => {
    const { userId, pageIds } = h.createAdmin([{ name: 'False alarm' }]);
    const pageId = pageIds[0]!;
    await h.connectPages(h.accounts.a, userId, [pageId]);
    await h.publishTokenRejected(pageId, 190, null);
    // The re-check runs (tokenCheckedAt is set) and finds the token valid.
    await waitFor(async () => (await statusOf(pageId)).tokenCheckedAt, { description: 'the re-check of the reported Page' });
    expect((await statusOf(pageId)).status).toBe('connected');
    expect(h.eventsOf(pageId).filter((e) => e.type === 'page.connection.changed').map((e) => e.type === 'page.connection.changed' && e.data.status)).toEqual(['connected']);
  });
});

describe('the scheduled check', () => {
  it('detects a revocation (the app was removed: 190/458 → revoked)', async () => {
    const { userId, pageIds } = h.createAdmin([{ name: 'App removed' }]);
    const pageId = pageIds[0]!;
    await h.connectPages(h.accounts.a, userId, [pageId]);
    h.meta.platform.revokeTokens({ pageId, subcode: 458 });
    await runChecks();
    expect(await statusOf(pageId)).toMatchObject({ status: 'revoked', problems: [expect.objectContaining({ code: 'app_removed', action: expect.stringContaining('Reconnect') })] });
    await h.waitForEvent(pageId, 'page.connection.changed', (e) => e.data.status === 'revoked' && e.data.graphSubcode === 458);
    expect((await tokenApi(pageId)).status).toBe(409);
  });

  it('re-subscribes a lost webhook subscription and stays connected', async () => {
    const { userId, pageIds } = h.createAdmin([{ name: 'Lost subscription' }]);
    const pageId = pageIds[0]!;
    await h.connectPages(h.accounts.a, userId, [pageId]);
    h.meta.platform.page(pageId).subscribedFields = undefined; // Meta dropped it (e.g. after failing deliveries)
    await runChecks();
    expect(h.meta.platform.page(pageId).subscribedFields).toContain('messages');
    expect((await statusOf(pageId)).status).toBe('connected');
  });

  it('marks subscription_failed when the lost subscription cannot be restored', async () => {
    const { userId, pageIds } = h.createAdmin([{ name: 'Lost for good' }]);
    const pageId = pageIds[0]!;
    await h.connectPages(h.accounts.a, userId, [pageId]);
    h.meta.platform.page(pageId).subscribedFields = ['feed']; // the messaging fields are gone
    h.meta.platform.addFault({ kind: 'subscriptionFailure', match: { pageId }, error: { code: 200, message: '(#200) The Page has turned off the app platform' } });
    await runChecks();
    expect(await statusOf(pageId)).toMatchObject({ status: 'subscription_failed', problems: [expect.objectContaining({ code: 'subscription_failed', reason: expect.stringContaining('turned off the app platform') })] });
    await h.waitForEvent(pageId, 'page.connection.changed', (e) => e.data.status === 'subscription_failed' && e.data.graphCode === 200);
  });

  it('changes nothing when Facebook cannot be reached, and tries again later', async () => {
    const { userId, pageIds } = h.createAdmin([{ name: 'Unreachable' }]);
    const pageId = pageIds[0]!;
    await h.connectPages(h.accounts.a, userId, [pageId]);
    const fault = h.meta.platform.addFault({ kind: 'serverError', match: { path: '/debug_token' }, count: null });
    try {
      await runChecks();
      expect(fault.hits).toBeGreaterThan(0);
      expect(await statusOf(pageId)).toMatchObject({ status: 'connected', tokenCheckedAt: null });
    } finally {
      h.meta.platform.removeFault(fault.id);
    }
    // The retry comes after TOKEN_CHECK_RETRY_MS, not a whole interval.
    h.advanceClock(h.config.TOKEN_CHECK_RETRY_MS + 1_000);
    await h.service.runHealthChecks();
    expect((await statusOf(pageId)).tokenCheckedAt).not.toBeNull();
  });

  // Last: it moves the simulated Facebook's clock 84 days ahead.
  it("warns (degraded) when Facebook's 90-day data access ends within 7 days", async () => {
    const { userId, pageIds } = h.createAdmin([{ name: 'Data access' }]);
    const pageId = pageIds[0]!;
    await h.connectPages(h.accounts.a, userId, [pageId]);
    h.meta.clock.advance(84 * DAY);
    h.advanceClock(84 * DAY);
    await h.service.runHealthChecks();
    const status = await statusOf(pageId);
    expect(status.status).toBe('degraded');
    expect(status.problems).toEqual(expect.arrayContaining([expect.objectContaining({ code: 'data_access_expiring', action: expect.stringContaining('before') })]));
    // Degraded still works: senders get the token.
    expect(await tokenApi(pageId)).toMatchObject({ status: 200, body: { status: 'degraded' } });
  });
});
