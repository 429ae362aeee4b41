// The publishing thread's entry point (see publisher-thread.ts): an ordinary publisher, fed
// through the port, answering which publishes Kafka acknowledged.
import { parentPort, workerData } from 'node:worker_threads';
import { createLogger } from '@parley/observability';
import { createKafkaClient } from './kafka.ts';
import { createEventPublisher } from './publisher.ts';
import { fromPortable } from './publisher-thread.ts';
import type { FromPublisherThread, PublisherThreadData, ToPublisherThread } from './publisher-thread.ts';

const port = parentPort;
if (!port) throw new Error('publisher-worker.ts runs as a worker thread (createEventPublisher with offThread)');
const data = workerData as PublisherThreadData;
const logger = createLogger({ service: data.service, level: data.logLevel }).child({ thread: 'kafka-publisher' });
const publisher = createEventPublisher({
  kafka: createKafkaClient({ ...data.client, logger }),
  logger,
  ...(data.requestTimeoutMs === undefined ? {} : { requestTimeoutMs: data.requestTimeoutMs }),
});
const reply = (message: FromPublisherThread) => port.postMessage(message);
const unanswered = new Set<Promise<void>>();

port.on('message', (request: ToPublisherThread) => {
  if (request.kind === 'publish') {
    const answered = publisher.publishRaw(request.records.map(fromPortable)).then(
      () => reply({ kind: 'published', ids: request.ids }),
      (error: unknown) => reply({ kind: 'failed', ids: request.ids, message: error instanceof Error ? error.message : String(error) }),
    );
    unanswered.add(answered);
    void answered.finally(() => unanswered.delete(answered));
  } else {
    // Publishes already handed over finish first (the owner's shutdown waits for them, e.g. ingress's open requests).
    void Promise.all(unanswered)
      .then(() => publisher.disconnect())
      .catch((error: unknown) => logger.warn({ err: error }, 'disconnecting the producer failed'))
      .finally(() => {
        reply({ kind: 'disconnected' });
        port.close();
      });
  }
});
