import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
// Also stops kafkajs's idle timer loop for the clients made here (libs/messaging, request-queue-fix.ts).
import '@parley/messaging';
import { findRepoRoot } from './paths.ts';
import { pollUntil, startProcess, stopLeftover, stopProcess, writePidFile } from './processes.ts';

/**
 * The Kafka version the local stack runs. 3.9.x, not 4.x: Kafka 4.0 removed old protocol versions
 * (KIP-896) that kafkajs 2.2.4 still uses, so a 4.x broker refuses it. Keep equal to
 * tools/local-stack/kafka/pom.xml and the apache/kafka image tag in docker-compose.yml.
 */
export const KAFKA_VERSION = '3.9.1';
export const KAFKA_IMAGE = `apache/kafka:${KAFKA_VERSION}`;

export type LocalKafkaOptions = {
  /** Client (PLAINTEXT) port on 127.0.0.1. */
  port: number;
  /** KRaft controller port on 127.0.0.1. */
  controllerPort: number;
  /** The broker's own directory: its config, its log (server.log) and its data (kraft/). Kept across runs. */
  dataDir: string;
  /** Where Kafka's jars are (fetched with Maven the first time). */
  jarsDir: string;
  /** The pom that lists Kafka's jars; defaults to the one next to this package's sources. */
  pomFile?: string;
  /** Java heap ceiling; the broker idles well within 512 MB. */
  heapMb?: number;
  readyTimeoutMs?: number;
  /** Receives the broker's console output (warnings and errors; INFO goes to server.log only). */
  onLine?: (line: string) => void;
  /** Run the JVM in its own process group (see startProcess); `npm start` stops it last, itself. */
  detached?: boolean;
  /** Receives progress messages ("fetching Kafka's jars…"). */
  onProgress?: (message: string) => void;
};

export type LocalKafka = {
  readonly brokers: string[];
  readonly pid: number;
  /** Where the broker's log is, for anyone debugging it. */
  readonly logFile: string;
  /** Stops the broker cleanly (SIGTERM, then SIGKILL after 30 s). Safe to call twice. */
  stop(): Promise<void>;
};

const COMPLETE_MARKER = '.complete';

/** The default pom: tools/local-stack/kafka/pom.xml, found from the repository root. */
export function defaultKafkaPom(rootDir: string): string {
  return path.join(rootDir, 'tools', 'local-stack', 'kafka', 'pom.xml');
}

/**
 * Makes sure `jarsDir` holds Kafka's runtime jars: copies them out of the local Maven repository
 * (downloading from Maven Central on first use). A complete directory is marked and reused as it
 * is, so a second start neither calls Maven nor needs the network. The copy goes to a temporary
 * directory first and is renamed into place, so two starts at once never see half a directory.
 */
export async function ensureKafkaJars(jarsDir: string, pomFile: string, onProgress?: (message: string) => void): Promise<void> {
  const marker = path.join(jarsDir, COMPLETE_MARKER);
  if (existsSync(marker) && readFileSync(marker, 'utf8').trim() === markerContent(pomFile)) return;

  requireTool('java', ['-version'], 'Java 17 or newer runs the local Kafka broker (Debian: apt-get install openjdk-17-jre-headless).');
  requireTool('mvn', ['-v'], 'Maven fetches the Kafka broker from Maven Central (Debian: apt-get install maven).');
  onProgress?.(`fetching Kafka ${KAFKA_VERSION} jars with Maven into ${jarsDir} (first run only)`);
  const staging = `${jarsDir}.tmp-${process.pid}-${randomBytes(3).toString('hex')}`;
  mkdirSync(path.dirname(jarsDir), { recursive: true });
  // Asynchronous, so that PostgreSQL starts meanwhile.
  const maven = startProcess({
    name: 'mvn',
    command: 'mvn',
    args: ['-q', '-B', '-f', pomFile, 'dependency:copy-dependencies', `-DoutputDirectory=${staging}`, '-DincludeScope=runtime'],
  });
  const result = await maven.exited;
  if (result.code !== 0) {
    rmSync(staging, { recursive: true, force: true });
    throw new Error(`Maven could not fetch Kafka's jars (exit ${result.code ?? result.signal}):\n${maven.recentOutput()}`);
  }
  const jars = readdirSync(staging).filter((name) => name.endsWith('.jar'));
  if (!jars.some((name) => name === `kafka_2.13-${KAFKA_VERSION}.jar`)) {
    rmSync(staging, { recursive: true, force: true });
    throw new Error(`Maven ran but ${staging} has no kafka_2.13-${KAFKA_VERSION}.jar (got: ${jars.join(', ')})`);
  }
  writeFileSync(path.join(staging, COMPLETE_MARKER), `${markerContent(pomFile)}\n`);
  rmSync(jarsDir, { recursive: true, force: true });
  try {
    renameSync(staging, jarsDir);
  } catch (error) {
    // Another start won the race and put a complete directory in place: use theirs.
    rmSync(staging, { recursive: true, force: true });
    if (!existsSync(marker)) throw error;
  }
}

