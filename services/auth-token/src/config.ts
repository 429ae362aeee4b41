import { z } from 'zod';
import { env, loadConfig } from '@parley/config';

const HOUR_MS = 60 * 60 * 1000;
const DAY_MS = 24 * HOUR_MS;

/** A duration in milliseconds (a positive integer), with a default. */
const durationMs = (fallback: number) => z.coerce.number().int().positive().default(fallback);

/**
 * Every variable auth-token reads. CONTRACTS.md names the shared ones; the rest are this service's
 * own (README.md lists them with their meaning).
 */
export const authTokenConfigShape = {
  KAFKA_BROKERS: env.kafkaBrokers,
  KAFKA_NAMESPACE: env.kafkaNamespace,
  DATABASE_URL: env.databaseUrl,
  DATABASE_PREPARED_STATEMENTS: env.databasePreparedStatements,
  /** The PostgreSQL schema this service owns; tests use a fresh one each. */
  DATABASE_SCHEMA: z.string().regex(/^[a-z_][a-z0-9_]{0,62}$/, 'must be a lower-case SQL identifier').default('auth_token'),
  PORT: env.port(3002),
  LOG_LEVEL: env.logLevel,
  META_APP_ID: env.string,
  /** Comma-separated during a rotation, newest first; Graph calls use the newest. */
  META_APP_SECRET: env.list,
  GRAPH_API_BASE_URL: env.url('https://graph.facebook.com'),
  GRAPH_API_VERSION: env.graphApiVersion,
  /** `{version}` is replaced by GRAPH_API_VERSION. */
  FACEBOOK_DIALOG_URL: z.string().trim().min(1).default('https://www.facebook.com/{version}/dialog/oauth'),
  /** Where people's browsers reach this service; the OAuth redirect URI is built from it. */
  PUBLIC_URL: env.url('http://localhost:3002'),
  /** Optional: the console's Settings → Pages screen, linked from the error pages ("start again"). */
  CONSOLE_URL: z.url().optional(),
  TOKEN_ENCRYPTION_KEYS: env.list,
  API_KEYS: env.apiKeys,
  INTERNAL_API_TOKEN: z.string().min(16, 'must be at least 16 characters'),
  /** Signs the OAuth `state`; a long random string (rotating it invalidates connect links in flight). */
  OAUTH_STATE_SECRET: z.string().min(32, 'must be at least 32 characters'),
  /** Subscribe connected Pages to `feed` (Page comments) unless the connect request says otherwise. */
  SUBSCRIBE_FEED: env.boolean(false),
  /** How often each Page's token and webhook subscription are checked. */
  TOKEN_CHECK_INTERVAL_MS: durationMs(6 * HOUR_MS),
  /** After a check that could not reach Facebook, try again this much later. */
  TOKEN_CHECK_RETRY_MS: durationMs(5 * 60 * 1000),
  /** How often the scheduler looks for due checks and refreshes. */
  HEALTH_POLL_INTERVAL_MS: durationMs(5_000),
  /** Warn (status degraded) when Facebook's data access or a token expires within this. */
  EXPIRY_WARNING_MS: durationMs(7 * DAY_MS),
  /** Exchange the long-lived user token again this long before it expires. */
  USER_TOKEN_REFRESH_BEFORE_MS: durationMs(10 * DAY_MS),
  /** Consumer group for `outbound.token.rejected`. */
  TOKEN_REJECTED_GROUP_ID: z.string().min(1).default('auth-token.token-rejected'),
  /** A new group reads rejections from the beginning of the log (tests) or only new ones (default). */
  TOKEN_REJECTED_FROM_BEGINNING: env.boolean(false),
} as const;

export type AuthTokenConfig = z.infer<z.ZodObject<typeof authTokenConfigShape>>;

/** Loads the configuration from an environment record (tests pass their own). */
export function loadAuthTokenConfig(environment: Record<string, string | undefined>): AuthTokenConfig {
  return loadConfig('auth-token', authTokenConfigShape, environment);
}

/** The OAuth redirect URI: PUBLIC_URL + the callback path, exactly as sent to the dialog and the code exchange. */
export function redirectUriOf(config: Pick<AuthTokenConfig, 'PUBLIC_URL'>): string {
  return `${config.PUBLIC_URL.replace(/\/+$/, '')}/v1/integrations/messenger/callback`;
}

/** The Facebook Login dialog's base URL for the pinned Graph version. */
export function dialogUrlOf(config: Pick<AuthTokenConfig, 'FACEBOOK_DIALOG_URL' | 'GRAPH_API_VERSION'>): string {
  return config.FACEBOOK_DIALOG_URL.replace('{version}', config.GRAPH_API_VERSION);
}
