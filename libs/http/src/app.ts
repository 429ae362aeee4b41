import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import type { RequestListener, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import type { ErrorRequestHandler, Express, RequestHandler } from 'express';
import type { Logger, Registry } from '@parley/observability';
import { Histogram } from '@parley/observability';
import { HttpProblem, sendProblem } from './problem.ts';

export type ReadinessCheck = () => Promise<boolean>;

export type HttpAppOptions = {
  service: string;
  logger: Logger;
  metrics: Registry;
  /** Named checks for `/readyz`; the service is ready when all pass. */
  readiness?: Record<string, ReadinessCheck>;
  /** Mounts the service's routes (after the common middleware, before the error handlers). */
  routes: (app: Express) => void;
};

/**
 * The express app every service starts from: request ids, an access log, `/healthz` (alive),
 * `/readyz` (dependencies reachable), `/metrics` (Prometheus), problem+json errors. Body parsing
 * is per route (see `jsonBody`) because some routes need the raw bytes (webhook signatures).
 */
export function createHttpApp(options: HttpAppOptions): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', true);
  const duration =
    (options.metrics.getSingleMetric('http_request_duration_seconds') as Histogram | undefined) ??
    new Histogram({
      name: 'http_request_duration_seconds',
      help: 'HTTP request duration by route and status',
      labelNames: ['method', 'route', 'status'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [options.metrics],
    });

  app.use((req, res, next) => {
    const incoming = req.header('x-request-id');
    const requestId = incoming && /^[\w.-]{1,128}$/.test(incoming) ? incoming : randomUUID();
    res.locals['requestId'] = requestId;
    res.setHeader('x-request-id', requestId);
    const started = process.hrtime.bigint();
    res.on('finish', () => {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      const route = (req.route?.path as string | undefined) ?? (res.statusCode === 404 ? 'unmatched' : req.path);
      duration.observe({ method: req.method, route, status: String(res.statusCode) }, seconds);
      if (req.path !== '/healthz' && req.path !== '/readyz' && req.path !== '/metrics') {
        options.logger.debug({ requestId, method: req.method, path: req.path, status: res.statusCode, ms: Math.round(seconds * 1000) }, 'request');
      }
    });
    next();
  });

  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok', service: options.service });
  });
  app.get('/readyz', async (_req, res) => {
    const checks = Object.entries(options.readiness ?? {});
    const results = await Promise.all(checks.map(async ([name, check]) => [name, await check().catch(() => false)] as const));
    const ready = results.every(([, ok]) => ok);
    res.status(ready ? 200 : 503).json({ status: ready ? 'ready' : 'not_ready', checks: Object.fromEntries(results) });
  });
  app.get('/metrics', async (_req, res) => {
    res.type(options.metrics.contentType).send(await options.metrics.metrics());
  });

  options.routes(app);

  app.use((req, res) => {
    sendProblem(res, { status: 404, code: 'not_found', title: 'Not found', detail: `No route for ${req.method} ${req.path}` });
  });
  app.use(errorHandler(options.logger));
  return app;
}

/** Parses a JSON body up to `limit`, answering 413 / 400 problems for oversized or malformed bodies. */
export function jsonBody(limit: number | string = '100kb'): RequestHandler {
  return express.json({ limit, strict: true, type: ['application/json', 'application/*+json'] });
}

/** Keeps the body as raw bytes (`req.body` is a Buffer), for signature checks over the exact bytes. */
export function rawBody(limit: number | string = '1mb', type: string | string[] = '*/*'): RequestHandler {
  return express.raw({ limit, type });
}

function errorHandler(logger: Logger): ErrorRequestHandler {
  return (error, req, res, _next) => {
    if (error instanceof HttpProblem) return sendProblem(res, error.problem);
    const status = (error as { status?: number; statusCode?: number }).status ?? (error as { statusCode?: number }).statusCode;
    const kind = (error as { type?: string }).type;
    if (status === 413 || kind === 'entity.too.large') {
      return sendProblem(res, { status: 413, code: 'body_too_large', title: 'Request body too large', detail: `The body is over the limit of ${(error as { limit?: number }).limit ?? '?'} bytes.` });
    }
    if (kind === 'entity.parse.failed') {
      return sendProblem(res, { status: 400, code: 'malformed_json', title: 'Malformed JSON', detail: 'The request body is not valid JSON.' });
    }
    if (status && status >= 400 && status < 500) {
      return sendProblem(res, { status, code: 'bad_request', title: 'Bad request', detail: (error as Error).message });
    }
    logger.error({ err: error, requestId: res.locals['requestId'], path: req.path }, 'unhandled error');
    sendProblem(res, { status: 500, code: 'internal_error', title: 'Internal error', detail: `Something went wrong; quote request id ${res.locals['requestId']}.` });
  };
}

export type RunningServer = { server: Server; port: number; url: string; close(): Promise<void> };

/**
 * Starts listening (port 0 picks a free port) and closes gracefully: in-flight requests finish.
 * `app` is an express app, or a listener that serves a hot route itself and hands the rest to one.
 */
export async function startHttpServer(app: Express | RequestListener, port: number, host = '0.0.0.0'): Promise<RunningServer> {
  const server = createServer(app);
  // Meta and load balancers keep connections alive; keep ours a little longer than theirs.
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const actual = (server.address() as AddressInfo).port;
  return {
    server,
    port: actual,
    url: `http://127.0.0.1:${actual}`,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeIdleConnections();
      }),
  };
}