/** The marker records which pom produced the jars, so changing the Kafka version refetches. */
function markerContent(pomFile: string): string {
  const pom = readFileSync(pomFile, 'utf8');
  let hash = 0;
  for (let i = 0; i < pom.length; i++) hash = (Math.imul(hash, 31) + pom.charCodeAt(i)) | 0;
  return `kafka ${KAFKA_VERSION} pom ${(hash >>> 0).toString(16)}`;
}

function requireTool(command: string, args: string[], hint: string): void {
  const result = spawnSync(command, args, { stdio: 'ignore' });
  if (result.error !== undefined || result.status !== 0) {
    throw new Error(`\`${command}\` is not available. ${hint}`);
  }
}

/** A Kafka cluster id: 16 random bytes, base64url without padding, not starting with '-' (as Kafka's Uuid does). */
export function newClusterId(): string {
  for (;;) {
    const id = randomBytes(16).toString('base64url');
    if (!id.startsWith('-')) return id;
  }
}

/** The single-node KRaft configuration (broker and controller in one process). */
export function serverProperties(options: { port: number; controllerPort: number; logDir: string }): string {
  const settings: Record<string, string | number> = {
    'process.roles': 'broker,controller',
    'node.id': 1,
    'controller.quorum.voters': `1@127.0.0.1:${options.controllerPort}`,
    listeners: `PLAINTEXT://127.0.0.1:${options.port},CONTROLLER://127.0.0.1:${options.controllerPort}`,
    'advertised.listeners': `PLAINTEXT://127.0.0.1:${options.port}`,
    'controller.listener.names': 'CONTROLLER',
    'listener.security.protocol.map': 'PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT',
    'inter.broker.listener.name': 'PLAINTEXT',
    'log.dirs': options.logDir,
    // One node: the internal topics must have replication factor 1 or consumer groups never form.
    'offsets.topic.replication.factor': 1,
    'offsets.topic.num.partitions': 10,
    'transaction.state.log.replication.factor': 1,
    'transaction.state.log.min.isr': 1,
    'transaction.state.log.num.partitions': 5,
    'min.insync.replicas': 1,
    // Tests create many short-lived groups: no reason to wait for more members.
    'group.initial.rebalance.delay.ms': 0,
    // Topics are provisioned explicitly (EVENT_TOPICS); a typo must fail, not create a topic.
    'auto.create.topics.enable': 'false',
    'delete.topic.enable': 'true',
    'num.partitions': 1,
    // Small machine: fewer threads than the defaults.
    'num.network.threads': 2,
    'num.io.threads': 4,
    'background.threads': 4,
  };
  return `${Object.entries(settings)
    .map(([key, value]) => `${key}=${value}`)
    .join('\n')}\n`;
}

/** Logs: INFO and up to server.log (rolled), WARN and up to the console, which the caller shows. */
function log4jProperties(logFile: string): string {
  return [
    'log4j.rootLogger=INFO, file, console',
    'log4j.appender.file=org.apache.log4j.RollingFileAppender',
    `log4j.appender.file.File=${logFile}`,
    'log4j.appender.file.MaxFileSize=10MB',
    'log4j.appender.file.MaxBackupIndex=2',
    'log4j.appender.file.layout=org.apache.log4j.PatternLayout',
    'log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n',
    'log4j.appender.console=org.apache.log4j.ConsoleAppender',
    'log4j.appender.console.Threshold=WARN',
    'log4j.appender.console.layout=org.apache.log4j.PatternLayout',
    'log4j.appender.console.layout.ConversionPattern=%p %m (%c)%n',
    // Chatty at INFO and useless locally.
    'log4j.logger.kafka.request.logger=WARN',
    'log4j.logger.state.change.logger=WARN',
    'log4j.logger.org.apache.kafka.clients.NetworkClient=ERROR',
    '',
  ].join('\n');
}

