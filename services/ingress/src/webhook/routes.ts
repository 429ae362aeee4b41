import { randomUUID, timingSafeEqual } from 'node:crypto';
import type { RequestListener } from 'node:http';
import type { Express, Request, Response } from 'express';
import { sendProblem, writeProblem } from '@parley/http';
import type { Problem } from '@parley/http';
import type { EventPublisher } from '@parley/messaging';
import { Counter, Histogram } from '@parley/observability';
import type { Logger, Registry } from '@parley/observability';
import type { RecentEventIds } from './dedupe.ts';
import { normalizeWebhook } from './normalize.ts';
import type { InboundEvent } from './normalize.ts';
import type { SenderRateLimit } from './rate-limit.ts';
import { verifySignature } from './signature.ts';

export type WebhookDeps = {
  appSecrets: ReadonlyArray<string>;
  verifyToken: string;
  publisher: EventPublisher;
  recentIds: RecentEventIds;
  rateLimit: SenderRateLimit;
  logger: Logger;
  metrics: Registry;
  /** Largest accepted body; Meta batches many events into one POST. */
  bodyLimitBytes: number;
  /** Answer 503 if Kafka has not acknowledged by then: well under Meta's 20 s timeout. */
  publishTimeoutMs: number;
  now: () => Date;
};

export const WEBHOOK_PATH = '/webhooks/messenger';

/**
 * GET: Meta's subscription handshake (express). POST: see `serveWebhookPosts`.
 */
export function mountWebhookHandshake(app: Express, deps: Pick<WebhookDeps, 'verifyToken' | 'logger'>): void {
  app.get(WEBHOOK_PATH, (req: Request, res: Response) => {
    const mode = req.query['hub.mode'];
    const token = req.query['hub.verify_token'];
    const challenge = req.query['hub.challenge'];
    if (mode !== 'subscribe' || typeof token !== 'string' || typeof challenge !== 'string') {
      return sendProblem(res, { status: 400, code: 'invalid_handshake', title: 'Not a subscription handshake', detail: 'Expected hub.mode=subscribe, hub.verify_token and hub.challenge.' });
    }
    if (!constantTimeEquals(token, deps.verifyToken)) {
      deps.logger.warn('webhook handshake with a wrong verify token');
      return sendProblem(res, { status: 403, code: 'wrong_verify_token', title: 'Wrong verify token' });
    }
    // Echo only a plausible challenge, as plain text, so the endpoint cannot reflect markup.
    if (!/^[\w-]{1,256}$/.test(challenge)) {
      return sendProblem(res, { status: 400, code: 'invalid_challenge', title: 'Invalid hub.challenge' });
    }
    res.status(200).type('text/plain').send(challenge);
  });
}

/** What to answer a webhook POST: 200 with text, or a problem. */
export type WebhookAnswer = { status: 200; text: string } | { status: number; problem: Problem; retryAfterS?: number };

/**
 * Signed events, answered 200 only once every event of the request is durably in Kafka.
 *
 * | input | answer |
 * |---|---|
 * | no / malformed / wrong `X-Hub-Signature-256` | 401 before the body is parsed; logged without the body |
 * | body over the limit | 413 (see `serveWebhookPosts`) |
 * | not JSON, or JSON that is not a Meta webhook (no `object`, no `entry` array) | 400 |
 * | a broken or unknown item inside a good payload | 200; it becomes `messenger.event.unsupported` |
 * | a webhook already published within 5 minutes | 200; not published again |
 * | a sender over 100 webhooks a minute | 200; published with `throttled: true` |
 * | Kafka unavailable or too slow | 503 with Retry-After; Meta retries, nothing is lost |
 */
export function createWebhookReceiver(deps: WebhookDeps): (body: Buffer, signature: string | undefined, ip: string | undefined) => Promise<WebhookAnswer> {
  const webhooks = new Counter({ name: 'ingress_webhooks_total', help: 'Webhook POSTs by outcome', labelNames: ['outcome'], registers: [deps.metrics] });
  const published = new Counter({ name: 'ingress_events_published_total', help: 'Events published by type', labelNames: ['type'], registers: [deps.metrics] });
  const duplicates = new Counter({ name: 'ingress_duplicate_events_total', help: 'Events acknowledged without publishing (seen within the window)', registers: [deps.metrics] });
  const throttled = new Counter({ name: 'ingress_throttled_events_total', help: 'Events flagged throttled (sender over the rate limit)', registers: [deps.metrics] });
  const publishSeconds = new Histogram({ name: 'ingress_publish_seconds', help: 'Time for Kafka to acknowledge a webhook\'s events', buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5], registers: [deps.metrics] });

  return async (body, signature, ip) => {
    const verdict = verifySignature(body, signature, deps.appSecrets);
    if (verdict !== 'valid') {
      webhooks.inc({ outcome: `signature_${verdict}` });
      deps.logger.warn({ verdict, bytes: body.length, ip }, 'rejected a webhook: signature not valid');
      return { status: 401, problem: { status: 401, code: `signature_${verdict}`, title: 'Invalid signature', detail: 'X-Hub-Signature-256 must be sha256=<hex HMAC-SHA256 of the raw body with the app secret>.' } };
    }
    let payload: unknown;
    try {
      payload = JSON.parse(body.toString('utf8'));
    } catch {
      webhooks.inc({ outcome: 'not_json' });
      return { status: 400, problem: { status: 400, code: 'malformed_json', title: 'Malformed JSON', detail: 'The body is not valid JSON.' } };
    }
    const receivedAt = deps.now();
    const normalized = normalizeWebhook(payload, receivedAt);
    if (!normalized.ok) {
      webhooks.inc({ outcome: 'not_meta_payload' });
      return { status: 400, problem: { status: 400, code: 'not_a_meta_webhook', title: 'Not a Meta webhook', detail: normalized.reason } };
    }

    const now = receivedAt.getTime();
    const waits: Promise<void>[] = [];
    const fresh: InboundEvent[] = [];
    const freshIds = new Set<string>();
    for (const event of normalized.events) {
      const earlier = deps.recentIds.seen(event.id, now);
      if (earlier || freshIds.has(event.id)) {
        duplicates.inc();
        if (earlier) waits.push(earlier);
        continue;
      }
      freshIds.add(event.id);
      fresh.push(flagThrottled(event, deps.rateLimit, now, throttled));
    }

    const write = fresh.length > 0 ? deps.publisher.publish(fresh) : Promise.resolve();
    deps.recentIds.rememberAll(fresh.map((event) => event.id), write, now);
    const stopTimer = publishSeconds.startTimer();
    try {
      await withDeadline(Promise.all([write, ...waits]), deps.publishTimeoutMs);
      stopTimer();
    } catch (error) {
      webhooks.inc({ outcome: 'broker_unavailable' });
      deps.logger.error({ err: error, events: fresh.length }, 'Kafka did not acknowledge a webhook: answering 503 so that Meta retries');
      return {
        status: 503,
        retryAfterS: 5,
        problem: { status: 503, code: 'broker_unavailable', title: 'Temporarily unavailable', detail: 'The events could not be stored durably; retry later.' },
      };
    }
    for (const event of fresh) published.inc({ type: event.type });
    webhooks.inc({ outcome: 'accepted' });
    return { status: 200, text: 'EVENT_RECEIVED' };
  };
}

