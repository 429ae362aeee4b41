// `npm start`: the whole platform on this machine. Kafka and PostgreSQL (from the environment,
// Docker, or local processes: see infrastructure.ts), the event topics, the Meta simulator and
// every service as child processes with readable logs. Nothing is restarted automatically: a
// process that dies says so and stays down. Ctrl-C stops the services, then the simulator, then
// Kafka and PostgreSQL, each cleanly.
//
// Flags: --infra-only (Kafka, PostgreSQL and the topics, no processes).
// Environment: KAFKA_BROKERS / DATABASE_URL (use those instead of starting them), PARLEY_INFRA
// (auto|docker|local), PARLEY_PORT_OFFSET (shift every port, to run a second stack), and any
// variable of CONTRACTS.md (META_APP_SECRET, GRAPH_API_BASE_URL, ...) to override its dev value.
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { EVENT_TOPICS } from '@parley/contracts';
import { createKafkaClient, provisionTopics } from '@parley/messaging';
import { createLogger } from '@parley/observability';
import { ensureInfrastructure, type Infrastructure } from './infrastructure.ts';
import { findRepoRoot, localPath } from './paths.ts';
import { redactUrl } from './postgres.ts';
import { formatLogLine } from './pretty-log.ts';
import { pollUntil, startProcess, stopLeftover, stopProcess, writePidFile, type RunningProcess } from './processes.ts';
import { nodeOptionsFor, processEnvironment, sharedEnvironment, withPortOffset, type ProcessDefinition } from './services.ts';

/** Variables a developer may set in the shell to replace a development default (a real Meta app, say). */
const OVERRIDABLE = [
  'META_APP_ID',
  'META_APP_SECRET',
  'META_VERIFY_TOKEN',
  'GRAPH_API_BASE_URL',
  'GRAPH_API_VERSION',
  'FACEBOOK_DIALOG_URL',
  'TOKEN_ENCRYPTION_KEYS',
  'API_KEYS',
  'INTERNAL_API_TOKEN',
  'OAUTH_STATE_SECRET',
  'LOG_LEVEL',
] as const;

const rootDir = findRepoRoot(import.meta.dirname);
const infraOnly = process.argv.includes('--infra-only');
const portOffset = Number.parseInt(process.env['PARLEY_PORT_OFFSET'] ?? '0', 10);
const { simulator, services } = withPortOffset(Number.isInteger(portOffset) ? portOffset : 0);
const everything = [simulator, ...services];
const color = process.stdout.isTTY === true && process.env['NO_COLOR'] === undefined;
const sourceWidth = Math.max(...everything.map((definition) => definition.name.length));
const show = (source: string, line: string) => process.stdout.write(`${formatLogLine(source, line, { color, sourceWidth })}\n`);
const say = (line: string) => show('parley', line);

const running = new Map<string, RunningProcess>();
let infrastructure: Infrastructure | undefined;
let stopping: Promise<void> | undefined;

function shutdown(reason: string, exitCode: number): Promise<void> {
  stopping ??= (async () => {
    say(`${reason}: stopping the services, then Kafka and PostgreSQL (Ctrl-C again to kill everything at once)`);
    const children = [...running.values()].filter((child) => child.name !== simulator.name);
    await Promise.all(children.map((child) => stopProcess(child, 'SIGTERM', 15_000)));
    const simulatorProcess = running.get(simulator.name);
    if (simulatorProcess !== undefined) await stopProcess(simulatorProcess, 'SIGTERM', 10_000);
    await infrastructure?.stop();
    say('stopped');
    process.exit(exitCode);
  })();
  return stopping;
}

function killEverything(): void {
  for (const child of running.values()) child.child.kill('SIGKILL');
  say('killed the services; Kafka and PostgreSQL were asked to stop');
  void infrastructure?.stop();
  process.exit(130);
}

let firstSignalAt: number | undefined;
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.on(signal, () => {
    // One Ctrl-C arrives twice: the terminal signals the whole foreground group and npm forwards
    // it too. Only a second press, a moment later, means "kill everything now".
    if (firstSignalAt === undefined) {
      firstSignalAt = Date.now();
      void shutdown(signal, 0);
    } else if (Date.now() - firstSignalAt > 1_000) {
      killEverything();
    }
  });
}

function pidFileOf(definition: ProcessDefinition): string {
  return path.join(localPath(rootDir, 'run'), `${definition.name}.pid`);
}

function launch(definition: ProcessDefinition, env: Record<string, string>): RunningProcess | undefined {
  const entry = path.join(rootDir, definition.entry);
  if (!existsSync(entry)) {
    show(definition.name, `skipped: ${definition.entry} does not exist yet`);
    return undefined;
  }
  const child = startProcess({
    name: definition.name,
    // The Node running this script: Node 24 from the `node` devDependency under `npm start`.
    command: process.execPath,
    args: [...nodeOptionsFor(definition), entry],
    cwd: rootDir,
    env: { ...process.env, ...env },
    // Its own process group: Ctrl-C reaches only us, and we stop the services before Kafka.
    detached: true,
    onLine: (line) => show(definition.name, line),
  });
  if (child.child.pid !== undefined) writePidFile(pidFileOf(definition), child.child.pid);
  running.set(definition.name, child);
  void child.exited.then(({ code, signal }) => {
    running.delete(definition.name);
    if (stopping === undefined) show(definition.name, `exited (${signal ?? `code ${code}`}); not restarted: fix it, then run npm start again`);
  });
  return child;
}

