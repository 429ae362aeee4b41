import { SpanKind, context, propagation, trace } from '@opentelemetry/api';
import type { Consumer, IHeaders, Kafka, KafkaMessage } from 'kafkajs';
import { deadLetterTopic, decodeEvent } from '@parley/contracts';
import type { ParleyEvent } from '@parley/contracts';
import type { Logger } from '@parley/observability';
import { backoffMs, retryVerdict } from './errors.ts';
import type { EventPublisher } from './publisher.ts';
import { namespaced, withoutNamespace } from './kafka.ts';

/** Where a consumed event came from. */
export type RecordPosition = { topic: string; partition: number; offset: string };
export type ConsumedEvent = RecordPosition & { event: ParleyEvent; headers: Record<string, string> };

export type RetryPolicy = {
  initialBackoffMs: number;
  maxBackoffMs: number;
  /** Attempts for errors that do not say whether they are retriable, before the DLQ. */
  maxBoundedAttempts: number;
};

const defaultRetry: RetryPolicy = { initialBackoffMs: 200, maxBackoffMs: 30_000, maxBoundedAttempts: 5 };

type CommonOptions = {
  kafka: Kafka;
  publisher: EventPublisher;
  logger: Logger;
  groupId: string;
  topics: ReadonlyArray<string>;
  /** A new group starts at the beginning of the log (the log is the system of record). */
  fromBeginning?: boolean;
  retry?: Partial<RetryPolicy>;
  /**
   * How many partitions are handled at once (order is kept within each partition, i.e. within a
   * conversation). Default 1 for batch consumers, 4 for event consumers, whose handlers spend most
   * of their time waiting on PostgreSQL and Kafka.
   */
  partitionsConsumedConcurrently?: number;
  /**
   * Upper bound of one fetch per partition, and in all (kafkajs defaults: 1 MiB and 10 MiB). A batch
   * consumer that folds a batch into set-based writes catches up faster with bigger batches; the
   * bound is also what it may hold in memory at once. `minBytes` / `maxWaitTimeInMs`: how long the
   * broker may hold a fetch for more to arrive (defaults: 1 byte, IDLE_FETCH_WAIT_MS; see BACKGROUND_FETCH).
   */
  fetch?: { maxBytesPerPartition?: number; maxBytes?: number; minBytes?: number; maxWaitTimeInMs?: number };
};

/**
 * How often handled offsets are committed. kafkajs commits after every batch, and live, batches are
 * one or two events: an OffsetCommit round trip (and a write to the broker's offsets log) per
 * consumed event and consumer group. Committed at most this often instead (and when the consumer
 * stops); never before the handler finished. After a crash or a rebalance, up to this much of what
 * was handled is delivered again, which handlers already allow for (they apply an event once).
 */
const COMMIT_INTERVAL_MS = 200;

/**
 * How long the broker holds a fetch while there is nothing to return. kafkajs's default is 5 s, and
 * a consumer waits for its fetch in flight before it stops or joins a rebalance: stopping a service
 * took 4.3–4.7 s (its command consumer's fetch; the consumers with BACKGROUND_FETCH stopped in
 * under 0.1 s), and an idle member heartbeats, so notices a rebalance, only between its fetches.
 * 500 ms is the Java client's default (`fetch.max.wait.ms`); an idle consumer asks twice a second.
 */
const IDLE_FETCH_WAIT_MS = 500;

/**
 * Fetch settings for a consumer off the customer's critical path (the inbox, bookkeeping of what
 * was sent, Page settings, token health): the broker holds each fetch until 256 KiB have arrived or
 * 100 ms have passed. Live, events trickle in one or two at a time per partition, and every
 * consumer group's fetch returned for each of them: held, they come in fewer round trips and fuller
 * batches (the broker's CPU per answered message fell by about a third in the pipeline benchmark).
 * Consumers an answer waits for keep the default (return as soon as anything arrives).
 */
