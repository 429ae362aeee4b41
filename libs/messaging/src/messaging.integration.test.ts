import { Kafka as RawKafka, logLevel } from 'kafkajs';
import { EVENT_TOPICS, TOPICS, createEvent, deadLetterTopic, deterministicId } from '@parley/contracts';
import type { ParleyEvent } from '@parley/contracts';
import { createLogger } from '@parley/observability';
import { testKafkaBrokers, uniqueName, waitFor } from '@parley/testing';
import { PermanentError, RetriableError, createEventPublisher, createKafkaClient, provisionTopics, startBatchConsumer, startEventConsumer } from './index.ts';
import type { EventPublisher, RunningConsumer } from './index.ts';

// Real broker. Each test works on its own topics, so that it sees only its own records.
const logger = createLogger({ service: 'messaging-test', level: 'silent' });
const brokers = testKafkaBrokers();
const kafka = createKafkaClient({ brokers, clientId: 'messaging-test', logger });
const raw = new RawKafka({ brokers, clientId: 'messaging-test-raw', logLevel: logLevel.NOTHING });
let publisher: EventPublisher;
const running: RunningConsumer[] = [];

beforeAll(() => {
  publisher = createEventPublisher({ kafka, logger });
});
afterAll(async () => {
  await Promise.all(running.map((c) => c.stop()));
  await publisher.disconnect();
});

/** Reads a topic's records (value, headers) from the beginning with a throwaway group. */
async function readRaw(topic: string, count: number) {
  const records: { key: string | null; value: string | null; headers: Record<string, string> }[] = [];
  const consumer = raw.consumer({ groupId: uniqueName('reader') });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ message }) => {
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(message.headers ?? {})) headers[k] = String(v);
      records.push({ key: message.key?.toString() ?? null, value: message.value?.toString() ?? null, headers });
    },
  });
  try {
    await waitFor(() => records.length >= count, { description: `${count} records on ${topic}` });
    return records;
  } finally {
    await consumer.disconnect();
  }
}

/** Topics of one partition unless told otherwise. */
async function createTopics(...topics: Array<string | { name: string; partitions: number }>) {
  const admin = raw.admin();
  await admin.connect();
  await admin.createTopics({
    waitForLeaders: true,
    topics: topics.map((t) => (typeof t === 'string' ? { topic: t, numPartitions: 1 } : { topic: t.name, numPartitions: t.partitions })),
  });
  await admin.disconnect();
}

/** A valid event published to an arbitrary test topic (the publisher routes by type, so use publishRaw). */
function readEvent(pageId: string, n: number): ParleyEvent {
  return createEvent('messenger.read.received', {
    id: deterministicId('test', pageId, n),
    pageId,
    conversationId: `${pageId}:c`,
    occurredAt: new Date(0),
    recordedAt: new Date(0),
    data: { channel: 'messenger', customer: { psid: 'c' }, timestamp: n, standby: false, throttled: false, raw: {}, watermark: n },
  });
}

async function publishTo(topic: string, events: ParleyEvent[]) {
  await publisher.publishRaw(events.map((e) => ({ topic, key: e.conversationId, value: JSON.stringify(e) })));
}

