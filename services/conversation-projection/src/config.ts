import { env } from '@parley/config';
import { TOPICS } from '@parley/contracts';
import { z } from 'zod';

const list = z
  .string()
  .default('')
  .transform((value) => value.split(',').map((v) => v.trim()).filter(Boolean));

/** Every environment variable the service reads (see README.md). */
export const configShape = {
  KAFKA_BROKERS: env.kafkaBrokers,
  /** A prefix for every topic and consumer group (environments sharing a cluster); see docs/architecture.md. */
  KAFKA_NAMESPACE: env.kafkaNamespace,
  DATABASE_URL: env.databaseUrl,
  DATABASE_PREPARED_STATEMENTS: env.databasePreparedStatements,
  PORT: env.port(3006),
  LOG_LEVEL: env.logLevel,
  /** `accountId:key` pairs: a key sees and changes only its account's Pages. */
  API_KEYS: env.apiKeys,
  /** Accounts whose keys may use `/v1/admin/*` (rebuilds): operators, not tenants. */
  ADMIN_ACCOUNT_IDS: list,
  /** Our Meta app: an echo carrying it is one of our sends; any other is a person in Meta's inbox. */
  META_APP_ID: env.string,
  GRAPH_API_BASE_URL: env.url('https://graph.facebook.com'),
  GRAPH_API_VERSION: env.graphApiVersion,
  /** auth-token's internal API, for the Page tokens the profile enricher needs. */
  AUTH_TOKEN_URL: env.url(),
  INTERNAL_API_TOKEN: env.string,
  /** The control schema; the inbox itself lives in `<schema>_inbox` or `<schema>_rebuild_<id>`. */
  DB_SCHEMA: z.string().regex(/^[a-z_][a-z0-9_]{0,30}$/, 'lower-case letters, digits and _ (at most 31)').default('projection'),
  /** The live consumer group; a rebuild reads with `<group>-rebuild-<id>` and keeps it afterwards. */
  CONSUMER_GROUP: z.string().trim().min(1).default('conversation-projection'),
  /** What the inbox is built from: every event topic unless told otherwise (tests, benchmarks). */
  PROJECTION_TOPICS: z
    .string()
    .default(Object.values(TOPICS).join(','))
    .transform((value) => value.split(',').map((v) => v.trim()).filter(Boolean))
    .pipe(z.array(z.string()).min(1)),
  PROFILE_ENRICHMENT: env.boolean(true),
  PROFILE_POLL_MS: z.coerce.number().int().positive().default(2_000),
  SSE_HEARTBEAT_MS: z.coerce.number().int().positive().default(15_000),
  /** How long a replaced copy of the inbox keeps serving in-flight requests before it is dropped. */
  REBUILD_RETIRE_AFTER_MS: z.coerce.number().int().nonnegative().default(60_000),
  DB_POOL_SIZE: z.coerce.number().int().positive().default(8),
};

export type ProjectionConfig = z.infer<z.ZodObject<typeof configShape>>;
