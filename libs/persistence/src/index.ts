export { openDatabase } from './database.ts';
export type { Database, DatabaseOptions, Migration } from './database.ts';
export { EntitySchema } from '@mikro-orm/postgresql';
export type { EntityManager, Transaction } from '@mikro-orm/postgresql';
