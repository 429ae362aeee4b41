import { Worker } from 'node:worker_threads';
import { RetriableError } from './errors.ts';
import { clientOptionsOf } from './kafka.ts';
import type { KafkaClientOptions } from './kafka.ts';
import { recordOf } from './publisher.ts';
import type { EventPublisher, PublisherOptions, RawRecord } from './publisher.ts';

/*
 * A publisher whose producer runs on a worker thread. The owning thread turns events into records
 * (JSON text, trace headers: cheap) and posts them to the publishing thread, which runs the
 * ordinary publisher (idempotence, acks from all in-sync replicas) and answers which publishes
 * Kafka acknowledged. At most BATCHES_WITH_THREAD batches are with the publishing thread, and
 * whatever is published meanwhile goes in the next: the batching the in-thread publisher does around
 * its one request in flight, and about one message each way per Kafka request (a message per publish
 * cost the owning thread more than the encoding it moved; measured). Records keep their order:
 * batches cross in order and the publisher on the other side sends them one after another.
 */

/** A record whose byte fields (key, value, header values) are `Bytes`: Buffers here, Uint8Arrays across threads. */
type RecordOf<Bytes> = { topic: string; key: string | Bytes | null; value: string | Bytes | null; headers?: Record<string, string | Bytes | undefined> };

/** What crosses to the publishing thread: byte fields as exact-size copies (see `portable`). */
export type PortableRecord = RecordOf<Uint8Array>;

export type ToPublisherThread = { kind: 'publish'; ids: number[]; records: PortableRecord[] } | { kind: 'disconnect' };
export type FromPublisherThread =
  | { kind: 'published'; ids: number[] }
  | { kind: 'failed'; ids: number[]; message: string }
  | { kind: 'disconnected' };
export type PublisherThreadData = {
  client: Omit<KafkaClientOptions, 'logger'>;
  requestTimeoutMs: number | undefined;
  service: string;
  logLevel: string;
};

/**
 * Batches handed to the publishing thread and not yet answered: one in Kafka, one waiting behind
 * it there, so that the next request goes as soon as Kafka answers rather than after a round trip
 * between the threads (with one, the producer idled 40 % of the time at the maximum rate).
 */
const BATCHES_WITH_THREAD = 2;

type Waiting = { resolve: () => void; reject: (error: unknown) => void };

export function publisherOnWorkerThread(options: PublisherOptions): EventPublisher {
  const { logger } = options;
  const threadData: PublisherThreadData = {
    client: clientOptionsOf(options.kafka),
    requestTimeoutMs: options.requestTimeoutMs,
    service: String(logger.bindings()['service'] ?? 'parley'),
    logLevel: logger.level,
  };
  let worker: Worker | undefined;
  let nextId = 1;
  const waiting = new Map<number, Waiting>();
  let outgoing: { ids: number[]; records: PortableRecord[] } = { ids: [], records: [] };
  let flushScheduled = false;
  let batchesWithThread = 0;
  let disconnected: (() => void) | undefined;

  function settle(ids: ReadonlyArray<number>, outcome: (w: Waiting) => void) {
    for (const id of ids) {
      const w = waiting.get(id);
      if (!w) continue;
      waiting.delete(id);
      outcome(w);
    }
    // An idle publishing thread does not keep the process alive, as an idle socket would not.
    if (waiting.size === 0) worker?.unref();
  }

  function start(): Worker {
    const thread = new Worker(new URL('./publisher-worker.ts', import.meta.url), { workerData: threadData, name: 'kafka-publisher' });
    thread.unref();
    thread.on('message', (reply: FromPublisherThread) => {
      if (reply.kind === 'published') settle(reply.ids, (w) => w.resolve());
      else if (reply.kind === 'failed') {
        const failure = new RetriableError(reply.message);
        settle(reply.ids, (w) => w.reject(failure));
      } else return disconnected?.();
      batchesWithThread--;
      flush();
    });
    thread.on('error', (error) => logger.error({ err: error }, 'the Kafka publishing thread failed'));
    thread.on('exit', (code) => {
      if (worker === thread) worker = undefined;
      batchesWithThread = 0;
      disconnected?.();
      if (waiting.size === 0) return flush();
      // Whatever it had not confirmed is unknown: callers retry (ingress answers 503, Meta resends).
      logger.warn({ code, unconfirmed: waiting.size }, 'the Kafka publishing thread stopped with publishes unconfirmed');
      const failure = new RetriableError(`The Kafka publishing thread stopped (exit code ${code})`);
      settle([...waiting.keys()], (w) => w.reject(failure));
      // Publishes that had not crossed yet go to a new thread.
      flush();
    });
    return thread;
  }

  function flush() {
    flushScheduled = false;
    if (batchesWithThread >= BATCHES_WITH_THREAD || outgoing.ids.length === 0) return;
    batchesWithThread++;
    send();
  }

  function send() {
    const batch = outgoing;
    outgoing = { ids: [], records: [] };
    worker ??= start();
    worker.ref();
    worker.postMessage({ kind: 'publish', ...batch } satisfies ToPublisherThread);
  }

  function enqueue(records: ReadonlyArray<RawRecord>): Promise<void> {
    if (records.length === 0) return Promise.resolve();
    const id = nextId++;
    outgoing.ids.push(id);
    for (const record of records) outgoing.records.push(portable(record));
    // Everything published in this turn of the event loop crosses in one message.
    if (!flushScheduled && batchesWithThread < BATCHES_WITH_THREAD) {
      flushScheduled = true;
      setImmediate(flush);
    }
    return new Promise<void>((resolve, reject) => waiting.set(id, { resolve, reject }));
  }

  return {
    publish: (events) => enqueue(events.map(recordOf)),
    publishRaw: enqueue,
    async disconnect() {
      // What waits for the batch in flight goes now; the publishing thread sends it before it disconnects.
      if (outgoing.ids.length > 0) send();
      const thread = worker;
      if (!thread) return;
      const done = new Promise<void>((resolve) => (disconnected = resolve));
      thread.postMessage({ kind: 'disconnect' } satisfies ToPublisherThread);
      const timer = setTimeout(() => void thread.terminate(), 10_000);
      await done;
      clearTimeout(timer);
      await thread.terminate();
    },
  };
}

/** The same record with its byte fields (key, value, header values) converted; strings and nulls stay. */
function withBytes<From, To>(record: RecordOf<From>, convert: (bytes: From) => To): RecordOf<To> {
  // Byte fields are the only ones that are neither strings nor missing.
  const bytes = <T extends null | undefined>(v: string | From | T): string | To | T => (v === null || v === undefined || typeof v === 'string' ? (v as string | T) : convert(v as From));
  const result: RecordOf<To> = { topic: record.topic, key: bytes(record.key), value: bytes(record.value) };
  if (record.headers) {
    const headers: Record<string, string | To | undefined> = {};
    for (const [name, v] of Object.entries(record.headers)) headers[name] = bytes(v);
    result.headers = headers;
  }
  return result;
}

/**
 * Copies each Buffer into a Uint8Array of its own length: cloning a Buffer for another thread copies
 * the whole pool it was cut from (8 KiB for a small one).
 */
function portable(record: RawRecord): PortableRecord {
  return withBytes(record, (buffer: Buffer) => new Uint8Array(buffer));
}

/** The other direction: what the publishing thread hands to kafkajs (which takes Buffers, not Uint8Arrays). */
export function fromPortable(record: PortableRecord): RawRecord {
  return withBytes(record, (bytes: Uint8Array) => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
}
