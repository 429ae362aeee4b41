import { EVENT_TOPICS, TOPICS, deadLetterTopic, encodeEvent, keyOf, topicOf } from '@parley/contracts';
import type { ParleyEvent } from '@parley/contracts';
import { createEventPublisher, createKafkaClient, provisionTopics } from '@parley/messaging';
import type { EventPublisher, Kafka } from '@parley/messaging';
import { createLogger } from '@parley/observability';
import type { Logger } from '@parley/observability';
import { deleteTestTopics, testDatabaseUrl, testKafkaBrokers, uniqueName, waitFor } from '@parley/testing';
import pg from 'pg';
import type { ProjectionConfig } from './config.ts';
import { startConversationProjection } from './service.ts';
import type { ProjectionDeps, RunningProjection } from './service.ts';

// Test support for this service's integration tests (not a test file itself): each test file gets
// its own copies of the five event topics (`<prefix>.<topic>`, same partition counts, plus their
// dead-letter topics), its own schemas and consumer groups, and publishes events straight into
// those topics, so that it never reads another test's (or benchmark's) records.

export const OUR_APP_ID = '1517776481860111';

export type TestTopics = {
  prefix: string;
  names: string[];
  topicFor(event: ParleyEvent): string;
  delete(): Promise<void>;
};

export async function createProjectionTopics(label: string): Promise<TestTopics> {
  const prefix = uniqueName(`t-${label}`);
  const specs = EVENT_TOPICS.map((t) => ({ ...t, name: `${prefix}.${t.name}` }));
  // A busy broker may answer "does not host this topic-partition" while leaders are elected:
  // provisioning again creates only what is still missing.
  const { kafka } = testKafka();
  await waitFor(
    () =>
      provisionTopics(kafka, specs).then(
        () => true,
        () => false,
      ),
    { description: 'the test topics', timeoutMs: 60_000, intervalMs: 500 },
  );
  const names = Object.values(TOPICS).map((t) => `${prefix}.${t}`);
  return {
    prefix,
    names,
    topicFor: (event) => `${prefix}.${topicOf(event)}`,
    delete: () => deleteTestTopics(testKafkaBrokers(), [...names, ...names.map(deadLetterTopic)]),
  };
}

export function testLogger(): Logger {
  return createLogger({ service: 'projection-test', level: process.env['TEST_LOG_LEVEL'] ?? 'silent' });
}

export function testConfig(topics: TestTopics, overrides: Partial<ProjectionConfig> = {}): ProjectionConfig {
  const schema = uniqueName('p').replace(/[^a-z0-9_]/g, '_').slice(0, 24);
  return {
    KAFKA_BROKERS: testKafkaBrokers(),
    KAFKA_NAMESPACE: '',
    DATABASE_URL: testDatabaseUrl(),
    DATABASE_PREPARED_STATEMENTS: true,
    PORT: 0,
    LOG_LEVEL: 'silent',
    API_KEYS: new Map([
      ['key-acme', 'acme'],
      ['key-globex', 'globex'],
      ['key-ops', 'ops'],
    ]),
    ADMIN_ACCOUNT_IDS: ['ops'],
    META_APP_ID: OUR_APP_ID,
    GRAPH_API_BASE_URL: 'http://127.0.0.1:9',
    GRAPH_API_VERSION: 'v25.0',
    AUTH_TOKEN_URL: 'http://127.0.0.1:9',
    INTERNAL_API_TOKEN: 'internal-secret',
    DB_SCHEMA: schema,
    CONSUMER_GROUP: uniqueName('projection-test'),
    PROJECTION_TOPICS: topics.names,
    PROFILE_ENRICHMENT: false,
    PROFILE_POLL_MS: 200,
    SSE_HEARTBEAT_MS: 15_000,
    REBUILD_RETIRE_AFTER_MS: 0,
    DB_POOL_SIZE: 4,
    ...overrides,
  };
}

export function startTestProjection(config: ProjectionConfig, deps: Partial<ProjectionDeps> = {}): Promise<RunningProjection> {
  return startConversationProjection(config, { logger: testLogger(), rebuildPollMs: 200, pointerPollMs: 500, ...deps });
}

/** The real event topics (what the API publishes to); several test files may create them at once. */
export async function provisionEventTopics(kafka: Kafka): Promise<void> {
  await waitFor(
    () =>
      provisionTopics(kafka, EVENT_TOPICS).then(
        () => true,
        () => false,
      ),
    { description: 'the event topics to exist', timeoutMs: 30_000, intervalMs: 500 },
  );
}

/** A Kafka client and publisher for feeding the test topics. */
export function testKafka(): { kafka: Kafka; publisher: EventPublisher } {
  const logger = testLogger();
  const kafka = createKafkaClient({ brokers: testKafkaBrokers(), clientId: uniqueName('projection-test'), logger });
  return { kafka, publisher: createEventPublisher({ kafka, logger }) };
}

/** Publishes events into the test copies of their topics, keyed as the real publisher keys them. */
export async function feed(publisher: EventPublisher, topics: TestTopics, events: ReadonlyArray<ParleyEvent>): Promise<void> {
  const records = events.map((event) => ({ topic: topics.topicFor(event), key: keyOf(event), value: encodeEvent(event) }));
  // Right after a topic is created a broker may briefly not know it yet: try again for a while.
  await waitFor(
    () =>
      publisher.publishRaw(records).then(
        () => true,
        () => false,
      ),
    { description: 'the broker to accept the records', timeoutMs: 20_000, intervalMs: 250 },
  );
}

/** Runs one statement on the test database (for a test that must reach behind the service). */
export async function sql<T extends pg.QueryResultRow = Record<string, unknown>>(text: string, params: unknown[] = []): Promise<T[]> {
  const client = new pg.Client({ connectionString: testDatabaseUrl() });
  await client.connect();
  try {
    return (await client.query<T>(text, params)).rows;
  } finally {
    await client.end();
  }
}

/** Drops every schema a test's service created (control, inbox copies). */
export async function dropSchemas(base: string): Promise<void> {
  const client = new pg.Client({ connectionString: testDatabaseUrl() });
  await client.connect();
  try {
    const { rows } = await client.query<{ nspname: string }>(`select nspname from pg_namespace where nspname = $1 or nspname like $2`, [base, `${base}\\_%`]);
    for (const { nspname } of rows) await client.query(`drop schema if exists "${nspname}" cascade`);
  } finally {
    await client.end();
  }
}

/** A response body as tests read it: shapes are checked by the assertions (and the zod views). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- tests index into bodies freely
export type Json = any;

export type ApiClient = {
  get(path: string, key?: string, headers?: Record<string, string>): Promise<{ status: number; body: Json; headers: Headers }>;
  post(path: string, body?: unknown, key?: string, headers?: Record<string, string>): Promise<{ status: number; body: Json; headers: Headers }>;
};

export function apiClient(baseUrl: () => string, defaultKey = 'key-acme'): ApiClient {
  const call = async (method: string, path: string, key: string | undefined, body: unknown, headers: Record<string, string> = {}) => {
    const response = await fetch(`${baseUrl()}${path}`, {
      method,
      headers: {
        ...(key !== '' ? { authorization: `Bearer ${key ?? defaultKey}` } : {}),
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        ...headers,
      },
      ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body) } : {}),
    });
    const text = await response.text();
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      // not JSON
    }
    return { status: response.status, body: parsed as Json, headers: response.headers };
  };
  return {
    get: (path, key, headers) => call('GET', path, key, undefined, headers),
    post: (path, body, key, headers) => call('POST', path, key, body, headers),
  };
}

export { uniqueName, waitFor };
