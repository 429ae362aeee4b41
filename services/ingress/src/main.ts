import { env, loadConfigOrExit } from '@parley/config';
import { z } from 'zod';
import { createLogger, installShutdown, startTelemetry } from '@parley/observability';
import { startIngress } from './service.ts';

const config = loadConfigOrExit('ingress', {
  KAFKA_BROKERS: env.kafkaBrokers,
  KAFKA_NAMESPACE: env.kafkaNamespace,
  META_APP_SECRET: env.list,
  META_VERIFY_TOKEN: env.string,
  PORT: env.port(3001),
  LOG_LEVEL: env.logLevel,
  WEBHOOK_BODY_LIMIT_BYTES: z.coerce.number().int().positive().default(2 * 1024 * 1024),
  PUBLISH_TIMEOUT_MS: z.coerce.number().int().positive().max(15_000).default(10_000),
  DEDUPE_WINDOW_MS: z.coerce.number().int().positive().default(5 * 60_000),
  SENDER_LIMIT_PER_MINUTE: z.coerce.number().int().positive().default(100),
  PUBLISH_ON_WORKER_THREAD: env.boolean(true),
});
const logger = createLogger({ service: 'ingress', level: config.LOG_LEVEL });
const telemetry = startTelemetry('ingress');
const ingress = await startIngress(config, { logger });
installShutdown(logger, async () => {
  await ingress.stop();
  await telemetry.shutdown();
});
