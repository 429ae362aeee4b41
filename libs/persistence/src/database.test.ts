import { randomUUID } from 'node:crypto';
import { createLogger } from '@parley/observability';
import { openDatabase } from './index.ts';
import type { Database } from './index.ts';

const databaseUrl = process.env['DATABASE_URL'];
if (!databaseUrl) throw new Error('DATABASE_URL is not set: run the tests through `npm test` (its global setup provides PostgreSQL)');

const logger = createLogger({ service: 'persistence-test', level: 'silent' });
const schema = `test_${randomUUID().replaceAll('-', '').slice(0, 12)}`;
const migrations = [
  { name: '0001_notes', up: ['create table notes (id text primary key, body text not null)'] },
  { name: '0002_notes_created', up: ['alter table notes add column created_at timestamptz not null default now()'] },
];
let db: Database;

beforeAll(async () => {
  db = await openDatabase({ databaseUrl, schema, logger, migrations });
});
afterAll(async () => {
  await db.query(`drop schema if exists "${schema}" cascade`);
  await db.close();
});

describe('database', () => {
  it('applies migrations in the service schema, once, even when opened again', async () => {
    const again = await openDatabase({ databaseUrl, schema, logger, migrations });
    await again.close();
    const applied = await db.query<{ name: string }>(`select name from "${schema}".schema_migrations order by name`);
    expect(applied.map((r) => r.name)).toEqual(['0001_notes', '0002_notes_created']);
    // Unqualified names resolve to the service's schema.
    await db.query('insert into notes (id, body) values (?, ?)', ['n1', 'hello']);
    expect(await db.query(`select body from "${schema}".notes`)).toEqual([{ body: 'hello' }]);
  });

  it('commits a transaction when its work resolves and rolls it back when it throws', async () => {
    await db.transaction(async (_em, tx) => {
      await db.query('insert into notes (id, body) values (?, ?)', ['n2', 'kept'], tx);
    });
    await expect(
      db.transaction(async (_em, tx) => {
        await db.query('insert into notes (id, body) values (?, ?)', ['n3', 'lost'], tx);
        throw new Error('rollback');
      }),
    ).rejects.toThrow('rollback');
    const ids = (await db.query<{ id: string }>('select id from notes order by id')).map((r) => r.id);
    expect(ids).toContain('n2');
    expect(ids).not.toContain('n3');
  });
});
