import { timingSafeEqual } from 'node:crypto';
import type { Express, Request, Response } from 'express';
import { rawBody, sendProblem } from '@parley/http';
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
 * GET: Meta's subscription handshake. POST: signed events, answered 200 only once every event
 * of the request is durably in Kafka.
 *
 * | input | answer |
 * |---|---|
 * | no / malformed / wrong `X-Hub-Signature-256` | 401 before the body is parsed; logged without the body |
 * | body over the limit | 413 |
 * | not JSON, or JSON that is not a Meta webhook (no `object`, no `entry` array) | 400 |
 * | a broken or unknown item inside a good payload | 200; it becomes `messenger.event.unsupported` |
 * | a webhook already published within 5 minutes | 200; not published again |
 * | a sender over 100 webhooks a minute | 200; published with `throttled: true` |
 * | Kafka unavailable or too slow | 503 with Retry-After; Meta retries, nothing is lost |
 */
export function mountWebhookRoutes(app: Express, deps: WebhookDeps): void {
  const webhooks = new Counter({ name: 'ingress_webhooks_total', help: 'Webhook POSTs by outcome', labelNames: ['outcome'], registers: [deps.metrics] });
  const published = new Counter({ name: 'ingress_events_published_total', help: 'Events published by type', labelNames: ['type'], registers: [deps.metrics] });
  const duplicates = new Counter({ name: 'ingress_duplicate_events_total', help: 'Events acknowledged without publishing (seen within the window)', registers: [deps.metrics] });
  const throttled = new Counter({ name: 'ingress_throttled_events_total', help: 'Events flagged throttled (sender over the rate limit)', registers: [deps.metrics] });
  const publishSeconds = new Histogram({ name: 'ingress_publish_seconds', help: 'Time for Kafka to acknowledge a webhook\'s events', buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5], registers: [deps.metrics] });

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

  app.post(WEBHOOK_PATH, rawBody(deps.bodyLimitBytes), async (req: Request, res: Response) => {
    const body: Buffer = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    const verdict = verifySignature(body, req.header('x-hub-signature-256'), deps.appSecrets);
    if (verdict !== 'valid') {
      webhooks.inc({ outcome: `signature_${verdict}` });
      deps.logger.warn({ verdict, bytes: body.length, ip: req.ip }, 'rejected a webhook: signature not valid');
      return sendProblem(res, { status: 401, code: `signature_${verdict}`, title: 'Invalid signature', detail: 'X-Hub-Signature-256 must be sha256=<hex HMAC-SHA256 of the raw body with the app secret>.' });
    }
    let payload: unknown;
    try {
      payload = JSON.parse(body.toString('utf8'));
    } catch {
      webhooks.inc({ outcome: 'not_json' });
      return sendProblem(res, { status: 400, code: 'malformed_json', title: 'Malformed JSON', detail: 'The body is not valid JSON.' });
    }
    const receivedAt = deps.now();
    const normalized = normalizeWebhook(payload, receivedAt);
    if (!normalized.ok) {
      webhooks.inc({ outcome: 'not_meta_payload' });
      return sendProblem(res, { status: 400, code: 'not_a_meta_webhook', title: 'Not a Meta webhook', detail: normalized.reason });
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
    for (const event of fresh) deps.recentIds.remember(event.id, write, now);
    const stopTimer = publishSeconds.startTimer();
    try {
      await withDeadline(Promise.all([write, ...waits]), deps.publishTimeoutMs);
      stopTimer();
    } catch (error) {
      webhooks.inc({ outcome: 'broker_unavailable' });
      deps.logger.error({ err: error, events: fresh.length }, 'Kafka did not acknowledge a webhook: answering 503 so that Meta retries');
      res.setHeader('Retry-After', '5');
      return sendProblem(res, { status: 503, code: 'broker_unavailable', title: 'Temporarily unavailable', detail: 'The events could not be stored durably; retry later.' });
    }
    for (const event of fresh) published.inc({ type: event.type });
    webhooks.inc({ outcome: 'accepted' });
    res.status(200).type('text/plain').send('EVENT_RECEIVED');
  });
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
