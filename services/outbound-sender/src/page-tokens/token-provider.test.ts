import { createLogger } from '@parley/observability';
import { createAdjustableClock } from '../clock.ts';
import { startAuthTokenStub } from '../test-support/auth-token-stub.ts';
import type { AuthTokenStub } from '../test-support/auth-token-stub.ts';
import { createPageTokenProvider, tokenFingerprint } from './token-provider.ts';

const logger = createLogger({ service: 'outbound-sender-test', level: 'silent' });
let stub: AuthTokenStub;

beforeAll(async () => {
  stub = await startAuthTokenStub();
});
afterAll(async () => {
  await stub.stop();
});

function provider(overrides: { internalApiToken?: string; authTokenUrl?: string } = {}) {
  const clock = createAdjustableClock();
  return {
    clock,
    tokens: createPageTokenProvider({ authTokenUrl: overrides.authTokenUrl ?? stub.url, internalApiToken: overrides.internalApiToken ?? stub.internalApiToken, clock, logger, cacheMs: 60_000 }),
  };
}

describe("the Page token, from auth-token's internal API", () => {
  it('given a connected Page, then its token is fetched once and cached for 60 s', async () => {
    stub.setPage('p-cache', { accessToken: 'EAA-token-1', accountId: 'acc-1', status: 'connected' });
    const { tokens, clock } = provider();

    expect(await tokens.get('p-cache')).toEqual({ kind: 'token', accessToken: 'EAA-token-1', accountId: 'acc-1', fingerprint: tokenFingerprint('EAA-token-1') });
    await tokens.get('p-cache');
    expect(stub.requests('p-cache')).toBe(1);

    clock.advance(60_001);
    stub.setPage('p-cache', { accessToken: 'EAA-token-2', accountId: 'acc-1', status: 'connected' });
    expect(await tokens.get('p-cache')).toMatchObject({ accessToken: 'EAA-token-2' });
    expect(stub.requests('p-cache')).toBe(2);
  });

  it('given the cached token was dropped (page event, 190), then the next send asks again', async () => {
    stub.setPage('p-drop', { accessToken: 'old', accountId: 'acc-1', status: 'connected' });
    const { tokens } = provider();
    await tokens.get('p-drop');
    stub.setPage('p-drop', { accessToken: 'new', accountId: 'acc-1', status: 'connected' });
    tokens.drop('p-drop');
    expect(await tokens.get('p-drop')).toMatchObject({ accessToken: 'new' });
  });

  it('given concurrent sends of one Page, then they share one request', async () => {
    stub.setPage('p-concurrent', { accessToken: 't', accountId: 'acc-1', status: 'connected' });
    const { tokens } = provider();
    await Promise.all([tokens.get('p-concurrent'), tokens.get('p-concurrent'), tokens.get('p-concurrent')]);
    expect(stub.requests('p-concurrent')).toBe(1);
  });

  it('maps 404 to not connected, 409 to needs reconnect, and never caches them', async () => {
    const { tokens } = provider();
    expect(await tokens.get('p-unknown')).toEqual({ kind: 'not_connected' });
    stub.setPage('p-409', { accessToken: 't', accountId: 'a', status: 'needs_reconnect' });
    expect(await tokens.get('p-409')).toEqual({ kind: 'needs_reconnect' });
    expect(await tokens.get('p-409')).toEqual({ kind: 'needs_reconnect' });
    expect(stub.requests('p-409')).toBe(2);
  });

  it('given a wrong internal secret, a 5xx or no answer, then the token is unavailable (sends wait; nothing fails)', async () => {
    stub.setPage('p-secret', { accessToken: 't', accountId: 'a', status: 'connected' });
    expect(await provider({ internalApiToken: 'wrong' }).tokens.get('p-secret')).toMatchObject({ kind: 'unavailable', detail: expect.stringMatching(/401/) });
    stub.setPage('p-500', { failWith: 503 });
    expect(await provider().tokens.get('p-500')).toMatchObject({ kind: 'unavailable', detail: 'auth-token answered HTTP 503' });
    expect(await provider({ authTokenUrl: 'http://127.0.0.1:1' }).tokens.get('p-secret')).toMatchObject({ kind: 'unavailable' });
  });

  it('given a fresh re-check, then the cache is bypassed', async () => {
    stub.setPage('p-fresh', { accessToken: 't', accountId: 'a', status: 'connected' });
    const { tokens } = provider();
    await tokens.get('p-fresh');
    await tokens.get('p-fresh', { fresh: true });
    expect(stub.requests('p-fresh')).toBe(2);
  });
});
