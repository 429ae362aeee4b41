// The outbound_sender schema. Shipped migrations are never edited: add a new one.
import type { Migration } from '@parley/persistence';

export const migrations: Migration[] = [
  {
    name: '0001_send_ledger',
    up: [
      // One row per command, keyed by outboundId: inserting the same command twice is a no-op.
      `create table sends (
        outbound_id text primary key,
        seq bigserial not null unique,
        page_id text not null,
        account_id text,
        conversation_id text not null,
        customer_psid text not null,
        customer_name text,
        channel text not null,
        comment_id text,
        author text not null,
        purpose text not null,
        messaging_type text not null,
        tag text,
        typing_indicator boolean not null,
        agent_id text,
        send_at timestamptz not null,
        reply_window_closes_at timestamptz,
        status text not null check (status in ('scheduled', 'held', 'sent', 'failed', 'cancelled')),
        next_attempt_at timestamptz not null,
        deferred_reason text,
        deferrals integer not null default 0,
        command_event_id text not null,
        correlation_id text not null,
        command_fingerprint text not null,
        created_at timestamptz not null default now(),
        updated_at timestamptz not null default now()
      )`,
      // The dispatcher's question: which open sends are due?
      `create index sends_due on sends (next_attempt_at, seq) where status in ('scheduled', 'held')`,
      // Sends of one conversation go out in order: the earliest open one first.
      `create index sends_open_by_conversation on sends (conversation_id, send_at, seq) where status in ('scheduled', 'held')`,
      `create index sends_held_by_page on sends (page_id) where status = 'held'`,
      `create table send_parts (
        outbound_id text not null references sends (outbound_id),
        part integer not null,
        content jsonb not null,
        state text not null check (state in ('pending', 'sending', 'sent', 'failed', 'unknown', 'skipped', 'cancelled')),
        mid text,
        attempts integer not null default 0,
        sending_started_at timestamptz,
        sent_at timestamptz,
        updated_at timestamptz not null default now(),
        primary key (outbound_id, part)
      )`,
      // Cancellations are kept on their own, so one can arrive before its command, or while the send is in flight.
      `create table cancellations (
        outbound_id text primary key,
        page_id text not null,
        reason text not null,
        command_event_id text not null,
        received_at timestamptz not null default now()
      )`,
      `create table pages (
        page_id text primary key,
        account_id text,
        status text not null,
        source text not null,
        status_at timestamptz not null,
        rejected_token_fingerprint text,
        updated_at timestamptz not null default now()
      )`,
      // Transactional outbox: events are written with the state change that caused them and
      // published by the relay, so a crash can neither lose an event nor publish one for a change
      // that was rolled back.
      `create table outbox (
        seq bigserial primary key,
        event_id text not null,
        event jsonb not null,
        created_at timestamptz not null default now()
      )`,
      // Outbox rows the relay could not read as events (a bug): kept for a person, never dropped.
      `create table outbox_rejected (
        seq bigint primary key,
        event jsonb not null,
        error text not null,
        rejected_at timestamptz not null default now()
      )`,
    ],
  },
  {
    name: '0002_echo_reconciliation',
    up: [
      // `unconfirmed`: Meta did not answer the Send API call (a timeout, or the process died during
      // it); the part waits for its echo until `reconcile_until`, then is sent again.
      `alter table send_parts drop constraint send_parts_state_check`,
      `alter table send_parts add constraint send_parts_state_check
         check (state in ('pending', 'sending', 'unconfirmed', 'sent', 'failed', 'unknown', 'skipped', 'cancelled'))`,
      `alter table send_parts add column reconcile_until timestamptz`,
      `alter table send_parts add constraint send_parts_reconcile_until_check
         check ((state = 'unconfirmed') = (reconcile_until is not null))`,
    ],
  },
];
