import { loadConfigOrExit } from '@parley/config';
import { createLogger, installShutdown, startTelemetry } from '@parley/observability';
import { rulesConfigShape } from './config.ts';
import { startRules } from './service.ts';

const config = loadConfigOrExit('rules', rulesConfigShape);
const logger = createLogger({ service: 'rules', level: config.LOG_LEVEL });
const telemetry = startTelemetry('rules');
const rules = await startRules(config, { logger });
logger.info({ url: rules.url }, 'rules is listening');
installShutdown(logger, async () => {
  await rules.stop();
  await telemetry.shutdown();
});
