import { env } from '@parley/config';
import { z } from 'zod';

const positiveInt = (fallback: number) => z.coerce.number().int().positive().default(fallback);

/** outbound-sender's environment (see README.md). */
export const configShape = {
  KAFKA_BROKERS: env.kafkaBrokers,
  KAFKA_NAMESPACE: env.kafkaNamespace,
  DATABASE_URL: env.databaseUrl,
  DATABASE_PREPARED_STATEMENTS: env.databasePreparedStatements,
  DATABASE_SCHEMA: z.string().regex(/^[a-z_][a-z0-9_]{0,62}$/, 'must be a lower-case SQL identifier').default('outbound_sender'),
  PORT: env.port(3005),
  LOG_LEVEL: env.logLevel,
  GRAPH_API_BASE_URL: env.url('https://graph.facebook.com'),
  GRAPH_API_VERSION: env.graphApiVersion,
  META_APP_ID: env.string,
  /** Optional here: when set, every Graph call carries appsecret_proof. A list (rotation) uses the first. */
  META_APP_SECRET: env.optionalString,
  AUTH_TOKEN_URL: env.url(),
  INTERNAL_API_TOKEN: env.string,
  /** Consumer group of outbound.commands.v1; page.events.v1 uses `<group>.pages`, messenger.inbound.v1 (echoes) `<group>.echoes`. */
  CONSUMER_GROUP_ID: z.string().min(1).default('outbound-sender'),
  /** A new consumer group starts at the beginning of the log (replays are no-ops: the ledger is keyed by outboundId). */
  CONSUME_FROM_BEGINNING: env.boolean(true),
  /** Send API calls per second per Page (typing indicators count). */
  PAGE_SEND_RATE_PER_SECOND: positiveInt(20),
  /**
   * Sends worked on at once by this replica. Each spends most of its time waiting (two Graph calls,
   * a dozen short statements), so more than the cores: with 4, sends queued for seconds at 20
   * answers a second (benchmarks.md); 12 holds at most 32 database connections (2 per send + 8).
   */
  DISPATCH_CONCURRENCY: positiveInt(12),
  DISPATCH_POLL_MS: positiveInt(500),
  SEND_MAX_ATTEMPTS: positiveInt(8),
  SEND_RETRY_BASE_MS: positiveInt(1_000),
  SEND_RETRY_MAX_MS: positiveInt(5 * 60_000),
  /**
   * A part Meta did not confirm (its call timed out, or the process died during it) waits ECHO_WAIT_MS
   * for Meta's echo; without one it is sent again (true) or given up as `unknown` (false: never a
   * duplicate, but a possibly dropped answer). See reconciliation/reconcile.ts.
   */
  RETRY_TIMED_OUT_SENDS: env.boolean(true),
  /** How long a part Meta did not confirm waits for its echo before it is sent again. */
  ECHO_WAIT_MS: positiveInt(30_000),
  /** How often a held send asks auth-token whether its Page is usable again. */
  HOLD_RECHECK_MS: positiveInt(5 * 60_000),
  TOKEN_CACHE_MS: positiveInt(60_000),
  TOKEN_RETRY_MS: positiveInt(5_000),
  GRAPH_TIMEOUT_MS: positiveInt(10_000),
  GRAPH_BREAKER_RESET_MS: positiveInt(30_000),
  GRAPH_BREAKER_VOLUME_THRESHOLD: positiveInt(10),
  GRAPH_BREAKER_ERROR_PERCENT: z.coerce.number().int().min(1).max(100).default(50),
};

export type OutboundSenderConfig = z.infer<z.ZodObject<typeof configShape>>;
