import { loadConfigOrExit } from '@parley/config';
import { createLogger, installShutdown, startTelemetry } from '@parley/observability';
import { configShape } from './config.ts';
import { startConversationProjection } from './service.ts';

const config = loadConfigOrExit('conversation-projection', configShape);
const logger = createLogger({ service: 'conversation-projection', level: config.LOG_LEVEL });
const telemetry = startTelemetry('conversation-projection');
const projection = await startConversationProjection(config, { logger });
installShutdown(logger, async () => {
  await projection.stop();
  await telemetry.shutdown();
});
