import { randomUUID } from 'node:crypto';
import { createHttpApp, startHttpServer } from '@parley/http';
import { createEventPublisher, createKafkaClient, isBrokerReachable } from '@parley/messaging';
import type { RunningConsumer } from '@parley/messaging';
import { createMetricsRegistry } from '@parley/observability';
import type { Logger, Registry } from '@parley/observability';
import { openDatabase } from '@parley/persistence';
import type { Database } from '@parley/persistence';
import { createAnswerer } from './answering/answerer.ts';
import { createChatCompletionsClient } from './answering/chat-completions.ts';
import { createAssistantStore, withCachedGet } from './assistants/assistant-store.ts';
import { mountAssistantRoutes } from './assistants/routes.ts';
import { createSecretBox } from './assistants/secrets.ts';
import type { ResponderConfig } from './config.ts';
import { startConsumers } from './consumers.ts';
import { createContextStore } from './conversation-context/context-store.ts';
import { createResponderMetrics } from './metrics.ts';
import { migrations } from './migrations.ts';
import { createPageAccounts } from './pages/page-accounts.ts';
import { createPendingReplyStore } from './pending-replies/pending-reply-store.ts';
import { createReplyPoller } from './pending-replies/reply-poller.ts';
import type { Clock, ReplyPoller } from './pending-replies/reply-poller.ts';

export type ResponderDeps = {
  logger: Logger;
  /** Injectable for tests; the system clock otherwise. */
  clock?: Clock;
  metrics?: Registry;
  newId?: () => string;
  /** The fetch used to reach assistants' providers. */
  fetch?: typeof fetch;
};

export type RunningResponder = {
  url: string;
  port: number;
  /** The due-reply loop (tests may call `tick()` to look at once). */
  poller: ReplyPoller;
  stop(): Promise<void>;
};

/** The composition root: database, Kafka, the assistants API, the consumers and the due-reply loop. */
export async function startResponder(config: ResponderConfig, deps: ResponderDeps): Promise<RunningResponder> {
  const logger = deps.logger;
  const clock = deps.clock ?? { now: () => new Date() };
  const metrics = deps.metrics ?? createMetricsRegistry('responder');
  const stops: Array<() => Promise<void>> = [];
  const stopAll = async () => {
    for (const stop of stops.reverse()) await stop().catch((error: unknown) => logger.error({ err: error }, 'error while stopping'));
    stops.length = 0;
  };

  try {
    const db: Database = await openDatabase({ databaseUrl: config.databaseUrl, schema: config.databaseSchema, logger, migrations, preparedStatements: config.databasePreparedStatements, metrics });
    stops.push(() => db.close());
    const kafka = createKafkaClient({ brokers: config.kafkaBrokers, clientId: 'responder', logger, namespace: config.kafkaNamespace ?? '' });
    const publisher = createEventPublisher({ kafka, logger });
    stops.push(() => publisher.disconnect());

    const assistants = withCachedGet(createAssistantStore(db), { ttlMs: config.assistantCacheMs ?? 0 });
    const context = createContextStore(db);
    const pageAccounts = createPageAccounts(db);
    const replies = createPendingReplyStore(db);
    const secrets = createSecretBox(config.tokenEncryptionKeys);
    const responderMetrics = createResponderMetrics(metrics);
    const chat = createChatCompletionsClient({
      logger,
      metrics,
      timeoutMs: config.llmTimeoutMs,
      ...(config.llmBreaker ? { breaker: config.llmBreaker } : {}),
      ...(deps.fetch ? { fetch: deps.fetch } : {}),
    });
    const answerer = createAnswerer({
      logger,
      chat,
      apiKeyRefs: config.apiKeyRefs,
      secrets,
      allowPrivateNetwork: config.allowPrivateNetwork,
      onFallback: () => responderMetrics.providerFallbacks.inc(),
    });

    const app = createHttpApp({
      service: 'responder',
      logger,
      metrics,
      readiness: { broker: () => isBrokerReachable(kafka), database: () => db.isReachable() },
      routes: (express) =>
        mountAssistantRoutes(express, {
          store: assistants,
          apiKeys: config.apiKeys,
          secrets,
          apiKeyRefs: config.apiKeyRefs,
          allowPrivateNetwork: config.allowPrivateNetwork,
          now: () => clock.now(),
          newId: deps.newId ?? randomUUID,
        }),
    });
    const server = await startHttpServer(app, config.port);
    stops.push(() => server.close());

    const poller = createReplyPoller({
      logger,
      replies,
      assistants,
      context,
      pageAccounts,
      answerer,
      publisher,
      clock,
      shape: config.shape,
      due: { maxLatenessMs: config.maxReplyLatenessMs, contextWaitMs: config.contextWaitMs, contextRetryMs: Math.min(500, Math.max(50, config.pollIntervalMs)) },
      metrics: responderMetrics,
      intervalMs: config.pollIntervalMs,
      // A taken reply stays reserved longer than its provider may take to answer.
      leaseMs: config.llmTimeoutMs + 30_000,
    });
    stops.push(() => poller.stop());

    const consumers: RunningConsumer[] = await startConsumers(kafka, config.consumerGroups, config.inputTopics, { logger, context, pageAccounts, replies, publisher, clock, onReplyMayBeDue: () => poller.wake() });
    for (const consumer of consumers) stops.push(() => consumer.stop());
    poller.start();

    logger.info({ port: server.port, schema: config.databaseSchema, consumerGroups: config.consumerGroups, inputTopics: config.inputTopics }, 'responder started');
    return { url: server.url, port: server.port, poller, stop: stopAll };
  } catch (error) {
    await stopAll();
    throw error;
  }
}
