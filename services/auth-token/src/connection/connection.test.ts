import { ConnectionRefused, decide, evolveAll, toPublished } from './connection.ts';
import type { CheckFacts, Connection, ConnectionCommand, ConnectionEvent, GraphFailure, TokenFacts } from './connection.ts';

const DAY = 24 * 60 * 60 * 1000;
const NOW = Date.UTC(2026, 10, 26, 12, 0, 0);
const context = { now: NOW, expiryWarningMs: 7 * DAY };
const FIELDS = ['messages', 'messaging_postbacks'];

function connection(overrides: Partial<Connection> = {}): Connection {
  return {
    accountId: 'acct-1',
    name: 'Bakery',
    status: 'connected',
    problems: [],
    connectedAt: '2026-11-01T00:00:00.000Z',
    tokenCheckedAt: null,
    subscribedFields: FIELDS,
    ...overrides,
  };
}

const validToken = (overrides: Partial<Extract<TokenFacts, { kind: 'valid' }>> = {}): TokenFacts => ({
  kind: 'valid',
  scopes: ['pages_show_list', 'pages_messaging', 'pages_manage_metadata', 'pages_read_engagement'],
  expiresAt: null,
  dataAccessExpiresAt: NOW + 60 * DAY,
  ...overrides,
});

const failure = (code: number | null, subcode: number | null = null, transient = false): GraphFailure => ({ code, subcode, transient, detail: null });

const check = (facts: Partial<CheckFacts>): ConnectionCommand => ({
  type: 'record_check',
  facts: { token: validToken(), subscription: { kind: 'present' }, loginExpired: false, ...facts },
});

/** Given a state, when a command, then the published events (type + data) and the folded state. */
function when(state: Connection | null, command: ConnectionCommand) {
  const events = decide(command, state, context);
  return { events, published: events.map(toPublished).filter((e) => e !== null), state: evolveAll(state, events) };
}

function statusChange(events: ConnectionEvent[]) {
  return events.find((e) => e.type === 'status_changed');
}

describe('connecting a Page', () => {
  it('given a Page never seen, when connected with a confirmed subscription, then page.connected (not a reconnect) and → connected', () => {
    const { published, state } = when(null, { type: 'connect', accountId: 'acct-1', name: 'Bakery', requestedFields: FIELDS, subscription: { ok: true, fields: FIELDS } });
    expect(published).toEqual([
      { type: 'page.connected', data: { name: 'Bakery', subscribedFields: FIELDS, reconnect: false } },
      { type: 'page.connection.changed', data: expect.objectContaining({ status: 'connected', previousStatus: null, graphCode: null }) },
    ]);
    expect(state).toMatchObject({ accountId: 'acct-1', status: 'connected', problems: [], connectedAt: new Date(NOW).toISOString() });
  });

  it('given a Page that needs reconnecting, when the same account connects it again, then page.connected with reconnect: true and → connected', () => {
    const before = connection({ status: 'needs_reconnect', problems: [{ code: 'password_changed', reason: 'r', action: 'a' }] });
    const { published, state } = when(before, { type: 'connect', accountId: 'acct-1', name: 'Bakery', requestedFields: FIELDS, subscription: { ok: true, fields: FIELDS } });
    expect(published[0]).toEqual({ type: 'page.connected', data: { name: 'Bakery', subscribedFields: FIELDS, reconnect: true } });
    expect(published[1]).toMatchObject({ type: 'page.connection.changed', data: { status: 'connected', previousStatus: 'needs_reconnect' } });
    expect(state).toMatchObject({ status: 'connected', problems: [] });
  });

  it('given a connected Page, when the same account reconnects it, then page.connected with reconnect: true and no status change', () => {
    const { published } = when(connection(), { type: 'connect', accountId: 'acct-1', name: 'Bakery 2', requestedFields: FIELDS, subscription: { ok: true, fields: FIELDS } });
    expect(published).toEqual([{ type: 'page.connected', data: { name: 'Bakery 2', subscribedFields: FIELDS, reconnect: true } }]);
  });

  it('given a Page another account holds, when connected, then it is refused and nothing happens', () => {
    expect(() => decide({ type: 'connect', accountId: 'acct-2', name: 'Bakery', requestedFields: FIELDS, subscription: { ok: true, fields: FIELDS } }, connection(), context)).toThrow(ConnectionRefused);
  });

  it('given a Page another account disconnected, when connected, then it is a first connection for the new account', () => {
    const { published, state } = when(connection({ status: 'disconnected' }), { type: 'connect', accountId: 'acct-2', name: 'Bakery', requestedFields: FIELDS, subscription: { ok: true, fields: FIELDS } });
    expect(published[0]).toMatchObject({ type: 'page.connected', data: { reconnect: false } });
    expect(state).toMatchObject({ accountId: 'acct-2', status: 'connected' });
  });

  it("given a new Page, when the subscription fails, then → subscription_failed with Meta's words and codes, and no page.connected", () => {
    const { published, state } = when(null, {
      type: 'connect',
      accountId: 'acct-1',
      name: 'Bakery',
      requestedFields: FIELDS,
      subscription: { ok: false, failure: { code: 200, subcode: null, transient: false, detail: '(#200) Requires pages_manage_metadata permission' } },
    });
    expect(published).toEqual([
      {
        type: 'page.connection.changed',
        data: expect.objectContaining({ status: 'subscription_failed', previousStatus: null, graphCode: 200, reason: expect.stringContaining('(#200) Requires pages_manage_metadata permission') }),
      },
    ]);
    expect(state).toMatchObject({ status: 'subscription_failed', connectedAt: null, problems: [expect.objectContaining({ code: 'subscription_failed' })] });
  });

  it('given a new Page, when subscribing answers 190, then the token problem wins: → needs_reconnect', () => {
    const { state } = when(null, { type: 'connect', accountId: 'acct-1', name: 'B', requestedFields: FIELDS, subscription: { ok: false, failure: failure(190, 460) } });
    expect(state?.status).toBe('needs_reconnect');
  });
});

