// Runs the Meta platform simulator as a process for local development.
// Env: PORT (3900), HOST (0.0.0.0), META_APP_ID, META_APP_SECRET, WEBHOOK_URL, GRAPH_API_VERSION (v25.0),
// PUBLIC_URL (how the product reaches this process), META_SIM_SEED (1: create a demo admin, pages, customers).
import { seedDemo } from './seed.ts';
import { startMetaSimulator } from './simulator.ts';

const env = process.env;
const port = Number.parseInt(env['PORT'] ?? '3900', 10);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(`PORT must be a port number, got ${env['PORT']}`);
  process.exit(1);
}
const log = (line: string): void => console.log(`[meta-simulator] ${line}`);

const simulator = await startMetaSimulator({
  port,
  host: env['HOST'] ?? '0.0.0.0',
  ...(env['META_APP_ID'] ? { appId: env['META_APP_ID'] } : {}),
  ...(env['META_APP_SECRET'] ? { appSecret: env['META_APP_SECRET'] } : {}),
  ...(env['WEBHOOK_URL'] ? { webhookUrl: env['WEBHOOK_URL'] } : {}),
  ...(env['PUBLIC_URL'] ? { publicUrl: env['PUBLIC_URL'] } : {}),
  graphApiVersion: env['GRAPH_API_VERSION'] ?? 'v25.0',
  log,
});

if ((env['META_SIM_SEED'] ?? '1') !== '0') {
  const world = seedDemo(simulator.platform);
  log(`demo admin ${world.userId} runs pages ${world.pageIds.join(', ')}; customers: ${world.customers.map((c) => c.psid).join(', ')}`);
}
log(`GRAPH_API_BASE_URL=${simulator.url}`);
log(`FACEBOOK_DIALOG_URL=${simulator.url}/{version}/dialog/oauth`);
log(`app id ${simulator.state.app.id}; webhooks to ${simulator.settings.webhookUrl ?? '(none: set WEBHOOK_URL or PATCH /_sim/settings)'}`);
log(`customer chat: ${simulator.url}/_sim/chat`);

let stopping = false;
const shutdown = (signal: string): void => {
  if (stopping) return;
  stopping = true;
  log(`${signal}: stopping`);
  simulator.stop().then(
    () => process.exit(0),
    (error: unknown) => {
      console.error(error);
      process.exit(1);
    },
  );
};
process.on('SIGINT', () => shutdown('SIGINT'));
process.on('SIGTERM', () => shutdown('SIGTERM'));
