/** Every Kafka topic Parley owns. Event topics are the system of record: no time-based deletion. */
export const TOPICS = {
  inbound: 'messenger.inbound.v1',
  decisions: 'conversation.decisions.v1',
  outboundCommands: 'outbound.commands.v1',
  outboundEvents: 'outbound.events.v1',
  pages: 'page.events.v1',
} as const;

export type TopicName = (typeof TOPICS)[keyof typeof TOPICS];

/** The dead-letter topic of a topic: poison records go there with the error, the partition moves on. */
export function deadLetterTopic(topic: string): string {
  return `${topic}.dlq`;
}

export type TopicSpec = {
  readonly name: string;
  readonly partitions: number;
  /** `conversation`: keyed `{pageId}:{psid}` so a conversation is ordered end to end; `page`: keyed `{pageId}`. */
  readonly keyedBy: 'conversation' | 'page';
  /** Kafka topic configs. Event topics keep their history (`retention.ms=-1`). */
  readonly config: Readonly<Record<string, string>>;
  readonly description: string;
};

const keepForever = { 'retention.ms': '-1', 'retention.bytes': '-1' } as const;

const eventTopics: ReadonlyArray<Omit<TopicSpec, 'config'>> = [
  { name: TOPICS.inbound, partitions: 6, keyedBy: 'conversation', description: 'Everything Meta sent, normalized: messages, echoes, postbacks, reactions, deliveries, reads, referrals, comments, and unsupported shapes with their raw object.' },
  { name: TOPICS.decisions, partitions: 6, keyedBy: 'conversation', description: 'What the rules decided for each inbound event (reply, suppress with a reason), escalations and resolutions.' },
  { name: TOPICS.outboundCommands, partitions: 6, keyedBy: 'conversation', description: 'Requests to send a message to a customer (assistant answers, greetings, away messages, manual replies).' },
  { name: TOPICS.outboundEvents, partitions: 6, keyedBy: 'conversation', description: 'What happened to each send: scheduled, sent (with Meta mid), deferred, failed with a reason; token rejections.' },
  { name: TOPICS.pages, partitions: 3, keyedBy: 'page', description: 'Page connections, their health and settings.' },
];

/** The topics to provision: each event topic and its dead-letter topic, all kept forever. */
export const EVENT_TOPICS: ReadonlyArray<TopicSpec> = eventTopics.flatMap((topic) => [
  { ...topic, config: keepForever },
  {
    ...topic,
    name: deadLetterTopic(topic.name),
    partitions: 1,
    config: keepForever,
    description: `Poison records of ${topic.name}, with the error and the original record in headers.`,
  },
]);
