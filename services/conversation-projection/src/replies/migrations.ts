import type { Migration } from '@parley/persistence';

/**
 * Replies people asked for, by their idempotency key: a double click (or a retry of a request whose
 * answer was lost) is answered from here instead of sending again. Not derived from the log, so it
 * lives in the control schema and survives rebuilds.
 */
export const replyMigrations: Migration[] = [
  {
    name: '0002_agent_replies',
    up: [
      `create table agent_replies (
         account_id text not null,
         idempotency_key text not null,
         outbound_id text not null,
         conversation_id text not null,
         request_hash text not null,
         response jsonb not null,
         created_at timestamptz not null default now(),
         primary key (account_id, idempotency_key)
       )`,
    ],
  },
];
