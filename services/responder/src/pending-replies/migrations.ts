import type { Migration } from '@parley/persistence';

export const pendingReplyMigrations: Migration[] = [
  {
    name: '0004_pending_replies',
    up: [
      `create table pending_replies (
        conversation_id text primary key,
        page_id text not null,
        account_id text,
        channel text not null,
        customer jsonb not null,
        assistant_id text not null,
        reply_at timestamptz not null,
        due_at timestamptz not null,
        reply_window_closes_at timestamptz not null,
        trigger_event_ids jsonb not null,
        request_event_ids jsonb not null,
        correlation_id text,
        version integer not null,
        attempts integer not null default 0,
        lease_until timestamptz,
        created_at timestamptz not null default now(),
        updated_at timestamptz not null default now()
      )`,
      'create index pending_replies_due on pending_replies (due_at)',
      // Whether a person has the conversation (escalated, not yet resolved).
      `create table reply_conversations (
        conversation_id text primary key,
        escalated boolean not null default false,
        updated_at timestamptz not null default now()
      )`,
      // Decision events already applied: a redelivered request must not re-create a reply that was sent.
      `create table processed_decisions (
        event_id text primary key,
        processed_at timestamptz not null default now()
      )`,
      'create index processed_decisions_age on processed_decisions (processed_at)',
    ],
  },
];