/**
 * Starts a single-node Apache Kafka (KRaft) as a child JVM and resolves once a client can describe
 * the cluster (polled, not slept). The storage is formatted on first use and reused afterwards.
 */
export async function startLocalKafka(options: LocalKafkaOptions): Promise<LocalKafka> {
  const pomFile = options.pomFile ?? defaultKafkaPom(findRepoRoot());
  await ensureKafkaJars(options.jarsDir, pomFile, options.onProgress);

  const dataDir = path.resolve(options.dataDir);
  const logDir = path.join(dataDir, 'kraft');
  const logFile = path.join(dataDir, 'server.log');
  const pidFile = path.join(dataDir, 'kafka.pid');
  const propertiesFile = path.join(dataDir, 'server.properties');
  mkdirSync(logDir, { recursive: true });
  if (await stopLeftover(pidFile, propertiesFile)) {
    options.onProgress?.(`stopped a Kafka broker a previous run left behind in ${dataDir}`);
  }
  writeFileSync(propertiesFile, serverProperties({ port: options.port, controllerPort: options.controllerPort, logDir }));
  const log4jFile = path.join(dataDir, 'log4j.properties');
  writeFileSync(log4jFile, log4jProperties(logFile));

  const classpath = `${options.jarsDir}/*`;
  const jvmLogging = [`-Dlog4j.configuration=file:${log4jFile}`, `-Dkafka.logs.dir=${dataDir}`];
  if (!existsSync(path.join(logDir, 'meta.properties'))) {
    options.onProgress?.(`formatting Kafka storage in ${logDir}`);
    const format = startProcess({
      name: 'kafka-storage',
      command: 'java',
      args: [...jvmLogging, '-cp', classpath, 'kafka.tools.StorageTool', 'format', '-t', newClusterId(), '-c', propertiesFile],
    });
    const formatted = await format.exited;
    if (formatted.code !== 0) {
      throw new Error(`Kafka storage format failed (exit ${formatted.code ?? formatted.signal}):\n${format.recentOutput()}`);
    }
  }

  const heapMb = options.heapMb ?? 512;
  const broker = startProcess({
    name: 'kafka',
    command: 'java',
    args: [
      `-Xms128m`,
      `-Xmx${heapMb}m`,
      '-XX:+UseG1GC',
      '-Djava.awt.headless=true',
      ...jvmLogging,
      '-cp',
      classpath,
      'kafka.Kafka',
      propertiesFile,
    ],
    cwd: dataDir,
    detached: options.detached === true,
    ...(options.onLine === undefined ? {} : { onLine: options.onLine }),
  });
  if (broker.child.pid !== undefined) writePidFile(pidFile, broker.child.pid);

  const brokers = [`127.0.0.1:${options.port}`];
  let stopped: Promise<void> | undefined;
  const stop = () => {
    stopped ??= stopProcess(broker, 'SIGTERM', 30_000).then(() => rmSync(pidFile, { force: true }));
    return stopped;
  };

  try {
    await waitForKafka(brokers, {
      timeoutMs: options.readyTimeoutMs ?? 120_000,
      abortReason: () =>
        broker.hasExited() ? `the broker exited; its last output:\n${broker.recentOutput()}\n(see ${logFile})` : undefined,
    });
  } catch (error) {
    await stop();
    throw error;
  }
  return { brokers, pid: broker.child.pid ?? -1, logFile, stop };
}

/** Resolves once a Kafka client can describe the cluster at `brokers` and a controller is known. */
export async function waitForKafka(
  brokers: string[],
  options: { timeoutMs: number; abortReason?: () => string | undefined },
): Promise<void> {
  const kafka = new Kafka({
    clientId: 'parley-local-stack-probe',
    brokers,
    logLevel: logLevel.NOTHING,
    connectionTimeout: 1_000,
    // kafkajs leaves each request's timeout timer running after a failed attempt; a short one
    // keeps a finished probe from holding the process open for the default 30 s.
    requestTimeout: 2_000,
    retry: { retries: 0 },
  });
  await pollUntil(
    async () => {
      const admin = kafka.admin();
      try {
        await admin.connect();
        const cluster = await admin.describeCluster();
        return cluster.brokers.length > 0 && cluster.controller !== null ? true : undefined;
      } finally {
        await admin.disconnect().catch(() => undefined);
      }
    },
    { description: `Kafka at ${brokers.join(',')}`, timeoutMs: options.timeoutMs, intervalMs: 500, ...(options.abortReason ? { abortReason: options.abortReason } : {}) },
  );
}
