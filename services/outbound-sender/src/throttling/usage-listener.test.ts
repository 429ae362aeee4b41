import { AsyncLocalStorage } from 'node:async_hooks';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import express from 'express';
import { createGraphApiClient } from '@parley/graph-api';
import { createAdjustableClock } from '../clock.ts';
import { createPageRateLimiter } from './page-rate-limiter.ts';
import { pageUsageListener } from './usage-listener.ts';

let server: Server;
let baseUrl: string;

beforeAll(async () => {
  // Plays Meta's Send API answering with usage headers (meta-platform.md §5).
  const app = express();
  app.post('/v25.0/me/messages', (_req, res) => {
    res.setHeader('x-page-usage', JSON.stringify({ call_count: 90, total_time: 20, total_cputime: 10 }));
    res.json({ recipient_id: '1', message_id: 'm_1' });
  });
  server = await new Promise<Server>((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

describe("Meta's usage headers", () => {
  it('given a Page at 90 % of its limit, when a send for it answers, then that Page (and no other) is slowed down', async () => {
    const clock = createAdjustableClock();
    const limiter = createPageRateLimiter({ ratePerSecond: 20 });
    const pageContext = new AsyncLocalStorage<string>();
    const graph = createGraphApiClient({ appId: '1', version: 'v25.0', baseUrl, onUsage: pageUsageListener(limiter, pageContext, clock) });
    const body = { recipient: { id: '1' }, messaging_type: 'RESPONSE' as const, message: { text: 'hi' } };

    await pageContext.run('busy-page', () => graph.sendMessage('token', body));
    await graph.sendMessage('token', body); // a call made for no Page in particular slows nobody down

    expect(limiter.inspect('busy-page', clock.now()).factor).toBeCloseTo(0.5);
    expect(limiter.inspect('other-page', clock.now()).factor).toBe(1);
    graph.shutdown();
  });
});
