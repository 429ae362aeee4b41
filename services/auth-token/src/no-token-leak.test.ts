// Tokens never leave the service except through the internal token API: not in logs (every line,
// at trace level, of a full connect → token fetch → health check → login renewal → revocation run),
// not in events, not in any other HTTP answer.
import { createLogger } from '@parley/observability';
import { waitFor } from '@parley/testing';
import { APP_SECRET, INTERNAL_TOKEN, startHarness } from './test-harness.ts';
import type { Harness } from './test-harness.ts';

const DAY = 24 * 60 * 60 * 1000;
const lines: string[] = [];
let h: Harness;

beforeAll(async () => {
  const logger = createLogger({ service: 'auth-token', level: 'trace', destination: { write: (line: string) => void lines.push(line) } });
  h = await startHarness({ logger });
});
afterAll(async () => {
  await h?.stop();
});

it('keeps every token, code and secret out of logs, events and API answers', async () => {
  const { userId, pageIds } = h.createAdmin([{ name: 'Secretive One' }, { name: 'Secretive Two' }, { name: 'Not mine', tasks: ['ANALYZE'] }]);
  const [one, two] = pageIds as [string, string, string];

  // Connect (dialog → callback → selection → subscribe), with the login code recorded for the search.
  const { callbackUrl } = await h.approve({ account: h.accounts.a, userId });
  const code = new URL(callbackUrl).searchParams.get('code')!;
  const opened = await h.openCallback(callbackUrl);
  expect(opened.status).toBe(200);
  const picked = await h.pick(opened.selectionId!, [one, two]);
  expect(JSON.parse(picked.body).pages.map((p: { outcome: string }) => p.outcome)).toEqual(['connected', 'connected']);
  await h.waitForEvent(one, 'page.connected');
  await h.waitForEvent(two, 'page.connected');

  // Another service fetches the token (this answer alone may contain it: it is not searched).
  const tokenAnswer = await h.call(`/internal/v1/pages/${one}/token`, { headers: { authorization: `Bearer ${INTERNAL_TOKEN}` }, raw: true });
  expect(tokenAnswer.status).toBe(200);
  await h.call('/v1/pages', { account: h.accounts.a });

  // The scheduled health check.
  h.advanceClock(h.config.TOKEN_CHECK_INTERVAL_MS + 1_000);
  await h.service.runHealthChecks();
  await waitFor(async () => ((await h.db.query('select 1 from pages where page_id = ? and token_checked_at is not null', [one])).length > 0 ? true : null), { description: 'the health check of the first Page' });

  // The login renewal (due 10 days before the 60-day user token expires).
  const userTokensBefore = [...h.meta.state.tokens.values()].filter((t) => t.type === 'USER' && t.userId === userId).length;
  h.advanceClock(51 * DAY);
  await h.service.runHealthChecks();
  const [grant] = await h.db.query<{ refreshed_at: unknown }>('select refreshed_at from user_grants where grant_id = (select grant_id from pages where page_id = ?)', [one]);
  expect(grant?.refreshed_at).not.toBeNull();
  expect([...h.meta.state.tokens.values()].filter((t) => t.type === 'USER' && t.userId === userId).length).toBe(userTokensBefore + 1);

  // A revocation reported by a sender and confirmed by the check (error paths log Graph errors).
  h.meta.platform.revokeTokens({ userId, subcode: 460 });
  await h.publishTokenRejected(two, 190, 460);
  await h.waitForEvent(two, 'page.connection.changed', (e) => e.data.status === 'needs_reconnect');
  // And a disconnect whose unsubscribe Facebook refuses (the token is dead).
  expect((await h.call(`/v1/pages/${two}`, { method: 'DELETE', account: h.accounts.a })).status).toBe(200);
  await h.waitForEvent(two, 'page.disconnected');
  await h.service.flushEvents();

  const secrets = [
    ...[...h.meta.state.tokens.values()].filter((t) => t.userId === userId || pageIds.includes(t.pageId ?? '')).map((t) => t.value),
    code,
    APP_SECRET,
    INTERNAL_TOKEN,
    h.accounts.a.key,
    h.accounts.b.key,
  ];
  // Short-lived, long-lived and renewed user tokens, and the Page tokens, were all issued.
  expect(secrets.length).toBeGreaterThanOrEqual(3 + 3 + 5);

  const logText = lines.join('');
  expect(lines.length).toBeGreaterThan(20); // the search below looks at a real run's logs
  expect(logText).toContain('login renewed');
  expect(logText).toContain('checking it now');
  const events = JSON.stringify([...h.eventsOf(one), ...h.eventsOf(two)]);
  const answers = JSON.stringify(h.responses);
  for (const secret of secrets) {
    expect({ where: 'logs', found: logText.includes(secret) }).toEqual({ where: 'logs', found: false });
    expect({ where: 'events', found: events.includes(secret) }).toEqual({ where: 'events', found: false });
    expect({ where: 'answers', found: answers.includes(secret) }).toEqual({ where: 'answers', found: false });
  }
});
