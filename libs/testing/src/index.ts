import { randomBytes } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import { Kafka, logLevel } from 'kafkajs';
import pg from 'pg';

/**
 * Test support for every project: where the real Kafka and PostgreSQL are (the Jest global setup
 * provides them), fresh names, fresh schemas and topics, and waiting by polling.
 */

function required(name: 'KAFKA_BROKERS' | 'DATABASE_URL'): string {
  const value = process.env[name];
  if (value === undefined || value.trim() === '') {
    throw new Error(
      `${name} is not set. Run the tests with Jest from the repository root (npm test, or npx jest ...): ` +
        'its global setup provides Kafka and PostgreSQL. Or set it to an existing one.',
    );
  }
  return value.trim();
}

/** The brokers of the test Kafka (KAFKA_BROKERS, set by the global setup). */
export function testKafkaBrokers(): string[] {
  return required('KAFKA_BROKERS')
    .split(',')
    .map((broker) => broker.trim())
    .filter((broker) => broker !== '');
}

/** The test PostgreSQL (DATABASE_URL, set by the global setup). Use a fresh schema per test: createTestSchema. */
export function testDatabaseUrl(): string {
  return required('DATABASE_URL');
}

/**
 * A name no other test (in this run or a parallel one) uses: `<prefix>-<time>-<random>`, lower
 * case, safe as a Kafka topic, a consumer group or a client id.
 */
export function uniqueName(prefix: string): string {
  const safePrefix = prefix.toLowerCase().replace(/[^a-z0-9._-]+/g, '-');
  return `${safePrefix}-${Date.now().toString(36)}-${randomBytes(4).toString('hex')}`;
}

export type WaitForOptions = {
  /** What is awaited, for the error message ("the projection shows the reply"). */
  description: string;
  timeoutMs?: number;
  intervalMs?: number;
};

/**
 * Polls `probe` until it returns something other than undefined, null or false, and returns it.
 * A probe that throws counts as "not yet"; its last error is in the timeout's message.
 */
export async function waitFor<T>(probe: () => T | Promise<T>, options: WaitForOptions): Promise<Exclude<T, undefined | null | false>> {
  const timeoutMs = options.timeoutMs ?? 15_000;
  const intervalMs = options.intervalMs ?? 100;
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  let attempts = 0;
  for (;;) {
    attempts += 1;
    try {
      const value = await probe();
      if (value !== undefined && value !== null && value !== false) return value as Exclude<T, undefined | null | false>;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() >= deadline) {
      const cause = lastError === undefined ? '' : `; last error: ${lastError instanceof Error ? lastError.message : String(lastError)}`;
      throw new Error(`Timed out after ${timeoutMs} ms (${attempts} attempts) waiting for ${options.description}${cause}`);
    }
    await delay(intervalMs);
  }
}

export type TestSchema = {
  /** The schema's name (lower case letters, digits and underscores: no quoting needed). */
  readonly schema: string;
  /** `databaseUrl` with `search_path` set to the schema, for clients that take only a URL. */
  readonly url: string;
  /** Drops the schema and everything in it. */
  drop(): Promise<void>;
};

/** Creates a fresh, empty PostgreSQL schema for one test (or one test file). */
export async function createTestSchema(databaseUrl: string = testDatabaseUrl(), prefix = 'test'): Promise<TestSchema> {
  const schema = uniqueName(prefix).replace(/[^a-z0-9_]/g, '_').slice(0, 63);
  await withClient(databaseUrl, (client) => client.query(`create schema "${schema}"`));
  const url = new URL(databaseUrl);
  url.searchParams.set('options', `-c search_path=${schema}`);
  return {
    schema,
    url: url.toString(),
    drop: async () => {
      await withClient(databaseUrl, (client) => client.query(`drop schema if exists "${schema}" cascade`));
    },
  };
}

async function withClient<T>(databaseUrl: string, use: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    return await use(client);
  } finally {
    await client.end();
  }
}

export type TestTopic = string | { name: string; partitions?: number; config?: Readonly<Record<string, string>> };

function admin(brokers: string[]) {
  return new Kafka({ clientId: uniqueName('test-admin'), brokers, logLevel: logLevel.NOTHING }).admin();
}

/**
 * Creates topics (1 partition unless said otherwise) and resolves once every partition's leader
 * serves requests (see waitForTopicsServing).
 */
export async function createTestTopics(brokers: string[], topics: ReadonlyArray<TestTopic>): Promise<void> {
  const specs = topics.map((topic) => (typeof topic === 'string' ? { name: topic } : topic));
  const client = admin(brokers);
  await client.connect();
  try {
    await client.createTopics({
      // Not kafkajs's own wait: it fails on "does not host this topic-partition", which a broker
      // that has not caught up yet answers; waitForTopicsServing below waits for that instead.
      waitForLeaders: false,
      topics: specs.map((spec) => ({
        topic: spec.name,
        numPartitions: spec.partitions ?? 1,
        replicationFactor: 1,
        configEntries: Object.entries(spec.config ?? {}).map(([name, value]) => ({ name, value })),
      })),
    });
  } finally {
    await client.disconnect();
  }
  await waitForTopicsServing(
    brokers,
    specs.map((spec) => spec.name),
  );
}

/**
 * Resolves once the leader of every partition of these topics answers (a ListOffsets request,
 * served by the same part of the broker as a produce). Right after a topic is created, a KRaft
 * broker can still answer "not the leader" or "does not host this topic-partition" for a moment,
 * for seconds on a busy machine: a test that produces at once would fail for no reason of its own.
 */
export async function waitForTopicsServing(brokers: string[], names: ReadonlyArray<string>, timeoutMs = 60_000): Promise<void> {
  const client = admin(brokers);
  await client.connect();
  try {
    await waitFor(
      async () => {
        for (const name of names) await client.fetchTopicOffsets(name);
        return true;
      },
      { description: `the leaders of ${names.length} topic(s) (${names.slice(0, 3).join(', ')}${names.length > 3 ? ', …' : ''}) to serve`, timeoutMs, intervalMs: 200 },
    );
  } finally {
    await client.disconnect();
  }
}

/** Deletes topics a test created; topics that are already gone are ignored. */
export async function deleteTestTopics(brokers: string[], names: ReadonlyArray<string>): Promise<void> {
  const client = admin(brokers);
  await client.connect();
  try {
    const existing = new Set(await client.listTopics());
    const present = names.filter((name) => existing.has(name));
    if (present.length > 0) await client.deleteTopics({ topics: present });
  } finally {
    await client.disconnect();
  }
}

/**
 * `db` with the statements it runs counted (its `query` calls: one round trip each), for tests that
 * hold a store to the number of round trips it takes. Works with any object whose `query` runs SQL.
 */
export function countingStatements<Db extends { query(...args: never[]): unknown }>(db: Db): { db: Db; count(): number; reset(): void } {
  let statements = 0;
  const query = (...args: never[]) => {
    statements++;
    return db.query(...args);
  };
  return { db: { ...db, query }, count: () => statements, reset: () => void (statements = 0) };
}
