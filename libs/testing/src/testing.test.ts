import { Kafka, logLevel } from 'kafkajs';
import pg from 'pg';
import { createTestSchema, createTestTopics, deleteTestTopics, testDatabaseUrl, testKafkaBrokers, uniqueName, waitFor, waitForTopicsServing } from './index.ts';

describe('uniqueName', () => {
  it('gives a fresh, topic-safe name each time', () => {
    const names = new Set(Array.from({ length: 100 }, () => uniqueName('Inbound Test')));
    expect(names.size).toBe(100);
    for (const name of names) expect(name).toMatch(/^inbound-test-[a-z0-9]+-[0-9a-f]{8}$/);
  });
});

describe('waitFor', () => {
  it('returns the first value the probe gives that is not undefined, null or false', async () => {
    let calls = 0;
    const value = await waitFor(() => (++calls >= 3 ? { calls } : undefined), { description: 'three calls', intervalMs: 1 });
    expect(value).toEqual({ calls: 3 });
  });

  it('treats a throwing probe as "not yet" and names what it waited for, with the last error, on timeout', async () => {
    await expect(
      waitFor(
        () => {
          throw new Error('not there');
        },
        { description: 'the reply to reach the inbox', timeoutMs: 50, intervalMs: 5 },
      ),
    ).rejects.toThrow(/waiting for the reply to reach the inbox; last error: not there/);
  });
});

describe('createTestSchema (real PostgreSQL)', () => {
  it('creates an empty schema that the URL selects, and drops it with its tables', async () => {
    const schema = await createTestSchema(testDatabaseUrl(), 'testing-lib');
    expect(schema.schema).toMatch(/^testing_lib_[a-z0-9_]+$/);

    const client = new pg.Client({ connectionString: schema.url });
    await client.connect();
    await client.query('create table conversation (id text primary key)');
    const { rows } = await client.query<{ schema: string }>('select current_schema() as schema');
    await client.end();
    expect(rows[0]?.schema).toBe(schema.schema);

    await schema.drop();
    const check = new pg.Client({ connectionString: testDatabaseUrl() });
    await check.connect();
    const left = await check.query('select 1 from information_schema.schemata where schema_name = $1', [schema.schema]);
    await check.end();
    expect(left.rowCount).toBe(0);
  });
});

describe('createTestTopics / deleteTestTopics (real Kafka)', () => {
  it('creates topics with the asked partitions and deletes them again', async () => {
    const brokers = testKafkaBrokers();
    const one = uniqueName('testing-lib-one');
    const three = uniqueName('testing-lib-three');
    await createTestTopics(brokers, [one, { name: three, partitions: 3 }]);

    const admin = new Kafka({ clientId: uniqueName('testing-lib'), brokers, logLevel: logLevel.NOTHING }).admin();
    await admin.connect();
    try {
      const metadata = await admin.fetchTopicMetadata({ topics: [one, three] });
      const partitions = Object.fromEntries(metadata.topics.map((topic) => [topic.name, topic.partitions.length]));
      expect(partitions).toEqual({ [one]: 1, [three]: 3 });

      await deleteTestTopics(brokers, [one, three, uniqueName('never-created')]);
      await waitFor(async () => !(await admin.listTopics()).some((name) => name === one || name === three), {
        description: 'both topics to be gone',
      });
    } finally {
      await admin.disconnect();
    }
  });
});

describe('waitForTopicsServing (real Kafka)', () => {
  it('gives up on a topic that does not exist, naming it', async () => {
    const missing = uniqueName('testing-lib-missing');
    await expect(waitForTopicsServing(testKafkaBrokers(), [missing], 1_000)).rejects.toThrow(new RegExp(`leaders of 1 topic\\(s\\) \\(${missing}\\) to serve`));
  });
});
