// A Page's access token, from auth-token's internal API (docs/architecture.md):
//   GET {AUTH_TOKEN_URL}/internal/v1/pages/{pageId}/token, Authorization: Bearer {INTERNAL_API_TOKEN}
//   → 200 { pageId, accountId, accessToken, status } · 404 unknown or disconnected · 409 needs reconnect · 401 wrong secret
// Tokens are cached briefly (60 s) and dropped at once on page events and when Meta rejects them.
// The token never reaches a log or an event: only a short hash of it (its fingerprint) is kept.
import { createHash } from 'node:crypto';
import type { Logger } from '@parley/observability';
import type { Clock } from '../clock.ts';

export type TokenResult =
  | { readonly kind: 'token'; readonly accessToken: string; readonly accountId: string | null; readonly fingerprint: string }
  /** 409: the Page needs reconnecting; its sends are held. */
  | { readonly kind: 'needs_reconnect' }
  /** 404: auth-token does not know the Page, or it was disconnected. */
  | { readonly kind: 'not_connected' }
  /** auth-token did not answer usefully (down, timeout, 5xx, wrong secret, malformed answer). */
  | { readonly kind: 'unavailable'; readonly detail: string };

export type PageTokenProvider = {
  /** `fresh`: skip the cache (a held Page's re-check). */
  get(pageId: string, options?: { fresh?: boolean }): Promise<TokenResult>;
  /** Forgets the Page's cached token. */
  drop(pageId: string): void;
};

export type PageTokenProviderOptions = {
  authTokenUrl: string;
  internalApiToken: string;
  clock: Clock;
  logger: Logger;
  cacheMs?: number;
  timeoutMs?: number;
};

/** A short, non-reversible name for a token, to tell two tokens apart without keeping either. */
export function tokenFingerprint(accessToken: string): string {
  return createHash('sha256').update(accessToken).digest('hex').slice(0, 16);
}

export function createPageTokenProvider(options: PageTokenProviderOptions): PageTokenProvider {
  const cacheMs = options.cacheMs ?? 60_000;
  const timeoutMs = options.timeoutMs ?? 5_000;
  const base = options.authTokenUrl.replace(/\/+$/, '');
  const cache = new Map<string, { result: Extract<TokenResult, { kind: 'token' }>; expiresAt: number }>();
  const inFlight = new Map<string, Promise<TokenResult>>();
  // Bumped by drop(): an answer fetched before a drop must not be cached after it.
  const generations = new Map<string, number>();
  const log = options.logger.child({ component: 'page-tokens' });

  async function fetchToken(pageId: string): Promise<TokenResult> {
    let response: Response;
    try {
      response = await fetch(`${base}/internal/v1/pages/${encodeURIComponent(pageId)}/token`, {
        headers: { authorization: `Bearer ${options.internalApiToken}`, accept: 'application/json' },
        redirect: 'error',
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (error) {
      return { kind: 'unavailable', detail: `auth-token could not be reached: ${(error as Error).name === 'TimeoutError' ? 'timed out' : (error as Error).message}` };
    }
    const body: unknown = await response.json().catch(() => undefined);
    switch (response.status) {
      case 200: {
        const record = (typeof body === 'object' && body !== null ? body : {}) as Record<string, unknown>;
        const accessToken = record['accessToken'];
        if (typeof accessToken !== 'string' || accessToken === '') {
          return { kind: 'unavailable', detail: 'auth-token answered 200 without an access token' };
        }
        const accountId = typeof record['accountId'] === 'string' ? record['accountId'] : null;
        return { kind: 'token', accessToken, accountId, fingerprint: tokenFingerprint(accessToken) };
      }
      case 404:
        return { kind: 'not_connected' };
      case 409:
        return { kind: 'needs_reconnect' };
      case 401:
      case 403:
        // Our own configuration is wrong (INTERNAL_API_TOKEN): nothing a Page admin can fix, so the
        // sends wait rather than fail, and operators see the error.
        log.error({ pageId, status: response.status }, 'auth-token refused our internal API token; check INTERNAL_API_TOKEN');
        return { kind: 'unavailable', detail: `auth-token refused the internal API token (HTTP ${response.status})` };
      default:
        return { kind: 'unavailable', detail: `auth-token answered HTTP ${response.status}` };
    }
  }

  return {
    async get(pageId, getOptions) {
      const now = options.clock.now().getTime();
      const cached = cache.get(pageId);
      if (!getOptions?.fresh && cached && cached.expiresAt > now) return cached.result;
      // Concurrent sends of one Page share one request.
      const generation = generations.get(pageId) ?? 0;
      let pending = inFlight.get(pageId);
      if (!pending) {
        const request: Promise<TokenResult> = fetchToken(pageId).finally(() => {
          if (inFlight.get(pageId) === request) inFlight.delete(pageId);
        });
        pending = request;
        inFlight.set(pageId, request);
      }
      const result = await pending;
      if (result.kind === 'token' && generation === (generations.get(pageId) ?? 0)) {
        cache.set(pageId, { result, expiresAt: options.clock.now().getTime() + cacheMs });
      } else {
        cache.delete(pageId);
      }
      return result;
    },
    drop(pageId) {
      cache.delete(pageId);
      inFlight.delete(pageId);
      generations.set(pageId, (generations.get(pageId) ?? 0) + 1);
    },
  };
}