export const BACKGROUND_FETCH = { minBytes: 256 * 2 ** 10, maxWaitTimeInMs: 100 } as const;

export type EventConsumerOptions = CommonOptions & {
  /** Handles one event; the offset is committed only after it resolves. */
  handle(event: ParleyEvent, position: ConsumedEvent): Promise<void>;
  /**
   * Optional: handles several events together (e.g. in one transaction with set-based statements):
   * consecutive events of a partition, and those of the other partitions handled at the same time,
   * each partition's in order — with exactly the effect of `handle` on each of them. When it
   * fails, for any reason, its events are handled again one by one with `handle`, with the usual
   * retries and dead-lettering — so a poison event costs its batch a detour, never its neighbours'
   * delivery. It must therefore be safe to repeat (handlers here record what they applied).
   */
  handleMany?(events: ConsumedEvent[]): Promise<void>;
  /** Most events given to `handleMany` at once (default 100): the bound of one transaction's work. */
  maxEventsPerCall?: number;
};

export type BatchConsumerOptions = CommonOptions & {
  /**
   * Handles the valid events of one partition's batch, in order; offsets are committed after it
   * resolves. Invalid records are dead-lettered before it is called.
   */
  handleBatch(batch: { topic: string; partition: number; events: ConsumedEvent[] }): Promise<void>;
};

/**
 * Both callbacks of an event consumer from one handler of several events (one event is a batch of
 * one), so that what an event does is defined once. `accept` drops events before the handler sees
 * them (a Page filter); they are acknowledged all the same.
 */
export function handlersOfMany(
  handleMany: (events: ReadonlyArray<ParleyEvent>) => Promise<void>,
  accept: (event: ParleyEvent) => boolean = () => true,
): Pick<EventConsumerOptions, 'handle' | 'handleMany'> {
  const accepted = (records: ReadonlyArray<ConsumedEvent>) => records.map((r) => r.event).filter(accept);
  return {
    handle: (_event, position) => handleMany(accepted([position])),
    handleMany: (records) => handleMany(accepted(records)),
  };
}

export type RunningConsumer = {
  stop(): Promise<void>;
  /** Resolves when the consumer has joined its group and received partitions. */
  ready: Promise<void>;
};

/**
 * What happens to each kind of record:
 * - valid event → handled; offset committed after the handler resolves (at-least-once).
 * - not JSON / fails its schema → `<topic>.dlq` with the error; the partition moves on.
 * - an event type this build does not know (a newer producer) → skipped with a warning: the record
 *   stays in the log and is processed once this consumer is upgraded and replays.
 * - handler error → retried per its `retriable` flag (see retryVerdict), then the DLQ.
 */
export async function startEventConsumer(options: EventConsumerOptions): Promise<RunningConsumer> {
  const log = options.logger.child({ consumerGroup: options.groupId });
  const handleOneByOne = async (records: ConsumedEvent[], tools: Tools) => {
    for (const record of records) {
      if (!tools.isRunning()) return;
      await tools.withRetry([record], () => options.handle(record.event, record));
      tools.resolve(record.offset);
    }
  };
  const perCall = Math.max(1, options.maxEventsPerCall ?? 100);
  const handleMany = options.handleMany ? togetherAcrossPartitions(options.handleMany, perCall) : undefined;
  return runConsumer({ partitionsConsumedConcurrently: 4, ...options }, async (records, tools) => {
    if (!handleMany) return handleOneByOne(records, tools);
    for (let start = 0; start < records.length; start += perCall) {
      if (!tools.isRunning()) return;
      const chunk = records.slice(start, start + perCall);
      try {
        await tools.withTrace(chunk[0]!, () => handleMany(chunk));
        tools.resolve(chunk[chunk.length - 1]!.offset);
      } catch (error) {
        // A retriable failure (a database outage, a Page not known yet) is logged again by the
        // one-by-one retries if it lasts; anything else may be a poison event, worth a warning now.
        const level = retryVerdict(error) === 'retry_forever' ? 'debug' : 'warn';
        log[level]({ err: error, topic: chunk[0]!.topic, partition: chunk[0]!.partition, events: chunk.length }, 'handling events together failed; handling them one by one');
        await handleOneByOne(chunk, tools);
      }
    }
  });
}

