import { createGraphApiClient } from '@parley/graph-api';
import type { GraphApiClient } from '@parley/graph-api';
import { createHttpApp, startHttpServer } from '@parley/http';
import { createEventPublisher, createKafkaClient, isBrokerReachable } from '@parley/messaging';
import { Counter, breakerReporter, createMetricsRegistry } from '@parley/observability';
import type { Logger } from '@parley/observability';
import { openDatabase } from '@parley/persistence';
import { requireAccount, requireAdmin } from './api/auth.ts';
import { mountProjectionApi } from './api/routes.ts';
import type { ProjectionConfig } from './config.ts';
import type { AppliedBatch } from './inbox/projector.ts';
import { createProfileEnricher } from './profiles/enricher.ts';
import type { ProfileEnricher } from './profiles/enricher.ts';
import { createPageTokens } from './profiles/page-tokens.ts';
import { startInboxHost } from './rebuild/inbox-host.ts';
import type { InboxHost } from './rebuild/inbox-host.ts';
import { controlMigrations } from './rebuild/migrations.ts';
import { AgentReplyEntity } from './replies/agent-reply.ts';
import { replyMigrations } from './replies/migrations.ts';
import { startChangeLogPruning } from './stream/prune.ts';
import type { StreamRegistry } from './stream/routes.ts';

export type ProjectionDeps = {
  logger: Logger;
  /** Epoch ms; tests pass a fixed clock to check reply windows. */
  clock?: () => number;
  /** Test hook: runs after each committed batch (throwing there is a crash after the commit). */
  afterBatchCommitted?: (batch: AppliedBatch & { schema: string }) => Promise<void> | void;
  /** How often a rebuild looks at its progress, and replicas at the pointer row (tests go faster). */
  rebuildPollMs?: number;
  pointerPollMs?: number;
};

export type RunningProjection = {
  url: string;
  port: number;
  host: InboxHost;
  enricher: ProfileEnricher | undefined;
  stop(): Promise<void>;
};

/** Wires the service: database, Kafka, the inbox (live and rebuilt copies), the API, the profile enricher. */
export async function startConversationProjection(config: ProjectionConfig, deps: ProjectionDeps): Promise<RunningProjection> {
  const { logger } = deps;
  const clock = deps.clock ?? Date.now;
  const metrics = createMetricsRegistry('conversation-projection');
  const applied = new Counter({ name: 'projection_events_applied_total', help: 'Events applied to the serving inbox', labelNames: ['topic'], registers: [metrics] });
  const kafka = createKafkaClient({ brokers: config.KAFKA_BROKERS, clientId: 'conversation-projection', logger, namespace: config.KAFKA_NAMESPACE });
  const publisher = createEventPublisher({ kafka, logger });
  const control = await openDatabase({
    databaseUrl: config.DATABASE_URL,
    schema: config.DB_SCHEMA,
    logger,
    migrations: [...controlMigrations, ...replyMigrations],
    entities: [AgentReplyEntity],
    poolSize: 3,
    preparedStatements: config.DATABASE_PREPARED_STATEMENTS,
    metrics,
  });

  const host = await startInboxHost({
    control,
    kafka,
    publisher,
    logger,
    context: { ourAppIds: new Set([config.META_APP_ID]) },
    databaseUrl: config.DATABASE_URL,
    baseSchema: config.DB_SCHEMA,
    consumerGroup: config.CONSUMER_GROUP,
    topics: config.PROJECTION_TOPICS,
    retireAfterMs: config.REBUILD_RETIRE_AFTER_MS,
    metrics,
    poolSize: config.DB_POOL_SIZE,
    preparedStatements: config.DATABASE_PREPARED_STATEMENTS,
    ...(deps.rebuildPollMs !== undefined ? { rebuildPollMs: deps.rebuildPollMs } : {}),
    ...(deps.pointerPollMs !== undefined ? { pointerPollMs: deps.pointerPollMs } : {}),
    ...(deps.afterBatchCommitted ? { afterBatchCommitted: deps.afterBatchCommitted } : {}),
  });

  let graph: GraphApiClient | undefined;
  let enricher: ProfileEnricher | undefined;
  const tokens = createPageTokens({ authTokenUrl: config.AUTH_TOKEN_URL, internalToken: config.INTERNAL_API_TOKEN, clock });
  if (config.PROFILE_ENRICHMENT) {
    const breakers = breakerReporter({ logger, metrics });
    breakers.watch('graph-api-profiles');
    graph = createGraphApiClient({
      appId: config.META_APP_ID,
      baseUrl: config.GRAPH_API_BASE_URL,
      version: config.GRAPH_API_VERSION,
      breaker: { name: 'graph-api-profiles' },
      onStateChange: breakers.report,
    });
    enricher = createProfileEnricher({
      inbox: () => host.current(),
      graph,
      tokens,
      publish: (events) => publisher.publish(events),
      logger,
      clock,
      pollMs: config.PROFILE_POLL_MS,
    });
  }
  const offApplied = host.onApplied((batch) => {
    applied.inc({ topic: batch.topic }, batch.applied);
    if (batch.newCustomers) enricher?.poke();
    // A Page whose connection changed: its cached token may be stale.
    for (const pageId of batch.pageIds) tokens.invalidate(pageId);
  });

  let brokerCheck = { at: 0, ok: false };
  const inbox = () => host.current();
  let streams: StreamRegistry | undefined;
  const app = createHttpApp({
    service: 'conversation-projection',
    logger,
    metrics,
    readiness: {
      database: () => inbox().db.isReachable(),
      kafka: async () => {
        if (Date.now() - brokerCheck.at > 2_000) brokerCheck = { at: Date.now(), ok: await isBrokerReachable(kafka) };
        return brokerCheck.ok;
      },
    },
    routes: (app) => {
      streams = mountProjectionApi(app, {
        host,
        control,
        publisher,
        auth: requireAccount(config.API_KEYS),
        admin: requireAdmin(config.ADMIN_ACCOUNT_IDS),
        clock,
        logger,
        heartbeatMs: config.SSE_HEARTBEAT_MS,
      });
    },
  });
  const server = await startHttpServer(app, config.PORT);
  const pruning = startChangeLogPruning(inbox, logger);
  logger.info({ port: server.port, schema: host.current().schema }, 'conversation-projection listening');

  return {
    url: server.url,
    port: server.port,
    host,
    enricher,
    async stop() {
      pruning.stop();
      offApplied();
      // Streams never end by themselves: end them so that the server can close.
      streams?.closeAll();
      await server.close();
      await enricher?.stop();
      graph?.shutdown();
      await host.stop();
      await publisher.disconnect();
      await control.close();
    },
  };
}
