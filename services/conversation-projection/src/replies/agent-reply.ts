import { EntitySchema } from '@parley/persistence';

/** What a reply request answered, kept by its idempotency key (control schema, table agent_replies). */
export type StoredReply = { id: string; status: string; messagingType: string; tag: string | null; note?: string };

export type AgentReply = {
  accountId: string;
  idempotencyKey: string;
  outboundId: string;
  conversationId: string;
  /** The request's content, so that reusing an id for a different reply is caught. */
  requestHash: string;
  response: StoredReply;
  createdAt: Date;
};

export const AgentReplyEntity = new EntitySchema<AgentReply>({
  name: 'AgentReply',
  tableName: 'agent_replies',
  properties: {
    accountId: { type: 'string', primary: true, fieldName: 'account_id' },
    idempotencyKey: { type: 'string', primary: true, fieldName: 'idempotency_key' },
    outboundId: { type: 'string', fieldName: 'outbound_id' },
    conversationId: { type: 'string', fieldName: 'conversation_id' },
    requestHash: { type: 'string', fieldName: 'request_hash' },
    response: { type: 'json' },
    createdAt: { type: 'Date', fieldName: 'created_at', onCreate: () => new Date() },
  },
});
