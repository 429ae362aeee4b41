import { MikroORM, PostgreSqlDriver } from '@mikro-orm/postgresql';
import type { EntityManager, EntitySchema } from '@mikro-orm/postgresql';
import { Counter } from '@parley/observability';
import type { Logger, Registry } from '@parley/observability';

export type Migration = {
  /** Unique and ordered: `0001_create_pages`. Never rename or edit a migration that has shipped. */
  readonly name: string;
  /** SQL statements run in one transaction, in the service's schema (`search_path` is set). */
  readonly up: ReadonlyArray<string>;
};

export type DatabaseOptions = {
  databaseUrl: string;
  /** Each service owns its schema (or database): `rules`, `outbound_sender`, ... */
  schema: string;
  logger: Logger;
  migrations: ReadonlyArray<Migration>;
  entities?: ReadonlyArray<EntitySchema>;
  poolSize?: number;
  /**
   * Named (server-side prepared) statements for the SQL that qualifies (see `preparedStatementName`):
   * PostgreSQL parses and analyses each once per connection instead of on every execution. On by
   * default; turn off behind a connection pooler in transaction mode that cannot keep them
   * (PgBouncer before 1.21, or without `max_prepared_statements`).
   */
  preparedStatements?: boolean;
  /**
   * Where `db_round_trips_total` is counted (statements, BEGIN, COMMIT and ROLLBACK by schema): each is
   * a round trip to PostgreSQL, the services' largest cost per event (docs/benchmarks.md), and the
   * one number about it that does not move with the machine. Migrations are not counted.
   */
  metrics?: Registry;
};

/**
 * A transaction opened by `Database.transaction`: pass it to `query` to run a statement in it. It
 * holds one pooled connection from BEGIN to COMMIT or ROLLBACK.
 */
export type Transaction = { readonly [transactionConnection]: OpenTransaction };
declare const transactionConnection: unique symbol;
type OpenTransaction = { readonly connection: PgConnection; done: boolean };

export type Database = {
  orm: MikroORM;
  schema: string;
  /** A fresh EntityManager: one per request and per consumed message. */
  fork(): EntityManager;
  /**
   * Runs raw SQL inside `tx` when given. Parameters are `?` and travel as bind parameters (never
   * spliced into the text); a JavaScript array is one PostgreSQL array parameter.
   */
  query<T = Record<string, unknown>>(sql: string, params?: unknown[], tx?: Transaction): Promise<T[]>;
  /**
   * Runs `work` in one transaction on a connection of its own: BEGIN, `work`'s statements, COMMIT
   * when it resolves, ROLLBACK when it throws. Not MikroORM's `transactional`: nothing here uses its
   * unit of work, and its machinery (a forked EntityManager, a knex transactor per transaction) cost
   * the services' CPU more than the three statements of a short transaction (measured: 182 against
   * 97 µs of Node's CPU per transaction).
   */
  transaction<T>(work: (tx: Transaction) => Promise<T>): Promise<T>;
  isReachable(): Promise<boolean>;
  close(): Promise<void>;
};

const SAFE_IDENTIFIER = /^[a-z_][a-z0-9_]{0,62}$/;

type PgConnection = { query(config: { text: string; values: unknown[]; name?: string } | string): Promise<unknown>; __knex__disposed?: unknown };
type KnexClient = { acquireConnection(): Promise<PgConnection>; releaseConnection(connection: PgConnection): Promise<unknown> };

const positionalCache = new Map<string, { text: string; placeholders: number }>();

/**
 * `?` placeholders as PostgreSQL's `$1, $2, …` (cached per SQL text); `\\?` is a literal `?`. Like
 * knex, it refuses a parameter count that does not match and an undefined parameter (a bug that
 * would otherwise write NULL).
 */
export function positional(sql: string, params: ReadonlyArray<unknown>): string {
  let converted = positionalCache.get(sql);
  if (!converted) {
    let placeholders = 0;
    const text = sql.replace(/(\\*)\?/g, (match: string, escapes: string, offset: number) => {
      if (escapes.length % 2 === 1) return `${escapes.slice(1)}?`;
      if (sql[offset + match.length] === '?') throw new Error(`Identifier bindings (??) are not supported: ${sql.slice(0, 200)}`);
      placeholders++;
      return `${escapes}$${placeholders}`;
    });
    converted = { text, placeholders };
    if (positionalCache.size < 10_000) positionalCache.set(sql, converted);
  }
  if (converted.placeholders !== params.length) throw new Error(`Expected ${converted.placeholders} bindings, saw ${params.length}: ${sql.slice(0, 200)}`);
  if (params.includes(undefined)) throw new Error(`Undefined binding(s) detected: ${sql.slice(0, 200)}`);
  return converted.text;
}

