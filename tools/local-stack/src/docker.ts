import { spawnSync } from 'node:child_process';
import { KAFKA_IMAGE, waitForKafka } from './kafka.ts';
import { freePort } from './ports.ts';

/** The PostgreSQL image of the Docker branch; keep equal to docker-compose.yml. */
export const POSTGRES_IMAGE = 'postgres:18';

/** Whether a Docker engine answers (`docker info` exits 0). A client without a daemon does not count. */
export function dockerEngineAvailable(): boolean {
  const result = spawnSync('docker', ['info'], { stdio: 'ignore', timeout: 15_000 });
  return result.error === undefined && result.status === 0;
}

export type Started = { stop(): Promise<void> };

/**
 * Single-node Kafka (KRaft) in a container. The client port is bound to a fixed free host port so
 * that the broker can advertise the address clients on this machine actually reach.
 */
export async function startKafkaContainer(): Promise<Started & { brokers: string[] }> {
  // Loaded only when a Docker engine exists: testcontainers is heavy and useless without one.
  const { GenericContainer } = await import('testcontainers');
  const hostPort = await freePort();
  const container = await new GenericContainer(KAFKA_IMAGE)
    .withEnvironment({
      KAFKA_NODE_ID: '1',
      KAFKA_PROCESS_ROLES: 'broker,controller',
      KAFKA_LISTENERS: 'PLAINTEXT://0.0.0.0:9092,CONTROLLER://localhost:9093',
      KAFKA_ADVERTISED_LISTENERS: `PLAINTEXT://127.0.0.1:${hostPort}`,
      KAFKA_CONTROLLER_LISTENER_NAMES: 'CONTROLLER',
      KAFKA_LISTENER_SECURITY_PROTOCOL_MAP: 'PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT',
      KAFKA_INTER_BROKER_LISTENER_NAME: 'PLAINTEXT',
      KAFKA_CONTROLLER_QUORUM_VOTERS: '1@localhost:9093',
      KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR: '1',
      KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR: '1',
      KAFKA_TRANSACTION_STATE_LOG_MIN_ISR: '1',
      KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS: '0',
      KAFKA_AUTO_CREATE_TOPICS_ENABLE: 'false',
    })
    .withExposedPorts({ container: 9092, host: hostPort })
    .withStartupTimeout(120_000)
    .start();
  const brokers = [`127.0.0.1:${hostPort}`];
  try {
    await waitForKafka(brokers, { timeoutMs: 120_000 });
  } catch (error) {
    await container.stop();
    throw error;
  }
  return { brokers, stop: async () => void (await container.stop()) };
}

/** PostgreSQL in a container. */
export async function startPostgresContainer(): Promise<Started & { databaseUrl: string }> {
  const { PostgreSqlContainer } = await import('@testcontainers/postgresql');
  const container = await new PostgreSqlContainer(POSTGRES_IMAGE)
    .withUsername('postgres')
    .withPassword('postgres')
    .withDatabase('postgres')
    .withCommand(['postgres', '-c', 'max_connections=300', '-c', 'fsync=off'])
    .start();
  return { databaseUrl: container.getConnectionUri(), stop: async () => void (await container.stop()) };
}
