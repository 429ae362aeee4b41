import type { Migration } from '@parley/persistence';

/**
 * The inbox read model. Each copy of it lives in its own schema (`projection_inbox`, and
 * `projection_rebuild_<id>` while a rebuild builds a new one), so these migrations never name a
 * schema: the database layer sets `search_path` to the copy being migrated.
 */
/**
 * Indexes only the API reads: a copy being rebuilt is written without them and builds them once at
 * the end (one sorted build instead of an entry per row written). The projector's own lookups need
 * the others: primary keys, messages_conversation_time, messages_mid and messages_outbound (an echo
 * or a receipt names a message by Meta's mid or our outboundId; without those indexes each batch
 * walks every message of thousands of conversations), conversations_page_customer.
 */
export const API_ONLY_INDEXES = [
  'conversations_account_activity',
  'conversations_page_activity',
  'conversations_status_activity',
  'conversations_name_trgm',
  'messages_text_trgm',
  'inbox_changes_account',
] as const;

export const inboxMigrations: Migration[] = [
  {
    name: '0001_inbox',
    up: [
      // Consumed positions, written in the same transaction as the rows they produced.
      `create table projection_offsets (
         topic text not null,
         partition integer not null,
         "offset" bigint not null,
         updated_at timestamptz not null default now(),
         primary key (topic, partition)
       )`,
      `create table pages (
         page_id text primary key,
         account_id text,
         name text,
         status text not null,
         status_reason text,
         updated_at timestamptz not null default now()
       )`,
      `create index pages_account on pages (account_id)`,
      `create table conversations (
         id text primary key,
         page_id text not null,
         account_id text,
         channel text not null,
         customer_psid text not null,
         customer_name_base text not null,
         customer_name text not null,
         customer_name_source text not null,
         status text not null,
         state jsonb not null,
         created_at timestamptz not null,
         last_inbound_at timestamptz,
         last_escalated_at timestamptz,
         last_resolved_at timestamptz,
         last_message_at timestamptz,
         last_message_preview text,
         last_answered_at timestamptz,
         last_activity_at timestamptz not null,
         unread_count integer not null default 0,
         updated_at timestamptz not null default now()
       )`,
      // The list: newest activity first, per account (the API) or per Page (a filter).
      `create index conversations_account_activity on conversations (account_id, last_activity_at desc, id desc)`,
      `create index conversations_page_activity on conversations (page_id, last_activity_at desc, id desc)`,
      `create index conversations_status_activity on conversations (account_id, status, last_activity_at desc, id desc)`,
      `create index conversations_page_customer on conversations (page_id, customer_psid)`,
      `create table messages (
         id text primary key,
         conversation_id text not null,
         mid text,
         outbound_id text,
         direction text not null,
         author text not null,
         kind text not null,
         status text not null,
         text text,
         preview text not null,
         created_at timestamptz not null,
         part integer not null default 0,
         answered_at timestamptz,
         removed boolean not null default false,
         doc jsonb not null
       )`,
      `create index messages_conversation_time on messages (conversation_id, created_at, part, id)`,
      // Not partial: the planner cannot match \`mid = any(?)\` to a \`where mid is not null\` index.
      `create index messages_mid on messages (mid)`,
      `create index messages_outbound on messages (outbound_id)`,
      // Messages a watermark can still change (sent or delivered, not read yet).
      `create index messages_awaiting_receipt on messages (conversation_id) where direction = 'outbound' and status in ('sent', 'delivered')`,
      `create table conversation_watermarks (
         conversation_id text primary key,
         delivered jsonb not null,
         read jsonb not null
       )`,
      // Events that arrived before what they are about; applied (and deleted) when it arrives.
      `create table pending_events (
         conversation_id text not null,
         waits_for text not null,
         event_id text not null,
         event jsonb not null,
         seq bigserial,
         created_at timestamptz not null default now(),
         primary key (conversation_id, waits_for, event_id)
       )`,
      `create table customers (
         page_id text not null,
         psid text not null,
         profile_available boolean,
         profile_name text,
         profile jsonb,
         profile_status text not null default 'needed',
         attempts integer not null default 0,
         next_attempt_at timestamptz not null default now(),
         last_error text,
         updated_at timestamptz not null default now(),
         primary key (page_id, psid)
       )`,
      `create index customers_awaiting_profile on customers (next_attempt_at) where profile_status in ('needed', 'fetching')`,
      // What changed, per account: the live stream reads it (and a client resumes from it).
      `create table inbox_changes (
         seq bigserial primary key,
         account_id text not null,
         conversation_id text not null,
         at timestamptz not null default now()
       )`,
      `create index inbox_changes_account on inbox_changes (account_id, seq)`,
      // Events the projection could not apply (a bug, not the infrastructure): kept with the error
      // so that they can be fixed and replayed by a rebuild; the partition moves on.
      `create table skipped_events (
         topic text not null,
         partition integer not null,
         "offset" bigint not null,
         event_id text,
         type text,
         error text not null,
         at timestamptz not null default now(),
         primary key (topic, partition, "offset")
       )`,
      // Text search over customer names and message text: trigram indexes serve ILIKE '%…%' in
      // any language. pg_trgm lives in whichever schema first installed it; index through that.
      `do $$ begin
         create extension if not exists pg_trgm with schema public;
       exception when unique_violation or duplicate_object then null;
       end $$`,
      `do $$
       declare ext_schema text;
       begin
         select n.nspname into ext_schema from pg_extension e join pg_namespace n on n.oid = e.extnamespace where e.extname = 'pg_trgm';
         execute format('create index conversations_name_trgm on conversations using gin (customer_name %I.gin_trgm_ops)', ext_schema);
         execute format('create index messages_text_trgm on messages using gin (text %I.gin_trgm_ops)', ext_schema);
       end $$`,
    ],
  },
  {
    name: '0002_hot_updates',
    up: [
      // Deliveries, reads and echoes change a message's status many times after it is written. With
      // status in no index and room left on each page, PostgreSQL rewrites such a row in place (a
      // HOT update) instead of adding entries to all six indexes, the trigram one included. The
      // messages a watermark can change are found through messages_conversation_time instead (a
      // conversation holds few of them).
      `drop index if exists messages_awaiting_receipt`,
      `alter table messages set (fillfactor = 70)`,
      `alter table conversations set (fillfactor = 80)`,
    ],
  },
];
