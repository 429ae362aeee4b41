// auth-token: config → logger → telemetry → service (database, HTTP, consumers) → graceful shutdown.
import { loadConfigOrExit } from '@parley/config';
import { createLogger, installShutdown, startTelemetry } from '@parley/observability';
import { authTokenConfigShape } from './config.ts';
import { startAuthToken } from './service.ts';

const config = loadConfigOrExit('auth-token', authTokenConfigShape);
const logger = createLogger({ service: 'auth-token', level: config.LOG_LEVEL });
const telemetry = startTelemetry('auth-token');
const service = await startAuthToken(config, { logger });
installShutdown(logger, async () => {
  await service.stop();
  await telemetry.shutdown();
});
