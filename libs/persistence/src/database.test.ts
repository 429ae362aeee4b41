import { randomUUID } from 'node:crypto';
import { createLogger } from '@parley/observability';
import { positional } from './database.ts';
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

  it('runs a transaction\'s statements on its own connection: they see its uncommitted writes, others do not', async () => {
    await db.transaction(async (_em, tx) => {
      await db.query('insert into notes (id, body) values (?, ?)', ['n4', 'pending'], tx);
      expect(await db.query('select body from notes where id = ?', ['n4'], tx)).toEqual([{ body: 'pending' }]);
      expect(await db.query('select body from notes where id = ?', ['n4'])).toEqual([]);
    });
    expect(await db.query('select body from notes where id = ?', ['n4'])).toEqual([{ body: 'pending' }]);
  });

  it('sends values as bind parameters: arrays, JSON text, dates and quotes arrive as they were', async () => {
    const tricky = "it's -- not; a 'comment' \\ ?";
    const rows = await db.query<{ ids: string[]; doc: { a: number[] }; at: string; text: string }>('select ?::text[] as ids, ?::jsonb as doc, ?::timestamptz as at, ?::text as text', [
      ['x', 'y'],
      JSON.stringify({ a: [1, 2] }),
      new Date('2026-11-26T10:00:00Z'),
      tricky,
    ]);
    // Timestamps come back as PostgreSQL's text (MikroORM's type parsers), which callers parse.
    expect(rows).toEqual([{ ids: ['x', 'y'], doc: { a: [1, 2] }, at: expect.any(String), text: tricky }]);
    expect(Date.parse(rows[0]!.at)).toBe(Date.parse('2026-11-26T10:00:00Z'));
  });

  it('refuses a statement whose parameters do not match its placeholders, or that is given undefined', async () => {
    await expect(db.query('select ?::int as a, ?::int as b', [1])).rejects.toThrow(/Expected 2 bindings, saw 1/);
    await expect(db.query('select ?::int as a', [undefined])).rejects.toThrow(/Undefined binding/);
    await expect(db.transaction(async (_em, tx) => db.query('select ?::int', [1, 2], tx))).rejects.toThrow(/Expected 1 bindings, saw 2/);
  });
});

describe('positional placeholders', () => {
  it('numbers each ? in order and keeps an escaped one as a literal question mark', () => {
    expect(positional('select * from t where a = ? and b = any(?::text[])', [1, ['x']])).toBe('select * from t where a = $1 and b = any($2::text[])');
    expect(positional('select data \\? \'key\' from t where id = ?', ['i'])).toBe("select data ? 'key' from t where id = $1");
    expect(positional('select 1', [])).toBe('select 1');
  });

  it('refuses knex identifier bindings (??), which this dialect does not support', () => {
    expect(() => positional('select ?? from t', ['c'])).toThrow(/Identifier bindings/);
  });
});
