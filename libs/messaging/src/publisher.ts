import { context, propagation } from '@opentelemetry/api';
import { Partitioners } from 'kafkajs';
import type { Kafka, Producer } from 'kafkajs';
import { encodeEvent, keyOf, topicOf } from '@parley/contracts';
import type { ParleyEvent } from '@parley/contracts';
import type { Logger } from '@parley/observability';
import { RetriableError } from './errors.ts';
import { namespaced } from './kafka.ts';
import { publisherOnWorkerThread } from './publisher-thread.ts';

/** Publishes events durably. Resolves only when every event is acknowledged by all in-sync replicas. */
export type EventPublisher = {
  publish(events: ReadonlyArray<ParleyEvent>): Promise<void>;
  /** Raw records, for the dead-letter topics (the original bytes must be kept as they were). */
  publishRaw(records: ReadonlyArray<RawRecord>): Promise<void>;
  disconnect(): Promise<void>;
};

export type RawRecord = {
  topic: string;
  key: string | Buffer | null;
  value: Buffer | string | null;
  headers?: Record<string, string | Buffer | undefined>;
};

type Pending = { records: ReadonlyArray<RawRecord>; resolve: () => void; reject: (error: unknown) => void };

export type PublisherOptions = {
  kafka: Kafka;
  logger: Logger;
  /** Give up on one request after this long (the caller, e.g. ingress, answers 503 and Meta retries). */
  requestTimeoutMs?: number;
  /**
   * Encode and send on a worker thread of its own. For a process whose main thread is its
   * bottleneck and whose work is mostly publishing (ingress): kafkajs's record encoding, CRC and
   * socket writes were a quarter of ingress's main thread (profiled). Same guarantees and order;
   * publishes hop a thread each way.
   */
  offThread?: boolean;
};

/**
 * An idempotent producer (acks from all in-sync replicas) that batches concurrent publishes into
 * one request: while a request is in flight, later publishes queue and go together in the next
 * one. With one request in flight at a time, records keep their order per partition.
 */
export function createEventPublisher(options: PublisherOptions): EventPublisher {
  return options.offThread ? publisherOnWorkerThread(options) : publisherOnThisThread(options);
}

/** The record an event is published as: its topic, its key (the conversation, for order), JSON, trace context. */
export function recordOf(event: ParleyEvent): RawRecord {
  const headers: Record<string, string> = { 'event-type': event.type };
  // W3C trace context travels in headers so a trace follows the event across services.
  propagation.inject(context.active(), headers);
  return { topic: topicOf(event), key: keyOf(event), value: encodeEvent(event), headers };
}

function publisherOnThisThread(options: PublisherOptions): EventPublisher {
  const producer: Producer = options.kafka.producer({
    idempotent: true,
    maxInFlightRequests: 1,
    allowAutoTopicCreation: false,
    // murmur2, as Java clients partition: a key lands on the same partition whoever produces it.
    createPartitioner: Partitioners.DefaultPartitioner,
    retry: { retries: 3, initialRetryTime: 100, maxRetryTime: 1_000 },
  });
  let connecting: Promise<void> | undefined;
  let queue: Pending[] = [];
  let inFlight = false;

  const ensureConnected = () => {
    connecting ??= producer.connect().catch((error: unknown) => {
      connecting = undefined;
      throw error;
    });
    return connecting;
  };

  async function flush(): Promise<void> {
    if (inFlight || queue.length === 0) return;
    inFlight = true;
    const batch = queue;
    queue = [];
    try {
      await ensureConnected();
      const byTopic = new Map<string, RawRecord[]>();
      for (const pending of batch) {
        for (const record of pending.records) {
          const list = byTopic.get(record.topic) ?? [];
          list.push(record);
          byTopic.set(record.topic, list);
        }
      }
      await producer.sendBatch({
        acks: -1,
        timeout: options.requestTimeoutMs ?? 5_000,
        topicMessages: [...byTopic].map(([topic, records]) => ({
          topic: namespaced(options.kafka, topic),
          messages: records.map((r) => ({ key: r.key, value: r.value, headers: r.headers ?? {} })),
        })),
      });
      for (const pending of batch) pending.resolve();
    } catch (error) {
      options.logger.warn({ err: error }, 'publishing to Kafka failed');
      // A failed connection is re-established on the next publish.
      connecting = undefined;
      const failure = new RetriableError(`Kafka did not acknowledge the records: ${(error as Error).message}`, { cause: error });
      for (const pending of batch) pending.reject(failure);
    } finally {
      inFlight = false;
      if (queue.length > 0) void flush();
    }
  }

  function enqueue(records: ReadonlyArray<RawRecord>): Promise<void> {
    if (records.length === 0) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      queue.push({ records, resolve, reject });
      void flush();
    });
  }

  return {
    publish(events) {
      return enqueue(events.map(recordOf));
    },
    publishRaw: enqueue,
    async disconnect() {
      await producer.disconnect();
    },
  };
}
