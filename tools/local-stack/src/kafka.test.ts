import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { startLocalKafka, serverProperties, type LocalKafka } from './kafka.ts';
import { findRepoRoot, localPath } from './paths.ts';
import { freePort, isPortFree } from './ports.ts';
import { isAlive } from './processes.ts';

// A second, private broker (not the one the global setup provides): this is the code that
// provides it, so it is tested with Kafka's real jars on spare ports.
describe('a local Kafka broker from Maven Central jars', () => {
  const rootDir = findRepoRoot();
  let dataDir: string;
  let broker: LocalKafka | undefined;

  beforeAll(() => {
    dataDir = mkdtempSync(path.join(os.tmpdir(), 'parley-kafka-test-'));
  });

  afterAll(async () => {
    await broker?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('starts, carries a record from a producer to a consumer group, and stops cleanly', async () => {
    const port = await freePort();
    let controllerPort = await freePort();
    while (controllerPort === port) controllerPort = await freePort();

    broker = await startLocalKafka({
      port,
      controllerPort,
      dataDir,
      jarsDir: localPath(rootDir, 'kafka', 'jars-3.9.1'),
      pomFile: path.join(rootDir, 'tools', 'local-stack', 'kafka', 'pom.xml'),
    });
    expect(broker.brokers).toEqual([`127.0.0.1:${port}`]);

    const kafka = new Kafka({ clientId: 'local-stack-test', brokers: broker.brokers, logLevel: logLevel.NOTHING });
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ waitForLeaders: true, topics: [{ topic: 'local-stack.check', numPartitions: 1 }] });
    await admin.disconnect();

    const producer = kafka.producer({ idempotent: true });
    await producer.connect();
    await producer.send({ topic: 'local-stack.check', acks: -1, messages: [{ key: 'page-1:psid-1', value: 'hello' }] });
    await producer.disconnect();

    const consumer = kafka.consumer({ groupId: 'local-stack-check' });
    await consumer.connect();
    await consumer.subscribe({ topic: 'local-stack.check', fromBeginning: true });
    const received = await new Promise<{ key: string; value: string }>((resolve, reject) => {
      consumer
        .run({
          eachMessage: async ({ message }) => resolve({ key: String(message.key), value: String(message.value) }),
        })
        .catch(reject);
    });
    await consumer.disconnect();
    expect(received).toEqual({ key: 'page-1:psid-1', value: 'hello' });

    const pid = broker.pid;
    await broker.stop();
    expect(isAlive(pid)).toBe(false);
    expect(await isPortFree(port)).toBe(true);
  }, 180_000);

  it('refuses to create topics by accident: auto-creation is off, internal topics have one replica', () => {
    const properties = serverProperties({ port: 1, controllerPort: 2, logDir: '/data' });
    expect(properties).toContain('auto.create.topics.enable=false');
    expect(properties).toContain('offsets.topic.replication.factor=1');
    expect(properties).toContain('transaction.state.log.replication.factor=1');
    expect(properties).toContain('controller.quorum.voters=1@127.0.0.1:2');
    expect(properties).toContain('advertised.listeners=PLAINTEXT://127.0.0.1:1');
  });
});
