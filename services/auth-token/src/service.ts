// The composition root: database, Graph client, Kafka, HTTP routes, the health scheduler and the
// token-rejection consumer. Integration tests start the service in-process through startAuthToken.
import { TOPICS } from '@parley/contracts';
import { createGraphApiClient } from '@parley/graph-api';
import type { GraphApiClient } from '@parley/graph-api';
import { createHttpApp, startHttpServer } from '@parley/http';
import { BACKGROUND_FETCH, createEventPublisher, createKafkaClient, isBrokerReachable, startEventConsumer } from '@parley/messaging';
import { breakerReporter, createMetricsRegistry } from '@parley/observability';
import type { Logger, Registry } from '@parley/observability';
import { openDatabase } from '@parley/persistence';
import { startOutboxRelay } from '@parley/outbox';
import { createApiKeyAuthenticator } from './auth.ts';
import { dialogUrlOf, redirectUriOf } from './config.ts';
import type { AuthTokenConfig } from './config.ts';
import { mountConnectRoutes } from './connect/connect-routes.ts';
import { createConnections } from './connection/connections.ts';
import { mountPagesRoutes } from './connection/pages-routes.ts';
import { startHealthScheduler } from './health/scheduler.ts';
import { tokenRejectedHandler } from './health/token-rejected.ts';
import { migrations } from './migrations.ts';
import { mountTokenRoutes } from './tokens/token-routes.ts';
import { createTokenVault } from './tokens/vault.ts';

export type AuthTokenDeps = {
  logger: Logger;
  /** Epoch ms; tests pass a clock they move. */
  now?: () => number;
  metrics?: Registry;
  /** Tests may pass a client with other timeouts; by default one is made from the config. */
  graph?: GraphApiClient;
};

export type RunningAuthToken = {
  url: string;
  port: number;
  /** Publishes the events waiting in the outbox (tests, shutdown). */
  flushEvents(): Promise<void>;
  /** Runs one round of due health checks and login renewals now. */
  runHealthChecks(): Promise<void>;
  /** Resolves once the token-rejection consumer has joined its group. */
  consumerReady: Promise<void>;
  stop(): Promise<void>;
};

export async function startAuthToken(config: AuthTokenConfig, deps: AuthTokenDeps): Promise<RunningAuthToken> {
  const { logger } = deps;
  const now = deps.now ?? Date.now;
  const metrics = deps.metrics ?? createMetricsRegistry('auth-token');
  const breakers = breakerReporter({ logger, metrics });
  breakers.watch('graph-api');
  const appSecret = config.META_APP_SECRET[0]!; // the newest secret signs our calls

  const db = await openDatabase({ databaseUrl: config.DATABASE_URL, schema: config.DATABASE_SCHEMA, logger, migrations, preparedStatements: config.DATABASE_PREPARED_STATEMENTS, metrics });
  const vault = createTokenVault(config.TOKEN_ENCRYPTION_KEYS);
  const graph =
    deps.graph ??
    createGraphApiClient({
      appId: config.META_APP_ID,
      appSecret,
      baseUrl: config.GRAPH_API_BASE_URL,
      version: config.GRAPH_API_VERSION,
      breaker: { name: 'graph-api' },
      onStateChange: breakers.report,
    });
  const kafka = createKafkaClient({ brokers: config.KAFKA_BROKERS, clientId: 'auth-token', logger , namespace: config.KAFKA_NAMESPACE ?? '' });
  const publisher = createEventPublisher({ kafka, logger });
  const relay = startOutboxRelay({ db, publisher, logger, pollMs: 1_000 });

  const connections = createConnections({
    db,
    graph,
    vault,
    logger,
    appId: config.META_APP_ID,
    now,
    onEventsWritten: () => relay.wake(),
    checkIntervalMs: config.TOKEN_CHECK_INTERVAL_MS,
    checkRetryMs: config.TOKEN_CHECK_RETRY_MS,
    expiryWarningMs: config.EXPIRY_WARNING_MS,
  });
  const authenticate = createApiKeyAuthenticator(config.API_KEYS);

  const app = createHttpApp({
    service: 'auth-token',
    logger,
    metrics,
    readiness: { database: () => db.isReachable(), broker: () => isBrokerReachable(kafka) },
    routes: (routes) => {
      mountConnectRoutes(routes, {
        db,
        graph,
        vault,
        connections,
        logger,
        now,
        authenticate,
        appId: config.META_APP_ID,
        dialogUrl: dialogUrlOf(config),
        redirectUri: redirectUriOf(config),
        stateSecret: config.OAUTH_STATE_SECRET,
        subscribeFeedByDefault: config.SUBSCRIBE_FEED,
        consoleUrl: config.CONSOLE_URL,
        userTokenRefreshBeforeMs: config.USER_TOKEN_REFRESH_BEFORE_MS,
      });
      mountPagesRoutes(routes, { db, connections, authenticate });
      mountTokenRoutes(routes, { db, vault, internalApiToken: config.INTERNAL_API_TOKEN, logger });
    },
  });

  let server: Awaited<ReturnType<typeof startHttpServer>>;
  try {
    server = await startHttpServer(app, config.PORT);
  } catch (error) {
    // e.g. the port is taken: release what was opened so far.
    await relay.stop();
    await publisher.disconnect().catch(() => undefined);
    if (!deps.graph) graph.shutdown();
    await db.close();
    throw error;
  }
  logger.info({ port: server.port }, 'auth-token is listening');

  const scheduler = startHealthScheduler({
    db,
    graph,
    vault,
    connections,
    logger,
    now,
    appId: config.META_APP_ID,
    pollIntervalMs: config.HEALTH_POLL_INTERVAL_MS,
    checkRetryMs: config.TOKEN_CHECK_RETRY_MS,
    refreshBeforeMs: config.USER_TOKEN_REFRESH_BEFORE_MS,
  });
  const consumer = await startEventConsumer({
    kafka,
    publisher,
    logger,
    groupId: config.TOKEN_REJECTED_GROUP_ID,
    topics: [TOPICS.outboundEvents],
    fromBeginning: config.TOKEN_REJECTED_FROM_BEGINNING,
    fetch: BACKGROUND_FETCH,
    handle: tokenRejectedHandler({ db, logger, now, wake: () => scheduler.wake() }),
  });

  let stopping: Promise<void> | undefined;
  return {
    url: server.url,
    port: server.port,
    flushEvents: () => relay.flush(),
    runHealthChecks: () => scheduler.runOnce(),
    consumerReady: consumer.ready,
    stop() {
      stopping ??= (async () => {
        await server.close();
        await consumer.stop();
        await scheduler.stop();
        await relay.stop(); // publishes what the last work wrote
        await publisher.disconnect();
        if (!deps.graph) graph.shutdown();
        await db.close();
      })();
      return stopping;
    },
  };
}
