import { Kafka, logLevel } from 'kafkajs';
// Before any client exists: stops kafkajs's idle 1 ms timer loop (see there).
import './request-queue-fix.ts';
import type { LogEntry } from 'kafkajs';
import type { TopicSpec } from '@parley/contracts';
import type { Logger } from '@parley/observability';

export type { Kafka };

export type KafkaClientOptions = {
  brokers: ReadonlyArray<string>;
  clientId: string;
  logger: Logger;
  /** How long to wait for a broker connection before failing (ingress answers 503 then). */
  connectionTimeoutMs?: number;
  /**
   * Prefixed to every topic and consumer group (`staging.` → `staging.messenger.inbound.v1`), so
   * that several environments, or an end-to-end test, can share one cluster without seeing each
   * other's records. Empty by default.
   */
  namespace?: string;
};

const namespaces = new WeakMap<Kafka, string>();
/** What each client was made from, so that a worker thread can make its own (see `offThread`). */
const clientOptions = new WeakMap<Kafka, Omit<KafkaClientOptions, 'logger'>>();

/** The options a client was created with (without its logger, which cannot cross threads). */
export function clientOptionsOf(kafka: Kafka): Omit<KafkaClientOptions, 'logger'> {
  const options = clientOptions.get(kafka);
  if (!options) throw new Error('This Kafka client was not created by createKafkaClient');
  return options;
}

/** The physical name of a logical topic or consumer group for this client. */
export function namespaced(kafka: Kafka, name: string): string {
  return `${namespaces.get(kafka) ?? ''}${name}`;
}

/** The logical name of a physical topic (the namespace removed). */
export function withoutNamespace(kafka: Kafka, name: string): string {
  const prefix = namespaces.get(kafka) ?? '';
  return prefix && name.startsWith(prefix) ? name.slice(prefix.length) : name;
}

/** The kafkajs client, logging through the service's logger. Services use it only via this library. */
export function createKafkaClient(options: KafkaClientOptions): Kafka {
  const log = options.logger.child({ component: 'kafka' });
  const kafka = new Kafka({
    clientId: options.clientId,
    brokers: [...options.brokers],
    connectionTimeout: options.connectionTimeoutMs ?? 3_000,
    requestTimeout: 10_000,
    retry: { retries: 5, initialRetryTime: 200, maxRetryTime: 5_000 },
    logLevel: logLevel.WARN,
    logCreator:
      () =>
      ({ level, log: entry }: LogEntry) => {
        const { message, ...rest } = entry;
        // Our publisher bounds its retries on purpose (callers such as ingress must answer 503 in
        // time, and every event id is deterministic, so a re-send is deduplicated downstream).
        if (message.startsWith('Limiting retries for the idempotent producer')) return log.debug(rest, message);
        if (level <= logLevel.ERROR) log.error(rest, message);
        else if (level === logLevel.WARN) log.warn(rest, message);
        else log.debug(rest, message);
      },
  });
  if (options.namespace) namespaces.set(kafka, options.namespace);
  const { logger: _logger, ...portable } = options;
  clientOptions.set(kafka, { ...portable, brokers: [...options.brokers] });
  return kafka;
}

/**
 * Creates the topics that do not exist yet (partitions and configs from their specs) and returns
 * once every partition's leader serves requests. Existing topics are left as they are: changing
 * partition counts would break the per-conversation order of keyed records. Safe to run from
 * several processes at once (a topic another one just created counts as existing).
 */
export async function provisionTopics(kafka: Kafka, topics: ReadonlyArray<TopicSpec>, timeoutMs = 60_000): Promise<string[]> {
  const admin = kafka.admin();
  await admin.connect();
  const deadline = Date.now() + timeoutMs;
  const physical = topics.map((t) => ({ ...t, name: namespaced(kafka, t.name) }));
  try {
    let created: string[] = [];
    for (let attempt = 1; ; attempt++) {
      try {
        const existing = new Set(await admin.listTopics());
        const missing = physical.filter((t) => !existing.has(t.name));
        if (missing.length > 0) {
          await admin.createTopics({
            waitForLeaders: true,
            topics: missing.map((t) => ({
              topic: t.name,
              numPartitions: t.partitions,
              replicationFactor: -1, // the broker's default: 1 on a single local node, 3 in production
              configEntries: Object.entries(t.config).map(([name, value]) => ({ name, value })),
            })),
          });
          created = [...created, ...missing.map((t) => t.name)];
        }
        break;
      } catch (error) {
        // A broker that just started, or a topic another process is creating, answers with
        // retriable errors for a moment.
        if (Date.now() > deadline || (error as { retriable?: boolean }).retriable === false) throw error;
        await sleep(Math.min(2_000, 100 * attempt));
      }
    }
    // KRaft publishes new partitions' leadership asynchronously: metadata can name a leader that
    // does not serve the partition yet. Listing offsets goes to each leader, so it proves they do.
    for (let attempt = 1; ; attempt++) {
      try {
        for (const topic of physical) await admin.fetchTopicOffsets(topic.name);
        return created;
      } catch (error) {
        if (Date.now() > deadline) throw error;
        await sleep(Math.min(1_000, 50 * attempt));
      }
    }
  } finally {
    await admin.disconnect();
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** True when a broker answers a metadata request within the timeout (for `/readyz`). */
export async function isBrokerReachable(kafka: Kafka, timeoutMs = 2_000): Promise<boolean> {
  const admin = kafka.admin();
  try {
    await withTimeout(admin.connect().then(() => admin.describeCluster()), timeoutMs);
    return true;
  } catch {
    return false;
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise,
    new Promise<T>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}
