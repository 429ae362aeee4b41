import { z } from 'zod';
import { env } from '@parley/config';
import type { ApiKeyRefs } from './assistants/secrets.ts';
import { DEFAULT_INPUT_TOPICS } from './consumers.ts';
import type { ConsumerGroups, InputTopics } from './consumers.ts';
import { MESSENGER_TEXT_LIMIT, MIN_PART_CHARS, validateShapeOptions } from './shaping/shape.ts';
import type { ShapeOptions } from './shaping/shape.ts';

/** The responder's environment (validated at start-up; every problem is reported at once). */
export const responderEnv = {
  KAFKA_BROKERS: env.kafkaBrokers,
  KAFKA_NAMESPACE: env.kafkaNamespace,
  DATABASE_URL: env.databaseUrl,
  DATABASE_PREPARED_STATEMENTS: env.databasePreparedStatements,
  DATABASE_SCHEMA: z.string().regex(/^[a-z_][a-z0-9_]{0,62}$/).default('responder'),
  PORT: env.port(3004),
  LOG_LEVEL: env.logLevel,
  API_KEYS: env.apiKeys,
  /** Fernet keys (newest first) that encrypt provider API keys at rest; without them only apiKeyRef works. */
  TOKEN_ENCRYPTION_KEYS: env.list.optional(),
  /** Consumer groups are `<prefix>.decisions` and `<prefix>.context`. */
  CONSUMER_GROUP_PREFIX: z.string().regex(/^[\w.-]{1,200}$/).default('responder'),
  REPLY_POLL_INTERVAL_MS: z.coerce.number().int().min(50).max(60_000).default(500),
  LLM_TIMEOUT_MS: z.coerce.number().int().min(100).max(120_000).default(20_000),
  LLM_ALLOW_PRIVATE_NETWORK: env.boolean(false),
  MAX_REPLY_LATENESS_MS: z.coerce.number().int().min(1_000).default(3_600_000),
  CONTEXT_WAIT_MS: z.coerce.number().int().min(0).max(120_000).default(5_000),
  MAX_MESSAGE_CHARS: z.coerce.number().int().min(MIN_PART_CHARS).max(MESSENGER_TEXT_LIMIT - 1).default(320),
  MAX_MESSAGE_PARTS: z.coerce.number().int().min(2).max(20).default(5),
  /** How long an assistant read for an answer is reused; another replica's change shows within it. 0: read for every answer. */
  ASSISTANT_CACHE_MS: z.coerce.number().int().min(0).max(300_000).default(5_000),
};

export type ResponderEnv = z.infer<z.ZodObject<typeof responderEnv>>;

/** What startResponder needs; tests build it directly (fresh schema, unique consumer groups, port 0). */
export type ResponderConfig = {
  /** Prefix of every topic and consumer group (KAFKA_NAMESPACE); empty in most deployments. */
  kafkaNamespace?: string;
  kafkaBrokers: ReadonlyArray<string>;
  databaseUrl: string;
  databaseSchema: string;
  /** DATABASE_PREPARED_STATEMENTS (see @parley/config). */
  databasePreparedStatements: boolean;
  port: number;
  /** API key → account id. */
  apiKeys: ReadonlyMap<string, string>;
  tokenEncryptionKeys?: ReadonlyArray<string> | undefined;
  /** Operator-configured provider keys by name (LLM_API_KEY_<NAME>, bound to LLM_API_KEY_<NAME>_BASE_URL). */
  apiKeyRefs: ApiKeyRefs;
  consumerGroups: ConsumerGroups;
  /** What is consumed (Parley's topics in production). What is produced always goes to Parley's topics. */
  inputTopics: InputTopics;
  pollIntervalMs: number;
  llmTimeoutMs: number;
  /** Per-assistant breaker settings (tests open it after few failures). */
  llmBreaker?: { volumeThreshold?: number; errorThresholdPercentage?: number; resetTimeoutMs?: number };
  allowPrivateNetwork: boolean;
  maxReplyLatenessMs: number;
  contextWaitMs: number;
  shape: ShapeOptions;
  /** ASSISTANT_CACHE_MS; unset: every answer reads its assistant. */
  assistantCacheMs?: number;
};

export function toResponderConfig(parsed: ResponderEnv, apiKeyRefs: ApiKeyRefs): ResponderConfig {
  const shape = { maxChars: parsed.MAX_MESSAGE_CHARS, maxParts: parsed.MAX_MESSAGE_PARTS };
  validateShapeOptions(shape);
  return {
    kafkaBrokers: parsed.KAFKA_BROKERS,
    kafkaNamespace: parsed.KAFKA_NAMESPACE,
    databaseUrl: parsed.DATABASE_URL,
    databaseSchema: parsed.DATABASE_SCHEMA,
    databasePreparedStatements: parsed.DATABASE_PREPARED_STATEMENTS,
    port: parsed.PORT,
    apiKeys: parsed.API_KEYS,
    tokenEncryptionKeys: parsed.TOKEN_ENCRYPTION_KEYS,
    apiKeyRefs,
    consumerGroups: { decisions: `${parsed.CONSUMER_GROUP_PREFIX}.decisions`, context: `${parsed.CONSUMER_GROUP_PREFIX}.context` },
    inputTopics: DEFAULT_INPUT_TOPICS,
    pollIntervalMs: parsed.REPLY_POLL_INTERVAL_MS,
    llmTimeoutMs: parsed.LLM_TIMEOUT_MS,
    allowPrivateNetwork: parsed.LLM_ALLOW_PRIVATE_NETWORK,
    maxReplyLatenessMs: parsed.MAX_REPLY_LATENESS_MS,
    assistantCacheMs: parsed.ASSISTANT_CACHE_MS,
    contextWaitMs: parsed.CONTEXT_WAIT_MS,
    shape,
  };
}