/** Each text's verdict, decided once: its name, or null for unnamed (bounded like `positionalCache`). */
const preparedNames = new Map<string, string | null>();
let namesGiven = 0;
/** How many distinct statements a process prepares at most (each is kept on every pooled connection). */
export const MAX_PREPARED_STATEMENTS = 200;

/**
 * The name to prepare a statement under, or undefined to send it unnamed. Measured on a two-statement
 * transaction's worth of upserts and selects: PostgreSQL's CPU per statement 134 → 89 µs, ours
 * 73 → 70 µs (docs/benchmarks.md, sixth session). Only statements with parameters qualify (the
 * repeated ones; DDL and one-off statements have none), and none with a `*`: PostgreSQL re-plans a
 * prepared statement by itself when a migration changes a table, but refuses one whose result
 * columns changed ("cached plan must not change result type"), which `select *` or `returning *`
 * would after a rolling deploy adds a column. `count(*)`, and `select * from unnest(…)` with no
 * other table in the statement, are fine: their columns do not come from a table. Past
 * MAX_PREPARED_STATEMENTS distinct texts (SQL built with a varying number of placeholders), the
 * rest go unnamed.
 */
export function preparedStatementName(text: string, parameterCount: number): string | undefined {
  if (parameterCount === 0) return undefined;
  const decided = preparedNames.get(text);
  if (decided !== undefined) return decided ?? undefined;
  // With a join, `select * from unnest(…)` takes the joined table's columns too.
  const starsOfNoTable = /\bjoin\b/i.test(text) ? /count\(\*\)/gi : /select \* from unnest\(|count\(\*\)/gi;
  const name = text.replace(starsOfNoTable, '').includes('*') || namesGiven >= MAX_PREPARED_STATEMENTS ? null : `parley_${++namesGiven}`;
  // A text refused for the bound is decided too: the bound never frees a slot, so it stays unnamed.
  if (name !== null || preparedNames.size < 10_000) preparedNames.set(text, name);
  return name ?? undefined;
}

/**
 * Connects MikroORM to PostgreSQL with the service's own schema and applies its migrations once
 * (an advisory lock keeps two replicas starting together from racing).
 */
export async function openDatabase(options: DatabaseOptions): Promise<Database> {
  if (!SAFE_IDENTIFIER.test(options.schema)) throw new Error(`Invalid schema name "${options.schema}"`);
  const orm = await MikroORM.init({
    driver: PostgreSqlDriver,
    clientUrl: options.databaseUrl,
    schema: options.schema,
    entities: [...(options.entities ?? [])],
    discovery: { warnWhenNoEntities: false },
    pool: { min: 0, max: options.poolSize ?? 10 },
    allowGlobalContext: false,
    debug: false,
    // search_path makes unqualified names in raw SQL and migrations resolve to the service's schema;
    // application_name tells an operator whose connections pg_stat_activity and the logs show.
    driverOptions: { connection: { options: `-c search_path=${options.schema},public`, application_name: `parley-${options.schema}` } },
  });
  const connection = orm.em.getConnection();
  const knex = connection.getKnex();
  // Raw SQL goes to the pg connection itself: the pool's for a statement on its own, the
  // transaction's inside one.
  // Not MikroORM's `execute`: it inlines every parameter into the SQL text, escaping it character
  // by character in JavaScript (for the projector's megabyte-sized JSON that cost more CPU than the
  // rest of the projection). Not `knex.raw` either: its per-statement machinery was a tenth of the
  // busy services' CPU under load (profiled). The SQL is knex's dialect all the same: `?`
  // placeholders, `\\?` for a literal question mark.
  const pool = knex.client as unknown as KnexClient;
  const runQuery = async <T>(prepare: boolean, sql: string, params: unknown[] = [], tx?: Transaction) => {
    const text = positional(sql, params);
    const name = prepare ? preparedStatementName(text, params.length) : undefined;
    const statement = name === undefined ? { text, values: params } : { name, text, values: params };
    if (tx) {
      const open = opened(tx);
      if (open.done) throw new Error(`Transaction query already complete: ${sql.slice(0, 200)}`);
      return ((await open.connection.query(statement)) as { rows: T[] }).rows;
    }
    const pg = await pool.acquireConnection();
    try {
      return ((await pg.query(statement)) as { rows: T[] }).rows;
    } finally {
      await pool.releaseConnection(pg);
    }
  };
  const roundTrips = roundTripCounter(options.metrics, options.schema);
  const query = <T>(sql: string, params?: unknown[], tx?: Transaction) => {
    roundTrips.statement();
    return runQuery<T>(options.preparedStatements !== false, sql, params, tx);
  };

  const transaction = async <T>(work: (tx: Transaction) => Promise<T>, counted = roundTrips): Promise<T> => {
    const connection = await pool.acquireConnection();
    const open: OpenTransaction = { connection, done: false };
    try {
      counted.begin();
      await connection.query('BEGIN');
      const result = await work(asTransaction(open));
      open.done = true;
      counted.commit();
      await connection.query('COMMIT');
      return result;
    } catch (error) {
      if (!open.done) {
        open.done = true;
        counted.rollback();
        // A connection that cannot even roll back is not given to anyone else (knex destroys a
        // disposed connection instead of handing it out).
        await connection.query('ROLLBACK').catch((rollbackFailed: unknown) => (connection.__knex__disposed = rollbackFailed));
      }
      throw error;
    } finally {
      await pool.releaseConnection(connection);
    }
  };

  // Migrations run unnamed: they set their own search_path, which a prepared statement would keep.
  await migrate(<T>(sql: string, params?: unknown[], tx?: Transaction) => runQuery<T>(false, sql, params, tx), <T>(work: (tx: Transaction) => Promise<T>) => transaction(work, UNCOUNTED), options);

  return {
    orm,
    schema: options.schema,
    fork: () => orm.em.fork(),
    query,
    transaction: <T>(work: (tx: Transaction) => Promise<T>) => transaction(work),
    isReachable: () => orm.isConnected(),
    close: () => orm.close(true),
  };
}

type RoundTrips = Record<'statement' | 'begin' | 'commit' | 'rollback', () => void>;
const UNCOUNTED: RoundTrips = { statement() {}, begin() {}, commit() {}, rollback() {} };
const ROUND_TRIPS_METRIC = 'db_round_trips_total';

/**
 * Increments of `db_round_trips_total{schema, kind}`, bound once per kind (a labelled `inc` looks its
 * child up on every call). One counter per registry: a process may open several schemas (the
 * projection opens two), each its own series.
 */
function roundTripCounter(registry: Registry | undefined, schema: string): RoundTrips {
  if (!registry) return UNCOUNTED;
  const counter =
    (registry.getSingleMetric(ROUND_TRIPS_METRIC) as Counter<'schema' | 'kind'> | undefined) ??
    new Counter({ name: ROUND_TRIPS_METRIC, help: 'Round trips to PostgreSQL: statements, and BEGIN, COMMIT and ROLLBACK of transactions', labelNames: ['schema', 'kind'], registers: [registry] });
  const bound = (kind: keyof RoundTrips) => {
    const child = counter.labels({ schema, kind });
    return () => child.inc();
  };
  return { statement: bound('statement'), begin: bound('begin'), commit: bound('commit'), rollback: bound('rollback') };
}

/**
 * What `db_round_trips_total` in `registry` has counted so far, by kind (kinds not seen are absent):
 * of `schema`, or of all the registry's schemas added up.
 */
export async function roundTripsCounted(registry: Registry, schema?: string): Promise<Partial<Record<keyof RoundTrips, number>>> {
  const metric = (await registry.getMetricsAsJSON()).find((m) => m.name === ROUND_TRIPS_METRIC);
  const counts: Partial<Record<keyof RoundTrips, number>> = {};
  for (const { value, labels } of (metric?.values ?? []) as Array<{ value: number; labels: Record<string, string> }>) {
    if (schema !== undefined && labels['schema'] !== schema) continue;
    const kind = labels['kind'] as keyof RoundTrips;
    counts[kind] = (counts[kind] ?? 0) + value;
  }
  return counts;
}

/** The connection behind a transaction handle (the handle is the open transaction itself, typed opaquely). */
function opened(tx: Transaction): OpenTransaction {
  return tx as unknown as OpenTransaction;
}

function asTransaction(open: OpenTransaction): Transaction {
  return open as unknown as Transaction;
}

async function migrate(query: Database['query'], transaction: Database['transaction'], options: DatabaseOptions): Promise<void> {
  const schema = options.schema;
  await transaction(async (tx) => {
    // Serialize migrations across replicas of the same service.
    await query('select pg_advisory_xact_lock(hashtext(?))', [`parley-migrations:${schema}`], tx);
    await query(`create schema if not exists "${schema}"`, [], tx);
    await query(`create table if not exists "${schema}".schema_migrations (name text primary key, applied_at timestamptz not null default now())`, [], tx);
    const applied = new Set((await query<{ name: string }>(`select name from "${schema}".schema_migrations`, [], tx)).map((r) => r.name));
    for (const migration of options.migrations) {
      if (applied.has(migration.name)) continue;
      await query(`set local search_path to "${schema}", public`, [], tx);
      for (const statement of migration.up) await query(statement, [], tx);
      await query(`insert into "${schema}".schema_migrations (name) values (?)`, [migration.name], tx);
      options.logger.info({ schema, migration: migration.name }, 'applied migration');
    }
  });
}