/**
 * `handleMany` for the partitions handled side by side: what they submit in the same turn of the
 * event loop goes in one call (up to `maxEvents`), and each submitter learns how it went. Live,
 * a partition's batch is an event or two; one call (one transaction) for the events of several
 * partitions is what keeps a busy consumer's cost per event down. Events of different partitions
 * are unordered anyway, and each partition's keep their order. A failed call fails every
 * submitter, which then handles its own events one by one (`startEventConsumer`). The call runs in
 * the trace context of the first submitter.
 */
function togetherAcrossPartitions(handleMany: (events: ConsumedEvent[]) => Promise<void>, maxEvents: number): (events: ConsumedEvent[]) => Promise<void> {
  type Group = { events: ConsumedEvent[]; waiting: Array<{ resolve: () => void; reject: (error: unknown) => void }>; started: boolean };
  let forming: Group | null = null;
  const start = (group: Group) => {
    if (group.started) return;
    group.started = true;
    if (forming === group) forming = null;
    Promise.resolve()
      .then(() => handleMany(group.events))
      .then(
        () => group.waiting.forEach((w) => w.resolve()),
        (error: unknown) => group.waiting.forEach((w) => w.reject(error)),
      );
  };
  return (events) =>
    new Promise<void>((resolve, reject) => {
      if (forming && forming.events.length + events.length > maxEvents) start(forming);
      if (!forming) {
        const group: Group = { events: [], waiting: [], started: false };
        forming = group;
        setImmediate(() => start(group));
      }
      forming.events.push(...events);
      forming.waiting.push({ resolve, reject });
    });
}

/** Like startEventConsumer, but hands over a partition's whole batch (for projections that write in batches). */
export async function startBatchConsumer(options: BatchConsumerOptions): Promise<RunningConsumer> {
  return runConsumer(options, async (records, tools, topic, partition) => {
    if (records.length === 0) return;
    await tools.withRetry(records, () => options.handleBatch({ topic, partition, events: records }));
    tools.resolve(records[records.length - 1]!.offset);
  });
}

type Tools = {
  isRunning(): boolean;
  /** Runs `work` in a span that continues the record's trace. */
  withTrace(record: ConsumedEvent, work: () => Promise<void>): Promise<void>;
  resolve(offset: string): void;
  withRetry(records: ConsumedEvent[], work: () => Promise<void>): Promise<void>;
};

