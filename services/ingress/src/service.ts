import { createHttpApp, startHttpServer } from '@parley/http';
import { createEventPublisher, createKafkaClient, isBrokerReachable } from '@parley/messaging';
import { createMetricsRegistry } from '@parley/observability';
import type { Logger } from '@parley/observability';
import { RecentEventIds } from './webhook/dedupe.ts';
import { SenderRateLimit } from './webhook/rate-limit.ts';
import { createWebhookReceiver, mountWebhookHandshake, serveWebhookPosts } from './webhook/routes.ts';

export type IngressConfig = {
  KAFKA_BROKERS: string[];
  /** Prefix of every topic (see KAFKA_NAMESPACE); empty in most deployments. */
  KAFKA_NAMESPACE?: string;
  META_APP_SECRET: string[];
  META_VERIFY_TOKEN: string;
  PORT: number;
  WEBHOOK_BODY_LIMIT_BYTES: number;
  PUBLISH_TIMEOUT_MS: number;
  DEDUPE_WINDOW_MS: number;
  SENDER_LIMIT_PER_MINUTE: number;
  /**
   * Kafka's record encoding and socket work on a second thread (default): more webhooks per second
   * from a pod that may use two cores, a little more CPU per webhook (the hand-off between threads).
   * Off for a pod held to one core.
   */
  PUBLISH_ON_WORKER_THREAD?: boolean;
};

export type RunningIngress = { url: string; port: number; stop(): Promise<void> };

/** Wires ingress: Kafka publisher, the webhook routes, health/readiness/metrics, the HTTP server. */
export async function startIngress(config: IngressConfig, deps: { logger: Logger; now?: () => Date }): Promise<RunningIngress> {
  const { logger } = deps;
  const metrics = createMetricsRegistry('ingress');
  const kafka = createKafkaClient({ brokers: config.KAFKA_BROKERS, clientId: 'ingress', logger, namespace: config.KAFKA_NAMESPACE ?? '' });
  const publisher = createEventPublisher({ kafka, logger, requestTimeoutMs: Math.min(5_000, config.PUBLISH_TIMEOUT_MS), offThread: config.PUBLISH_ON_WORKER_THREAD ?? true });

  // Readiness asks the broker at most every 2 s, however often probes come.
  let lastCheck = { at: 0, ok: false };
  const brokerReachable = async () => {
    if (Date.now() - lastCheck.at > 2_000) lastCheck = { at: Date.now(), ok: await isBrokerReachable(kafka) };
    return lastCheck.ok;
  };

  const webhook = {
    appSecrets: config.META_APP_SECRET,
    verifyToken: config.META_VERIFY_TOKEN,
    publisher,
    recentIds: new RecentEventIds({ windowMs: config.DEDUPE_WINDOW_MS }),
    rateLimit: new SenderRateLimit({ limit: config.SENDER_LIMIT_PER_MINUTE, windowMs: 60_000 }),
    logger,
    metrics,
    bodyLimitBytes: config.WEBHOOK_BODY_LIMIT_BYTES,
    publishTimeoutMs: config.PUBLISH_TIMEOUT_MS,
    now: deps.now ?? (() => new Date()),
  };
  const app = createHttpApp({
    service: 'ingress',
    logger,
    metrics,
    readiness: { kafka: brokerReachable },
    routes: (app) => mountWebhookHandshake(app, webhook),
  });
  // Webhook POSTs are served before express (the hot path); the rest is the express app.
  const listener = serveWebhookPosts({ receive: createWebhookReceiver(webhook), app, bodyLimitBytes: config.WEBHOOK_BODY_LIMIT_BYTES, metrics, logger });
  const server = await startHttpServer(listener, config.PORT);
  logger.info({ port: server.port }, 'ingress listening');
  return {
    url: server.url,
    port: server.port,
    async stop() {
      // Stop taking webhooks first, so that every request still in flight finishes its publish.
      await server.close();
      await publisher.disconnect();
    },
  };
}