async function comesUp(definition: ProcessDefinition, child: RunningProcess): Promise<boolean> {
  try {
    await pollUntil(
      async () => {
        const response = await fetch(`http://127.0.0.1:${definition.port}${definition.health ? '/healthz' : '/'}`, {
          signal: AbortSignal.timeout(1_000),
        });
        // The simulator has no /healthz: any HTTP answer means it listens.
        return !definition.health || response.ok ? true : undefined;
      },
      { description: definition.name, timeoutMs: 90_000, intervalMs: 300, abortReason: () => (child.hasExited() ? 'exited' : undefined) },
    );
    return true;
  } catch {
    return false;
  }
}

async function main(): Promise<void> {
  const major = Number.parseInt(process.versions.node.split('.')[0] ?? '0', 10);
  if (major < 24) throw new Error(`Node ${process.versions.node} is too old: use \`npm start\`, which runs Node 24 from the "node" devDependency`);
  mkdirSync(localPath(rootDir, 'run'), { recursive: true });
  // Processes that a killed earlier run could not stop still hold their ports.
  for (const definition of everything) {
    if (await stopLeftover(pidFileOf(definition), definition.entry)) say(`stopped ${definition.name}, left running by an earlier npm start`);
  }

  const startedAt = Date.now();
  infrastructure = await ensureInfrastructure({
    purpose: 'dev',
    rootDir,
    portOffset,
    onProgress: say,
    onKafkaLine: (line) => show('kafka', line),
    onPostgresLine: (line) => show('postgres', line),
  });
  const { kafkaBrokers, databaseUrl } = infrastructure;
  say(`Kafka and PostgreSQL ready in ${((Date.now() - startedAt) / 1000).toFixed(1)} s`);

  const logger = createLogger({ service: 'local-stack', level: 'warn', destination: { write: (line: string) => show('parley', line.trimEnd()) } });
  const created = await provisionTopics(createKafkaClient({ brokers: kafkaBrokers, clientId: 'parley-local-stack', logger }), EVENT_TOPICS);
  say(created.length > 0 ? `created topics: ${created.join(', ')}` : `all ${EVENT_TOPICS.length} topics exist`);

  const authToken = services.find((service) => service.name === 'auth-token');
  const ingress = services.find((service) => service.name === 'ingress');
  const shared = sharedEnvironment({ kafkaBrokers, databaseUrl, simulatorPort: simulator.port, ...(authToken ? { authTokenPort: authToken.port } : {}) });
  for (const name of OVERRIDABLE) {
    const value = process.env[name];
    if (value !== undefined && value !== '') shared[name] = value;
  }

  const launched: { definition: ProcessDefinition; child: RunningProcess }[] = [];
  if (!infraOnly) {
    for (const definition of everything) {
      const child = launch(definition, processEnvironment(definition, shared, ingress ? { ingressPort: ingress.port } : {}));
      if (child !== undefined) launched.push({ definition, child });
    }
  }
  const health = await Promise.all(launched.map(async ({ definition, child }) => ({ definition, up: await comesUp(definition, child) })));
  if (stopping !== undefined) return;

  const url = (definition: ProcessDefinition, suffix = '') => `http://127.0.0.1:${definition.port}${suffix}`;
  const lines = ['', infraOnly ? 'Kafka and PostgreSQL are running (--infra-only). Ctrl-C stops them.' : 'Parley is running. Ctrl-C stops everything.', ''];
  for (const definition of everything) {
    const state = health.find((entry) => entry.definition === definition);
    const status = infraOnly ? 'not started' : state === undefined ? 'skipped (no main.ts yet)' : state.up ? 'up' : 'NOT UP (see its log above)';
    lines.push(`  ${definition.name.padEnd(sourceWidth)}  ${url(definition).padEnd(24)}  ${status}`);
    if (state?.up === true) for (const link of definition.links) lines.push(`  ${''.padEnd(sourceWidth)}    ${link.label}: ${url(definition, link.path)}`);
  }
  lines.push(
    '',
    `  Kafka       ${kafkaBrokers.join(',')} (${infrastructure.sources.kafka})`,
    `  PostgreSQL  ${redactUrl(databaseUrl)} (${infrastructure.sources.postgres})`,
    `  Meta app    id ${shared['META_APP_ID']}, verify token ${shared['META_VERIFY_TOKEN']}`,
    `  API keys    ${shared['API_KEYS']} (accountId:key; send Authorization: Bearer <key>)`,
    '',
  );
  process.stdout.write(`${lines.join('\n')}\n`);
}

main().catch((error: unknown) => {
  say(`could not start: ${error instanceof Error ? error.message : String(error)}`);
  void shutdown('failure', 1);
});
