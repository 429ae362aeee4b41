export { createKafkaClient, provisionTopics, isBrokerReachable, namespaced } from './kafka.ts';
export type { Kafka, KafkaClientOptions } from './kafka.ts';
export { createEventPublisher } from './publisher.ts';
export type { EventPublisher, PublisherOptions, RawRecord } from './publisher.ts';
export { BACKGROUND_FETCH, handlersOfMany, startEventConsumer, startBatchConsumer } from './consumer.ts';
export type { BatchConsumerOptions, ConsumedEvent, EventConsumerOptions, RecordPosition, RetryPolicy, RunningConsumer } from './consumer.ts';
export { RetriableError, PermanentError, retryVerdict, backoffMs } from './errors.ts';
export type { RetryVerdict } from './errors.ts';
