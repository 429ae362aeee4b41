// Creates the event topics (EVENT_TOPICS: each topic and its .dlq) that do not exist yet, then
// exits. The one-shot step before the services in docker-compose.yml and the Job in deploy/;
// `npm start` does the same itself. Existing topics are left as they are.
// Env: KAFKA_BROKERS, LOG_LEVEL.
import { env, loadConfigOrExit } from '@parley/config';
import { EVENT_TOPICS } from '@parley/contracts';
import { createKafkaClient, provisionTopics } from '@parley/messaging';
import { createLogger } from '@parley/observability';

const config = loadConfigOrExit('provision-topics', { KAFKA_BROKERS: env.kafkaBrokers, LOG_LEVEL: env.logLevel });
const logger = createLogger({ service: 'provision-topics', level: config.LOG_LEVEL });
try {
  const created = await provisionTopics(createKafkaClient({ brokers: config.KAFKA_BROKERS, clientId: 'parley-provision-topics', logger }), EVENT_TOPICS);
  logger.info({ created, total: EVENT_TOPICS.length }, created.length > 0 ? 'created topics' : 'all topics exist');
} catch (error) {
  logger.fatal({ err: error }, 'could not provision the topics');
  process.exitCode = 1;
}
