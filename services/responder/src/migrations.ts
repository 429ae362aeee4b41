import type { Migration } from '@parley/persistence';
import { assistantMigrations } from './assistants/migrations.ts';
import { contextMigrations } from './conversation-context/migrations.ts';
import { pageAccountMigrations } from './pages/page-accounts.ts';
import { pendingReplyMigrations } from './pending-replies/migrations.ts';

/** Every migration of the responder's schema, in order. Never edit or rename one that has shipped. */
export const migrations: Migration[] = [...assistantMigrations, ...contextMigrations, ...pageAccountMigrations, ...pendingReplyMigrations].sort((a, b) =>
  a.name.localeCompare(b.name),
);
