import { namespaced } from '@parley/messaging';
import type { Kafka } from '@parley/messaging';

// Positions in the log, by logical topic name (the client's KAFKA_NAMESPACE is applied here, as the
// messaging library applies it to consumers and producers).

export type PartitionTarget = { topic: string; partition: number; low: string; high: string };

/** The end of every partition of `topics` now: a rebuild is caught up once it has read up to here. */
export async function captureEndOffsets(kafka: Kafka, topics: ReadonlyArray<string>): Promise<PartitionTarget[]> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const targets: PartitionTarget[] = [];
    for (const topic of topics) {
      for (const p of await admin.fetchTopicOffsets(namespaced(kafka, topic))) targets.push({ topic, partition: p.partition, low: p.low, high: p.high });
    }
    return targets.sort((a, b) => a.topic.localeCompare(b.topic) || a.partition - b.partition);
  } finally {
    await admin.disconnect();
  }
}

/** The next offset a consumer group will read, per `topic:partition` (-1: nothing committed yet). */
export async function committedOffsets(kafka: Kafka, groupId: string, topics: ReadonlyArray<string>): Promise<Map<string, bigint>> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const result = new Map<string, bigint>();
    for (const topic of topics) {
      const [entry] = await admin.fetchOffsets({ groupId: namespaced(kafka, groupId), topics: [namespaced(kafka, topic)] });
      for (const p of entry?.partitions ?? []) result.set(`${topic}:${p.partition}`, BigInt(p.offset));
    }
    return result;
  } finally {
    await admin.disconnect();
  }
}

/** Forgets a consumer group that no longer has members (the group of a replaced copy of the inbox). */
export async function deleteConsumerGroup(kafka: Kafka, groupId: string): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    await admin.deleteGroups([namespaced(kafka, groupId)]);
  } finally {
    await admin.disconnect();
  }
}
