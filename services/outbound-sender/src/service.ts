// The composition root: database, Kafka, the Graph API client (one breaker), the token provider,
// the outbox relay, the dispatcher, the consumers and the HTTP app (health, readiness, metrics).
import { AsyncLocalStorage } from 'node:async_hooks';
import { TOPICS } from '@parley/contracts';
import type { ParleyEvent } from '@parley/contracts';
import { createGraphApiClient } from '@parley/graph-api';
import { createHttpApp, startHttpServer } from '@parley/http';
import { BACKGROUND_FETCH, createEventPublisher, createKafkaClient, handlersOfMany, isBrokerReachable, startEventConsumer } from '@parley/messaging';
import { breakerReporter, createMetricsRegistry } from '@parley/observability';
import type { Logger, Registry } from '@parley/observability';
import { openDatabase } from '@parley/persistence';
import { startOutboxRelay } from '@parley/outbox';
import type { OutboxRelay } from '@parley/outbox';
import { systemClock } from './clock.ts';
import type { Clock } from './clock.ts';
import type { OutboundSenderConfig } from './config.ts';
import { startDispatcher } from './dispatch/dispatcher.ts';
import type { Dispatcher } from './dispatch/dispatcher.ts';
import { createDispatchMetrics } from './dispatch/metrics.ts';
import { migrations } from './migrations.ts';
import { createPageEventsHandler } from './page-connections/page-events-handler.ts';
import { createEchoHandler, createEchoMetrics } from './reconciliation/echo-handler.ts';
import { createPageTokenProvider } from './page-tokens/token-provider.ts';
import { createCommandHandler } from './scheduling/command-handler.ts';
import { createLedger } from './scheduling/ledger.ts';
import { createPageRateLimiter } from './throttling/page-rate-limiter.ts';
import { pageUsageListener } from './throttling/usage-listener.ts';

export const SERVICE_NAME = 'outbound-sender';

export type OutboundSenderDeps = {
  logger: Logger;
  /** Injectable time (tests move it instead of waiting). Default: the system clock. */
  clock?: Clock;
  /** Injectable randomness for backoff jitter. */
  random?: () => number;
  metrics?: Registry;
  /**
   * Which Pages this instance acts for (default: all). Tests that share a broker with other tests
   * pass their own Pages, so a test instance never answers another test's commands.
   */
  acceptPage?: (pageId: string) => boolean;
};

export type RunningOutboundSender = {
  url: string;
  port: number;
  /** The dispatcher, for tests: `wake()` after moving the clock, `passes()` to know it looked. */
  dispatcher: Pick<Dispatcher, 'wake' | 'passes'>;
  /** The outbox relay, for tests: `reads()` to know how often it looked. */
  relay: Pick<OutboxRelay, 'reads'>;
  /** Resolves when the three consumers (commands, page events, echoes) have joined their groups. */
  ready: Promise<void>;
  /** Stops taking commands, finishes the Send API calls in flight, publishes the outbox, disconnects. */
  stop(): Promise<void>;
};

