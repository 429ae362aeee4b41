// outbound-sender: config → logger → telemetry → service (database, Kafka, Graph API, consumers,
// dispatcher, HTTP) → graceful shutdown. No business logic here.
import { loadConfigOrExit } from '@parley/config';
import { createLogger, installShutdown, startTelemetry } from '@parley/observability';
import { configShape } from './config.ts';
import { SERVICE_NAME, startOutboundSender } from './service.ts';

const config = loadConfigOrExit(SERVICE_NAME, configShape);
const logger = createLogger({ service: SERVICE_NAME, level: config.LOG_LEVEL });
const telemetry = startTelemetry(SERVICE_NAME);
const service = await startOutboundSender(config, { logger });
installShutdown(logger, async () => {
  await service.stop();
  await telemetry.shutdown();
});