describe('health checks', () => {
  it.each([
    [458, 'revoked', 'app_removed'],
    [459, 'needs_reconnect', 'account_checkpointed'],
    [460, 'needs_reconnect', 'password_changed'],
    [463, 'needs_reconnect', 'token_expired'],
    [464, 'needs_reconnect', 'account_unconfirmed'],
    [467, 'needs_reconnect', 'logged_out'],
    [492, 'revoked', 'admin_role_lost'],
    [null, 'needs_reconnect', 'token_invalid'],
  ] as const)('given a connected Page, when debug_token says 190/%s, then → %s (%s) with codes, reason and action', (subcode, status, code) => {
    const { events, state } = when(connection(), check({ token: { kind: 'invalid', failure: failure(190, subcode) }, subscription: { kind: 'unknown' } }));
    expect(statusChange(events)).toMatchObject({ status, previousStatus: 'connected', graphCode: 190, graphSubcode: subcode, action: expect.stringMatching(/reconnect the Page/i) });
    expect(state?.problems.map((p) => p.code)).toEqual([code]);
  });

  it('given a connected Page, when the password was changed (190/460), then the action says to reconnect because of the password', () => {
    const { events } = when(connection(), check({ token: { kind: 'invalid', failure: failure(190, 460) } }));
    expect(statusChange(events)).toMatchObject({ action: "Reconnect the Page from Settings → Pages; the Page's password was changed." });
  });

  it.each([10, 200, 230, 299])('given a connected Page, when Meta answers permission error %s, then → revoked', (code) => {
    const { state } = when(connection(), check({ token: { kind: 'invalid', failure: failure(code) } }));
    expect(state).toMatchObject({ status: 'revoked', problems: [expect.objectContaining({ code: 'permission_missing' })] });
  });

  it('given a connected Page, when the token is valid but pages_messaging is gone, then → revoked naming the permission', () => {
    const { events } = when(connection(), check({ token: validToken({ scopes: ['pages_manage_metadata', 'pages_show_list'] }) }));
    expect(statusChange(events)).toMatchObject({ status: 'revoked', reason: expect.stringContaining('pages_messaging') });
  });

  it('given a connected Page, when data access ends within 7 days, then → degraded with the date', () => {
    const { events, state } = when(connection(), check({ token: validToken({ dataAccessExpiresAt: NOW + 3 * DAY }) }));
    expect(statusChange(events)).toMatchObject({ status: 'degraded', reason: expect.stringContaining('2026-11-29'), action: expect.stringContaining('before 2026-11-29') });
    expect(state?.problems).toEqual([expect.objectContaining({ code: 'data_access_expiring' })]);
  });

  it('given a connected Page, when data access ends in 8 days, then nothing changes but the check time', () => {
    const { published, state } = when(connection(), check({ token: validToken({ dataAccessExpiresAt: NOW + 8 * DAY }) }));
    expect(published).toEqual([]);
    expect(state).toMatchObject({ status: 'connected', tokenCheckedAt: new Date(NOW).toISOString() });
  });

  it('given a connected Page, when data access has ended, then → needs_reconnect', () => {
    expect(when(connection(), check({ token: validToken({ dataAccessExpiresAt: NOW - 1 }) })).state?.status).toBe('needs_reconnect');
  });

  it('given a connected Page, when the token expires within the warning, then → degraded; when it has expired, → needs_reconnect', () => {
    expect(when(connection(), check({ token: validToken({ expiresAt: NOW + DAY }) })).state?.status).toBe('degraded');
    expect(when(connection(), check({ token: validToken({ expiresAt: NOW }) })).state?.status).toBe('needs_reconnect');
  });

  it('given a connected Page, when the login could not be renewed, then → degraded (login_expired)', () => {
    expect(when(connection(), check({ loginExpired: true })).state).toMatchObject({ status: 'degraded', problems: [expect.objectContaining({ code: 'login_expired' })] });
  });

  it('given a connected Page, when the lost subscription could not be restored, then → subscription_failed', () => {
    const { state } = when(connection(), check({ subscription: { kind: 'failed', failure: failure(200) } }));
    expect(state?.status).toBe('subscription_failed');
  });

  it('given a subscription_failed Page, when the subscription could not be looked at, then the failure stands', () => {
    const before = connection({ status: 'subscription_failed', problems: [{ code: 'subscription_failed', reason: 'r', action: 'a' }] });
    const { published, state } = when(before, check({ subscription: { kind: 'unknown' } }));
    expect(published).toEqual([]);
    expect(state).toMatchObject({ status: 'subscription_failed', problems: before.problems });
  });

  it('given a connected Page, when the lost subscription was restored, then it stays connected', () => {
    expect(when(connection(), check({ subscription: { kind: 'restored' } })).published).toEqual([]);
  });

  it('given a subscription_failed Page, when the check restores the subscription, then → connected', () => {
    const before = connection({ status: 'subscription_failed', problems: [{ code: 'subscription_failed', reason: 'r', action: null }] });
    const { events, state } = when(before, check({ subscription: { kind: 'restored' } }));
    expect(statusChange(events)).toMatchObject({ status: 'connected', previousStatus: 'subscription_failed', reason: expect.any(String) });
    expect(state).toMatchObject({ status: 'connected', problems: [] });
  });

  it('given several problems, when checked, then the most severe sets the status and every problem is listed', () => {
    const { state } = when(connection(), check({ token: validToken({ scopes: ['pages_manage_metadata'], dataAccessExpiresAt: NOW + DAY }), loginExpired: true }));
    expect(state?.status).toBe('revoked');
    expect(state?.problems.map((p) => p.code)).toEqual(['permission_missing', 'data_access_expiring', 'login_expired']);
  });

  it('given a degraded Page, when another warning appears, then the problems change without a status event', () => {
    const first = when(connection(), check({ token: validToken({ dataAccessExpiresAt: NOW + DAY }) })).state!;
    const { events, published, state } = when(first, check({ token: validToken({ dataAccessExpiresAt: NOW + DAY }), loginExpired: true }));
    expect(published).toEqual([]);
    expect(events.map((e) => e.type)).toEqual(['problems_changed', 'checked']);
    expect(state?.problems).toHaveLength(2);
  });

  it('given any Page, when Facebook could not be asked (transient), then nothing changes, not even the check time', () => {
    expect(decide(check({ token: { kind: 'unknown', failure: failure(2, null, true) } }), connection({ status: 'revoked' }), context)).toEqual([]);
  });

  it('given a disconnected or unknown Page, when a late check arrives, then it is ignored', () => {
    expect(decide(check({ token: { kind: 'invalid', failure: failure(190) } }), connection({ status: 'disconnected' }), context)).toEqual([]);
    expect(decide(check({}), null, context)).toEqual([]);
  });

  it('decides from codes, never from the words: the same codes with other text give the same status', () => {
    const a = when(connection(), check({ token: { kind: 'invalid', failure: { code: 190, subcode: 460, transient: false, detail: 'Permissions error' } } }));
    const b = when(connection(), check({ token: { kind: 'invalid', failure: { code: 190, subcode: 460, transient: false, detail: 'app removed, password, whatever' } } }));
    expect(a.state?.status).toBe(b.state?.status);
    expect(a.state?.problems).toEqual(b.state?.problems);
  });
});

describe('disconnecting', () => {
  it('given a connected Page, when disconnected, then → disconnected and page.disconnected', () => {
    const { published, state } = when(connection(), { type: 'disconnect', reason: 'A person disconnected the Page.' });
    expect(published).toEqual([
      { type: 'page.connection.changed', data: { status: 'disconnected', previousStatus: 'connected', reason: 'A person disconnected the Page.', action: null, graphCode: null, graphSubcode: null } },
      { type: 'page.disconnected', data: { reason: 'A person disconnected the Page.' } },
    ]);
    expect(state).toMatchObject({ status: 'disconnected', problems: [] });
  });

  it('given a disconnected Page, when disconnected again, then nothing happens (idempotent)', () => {
    expect(decide({ type: 'disconnect', reason: 'x' }, connection({ status: 'disconnected' }), context)).toEqual([]);
    expect(decide({ type: 'disconnect', reason: 'x' }, null, context)).toEqual([]);
  });
});
