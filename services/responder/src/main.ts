import { loadConfigOrExit } from '@parley/config';
import { createLogger, installShutdown, startTelemetry } from '@parley/observability';
import { readApiKeyRefs } from './assistants/secrets.ts';
import { responderEnv, toResponderConfig } from './config.ts';
import { startResponder } from './service.ts';

// Wiring only: config → logger → telemetry → the service (database, HTTP, consumers, due-reply loop) → shutdown.
const parsed = loadConfigOrExit('responder', responderEnv);
const logger = createLogger({ service: 'responder', level: parsed.LOG_LEVEL });
const { refs, problems } = readApiKeyRefs(process.env);
if (problems.length > 0) {
  process.stderr.write(`responder cannot start; fix its configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}\n`);
  process.exit(78);
}
const telemetry = startTelemetry('responder');
const service = await startResponder(toResponderConfig(parsed, refs), { logger });
installShutdown(logger, async () => {
  await service.stop();
  await telemetry.shutdown();
});
