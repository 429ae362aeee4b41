import type { Migration } from '@parley/persistence';

export const assistantMigrations: Migration[] = [
  {
    name: '0001_assistants',
    up: [
      `create table assistants (
        id text primary key,
        account_id text not null,
        name text not null,
        instructions text not null,
        visibility text not null check (visibility in ('public', 'private')),
        provider jsonb not null,
        knowledge jsonb not null,
        api_key_ciphertext text,
        created_at timestamptz not null,
        updated_at timestamptz not null
      )`,
      'create index assistants_account on assistants (account_id, created_at, id)',
    ],
  },
];
