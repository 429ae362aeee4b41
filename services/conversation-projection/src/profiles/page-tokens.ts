import { RetriableError } from '@parley/messaging';

// Page tokens from auth-token's internal API (docs/architecture.md): cached for a minute, dropped at
// once when the Page's connection changes or Meta rejects the token (190).

export type PageToken = { kind: 'token'; token: string; accountId: string | null } | { kind: 'unavailable'; reason: 'page_not_connected' | 'page_needs_reconnect' };

export type PageTokens = {
  get(pageId: string): Promise<PageToken>;
  invalidate(pageId: string): void;
};

export function createPageTokens(options: { authTokenUrl: string; internalToken: string; cacheMs?: number; timeoutMs?: number; clock?: () => number }): PageTokens {
  const cache = new Map<string, { value: PageToken & { kind: 'token' }; until: number }>();
  const clock = options.clock ?? Date.now;
  const cacheMs = options.cacheMs ?? 60_000;
  const base = options.authTokenUrl.replace(/\/+$/, '');
  return {
    async get(pageId) {
      const cached = cache.get(pageId);
      if (cached && cached.until > clock()) return cached.value;
      let response: Response;
      try {
        response = await fetch(`${base}/internal/v1/pages/${encodeURIComponent(pageId)}/token`, {
          headers: { authorization: `Bearer ${options.internalToken}`, accept: 'application/json' },
          signal: AbortSignal.timeout(options.timeoutMs ?? 5_000),
        });
      } catch (error) {
        throw new RetriableError(`auth-token is unreachable: ${(error as Error).message}`, { cause: error });
      }
      if (response.status === 404) return { kind: 'unavailable', reason: 'page_not_connected' };
      if (response.status === 409) return { kind: 'unavailable', reason: 'page_needs_reconnect' };
      if (!response.ok) throw new RetriableError(`auth-token answered ${response.status} for the token of Page ${pageId}`);
      const body = (await response.json().catch(() => null)) as { accessToken?: unknown; accountId?: unknown } | null;
      if (typeof body?.accessToken !== 'string' || body.accessToken === '') throw new RetriableError('auth-token answered without an access token');
      const value = { kind: 'token' as const, token: body.accessToken, accountId: typeof body.accountId === 'string' ? body.accountId : null };
      cache.set(pageId, { value, until: clock() + cacheMs });
      return value;
    },
    invalidate(pageId) {
      cache.delete(pageId);
    },
  };
}
