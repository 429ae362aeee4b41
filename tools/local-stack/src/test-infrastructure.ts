import { EVENT_TOPICS } from '@parley/contracts';
import { createKafkaClient, provisionTopics } from '@parley/messaging';
import { createLogger } from '@parley/observability';
import { waitFor, waitForTopicsServing } from '@parley/testing';
import { ensureInfrastructure, type Infrastructure } from './infrastructure.ts';

/**
 * What the Jest global setup runs: Kafka and PostgreSQL (ensureInfrastructure, purpose `test`),
 * then the platform's event topics (EVENT_TOPICS, as `npm start` creates them), so that tests on a
 * fresh broker find them instead of racing each other to create them. It returns once every
 * partition's leader serves: a fresh broker on a busy machine takes a moment after creating them.
 */
export async function startTestInfrastructure(onProgress: (message: string) => void): Promise<Infrastructure> {
  const infrastructure = await ensureInfrastructure({ purpose: 'test', onProgress });
  try {
    const logger = createLogger({ service: 'test-setup', level: 'error' });
    const kafka = createKafkaClient({ brokers: infrastructure.kafkaBrokers, clientId: 'parley-test-setup', logger });
    // Creating is idempotent (only missing topics), so a creation that the broker reported as
    // failed while it caught up is simply tried again.
    await waitFor(async () => (await provisionTopics(kafka, EVENT_TOPICS), true), { description: 'the event topics to be created', timeoutMs: 60_000, intervalMs: 500 });
    await waitForTopicsServing(
      infrastructure.kafkaBrokers,
      EVENT_TOPICS.map((topic) => topic.name),
    );
  } catch (error) {
    await infrastructure.stop();
    throw error;
  }
  return infrastructure;
}
