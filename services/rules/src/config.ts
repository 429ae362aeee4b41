import { z } from 'zod';
import { env } from '@parley/config';

/** The environment rules reads (CONTRACTS.md's variables plus its own tunables, all with defaults). */
export const rulesConfigShape = {
  KAFKA_BROKERS: env.kafkaBrokers,
  KAFKA_NAMESPACE: env.kafkaNamespace,
  DATABASE_URL: env.databaseUrl,
  DATABASE_PREPARED_STATEMENTS: env.databasePreparedStatements,
  /** Its own schema; tests give a fresh one. */
  DATABASE_SCHEMA: z.string().regex(/^[a-z_][a-z0-9_]{0,62}$/, 'must be a lower-case SQL identifier').default('rules'),
  PORT: env.port(3003),
  LOG_LEVEL: env.logLevel,
  API_KEYS: env.apiKeys,
  /** Our Meta app: echoes from another app are people answering in Meta's inbox. */
  META_APP_ID: env.string,
  /** Consumer groups are `<prefix>.inbound`, `.pages`, `.outbound`, `.decisions`; tests use a unique prefix. */
  CONSUMER_GROUP_PREFIX: z.string().regex(/^[\w.-]{1,200}$/, 'letters, digits, . _ -').default('rules'),
  /** Escalate an unanswered customer when this many minutes of the reply window are left. */
  REPLY_WINDOW_ALERT_LEAD_MINUTES: z.coerce.number().int().min(1).max(23 * 60).default(60),
  WINDOW_SCHEDULER_INTERVAL_MS: z.coerce.number().int().min(100).max(600_000).default(5_000),
  /**
   * Optional: handle only Pages whose id matches this regular expression; events of other Pages are
   * skipped (acknowledged, not decided). For tests and canaries that share the topics with other
   * deployments: without it, a second rules instance would publish decisions about their Pages too.
   */
  PAGE_ID_FILTER: z
    .string()
    .optional()
    .refine((value) => value === undefined || isRegExp(value), 'must be a valid regular expression')
    .transform((value) => (value === undefined || value === '' ? null : new RegExp(value))),
  /** How long an inbound event waits for its Page's `page.connected` before it is suppressed as page_disconnected. */
  UNKNOWN_PAGE_GRACE_SECONDS: z.coerce.number().int().min(0).max(3_600).default(30),
  /**
   * How long the ids of applied events are kept to recognise a redelivery (`processed_events`).
   * Kafka redelivers within minutes; longer than the 24-hour reply window, so that an event replayed
   * by an offset reset inside it is still recognised (an older one could only be suppressed as
   * outside the window, under the same deterministic decision id, which consumers apply once).
   */
  PROCESSED_EVENTS_RETENTION_HOURS: z.coerce.number().int().min(25).max(24 * 365).default(168),
};

export type RulesConfig = z.infer<z.ZodObject<typeof rulesConfigShape>>;

function isRegExp(source: string): boolean {
  try {
    new RegExp(source);
    return true;
  } catch {
    return false;
  }
}