async function runConsumer(
  options: CommonOptions,
  process: (records: ConsumedEvent[], tools: Tools, topic: string, partition: number) => Promise<void>,
): Promise<RunningConsumer> {
  const retry = { ...defaultRetry, ...options.retry };
  const log = options.logger.child({ consumerGroup: options.groupId });
  const consumer: Consumer = options.kafka.consumer({
    groupId: namespaced(options.kafka, options.groupId),
    allowAutoTopicCreation: false,
    sessionTimeout: 30_000,
    // Members learn of a rebalance (a replica started or stopped) from their heartbeat's answer, and
    // the group consumes nothing until all have rejoined. A second outbound-sender replica waited
    // 5.7-8.9 s for its partitions with heartbeats every 3 s (kafkajs's and Java's default), 2.9 s
    // with 1 s, 0.7-1.3 s with 0.5 s. Six idle consumers: 25-29 ms of CPU a second at 3 s, 27-29 at
    // 1 s, 30-35 at 0.5 s. Every rolling deploy rebalances each group twice per pod.
    heartbeatInterval: 1_000,
    ...(options.fetch?.maxBytesPerPartition !== undefined ? { maxBytesPerPartition: options.fetch.maxBytesPerPartition } : {}),
    ...(options.fetch?.maxBytes !== undefined ? { maxBytes: options.fetch.maxBytes } : {}),
    ...(options.fetch?.minBytes !== undefined ? { minBytes: options.fetch.minBytes } : {}),
    maxWaitTimeInMs: options.fetch?.maxWaitTimeInMs ?? IDLE_FETCH_WAIT_MS,
  });
  let running = true;
  // Handled offsets, committed every COMMIT_INTERVAL_MS rather than after every batch (see there).
  const handled = new Map<string, { topic: string; partition: number; offset: string }>();
  let commitTimer: NodeJS.Timeout | undefined;
  const commitHandled = async (): Promise<void> => {
    clearTimeout(commitTimer);
    commitTimer = undefined;
    if (handled.size === 0) return;
    const offsets = [...handled.values()];
    handled.clear();
    try {
      await consumer.commitOffsets(offsets);
    } catch (error) {
      // A rebalance or a broker blip. Kept for the next commit unless a newer one came meanwhile;
      // if it never goes, those records are delivered again (handlers apply an event once).
      log.warn({ err: error, offsets: offsets.length }, 'committing offsets failed; retrying with the next commit');
      for (const o of offsets) if (!handled.has(`${o.topic}:${o.partition}`)) handled.set(`${o.topic}:${o.partition}`, o);
    }
  };
  const markHandled = (physicalTopic: string, partition: number, offset: string) => {
    handled.set(`${physicalTopic}:${partition}`, { topic: physicalTopic, partition, offset: (BigInt(offset) + 1n).toString() });
    commitTimer ??= setTimeout(() => void commitHandled(), COMMIT_INTERVAL_MS);
  };
  let markReady: () => void = () => {};
  const ready = new Promise<void>((resolve) => (markReady = resolve));
  consumer.on(consumer.events.GROUP_JOIN, (event) => {
    // Offsets of partitions that went to another member are not ours to commit any more.
    const assigned = event.payload.memberAssignment;
    for (const [key, o] of handled) if (!assigned[o.topic]?.includes(o.partition)) handled.delete(key);
    markReady();
  });

  await consumer.connect();
  await consumer.subscribe({ topics: options.topics.map((t) => namespaced(options.kafka, t)), fromBeginning: options.fromBeginning ?? true });
  await consumer.run({
    partitionsConsumedConcurrently: options.partitionsConsumedConcurrently ?? 1,
    autoCommit: false,
    eachBatchAutoResolve: false,
    eachBatch: async ({ batch: physical, resolveOffset, heartbeat, isRunning, isStale }) => {
      // Handlers see logical topic names; the namespace is a deployment detail.
      const batch = { topic: withoutNamespace(options.kafka, physical.topic), partition: physical.partition, messages: physical.messages };
      const valid: ConsumedEvent[] = [];
      for (const message of batch.messages) {
        const headers = stringHeaders(message.headers);
        const decoded = decodeEvent(message.value);
        if (decoded.ok) {
          valid.push({ topic: batch.topic, partition: batch.partition, offset: message.offset, event: decoded.event, headers });
        } else if (decoded.reason === 'unknown_type') {
          log.warn({ topic: batch.topic, partition: batch.partition, offset: message.offset, detail: decoded.message }, 'skipping an event type this consumer does not know');
        } else {
          await deadLetter(options, batch.topic, batch.partition, message, new Error(decoded.message), 'invalid_record');
          log.error({ topic: batch.topic, partition: batch.partition, offset: message.offset, detail: decoded.message }, 'invalid record sent to the dead-letter topic');
        }
      }
      const tools: Tools = {
        isRunning: () => running && isRunning() && !isStale(),
        withTrace: (record, work) => withTraceContext(record, options.groupId, work),
        resolve: (offset) => {
          resolveOffset(offset);
          markHandled(physical.topic, physical.partition, offset);
        },
        withRetry: async (records, work) => {
          for (let attempt = 1; ; attempt++) {
            try {
              await withTraceContext(records[0]!, options.groupId, work);
              return;
            } catch (error) {
              const verdict = retryVerdict(error);
              const exhausted = verdict === 'dead_letter' || (verdict === 'retry_bounded' && attempt >= retry.maxBoundedAttempts);
              if (exhausted || !tools.isRunning()) {
                if (!tools.isRunning() && !exhausted) throw error; // stopping: leave the offset uncommitted
                for (const record of records) {
                  const original = batch.messages.find((m) => m.offset === record.offset)!;
                  await deadLetter(options, batch.topic, batch.partition, original, error, 'handler_failed');
                }
                log.error({ err: error, topic: batch.topic, partition: batch.partition, offsets: records.map((r) => r.offset), attempts: attempt }, 'handler failed; records sent to the dead-letter topic');
                return;
              }
              const wait = backoffMs(attempt, retry.initialBackoffMs, retry.maxBackoffMs);
              log.warn({ err: error, attempt, retryInMs: wait, topic: batch.topic, partition: batch.partition }, 'handler failed; retrying');
              await sleepWithHeartbeat(wait, heartbeat);
            }
          }
        },
      };
      const lastOffset = batch.messages[batch.messages.length - 1]?.offset;
      await process(valid, tools, batch.topic, batch.partition);
      // Every record of the batch is done (handled, dead-lettered or skipped) unless we are stopping.
      if (lastOffset !== undefined && tools.isRunning()) tools.resolve(lastOffset);
      // Stopping: commit now, while this member is still in the group (kafkajs leaves it next).
      if (!running) await commitHandled();
      await heartbeat();
    },
  });

  return {
    ready,
    async stop() {
      running = false;
      await commitHandled();
      // Waits for the batches in flight (each commits what it handled), leaves the group, disconnects.
      await consumer.disconnect();
    },
  };
}