export async function startOutboundSender(config: OutboundSenderConfig, deps: OutboundSenderDeps): Promise<RunningOutboundSender> {
  const logger = deps.logger;
  const clock = deps.clock ?? systemClock;
  const metrics = deps.metrics ?? createMetricsRegistry(SERVICE_NAME);

  const db = await openDatabase({ databaseUrl: config.DATABASE_URL, schema: config.DATABASE_SCHEMA, logger, migrations, poolSize: config.DISPATCH_CONCURRENCY * 2 + 8, preparedStatements: config.DATABASE_PREPARED_STATEMENTS, metrics });
  const ledger = createLedger(db);
  const kafka = createKafkaClient({ brokers: config.KAFKA_BROKERS, clientId: SERVICE_NAME, logger, namespace: config.KAFKA_NAMESPACE ?? '' });
  const publisher = createEventPublisher({ kafka, logger });

  const limiter = createPageRateLimiter({ ratePerSecond: config.PAGE_SEND_RATE_PER_SECOND });
  const pageContext = new AsyncLocalStorage<string>();
  const breakers = breakerReporter({ logger, metrics });
  breakers.watch('graph-api');
  const appSecret = config.META_APP_SECRET?.split(',')[0]?.trim();
  const graph = createGraphApiClient({
    appId: config.META_APP_ID,
    ...(appSecret ? { appSecret } : {}),
    baseUrl: config.GRAPH_API_BASE_URL,
    version: config.GRAPH_API_VERSION,
    timeoutMs: config.GRAPH_TIMEOUT_MS,
    breaker: {
      name: 'graph-api',
      resetTimeout: config.GRAPH_BREAKER_RESET_MS,
      volumeThreshold: config.GRAPH_BREAKER_VOLUME_THRESHOLD,
      errorThresholdPercentage: config.GRAPH_BREAKER_ERROR_PERCENT,
    },
    onStateChange: breakers.report,
    // Usage headers slow down the Page the call was made for (the dispatcher runs each call in its context).
    onUsage: pageUsageListener(limiter, pageContext, clock),
  });
  const tokens = createPageTokenProvider({
    authTokenUrl: config.AUTH_TOKEN_URL,
    internalApiToken: config.INTERNAL_API_TOKEN,
    clock,
    logger,
    cacheMs: config.TOKEN_CACHE_MS,
  });

  const relay = startOutboxRelay({ db, publisher, logger });
  const dispatchMetrics = createDispatchMetrics(metrics);
  const dispatcher = startDispatcher({
    db,
    ledger,
    graph,
    tokens,
    limiter,
    clock,
    logger,
    metrics: dispatchMetrics,
    policy: {
      maxAttempts: config.SEND_MAX_ATTEMPTS,
      baseDelayMs: config.SEND_RETRY_BASE_MS,
      maxDelayMs: config.SEND_RETRY_MAX_MS,
      breakerRetryMs: config.GRAPH_BREAKER_RESET_MS,
    },
    reconcile: {
      echoWaitMs: config.ECHO_WAIT_MS,
      resendUnconfirmed: config.RETRY_TIMED_OUT_SENDS,
      maxAttempts: config.SEND_MAX_ATTEMPTS,
    },
    pageContext,
    ...(deps.random ? { random: deps.random } : {}),
    concurrency: config.DISPATCH_CONCURRENCY,
    pollMs: config.DISPATCH_POLL_MS,
    holdRecheckMs: config.HOLD_RECHECK_MS,
    tokenRetryMs: config.TOKEN_RETRY_MS,
    onEvents: () => relay.wake(),
  });

  // If the consumers or the server cannot start, undo what did start before failing.
  const started: Array<() => Promise<unknown>> = [() => dispatcher.stop(), () => relay.stop(), () => publisher.disconnect(), async () => graph.shutdown(), () => db.close()];
  const abort = async (error: unknown): Promise<never> => {
    for (const undo of started) await undo().catch(() => undefined);
    throw error;
  };

  const acceptPage = deps.acceptPage ?? (() => true);
  const forAcceptedPages =
    (handle: (event: ParleyEvent) => Promise<void>) =>
    async (event: ParleyEvent): Promise<void> => {
      if (acceptPage(event.pageId)) await handle(event);
    };

  const commands = await startEventConsumer({
    kafka,
    publisher,
    logger,
    groupId: config.CONSUMER_GROUP_ID,
    topics: [TOPICS.outboundCommands],
    fromBeginning: config.CONSUME_FROM_BEGINNING,
    ...handlersOfMany(createCommandHandler({
      db,
      ledger,
      clock,
      logger,
      onStored: (dueAt) => {
        if (dueAt.getTime() <= clock.now().getTime()) dispatcher.wakeOne();
      },
      onEvents: () => relay.wake(),
    }), (event) => acceptPage(event.pageId)),
  }).catch(abort);
  started.unshift(() => commands.stop());
  const pages = await startEventConsumer({
    kafka,
    publisher,
    logger,
    groupId: `${config.CONSUMER_GROUP_ID}.pages`,
    topics: [TOPICS.pages],
    fromBeginning: config.CONSUME_FROM_BEGINNING,
    fetch: BACKGROUND_FETCH,
    handle: forAcceptedPages(createPageEventsHandler({ db, ledger, tokens, clock, logger, onSendsWoken: () => dispatcher.wake() })),
  }).catch(abort);
  started.unshift(() => pages.stop());
  // Meta's echoes of what the Pages sent settle the parts whose delivery Meta did not confirm.
  // Off the answer's path (the Send API's answer settles a part first, nearly always), and it reads
  // every inbound event: its fetches are held for fuller batches (5.0–5.3 against 6.0–6.2 ms of
  // this service's CPU per answer at 50/s, seventh session).
  const echoes = await startEventConsumer({
    kafka,
    publisher,
    logger,
    groupId: `${config.CONSUMER_GROUP_ID}.echoes`,
    topics: [TOPICS.inbound],
    fromBeginning: config.CONSUME_FROM_BEGINNING,
    fetch: BACKGROUND_FETCH,
    handle: forAcceptedPages(createEchoHandler({
      db,
      ledger,
      clock,
      logger,
      appId: config.META_APP_ID,
      echoes: createEchoMetrics(metrics),
      partsSent: dispatchMetrics.partsSent,
      onEvents: () => relay.wake(),
      onSendDue: () => dispatcher.wakeOne(),
    })),
  }).catch(abort);
  started.unshift(() => echoes.stop());

  const app = createHttpApp({
    service: SERVICE_NAME,
    logger,
    metrics,
    readiness: { database: () => db.isReachable(), kafka: () => isBrokerReachable(kafka) },
    routes: () => {
      // No business API: commands come from Kafka, results go to Kafka.
    },
  });
  const server = await startHttpServer(app, config.PORT).catch(abort);
  logger.info({ port: server.port }, 'outbound-sender started');

  let stopping: Promise<void> | undefined;
  return {
    url: server.url,
    port: server.port,
    dispatcher,
    relay,
    ready: Promise.all([commands.ready, pages.ready, echoes.ready]).then(() => undefined),
    stop() {
      stopping ??= (async () => {
        // The dispatcher first: it lets go of its sends between parts (they stay due) while the
        // consumers leave their groups; commands stored meanwhile are durable anyway.
        const dispatching = dispatcher.stop();
        await Promise.allSettled([server.close(), commands.stop(), pages.stop(), echoes.stop()]);
        await dispatching;
        await relay.stop();
        await publisher.disconnect().catch((error: unknown) => logger.warn({ err: error }, 'disconnecting the publisher failed'));
        graph.shutdown();
        await db.close();
      })();
      return stopping;
    },
  };
}
