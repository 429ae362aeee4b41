import { createLogger, createMetricsRegistry } from '@parley/observability';
import { HttpProblem, createHttpApp, jsonBody, startHttpServer } from './index.ts';
import type { RunningServer } from './index.ts';

let ready = true;
let server: RunningServer;
const logger = createLogger({ service: 'http-test', level: 'silent' });

beforeAll(async () => {
  const app = createHttpApp({
    service: 'http-test',
    logger,
    metrics: createMetricsRegistry('http-test'),
    readiness: { broker: async () => ready },
    routes: (app) => {
      app.post('/echo', jsonBody('1kb'), (req, res) => {
        res.json(req.body);
      });
      app.get('/conflict', () => {
        throw new HttpProblem({ status: 409, code: 'reply_window_closed', title: 'Reply window closed', detail: 'Too late.' });
      });
      app.get('/boom', () => {
        throw new Error('database password is hunter2');
      });
    },
  });
  server = await startHttpServer(app, 0, '127.0.0.1');
});
afterAll(() => server.close());

describe('http app', () => {
  it('reports alive on /healthz and readiness from its checks on /readyz', async () => {
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
    ready = true;
    expect((await fetch(`${server.url}/readyz`)).status).toBe(200);
    ready = false;
    const notReady = await fetch(`${server.url}/readyz`);
    expect(notReady.status).toBe(503);
    expect(await notReady.json()).toEqual({ status: 'not_ready', checks: { broker: false } });
  });

  it('exports Prometheus metrics including request durations', async () => {
    await fetch(`${server.url}/healthz`);
    const text = await (await fetch(`${server.url}/metrics`)).text();
    expect(text).toContain('http_request_duration_seconds_bucket');
  });

  it('answers problem+json with a stable code for unknown routes, malformed and oversized bodies', async () => {
    const notFound = await fetch(`${server.url}/nope`);
    expect(notFound.status).toBe(404);
    expect(notFound.headers.get('content-type')).toContain('application/problem+json');
    expect(await notFound.json()).toMatchObject({ status: 404, code: 'not_found' });

    const malformed = await fetch(`${server.url}/echo`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{oops' });
    expect(malformed.status).toBe(400);
    expect(await malformed.json()).toMatchObject({ code: 'malformed_json' });

    const huge = await fetch(`${server.url}/echo`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ x: 'y'.repeat(5000) }) });
    expect(huge.status).toBe(413);
    expect(await huge.json()).toMatchObject({ code: 'body_too_large' });
  });

  it('turns an HttpProblem into its problem and hides the details of unexpected errors', async () => {
    const conflict = await fetch(`${server.url}/conflict`);
    expect(conflict.status).toBe(409);
    expect(await conflict.json()).toMatchObject({ code: 'reply_window_closed', title: 'Reply window closed', detail: 'Too late.' });
    const boom = await fetch(`${server.url}/boom`);
    expect(boom.status).toBe(500);
    const body = await boom.text();
    expect(body).not.toContain('hunter2');
    expect(body).toContain(boom.headers.get('x-request-id')!);
  });
});
