import { randomUUID } from 'node:crypto';
import { TOPICS } from '@parley/contracts';
import type { ParleyEvent } from '@parley/contracts';
import { createHttpApp, startHttpServer } from '@parley/http';
import { BACKGROUND_FETCH, createEventPublisher, createKafkaClient, handlersOfMany, isBrokerReachable, startEventConsumer } from '@parley/messaging';
import type { RunningConsumer } from '@parley/messaging';
import { createMetricsRegistry } from '@parley/observability';
import type { Logger, Registry } from '@parley/observability';
import { openDatabase } from '@parley/persistence';
import type { RulesConfig } from './config.ts';
import { createConversationEventsHandler } from './conversations/conversation-events-handler.ts';
import { DEFAULT_AWAY_MESSAGE_INTERVAL_MS } from './decisions/decide.ts';
import type { Random } from './decisions/delay.ts';
import { createInboundHandler } from './decisions/inbound-handler.ts';
import { createRulesMetrics } from './metrics.ts';
import { migrations } from './migrations.ts';
import { createPageEventsHandler } from './pages/page-events-handler.ts';
import { startWindowScheduler } from './reply-window/scheduler.ts';
import type { WindowScheduler } from './reply-window/scheduler.ts';
import { mountSettingsRoutes } from './settings/routes.ts';
import { startProcessedEventsPruner } from './store/pruner.ts';
import type { ProcessedEventsPruner } from './store/pruner.ts';
import { createRulesStore } from './store/store.ts';

/** How often the ids of old applied events are forgotten (see PROCESSED_EVENTS_RETENTION_HOURS). */
const PRUNE_INTERVAL_MS = 10 * 60_000;

export type RulesDeps = {
  logger: Logger;
  /** Time for decisions and the reply-window scheduler (tests move it forward). */
  clock?: () => Date;
  /** The source for response delays (tests fix it). */
  random?: Random;
  newId?: () => string;
  metrics?: Registry;
};

export type RunningRules = {
  url: string;
  port: number;
  /** Resolves once every consumer has joined its group. */
  ready: Promise<void>;
  windowScheduler: WindowScheduler;
  processedEventsPruner: ProcessedEventsPruner;
  stop(): Promise<void>;
};

/**
 * The composition root: database (schema and migrations), Kafka publisher, the settings API, one
 * consumer group per topic (so that an inbound event waiting for its Page's `page.connected` never
 * holds up the page events it waits for), and the reply-window scheduler.
 */
export async function startRules(config: RulesConfig, deps: RulesDeps): Promise<RunningRules> {
  const logger = deps.logger;
  const clock = deps.clock ?? (() => new Date());
  const random = deps.random ?? Math.random;
  const newId = deps.newId ?? randomUUID;
  const registry = deps.metrics ?? createMetricsRegistry('rules');
  const metrics = createRulesMetrics(registry);

  const db = await openDatabase({ databaseUrl: config.DATABASE_URL, schema: config.DATABASE_SCHEMA, logger, migrations, preparedStatements: config.DATABASE_PREPARED_STATEMENTS, metrics: registry });
  const store = createRulesStore(db);
  const kafka = createKafkaClient({ brokers: config.KAFKA_BROKERS, clientId: 'rules', logger , namespace: config.KAFKA_NAMESPACE ?? '' });
  const publisher = createEventPublisher({ kafka, logger });

  const app = createHttpApp({
    service: 'rules',
    logger,
    metrics: registry,
    readiness: { database: () => db.isReachable(), kafka: () => isBrokerReachable(kafka) },
    routes: (express) => mountSettingsRoutes(express, { apiKeys: config.API_KEYS, store, publisher, clock, newId, logger }),
  });
  const server = await startHttpServer(app, config.PORT);

  const consumers: RunningConsumer[] = [];
  const group = (name: string) => `${config.CONSUMER_GROUP_PREFIX}.${name}`;
  const pageFilter = config.PAGE_ID_FILTER;
  const inScope = (event: ParleyEvent) => pageFilter === null || pageFilter.test(event.pageId);
  const pageEvents = createPageEventsHandler({ store, logger });
  const conversationEvents = handlersOfMany(createConversationEventsHandler({ store }), inScope);
  try {
    consumers.push(
      // Page events, and what happened to sends and decisions, are bookkeeping no answer waits for:
      // their fetches are held for fuller batches (BACKGROUND_FETCH). Inbound events are decided at once.
      await startEventConsumer({ kafka, publisher, logger, groupId: group('pages'), topics: [TOPICS.pages], fetch: BACKGROUND_FETCH, handle: async (event) => (inScope(event) ? pageEvents(event) : undefined) }),
      await startEventConsumer({
        kafka,
        publisher,
        logger,
        groupId: group('inbound'),
        topics: [TOPICS.inbound],
        ...handlersOfMany(createInboundHandler({
          store,
          publisher,
          clock,
          random,
          policy: { metaAppId: config.META_APP_ID, awayMessageIntervalMs: DEFAULT_AWAY_MESSAGE_INTERVAL_MS },
          unknownPageGraceMs: config.UNKNOWN_PAGE_GRACE_SECONDS * 1_000,
          logger,
          metrics,
        }), inScope),
      }),
      await startEventConsumer({ kafka, publisher, logger, groupId: group('outbound'), topics: [TOPICS.outboundEvents], fetch: BACKGROUND_FETCH, ...conversationEvents }),
      await startEventConsumer({ kafka, publisher, logger, groupId: group('decisions'), topics: [TOPICS.decisions], fetch: BACKGROUND_FETCH, ...conversationEvents }),
    );
  } catch (error) {
    await Promise.allSettled(consumers.map((c) => c.stop()));
    await server.close().catch(() => undefined);
    await publisher.disconnect().catch(() => undefined);
    await db.close().catch(() => undefined);
    throw error;
  }

  const windowScheduler = startWindowScheduler({
    store,
    publisher,
    clock,
    leadMs: config.REPLY_WINDOW_ALERT_LEAD_MINUTES * 60_000,
    intervalMs: config.WINDOW_SCHEDULER_INTERVAL_MS,
    logger,
    metrics,
  });

  const processedEventsPruner = startProcessedEventsPruner({
    store,
    clock,
    retentionMs: config.PROCESSED_EVENTS_RETENTION_HOURS * 3_600_000,
    intervalMs: PRUNE_INTERVAL_MS,
    logger,
  });

  return {
    url: server.url,
    port: server.port,
    ready: Promise.all(consumers.map((c) => c.ready)).then(() => undefined),
    windowScheduler,
    processedEventsPruner,
    async stop() {
      // Stop taking work (HTTP, then records, then the alarm), let in-flight work finish, then disconnect.
      await server.close().catch((error: unknown) => logger.warn({ err: error }, 'closing the HTTP server failed'));
      await Promise.allSettled(consumers.map((c) => c.stop()));
      await windowScheduler.stop();
      await processedEventsPruner.stop();
      await publisher.disconnect().catch(() => undefined);
      await db.close();
    },
  };
}
