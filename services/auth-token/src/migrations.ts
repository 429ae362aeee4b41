import type { Migration } from '@parley/persistence';

/**
 * The auth_token schema. Every `*_token` column holds a Fernet token (TOKEN_ENCRYPTION_KEYS), never
 * a plain access token; rotate-keys.ts re-encrypts each of them.
 */
export const migrations: Migration[] = [
  {
    name: '0001_connections',
    up: [
      // A person's long-lived user token from one OAuth round (re-exchanged before it expires).
      `create table user_grants (
         grant_id text primary key,
         account_id text not null,
         facebook_user_id text,
         user_token text not null,
         expires_at timestamptz,
         data_access_expires_at timestamptz,
         status text not null default 'active' check (status in ('active', 'expired')),
         next_refresh_at timestamptz,
         refreshed_at timestamptz,
         created_at timestamptz not null
       )`,
      `create index user_grants_due on user_grants (next_refresh_at) where status = 'active' and next_refresh_at is not null`,
      // One row per Page ever connected; the token is deleted (null) when the Page is disconnected.
      `create table pages (
         page_id text primary key,
         account_id text not null,
         name text not null,
         status text not null check (status in ('connected', 'degraded', 'needs_reconnect', 'revoked', 'subscription_failed', 'disconnected')),
         problems jsonb not null default '[]'::jsonb,
         page_token text,
         grant_id text references user_grants (grant_id) on delete set null,
         subscribed_fields text[] not null default '{}',
         connected_at timestamptz,
         token_checked_at timestamptz,
         next_check_at timestamptz,
         -- The event that asked for the next check (a token rejection), kept as the causation of what it finds.
         check_cause text,
         check_correlation text,
         updated_at timestamptz not null,
         check (status <> 'disconnected' or page_token is null)
       )`,
      `create index pages_by_account on pages (account_id)`,
      `create index pages_due on pages (next_check_at) where page_token is not null`,
      // Issued OAuth states (nonces): consumed once, expire after ten minutes.
      `create table oauth_states (
         nonce text primary key,
         account_id text not null,
         subscribe_feed boolean not null,
         created_at timestamptz not null,
         expires_at timestamptz not null,
         consumed_at timestamptz
       )`,
      // The Pages offered on a selection page, with their Page tokens, until the person picks (or it expires).
      `create table selections (
         selection_id text primary key,
         account_id text not null,
         grant_id text not null references user_grants (grant_id) on delete cascade,
         subscribe_feed boolean not null,
         created_at timestamptz not null,
         expires_at timestamptz not null
       )`,
      `create table selection_pages (
         selection_id text not null references selections (selection_id) on delete cascade,
         page_id text not null,
         name text not null,
         tasks text[] not null,
         pickable boolean not null,
         reason text,
         page_token text,
         primary key (selection_id, page_id)
       )`,
      // Transactional outbox: events are written with the state change, then published to Kafka.
      `create table outbox (
         seq bigserial primary key,
         event jsonb not null,
         created_at timestamptz not null default now()
       )`,
    ],
  },
  {
    // The shared outbox relay (@parley/outbox, which outbound-sender's was) keeps each row's event id
    // beside it and sets aside rows it cannot read as events instead of failing on them for ever.
    name: '0002_shared_outbox',
    up: [
      `alter table outbox add column event_id text`,
      `update outbox set event_id = event ->> 'id'`,
      `alter table outbox alter column event_id set not null`,
      `create table outbox_rejected (
         seq bigint primary key,
         event jsonb not null,
         error text not null,
         rejected_at timestamptz not null default now()
       )`,
    ],
  },
];
