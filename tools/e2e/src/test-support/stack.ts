// The whole platform for an end-to-end test: the six services as real processes (their own
// main.ts, as in production), the Meta simulator playing Facebook, the test run's Kafka and
// PostgreSQL. Each stack gets its own Kafka namespace and its own database, so it sees nothing of
// the other tests that share the broker.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { EVENT_TOPICS } from '@parley/contracts';
import { createKafkaClient, provisionTopics } from '@parley/messaging';
import { createLogger } from '@parley/observability';
import { DEV_SECRETS, SERVICES, findRepoRoot, nodeOptionsFor, freePort, processEnvironment, sharedEnvironment } from '@parley/local-stack';
import { startMetaSimulator } from '@parley/meta-simulator';
import type { MetaSimulatorOptions, RunningMetaSimulator } from '@parley/meta-simulator';
import { testDatabaseUrl, testKafkaBrokers, uniqueName, waitFor } from '@parley/testing';

export type ServiceName = (typeof SERVICES)[number]['name'];

export type Stack = {
  meta: RunningMetaSimulator;
  /** What the simulator was started with: a second simulator for comparison can be set up alike. */
  simulatorOptions: MetaSimulatorOptions;
  url(service: ServiceName): string;
  /** Authorization header of the test account. */
  auth: { authorization: string };
  namespace: string;
  databaseUrl: string;
  kafkaBrokers: string[];
  /** Kills a service at once (SIGKILL: no graceful shutdown), as a crash would. */
  kill(service: ServiceName): Promise<void>;
  start(service: ServiceName): Promise<void>;
  logs(service: ServiceName): string;
  /** The process id of a running service (benchmarks read its memory from /proc). */
  pid(service: ServiceName): number | undefined;
  stop(): Promise<void>;
};

export type StackOptions = {
  /** Extra environment per service. */
  env?: Partial<Record<ServiceName, Record<string, string>>>;
  /** Simulator settings over the defaults below (the benchmark keeps a longer delivery log, for one). */
  simulator?: Partial<MetaSimulatorOptions>;
  /** Prefix of the Kafka namespace and the database name. Default `e2e`. */
  name?: string;
  /** LOG_LEVEL of every service. Default `info`. */
  logLevel?: string;
};

// Under Jest (CommonJS) from this file's folder; run natively (a benchmark, ESM) from the working directory.
const root = findRepoRoot(typeof __dirname === 'string' ? __dirname : process.cwd());
export const ACCOUNT = 'acme';
export const API_KEY = 'e2e-key';

export async function startStack(options: StackOptions = {}): Promise<Stack> {
  const logger = createLogger({ service: 'e2e', level: 'silent' });
  const kafkaBrokers = testKafkaBrokers();
  const namespace = `${uniqueName(options.name ?? 'e2e')}.`;
  await provisionTopics(createKafkaClient({ brokers: kafkaBrokers, clientId: 'e2e', logger, namespace }), EVENT_TOPICS);
  const databaseUrl = await createDatabase(testDatabaseUrl(), namespace.replace(/[^a-z0-9]/g, '_').slice(0, 40));

  const ports = new Map<ServiceName, number>();
  for (const service of SERVICES) ports.set(service.name, await freePort());
  const url = (service: ServiceName) => `http://127.0.0.1:${ports.get(service)}`;

  const simulatorOptions: MetaSimulatorOptions = {
    appId: DEV_SECRETS.META_APP_ID,
    appSecret: DEV_SECRETS.META_APP_SECRET,
    webhookUrl: `${url('ingress')}/webhooks/messenger`,
    retry: { maxAttempts: 8, initialDelayMs: 200, factor: 2, maxDelayMs: 2_000 },
    ...options.simulator,
  };
  const meta = await startMetaSimulator({ port: 0, host: '127.0.0.1', ...simulatorOptions });

  const shared = {
    ...sharedEnvironment({ kafkaBrokers, databaseUrl, simulatorPort: meta.port, authTokenPort: ports.get('auth-token')! }),
    KAFKA_NAMESPACE: namespace,
    API_KEYS: `${ACCOUNT}:${API_KEY}`,
    ADMIN_ACCOUNT_IDS: ACCOUNT,
    LOG_LEVEL: options.logLevel ?? 'info',
  };
  const logDir = join(root, '.local', 'e2e', namespace.slice(0, -1));
  mkdirSync(logDir, { recursive: true });
  const children = new Map<ServiceName, ChildProcess>();
  const output = new Map<ServiceName, string[]>();

  const start = async (name: ServiceName) => {
    const definition = SERVICES.find((s) => s.name === name)!;
    const env = { ...process.env, ...processEnvironment({ ...definition, port: ports.get(name)! }, shared), NODE_OPTIONS: nodeOptionsFor(definition).join(' '), ...options.env?.[name] };
    // STACK_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof" profiles every service (benchmarks).
    const nodeArgs = (process.env['STACK_NODE_ARGS'] ?? '').split(' ').filter(Boolean);
    const child = spawn(process.execPath, [...nodeArgs, join(root, definition.entry)], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
    const lines = output.get(name) ?? [];
    output.set(name, lines);
    const collect = (chunk: Buffer) => {
      lines.push(chunk.toString());
      if (lines.length > 2_000) lines.splice(0, lines.length - 2_000);
    };
    child.stdout!.on('data', collect);
    child.stderr!.on('data', collect);
    children.set(name, child);
    await waitFor(
      async () => {
        if (child.exitCode !== null) throw new Error(`${name} exited with ${child.exitCode}:\n${lines.join('').slice(-3_000)}`);
        const res = await fetch(`${url(name)}/readyz`).catch(() => undefined);
        return res?.status === 200;
      },
      { description: `${name} ready`, timeoutMs: 60_000, intervalMs: 250 },
    ).catch((error: Error) => {
      throw new Error(`${error.message}\n--- ${name} output ---\n${lines.join('').slice(-3_000)}`);
    });
  };

  const stopOne = async (name: ServiceName, signal: NodeJS.Signals) => {
    const child = children.get(name);
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill(signal);
    await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 15_000))]);
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  };

  try {
    // The simulator delivers webhooks to ingress; the rest only need Kafka, PostgreSQL and auth-token.
    await Promise.all(SERVICES.map((s) => start(s.name)));
  } catch (error) {
    await Promise.all(SERVICES.map((s) => stopOne(s.name, 'SIGKILL')));
    await meta.stop();
    throw error;
  }

  return {
    meta,
    simulatorOptions,
    url,
    auth: { authorization: `Bearer ${API_KEY}` },
    namespace,
    databaseUrl,
    kafkaBrokers,
    kill: (name) => stopOne(name, 'SIGKILL'),
    start,
    logs: (name) => (output.get(name) ?? []).join(''),
    pid: (name) => children.get(name)?.pid,
    async stop() {
      await Promise.all(SERVICES.map((s) => stopOne(s.name, 'SIGTERM')));
      for (const [name, lines] of output) writeFileSync(join(logDir, `${name}.log`), lines.join(''));
      await meta.stop();
    },
  };
}

/** A fresh database on the test server: every service creates its own schema in it. */
async function createDatabase(serverUrl: string, name: string): Promise<string> {
  const client = new pg.Client({ connectionString: serverUrl });
  await client.connect();
  try {
    await client.query(`create database "${name}"`);
  } finally {
    await client.end();
  }
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return url.toString();
}
