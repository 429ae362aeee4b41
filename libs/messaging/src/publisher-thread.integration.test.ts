import { Kafka as RawKafka, logLevel } from 'kafkajs';
import { createEvent, deterministicId } from '@parley/contracts';
import type { ParleyEvent } from '@parley/contracts';
import { createLogger } from '@parley/observability';
import { testKafkaBrokers, uniqueName, waitFor } from '@parley/testing';
import { RetriableError, createEventPublisher, createKafkaClient } from './index.ts';

// The publisher whose producer runs on a worker thread (`offThread`), against the real broker.
const logger = createLogger({ service: 'publisher-thread-test', level: 'silent' });
const brokers = testKafkaBrokers();
const raw = new RawKafka({ brokers, clientId: 'publisher-thread-test-raw', logLevel: logLevel.NOTHING });

async function createTopic(topic: string, partitions = 1) {
  const admin = raw.admin();
  await admin.connect();
  await admin.createTopics({ waitForLeaders: true, topics: [{ topic, numPartitions: partitions }] });
  await admin.disconnect();
}

type Read = { partition: number; key: Buffer | null; value: Buffer | null; headers: Record<string, Buffer | undefined> };

async function readAll(topic: string, count: number): Promise<Read[]> {
  const records: Read[] = [];
  const consumer = raw.consumer({ groupId: uniqueName('reader') });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ partition, message }) => {
      records.push({ partition, key: message.key, value: message.value, headers: (message.headers ?? {}) as Record<string, Buffer | undefined> });
    },
  });
  try {
    await waitFor(() => records.length >= count, { description: `${count} records on ${topic}` });
    return records;
  } finally {
    await consumer.disconnect();
  }
}

function readEvent(pageId: string, psid: string, n: number): ParleyEvent {
  return createEvent('messenger.read.received', {
    id: deterministicId('thread-test', pageId, psid, n),
    pageId,
    conversationId: `${pageId}:${psid}`,
    occurredAt: new Date(0),
    recordedAt: new Date(0),
    data: { channel: 'messenger', customer: { psid }, timestamp: n, standby: false, throttled: false, raw: {}, watermark: n },
  });
}

