export { OUTBOX_TABLES, appendToOutbox, outboxInsert, outboxParameters, startOutboxRelay } from './outbox.ts';
export type { OutboxRelay, OutboxRelayOptions } from './outbox.ts';