describe('messaging over a real broker', () => {
  it('publishes concurrent events in order per key and delivers each to the handler, committed after handling', async () => {
    const topic = uniqueName('t-order');
    await createTopics(topic, deadLetterTopic(topic));
    const events = Array.from({ length: 30 }, (_, i) => readEvent('p1', i));
    await Promise.all(events.map((e) => publishTo(topic, [e])));
    const handled: number[] = [];
    const groupId = uniqueName('g');
    const consumer = await startEventConsumer({ kafka, publisher, logger, groupId, topics: [topic], handle: async (e) => void handled.push((e.data as { watermark: number }).watermark) });
    running.push(consumer);
    await waitFor(() => handled.length === 30, { description: '30 handled events' });
    expect(handled).toEqual(events.map((_, i) => i));
    await consumer.stop();

    // The same group after a restart starts after what it committed: nothing is handled twice.
    const again: number[] = [];
    await publishTo(topic, [readEvent('p1', 30)]);
    const restarted = await startEventConsumer({ kafka, publisher, logger, groupId, topics: [topic], handle: async (e) => void again.push((e.data as { watermark: number }).watermark) });
    running.push(restarted);
    await waitFor(() => again.length === 1, { description: 'the one new event' });
    expect(again).toEqual([30]);
  });

  it('dead-letters malformed records with the error and the original bytes, and keeps going', async () => {
    const topic = uniqueName('t-poison');
    await createTopics(topic, deadLetterTopic(topic));
    await publisher.publishRaw([{ topic, key: 'k', value: '{not json' }, { topic, key: 'k', value: JSON.stringify({ type: 'messenger.read.received', id: 'x' }) }]);
    await publishTo(topic, [readEvent('p2', 1)]);
    const handled: ParleyEvent[] = [];
    running.push(await startEventConsumer({ kafka, publisher, logger, groupId: uniqueName('g'), topics: [topic], handle: async (e) => void handled.push(e) }));
    await waitFor(() => handled.length === 1, { description: 'the good event after two poison records' });
    const dead = await readRaw(deadLetterTopic(topic), 2);
    expect(dead.map((d) => d.value)).toEqual(['{not json', JSON.stringify({ type: 'messenger.read.received', id: 'x' })]);
    expect(dead[0]!.headers).toMatchObject({ 'dlq-reason': 'invalid_record', 'dlq-original-topic': topic, 'dlq-original-offset': '0' });
    expect(dead[0]!.headers['dlq-error']).toMatch(/Not JSON/);
    expect(dead[1]!.headers['dlq-error']).toMatch(/Invalid messenger.read.received/);
  });

  it('commits what it handled while it runs, without stopping, and not one record more', async () => {
    const topic = uniqueName('t-commit');
    await createTopics(topic, deadLetterTopic(topic));
    const groupId = uniqueName('g');
    const handled: number[] = [];
    let release!: () => void;
    const blocked = new Promise<void>((resolve) => (release = resolve));
    const consumer = await startEventConsumer({
      kafka, publisher, logger, groupId, topics: [topic],
      handle: async (e) => {
        const n = (e.data as { watermark: number }).watermark;
        if (n === 5) await blocked; // the sixth is being handled: its offset must not be committed yet
        handled.push(n);
      },
    });
    running.push(consumer);
    // One at a time, so that they come in several batches.
    for (let i = 0; i < 6; i++) await publishTo(topic, [readEvent('p-commit', i)]);
    await waitFor(() => handled.length === 5, { description: 'five handled, the sixth blocked' });
    const admin = raw.admin();
    await admin.connect();
    try {
      const committed = async () => Number((await admin.fetchOffsets({ groupId, topics: [topic] }))[0]!.partitions[0]!.offset);
      await waitFor(async () => (await committed()) === 5, { description: 'offset 5 committed (the next to read) while the consumer runs', timeoutMs: 5_000 });
      await new Promise((resolve) => setTimeout(resolve, 500));
      expect(await committed()).toBe(5);
      release();
      await waitFor(async () => (await committed()) === 6, { description: 'offset 6 committed once the sixth is handled', timeoutMs: 5_000 });
    } finally {
      release();
      await admin.disconnect();
    }
  });

  it('stops an idle consumer without waiting out a long hold of its fetch by the broker', async () => {
    const topic = uniqueName('t-idle-stop');
    await createTopics(topic, deadLetterTopic(topic));
    const consumer = await startEventConsumer({ kafka, publisher, logger, groupId: uniqueName('g'), topics: [topic], handle: async () => undefined });
    running.push(consumer);
    await consumer.ready;
    // Nothing to fetch: the consumer's fetch is held by the broker. kafkajs's own default hold is
    // 5 s, and stopping waited for it (4.3–4.7 s measured); ours is 0.5 s. The bound leaves room
    // for a slow machine and still fails with the 5 s hold.
    await new Promise((resolve) => setTimeout(resolve, 300));
    const started = performance.now();
    await consumer.stop();
    expect(performance.now() - started).toBeLessThan(3_000);
  });

  it('loses nothing when a second member joins mid-stream, and what both handled is committed when they stop', async () => {
    const topic = uniqueName('t-rebalance');
    await createTopics({ name: topic, partitions: 4 }, deadLetterTopic(topic));
    const groupId = uniqueName('g');
    const handled = new Set<string>();
    const handle = async (e: ParleyEvent) => void handled.add(e.id);
    // Twelve conversations spread over the four partitions.
    const event = (n: number) => readEvent(`p-rb-${n % 12}`, n);
    const first = await startEventConsumer({ kafka, publisher, logger, groupId, topics: [topic], handle });
    running.push(first);
    for (let n = 0; n < 40; n++) await publishTo(topic, [event(n)]);
    await waitFor(() => handled.size === 40, { description: 'the first forty handled by the first member' });

    const second = await startEventConsumer({ kafka, publisher, logger, groupId, topics: [topic], handle });
    running.push(second);
    for (let n = 40; n < 80; n++) await publishTo(topic, [event(n)]);
    await second.ready;
    await waitFor(() => handled.size === 80, { description: 'all eighty handled across the rebalance' });
    await first.stop();
    await second.stop();

    // A new member of the group starts after everything committed: nothing handled comes again.
    const again: string[] = [];
    const third = await startEventConsumer({ kafka, publisher, logger, groupId, topics: [topic], handle: async (e) => void again.push(e.id) });
    running.push(third);
    await publishTo(topic, [event(80)]);
    await waitFor(() => again.length >= 1, { description: 'the one new event' });
    expect(again).toEqual([event(80).id]);
  });

  it('retries a retriable failure until it works, dead-letters a permanent one at once', async () => {
    const topic = uniqueName('t-retry');
    await createTopics(topic, deadLetterTopic(topic));
    await publishTo(topic, [readEvent('p3', 1), readEvent('p3', 2), readEvent('p3', 3)]);
    let attempts = 0;
    const handled: number[] = [];
    running.push(
      await startEventConsumer({
        kafka, publisher, logger, groupId: uniqueName('g'), topics: [topic],
        retry: { initialBackoffMs: 10, maxBackoffMs: 50 },
        handle: async (e) => {
          const n = (e.data as { watermark: number }).watermark;
          if (n === 1 && ++attempts < 4) throw new RetriableError('database briefly unavailable');
          if (n === 2) throw new PermanentError('this record breaks a rule');
          handled.push(n);
        },
      }),
    );
    await waitFor(() => handled.length === 2, { description: 'events 1 and 3 handled' });
    expect(handled).toEqual([1, 3]);
    expect(attempts).toBe(4);
    const dead = await readRaw(deadLetterTopic(topic), 1);
    expect(JSON.parse(dead[0]!.value!)).toMatchObject({ data: { watermark: 2 } });
    expect(dead[0]!.headers).toMatchObject({ 'dlq-reason': 'handler_failed', 'dlq-error': 'this record breaks a rule' });
  });

  it('hands waiting events to handleMany together, in chunks of maxEventsPerCall, in order', async () => {
    const topic = uniqueName('t-many');
    await createTopics(topic, deadLetterTopic(topic));
    await publishTo(topic, Array.from({ length: 25 }, (_, i) => readEvent('p6', i)));
    const calls: number[][] = [];
    const single: number[] = [];
    running.push(
      await startEventConsumer({
        kafka, publisher, logger, groupId: uniqueName('g'), topics: [topic], maxEventsPerCall: 10,
        handle: async (e) => void single.push((e.data as { watermark: number }).watermark),
        handleMany: async (events) => void calls.push(events.map((e) => (e.event.data as { watermark: number }).watermark)),
      }),
    );
    await waitFor(() => calls.flat().length + single.length === 25, { description: '25 events handled' });
    // Published before the consumer started, they arrive in one fetch: chunks of 10, 10 and 5.
    expect(calls).toEqual([Array.from({ length: 10 }, (_, i) => i), Array.from({ length: 10 }, (_, i) => i + 10), Array.from({ length: 5 }, (_, i) => i + 20)]);
    expect(single).toEqual([]);
  });

  it('hands the events of partitions handled side by side to handleMany in one call, each partition\'s in order', async () => {
    const topic = uniqueName('t-many-partitions');
    await createTopics({ name: topic, partitions: 3 }, deadLetterTopic(topic));
    const producer = raw.producer();
    await producer.connect();
    // Two events on each of three partitions, waiting before the consumer starts.
    await producer.send({
      topic,
      messages: [0, 1, 2].flatMap((partition) => [0, 1].map((i) => ({ partition, key: `k${partition}`, value: JSON.stringify(readEvent(`p9-${partition}`, partition * 10 + i)) }))),
    });
    await producer.disconnect();
    const calls: Array<Array<[number, number]>> = [];
    running.push(
      await startEventConsumer({
        kafka, publisher, logger, groupId: uniqueName('g'), topics: [topic],
        handle: async () => {
          throw new Error('every event goes through handleMany here');
        },
        handleMany: async (events) => void calls.push(events.map((e) => [e.partition, (e.event.data as { watermark: number }).watermark])),
      }),
    );
    await waitFor(() => calls.flat().length === 6, { description: 'six events handled' });
    // At least one call held events of more than one partition.
    expect(calls.some((call) => new Set(call.map(([partition]) => partition)).size > 1)).toBe(true);
    // Every event once, each partition's in order.
    for (const partition of [0, 1, 2]) {
      expect(calls.flat().filter(([p]) => p === partition).map(([, watermark]) => watermark)).toEqual([partition * 10, partition * 10 + 1]);
    }
  });

  it('handles a failed handleMany chunk one by one, so only its poison event is dead-lettered', async () => {
    const topic = uniqueName('t-many-poison');
    await createTopics(topic, deadLetterTopic(topic));
    await publishTo(topic, Array.from({ length: 6 }, (_, i) => readEvent('p7', i)));
    const together: number[] = [];
    const oneByOne: number[] = [];
    const watermark = (e: ParleyEvent) => (e.data as { watermark: number }).watermark;
    running.push(
      await startEventConsumer({
        kafka, publisher, logger, groupId: uniqueName('g'), topics: [topic],
        retry: { initialBackoffMs: 10, maxBackoffMs: 50, maxBoundedAttempts: 2 },
        handle: async (e) => {
          if (watermark(e) === 3) throw new PermanentError('event 3 breaks a rule');
          oneByOne.push(watermark(e));
        },
        handleMany: async (events) => {
          if (events.some((e) => watermark(e.event) === 3)) throw new Error('one of these breaks a rule');
          together.push(...events.map((e) => watermark(e.event)));
        },
      }),
    );
    await waitFor(() => together.length + oneByOne.length === 5, { description: 'the five good events handled' });
    expect(together).toEqual([]);
    expect(oneByOne).toEqual([0, 1, 2, 4, 5]);
    const dead = await readRaw(deadLetterTopic(topic), 1);
    expect(dead).toHaveLength(1);
    expect(JSON.parse(dead[0]!.value!)).toMatchObject({ data: { watermark: 3 } });
    expect(dead[0]!.headers).toMatchObject({ 'dlq-reason': 'handler_failed', 'dlq-error': 'event 3 breaks a rule' });
  });

  it('gives a batch consumer each partition\'s valid events in order', async () => {
    const topic = uniqueName('t-batch');
    await createTopics(topic, deadLetterTopic(topic));
    await publishTo(topic, Array.from({ length: 20 }, (_, i) => readEvent('p4', i)));
    const batches: number[][] = [];
    running.push(
      await startBatchConsumer({
        kafka, publisher, logger, groupId: uniqueName('g'), topics: [topic],
        handleBatch: async ({ events }) => void batches.push(events.map((e) => (e.event.data as { watermark: number }).watermark)),
      }),
    );
    await waitFor(() => batches.flat().length === 20, { description: '20 events in batches' });
    expect(batches.flat()).toEqual(Array.from({ length: 20 }, (_, i) => i));
  });

  it('keeps a namespace\'s topics and groups apart from the default ones (KAFKA_NAMESPACE)', async () => {
    const namespace = `${uniqueName('ns')}.`;
    const scoped = createKafkaClient({ brokers, clientId: 'messaging-test-ns', logger, namespace });
    const created = await provisionTopics(scoped, EVENT_TOPICS);
    expect(created).toContain(`${namespace}${TOPICS.inbound}`);
    const scopedPublisher = createEventPublisher({ kafka: scoped, logger });
    const pageId = uniqueName('page');
    await scopedPublisher.publish([readEvent(pageId, 7)]);
    const seen: { topic: string; id: string }[] = [];
    running.push(
      await startEventConsumer({
        kafka: scoped, publisher: scopedPublisher, logger, groupId: 'fixed-group-name', topics: [TOPICS.inbound],
        handle: async (e, position) => void seen.push({ topic: position.topic, id: e.id }),
      }),
    );
    await waitFor(() => seen.length === 1, { description: 'the event in the namespaced topic' });
    // Handlers see the logical topic name; the physical one carries the namespace.
    expect(seen).toEqual([{ topic: TOPICS.inbound, id: deterministicId('test', pageId, 7) }]);
    const physical = await readRaw(`${namespace}${TOPICS.inbound}`, 1);
    expect(JSON.parse(physical[0]!.value!)).toMatchObject({ pageId });
    await scopedPublisher.disconnect();
  });
});
