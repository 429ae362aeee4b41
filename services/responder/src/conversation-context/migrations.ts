import type { Migration } from '@parley/persistence';

export const contextMigrations: Migration[] = [
  {
    name: '0002_conversation_context',
    up: [
      `create table conversation_messages (
        event_id text primary key,
        conversation_id text not null,
        page_id text not null,
        author text not null check (author in ('customer', 'assistant', 'agent', 'page')),
        text text,
        attachments jsonb not null default '[]'::jsonb,
        postback jsonb,
        mid text,
        source text not null check (source in ('inbound', 'echo', 'outbound')),
        occurred_at timestamptz not null,
        -- Arrival order breaks ties between messages Meta stamped with the same millisecond.
        seq bigint generated always as identity,
        stored_at timestamptz not null default now()
      )`,
      // One Meta message is one row, whether it was seen as outbound.message.sent or as an echo.
      'create unique index conversation_messages_mid on conversation_messages (conversation_id, mid) where mid is not null',
      'create index conversation_messages_recent on conversation_messages (conversation_id, occurred_at desc, seq desc)',
      `create table customer_names (
        conversation_id text primary key,
        first_name text,
        occurred_at timestamptz not null
      )`,
    ],
  },
];