async function deadLetter(options: CommonOptions, topic: string, partition: number, message: KafkaMessage, error: unknown, reason: string): Promise<void> {
  const headers: Record<string, string | Buffer | undefined> = {};
  for (const [name, value] of Object.entries(message.headers ?? {})) {
    if (value !== undefined) headers[name] = Array.isArray(value) ? value.map(String).join(',') : value;
  }
  Object.assign(headers, {
    'dlq-reason': reason,
    'dlq-error': String((error as Error)?.message ?? error).slice(0, 4_000),
    'dlq-original-topic': topic,
    'dlq-original-partition': String(partition),
    'dlq-original-offset': message.offset,
    'dlq-consumer-group': options.groupId,
    'dlq-failed-at': new Date().toISOString(),
  });
  // Publishing to the DLQ is itself retried by the caller's retry loop if the broker is down.
  await options.publisher.publishRaw([{ topic: deadLetterTopic(topic), key: message.key, value: message.value, headers }]);
}

function stringHeaders(headers: IHeaders | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers ?? {})) {
    if (value === undefined) continue;
    out[name] = Array.isArray(value) ? value.map(String).join(',') : value.toString();
  }
  return out;
}

const tracer = trace.getTracer('@parley/messaging');

function withTraceContext(record: ConsumedEvent, groupId: string, work: () => Promise<void>): Promise<void> {
  const parent = propagation.extract(context.active(), record.headers);
  return context.with(parent, () =>
    tracer.startActiveSpan(`process ${record.topic}`, { kind: SpanKind.CONSUMER, attributes: { 'messaging.system': 'kafka', 'messaging.destination.name': record.topic, 'messaging.consumer.group.name': groupId } }, async (span) => {
      try {
        await work();
      } finally {
        span.end();
      }
    }),
  );
}

async function sleepWithHeartbeat(ms: number, heartbeat: () => Promise<void>): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    await new Promise((resolve) => setTimeout(resolve, Math.min(1_000, end - Date.now())));
    await heartbeat().catch(() => undefined);
  }
}