describe('a publisher on a worker thread', () => {
  it('publishes concurrent publishes in order per key, as the same records the in-thread publisher writes', async () => {
    const topic = uniqueName('t-thread-order');
    await createTopic(topic, 3);
    const publisher = createEventPublisher({ kafka: createKafkaClient({ brokers, clientId: 'thread-test', logger }), logger, offThread: true });
    try {
      // 3 conversations × 40 events, published concurrently from many turns of the event loop.
      const events = Array.from({ length: 120 }, (_, i) => readEvent('p', `c${i % 3}`, Math.floor(i / 3)));
      const publishes: Promise<void>[] = [];
      for (let i = 0; i < events.length; i += 7) {
        publishes.push(publisher.publishRaw(events.slice(i, i + 7).map((e) => ({ topic, key: e.conversationId, value: JSON.stringify(e), headers: { 'event-type': e.type } }))));
        if (i % 21 === 0) await new Promise((resolve) => setImmediate(resolve));
      }
      await Promise.all(publishes);

      const records = await readAll(topic, events.length);
      expect(records).toHaveLength(events.length);
      for (const conversation of ['p:c0', 'p:c1', 'p:c2']) {
        const mine = records.filter((r) => r.key?.toString() === conversation);
        // One partition per key, and the order in which they were published.
        expect(new Set(mine.map((r) => r.partition)).size).toBe(1);
        expect(mine.map((r) => (JSON.parse(r.value!.toString()) as ParleyEvent & { data: { watermark: number } }).data.watermark)).toEqual(Array.from({ length: 40 }, (_, i) => i));
      }
      expect(records.every((r) => r.headers['event-type']?.toString() === 'messenger.read.received')).toBe(true);
    } finally {
      await publisher.disconnect();
    }
  });

  it('publishes events routed by type, and raw bytes exactly as given (a Buffer cut from a shared pool included)', async () => {
    const topic = uniqueName('t-thread-bytes');
    await createTopic(topic);
    const publisher = createEventPublisher({ kafka: createKafkaClient({ brokers, clientId: 'thread-test', logger }), logger, offThread: true });
    try {
      const binary = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
      const pooled = Buffer.from('a small value from the pool'); // a view into Node's 8 KiB pool
      expect(pooled.buffer.byteLength).toBeGreaterThan(pooled.length);
      await publisher.publishRaw([
        { topic, key: Buffer.from('k1'), value: binary, headers: { original: Buffer.from([0, 1, 2]), reason: 'poison' } },
        { topic, key: 'k2', value: pooled },
        { topic, key: null, value: null },
      ]);
      const records = await readAll(topic, 3);
      expect(records[0]!.value).toEqual(binary);
      expect(records[0]!.key?.toString()).toBe('k1');
      expect(records[0]!.headers['original']).toEqual(Buffer.from([0, 1, 2]));
      expect(records[0]!.headers['reason']?.toString()).toBe('poison');
      expect(records[1]!.value?.toString()).toBe('a small value from the pool');
      expect(records[2]!.value).toBeNull();
    } finally {
      await publisher.disconnect();
    }
  });

  it('rejects with a retriable error when the broker cannot be reached, and publishes once it can', async () => {
    const unreachable = createKafkaClient({ brokers: ['127.0.0.1:1'], clientId: 'thread-test', logger, connectionTimeoutMs: 300 });
    const down = createEventPublisher({ kafka: unreachable, logger, requestTimeoutMs: 500, offThread: true });
    try {
      const failure = await down.publishRaw([{ topic: 'nowhere', key: 'k', value: 'v' }]).then(
        () => undefined,
        (error: unknown) => error,
      );
      expect(failure).toBeInstanceOf(RetriableError);
    } finally {
      await down.disconnect();
    }

    // A publisher that disconnected publishes again on a new thread when asked to.
    const topic = uniqueName('t-thread-again');
    await createTopic(topic);
    const publisher = createEventPublisher({ kafka: createKafkaClient({ brokers, clientId: 'thread-test', logger }), logger, offThread: true });
    await publisher.publishRaw([{ topic, key: 'k', value: 'first' }]);
    await publisher.disconnect();
    await publisher.publishRaw([{ topic, key: 'k', value: 'second' }]);
    await publisher.disconnect();
    const records = await readAll(topic, 2);
    expect(records.map((r) => r.value?.toString())).toEqual(['first', 'second']);
  });

  it('finishes the publishes it was given before it disconnects (a service shutting down loses nothing)', async () => {
    const topic = uniqueName('t-thread-shutdown');
    await createTopic(topic);
    const publisher = createEventPublisher({ kafka: createKafkaClient({ brokers, clientId: 'thread-test', logger }), logger, offThread: true });
    await publisher.publishRaw([{ topic, key: 'k', value: 'warm-up' }]);
    // Several batches: one with the thread, the rest still waiting on this side when disconnect is called.
    const outcomes: string[] = [];
    const publish = (i: number) =>
      publisher.publishRaw([{ topic, key: 'k', value: `last-${i}` }]).then(
        () => void outcomes.push(`ok ${i}`),
        (error: unknown) => void outcomes.push(`failed ${i}: ${(error as Error).message}`),
      );
    const publishes = [publish(0)];
    await new Promise((resolve) => setImmediate(resolve)); // the first batch crosses
    // These wait on this side for the first batch's answer when disconnect is called.
    for (let i = 1; i < 5; i++) publishes.push(publish(i));
    await publisher.disconnect();
    // Settled by the time disconnect returns, not by a thread started afterwards.
    expect(outcomes.sort()).toEqual(['ok 0', 'ok 1', 'ok 2', 'ok 3', 'ok 4']);
    await Promise.all(publishes);
    const records = await readAll(topic, 6);
    expect(records.map((r) => r.value?.toString())).toEqual(['warm-up', 'last-0', 'last-1', 'last-2', 'last-3', 'last-4']);
  });
});
