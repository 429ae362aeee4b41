export { openDatabase, roundTripsCounted } from './database.ts';
export type { Database, DatabaseOptions, Migration, Transaction } from './database.ts';
export { EntitySchema } from '@mikro-orm/postgresql';
export type { EntityManager } from '@mikro-orm/postgresql';
