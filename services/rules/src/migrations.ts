import type { Migration } from '@parley/persistence';

/**
 * The rules schema. State is kept as JSON documents (the pure state types, round-tripped as they
 * are) with the few columns that queries need beside them. Never edit a migration that has shipped.
 */
export const migrations: Migration[] = [
  {
    name: '0001_rules_state',
    up: [
      // Each Page's owner, connection status and reply settings, from page.events.v1 and the settings API.
      `create table pages (
         page_id text primary key,
         account_id text,
         state jsonb not null,
         updated_at timestamptz not null default now()
       )`,
      // Each conversation's reply window, escalation and answer state. `window_alert_closes_at` is
      // set while the window-closing alert is owed (customer waiting, not escalated, not alerted yet).
      `create table conversations (
         conversation_id text primary key,
         page_id text not null,
         state jsonb not null,
         window_alert_closes_at timestamptz,
         updated_at timestamptz not null default now()
       )`,
      `create index conversations_window_alert_due on conversations (window_alert_closes_at) where window_alert_closes_at is not null`,
      `create index conversations_page on conversations (page_id)`,
      // Every event that changed state (consumed or produced here), so that a redelivered or
      // replayed event is applied once: inserted in the same transaction as the change.
      `create table processed_events (
         event_id text primary key,
         event_type text not null,
         processed_at timestamptz not null default now()
       )`,
    ],
  },
  {
    name: '0002_processed_events_age',
    // processed_events is pruned by age (store/pruner.ts): without this index each pass read it all.
    up: ['create index processed_events_processed_at on processed_events (processed_at)'],
  },
];
