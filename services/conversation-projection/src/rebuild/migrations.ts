import type { Migration } from '@parley/persistence';

/** The control schema: which copy of the inbox serves, and the rebuilds that made new ones. */
export const controlMigrations: Migration[] = [
  {
    name: '0001_projection_state',
    up: [
      // One row: the pointer a switch-over moves, in one transaction.
      `create table projection_state (
         singleton boolean primary key default true check (singleton),
         active_schema text not null,
         group_id text not null,
         generation integer not null,
         switched_at timestamptz not null default now()
       )`,
      `create table projection_rebuilds (
         id text primary key,
         schema_name text not null,
         group_id text not null,
         status text not null,
         requested_by text not null,
         started_at timestamptz not null default now(),
         finished_at timestamptz,
         target_offsets jsonb,
         progress jsonb,
         error text,
         -- The replica running it; another takes over once the lease has expired (a crash).
         owner text,
         lease_until timestamptz
       )`,
    ],
  },
  {
    name: '0002_rebuild_deferred_indexes',
    up: [
      // The secondary indexes a rebuild dropped from its new copy, to build once it has read the log
      // (CREATE INDEX statements); kept here so that a rebuild resumed by another replica builds them too.
      `alter table projection_rebuilds add column deferred_indexes jsonb`,
    ],
  },
];
