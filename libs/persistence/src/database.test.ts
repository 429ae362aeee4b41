import { randomUUID } from 'node:crypto';
import { createLogger, createMetricsRegistry } from '@parley/observability';
import { MAX_PREPARED_STATEMENTS, positional, preparedStatementName } from './database.ts';
import { openDatabase, roundTripsCounted } from './index.ts';
import type { Database, Transaction } from './index.ts';

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
    await db.transaction(async (tx) => {
      await db.query('insert into notes (id, body) values (?, ?)', ['n2', 'kept'], tx);
    });
    await expect(
      db.transaction(async (tx) => {
        await db.query('insert into notes (id, body) values (?, ?)', ['n3', 'lost'], tx);
        throw new Error('rollback');
      }),
    ).rejects.toThrow('rollback');
    const ids = (await db.query<{ id: string }>('select id from notes order by id')).map((r) => r.id);
    expect(ids).toContain('n2');
    expect(ids).not.toContain('n3');
  });

  it('runs a transaction\'s statements on its own connection: they see its uncommitted writes, others do not', async () => {
    await db.transaction(async (tx) => {
      await db.query('insert into notes (id, body) values (?, ?)', ['n4', 'pending'], tx);
      expect(await db.query('select body from notes where id = ?', ['n4'], tx)).toEqual([{ body: 'pending' }]);
      expect(await db.query('select body from notes where id = ?', ['n4'])).toEqual([]);
    });
    expect(await db.query('select body from notes where id = ?', ['n4'])).toEqual([{ body: 'pending' }]);
  });

  it('refuses a statement in a transaction that has ended', async () => {
    let ended: Transaction | undefined;
    await db.transaction(async (tx) => {
      ended = tx;
    });
    await expect(db.query('select 1 as one', [], ended)).rejects.toThrow(/Transaction query already complete/);
  });

  it('gives up a connection that broke in a transaction: the next transaction gets a working one', async () => {
    const poolOfOne = await openDatabase({ databaseUrl, schema, logger, migrations, poolSize: 1 });
    try {
      await expect(poolOfOne.transaction((tx) => poolOfOne.query('select pg_terminate_backend(pg_backend_pid())', [], tx))).rejects.toThrow();
      expect(await poolOfOne.transaction((tx) => poolOfOne.query<{ one: number }>('select 1 as one', [], tx))).toEqual([{ one: 1 }]);
    } finally {
      await poolOfOne.close();
    }
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
    await expect(db.transaction(async (tx) => db.query('select ?::int', [1, 2], tx))).rejects.toThrow(/Expected 1 bindings, saw 2/);
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

describe('prepared statements', () => {
  /** The statements prepared on the connection a transaction holds (PostgreSQL's per-session view). */
  const preparedOn = (database: Database, tx: Transaction) =>
    database.query<{ name: string; statement: string }>('select name, statement from pg_prepared_statements', [], tx);

  it('prepares a statement with parameters under one name per text, on the connection that runs it', async () => {
    await db.transaction(async (tx) => {
      await db.query('select body from notes where id = ?', ['n1'], tx);
      await db.query('select body from notes where id = ?', ['n2'], tx);
      const prepared = await preparedOn(db, tx);
      expect(prepared).toEqual(expect.arrayContaining([{ name: preparedStatementName('select body from notes where id = $1', 1), statement: 'select body from notes where id = $1' }]));
      expect(prepared.filter((p) => p.statement === 'select body from notes where id = $1')).toHaveLength(1);
    });
  });

  it('prepares nothing when turned off (DATABASE_PREPARED_STATEMENTS=false, for a pooler in transaction mode)', async () => {
    const unprepared = await openDatabase({ databaseUrl, schema, logger, migrations, preparedStatements: false });
    try {
      await unprepared.transaction(async (tx) => {
        expect(await unprepared.query('select body from notes where id = ?', ['n1'], tx)).toEqual([{ body: 'hello' }]);
        expect(await preparedOn(unprepared, tx)).toEqual([]);
      });
    } finally {
      await unprepared.close();
    }
  });

  it('keeps working when a migration adds a column under a prepared statement, and leaves `select *` unprepared, which would not', async () => {
    const poolOfOne = await openDatabase({ databaseUrl, schema, logger, migrations, poolSize: 1 });
    try {
      expect(await poolOfOne.query('select id, body from notes where id = ?', ['n1'])).toEqual([{ id: 'n1', body: 'hello' }]);
      expect(await poolOfOne.query('select * from notes where id = ?', ['n1'])).toEqual([{ id: 'n1', body: 'hello', created_at: expect.anything() }]);
      // Another replica's rolling deploy changes the table while this connection holds the statement.
      await db.query('alter table notes add column mood text');
      expect(await poolOfOne.query('select id, body from notes where id = ?', ['n1'])).toEqual([{ id: 'n1', body: 'hello' }]);
      expect(await poolOfOne.query('select * from notes where id = ?', ['n1'])).toEqual([{ id: 'n1', body: 'hello', created_at: expect.anything(), mood: null }]);
    } finally {
      await db.query('alter table notes drop column if exists mood');
      await poolOfOne.close();
    }
  });

  it('names only texts with parameters and without `*`, and at most MAX_PREPARED_STATEMENTS of them', () => {
    expect(preparedStatementName('select 1', 0)).toBeUndefined();
    expect(preparedStatementName('select * from notes where id = $1', 1)).toBeUndefined();
    expect(preparedStatementName('delete from notes where id = $1 returning *', 1)).toBeUndefined();
    expect(preparedStatementName('insert into notes (id, body) select * from unnest($1::text[], $2::text[]) returning id', 2)).toMatch(/^parley_\d+$/);
    expect(preparedStatementName('select count(*) as n from notes where body = $1', 1)).toMatch(/^parley_\d+$/);
    expect(preparedStatementName('select n.* from notes n join unnest($1::text[]) as u(id) on u.id = n.id', 1)).toBeUndefined();
    expect(preparedStatementName('select * from unnest($1::text[]) as u(id) join notes n on n.id = u.id', 1)).toBeUndefined();
    const first = preparedStatementName('select id from notes where body = $1', 1);
    expect(first).toMatch(/^parley_\d+$/);
    expect(preparedStatementName('select id from notes where body = $1', 1)).toBe(first);
    expect(preparedStatementName('select body from notes where id = $1 and body = $2', 2)).not.toBe(first);
    // SQL built with a varying number of placeholders must not prepare without bound.
    const names = Array.from({ length: MAX_PREPARED_STATEMENTS + 10 }, (_, n) => preparedStatementName(`select id from notes where id in (${Array.from({ length: n + 1 }, (_v, i) => `$${i + 1}`).join(', ')})`, n + 1));
    expect(new Set(names.filter(Boolean)).size).toBeLessThanOrEqual(MAX_PREPARED_STATEMENTS);
    expect(names.at(-1)).toBeUndefined();
  });
});

describe('round trips', () => {
  it('counts statements, BEGIN, COMMIT and ROLLBACK per schema, not the migrations', async () => {
    const registry = createMetricsRegistry('persistence-test');
    const other = `${schema}_b`;
    const counted = await openDatabase({ databaseUrl, schema, logger, migrations, metrics: registry });
    const second = await openDatabase({ databaseUrl, schema: other, logger, migrations: [], metrics: registry });
    try {
      expect(await roundTripsCounted(registry, schema)).toEqual({});
      await counted.query('select id from notes where id = ?', ['none']);
      await counted.transaction(async (tx) => {
        await counted.query('insert into notes (id, body) values (?, ?)', ['rt1', 'a'], tx);
        await counted.query('select id from notes where id = ?', ['rt1'], tx);
      });
      await expect(counted.transaction(async () => Promise.reject(new Error('no')))).rejects.toThrow('no');
      await second.query('select 1 as one where 1 = ?', [1]);
      expect(await roundTripsCounted(registry, schema)).toEqual({ statement: 3, begin: 2, commit: 1, rollback: 1 });
      expect(await roundTripsCounted(registry, other)).toEqual({ statement: 1 });
    } finally {
      await second.query(`drop schema if exists "${other}" cascade`);
      await Promise.all([counted.close(), second.close()]);
    }
  });
});
