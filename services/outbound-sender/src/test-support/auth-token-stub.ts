// A tiny stand-in for auth-token's internal token API (docs/architecture.md), for tests: an adapter
// double for an internal HTTP service, answering like the real one (200 / 404 / 409 / 401).
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import express from 'express';

export type StubPage = { accessToken: string; accountId: string; status: 'connected' | 'needs_reconnect' | 'disconnected' } | { failWith: number };

export type AuthTokenStub = {
  url: string;
  internalApiToken: string;
  /** Sets (or replaces) what the stub answers for a Page. */
  setPage(pageId: string, page: StubPage): void;
  /** How many token requests the Page got. */
  requests(pageId: string): number;
  stop(): Promise<void>;
};

export async function startAuthTokenStub(internalApiToken = 'test-internal-token'): Promise<AuthTokenStub> {
  const pages = new Map<string, StubPage>();
  const counts = new Map<string, number>();
  const app = express();
  app.get('/internal/v1/pages/:pageId/token', (req, res) => {
    const pageId = String(req.params['pageId']);
    counts.set(pageId, (counts.get(pageId) ?? 0) + 1);
    if (req.header('authorization') !== `Bearer ${internalApiToken}`) {
      res.status(401).json({ code: 'unauthorized' });
      return;
    }
    const page = pages.get(pageId);
    if (!page) {
      res.status(404).json({ code: 'page_not_connected' });
      return;
    }
    if ('failWith' in page) {
      res.status(page.failWith).json({ code: 'failure' });
      return;
    }
    if (page.status === 'disconnected') {
      res.status(404).json({ code: 'page_not_connected' });
      return;
    }
    if (page.status === 'needs_reconnect') {
      res.status(409).json({ code: 'page_needs_reconnect' });
      return;
    }
    res.json({ pageId, accountId: page.accountId, accessToken: page.accessToken, status: page.status });
  });
  const server: Server = await new Promise((resolve, reject) => {
    const s = app.listen(0, '127.0.0.1', (error?: Error) => (error ? reject(error) : resolve(s)));
  });
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    internalApiToken,
    setPage: (pageId, page) => void pages.set(pageId, page),
    requests: (pageId) => counts.get(pageId) ?? 0,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