/**
 * The HTTP server's listener: webhook POSTs are served here, on plain `node:http`, and everything
 * else goes to the express app. The webhook is the hot path (every customer message, echo and
 * receipt, in bursts); express's router and body parser cost more per request than the rest of it
 * together apart from Kafka (profiled), so this route does without them. It keeps what the express
 * app gives every route: request ids, the request duration metric, problem+json errors.
 */
export function serveWebhookPosts(options: {
  receive: (body: Buffer, signature: string | undefined, ip: string | undefined) => Promise<WebhookAnswer>;
  app: RequestListener;
  bodyLimitBytes: number;
  metrics: Registry;
  logger: Logger;
}): RequestListener {
  const duration = options.metrics.getSingleMetric('http_request_duration_seconds') as Histogram<'method' | 'route' | 'status'> | undefined;
  return (req, res) => {
    const path = req.url?.split('?', 1)[0];
    if (req.method !== 'POST' || path !== WEBHOOK_PATH) return options.app(req, res);

    const started = process.hrtime.bigint();
    const incoming = req.headers['x-request-id'];
    const requestId = typeof incoming === 'string' && /^[\w.-]{1,128}$/.test(incoming) ? incoming : randomUUID();
    const headers = { 'x-request-id': requestId };
    res.on('finish', () => duration?.observe({ method: 'POST', route: WEBHOOK_PATH, status: String(res.statusCode) }, Number(process.hrtime.bigint() - started) / 1e9));
    const tooLarge = () => {
      // The rest of the body is read and dropped; the connection closes after this answer.
      writeProblem(res, { status: 413, code: 'body_too_large', title: 'Request body too large', detail: `The body is over the limit of ${options.bodyLimitBytes} bytes.` }, path, {
        ...headers,
        connection: 'close',
      });
      req.resume();
    };
    if (Number(req.headers['content-length'] ?? 0) > options.bodyLimitBytes) return tooLarge();

    const chunks: Buffer[] = [];
    let size = 0;
    let rejected = false;
    req.on('data', (chunk: Buffer) => {
      if (rejected) return;
      size += chunk.length;
      if (size > options.bodyLimitBytes) {
        rejected = true;
        chunks.length = 0;
        return tooLarge();
      }
      chunks.push(chunk);
    });
    req.on('error', () => undefined); // the client went away: nothing to answer
    req.on('end', () => {
      if (rejected) return;
      const signature = req.headers['x-hub-signature-256'];
      const forwarded = req.headers['x-forwarded-for'];
      const ip = (typeof forwarded === 'string' ? forwarded.split(',', 1)[0]?.trim() : undefined) ?? req.socket.remoteAddress;
      options
        .receive(Buffer.concat(chunks, size), typeof signature === 'string' ? signature : undefined, ip)
        .then((answer) => {
          if ('problem' in answer) {
            writeProblem(res, answer.problem, path, answer.retryAfterS ? { ...headers, 'retry-after': String(answer.retryAfterS) } : headers);
          } else {
            res.writeHead(200, { ...headers, 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(answer.text) });
            res.end(answer.text);
          }
        })
        .catch((error: unknown) => {
          options.logger.error({ err: error, requestId, path }, 'unhandled error');
          if (!res.headersSent) writeProblem(res, { status: 500, code: 'internal_error', title: 'Internal error', detail: `Something went wrong; quote request id ${requestId}.` }, path, headers);
        });
    });
  };
}

/** Events from a customer count toward that customer's limit; over it, they are flagged. */
function flagThrottled(event: InboundEvent, limiter: SenderRateLimit, now: number, counter: Counter): InboundEvent {
  if (event.type === 'messenger.event.unsupported' || event.type === 'messenger.message.echoed') return event;
  const over = limiter.hit(`${event.pageId}:${event.data.customer.psid}`, now);
  if (!over) return event;
  counter.inc();
  return { ...event, data: { ...event.data, throttled: true } } as InboundEvent;
}

function constantTimeEquals(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}

function withDeadline<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise,
    new Promise<T>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`not acknowledged within ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}
