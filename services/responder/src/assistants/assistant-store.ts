import type { Database } from '@parley/persistence';
import { toIso } from '../sql.ts';
import type { Assistant } from './assistant.ts';

export type AssistantStore = {
  /** Any account's assistant, for answering (access is checked by the caller with assistantAccess). */
  get(id: string): Promise<Assistant | null>;
  /** The account's own assistant; another account's is "not found" (its existence is not revealed). */
  getOwned(accountId: string, id: string): Promise<Assistant | null>;
  list(accountId: string): Promise<Assistant[]>;
  count(accountId: string): Promise<number>;
  insert(assistant: Assistant): Promise<void>;
  /** False when the account has no such assistant. */
  update(assistant: Assistant): Promise<boolean>;
  delete(accountId: string, id: string): Promise<boolean>;
};

type Row = {
  id: string;
  account_id: string;
  name: string;
  instructions: string;
  visibility: Assistant['visibility'];
  provider: Assistant['provider'];
  knowledge: Assistant['knowledge'];
  api_key_ciphertext: string | null;
  created_at: unknown;
  updated_at: unknown;
};

function fromRow(row: Row): Assistant {
  return {
    id: row.id,
    accountId: row.account_id,
    name: row.name,
    instructions: row.instructions,
    visibility: row.visibility,
    provider: row.provider,
    knowledge: row.knowledge,
    apiKeyCiphertext: row.api_key_ciphertext,
    createdAt: toIso(row.created_at),
    updatedAt: toIso(row.updated_at),
  };
}

/** Named, not `*`: statements that can be prepared (see @parley/persistence); `get` runs for every answer. */
const COLUMNS = 'id, account_id, name, instructions, visibility, provider, knowledge, api_key_ciphertext, created_at, updated_at';

export function createAssistantStore(db: Database): AssistantStore {
  return {
    async get(id) {
      const rows = await db.query<Row>(`select ${COLUMNS} from assistants where id = ?`, [id]);
      return rows[0] ? fromRow(rows[0]) : null;
    },
    async getOwned(accountId, id) {
      const rows = await db.query<Row>(`select ${COLUMNS} from assistants where id = ? and account_id = ?`, [id, accountId]);
      return rows[0] ? fromRow(rows[0]) : null;
    },
    async list(accountId) {
      const rows = await db.query<Row>(`select ${COLUMNS} from assistants where account_id = ? order by created_at, id`, [accountId]);
      return rows.map(fromRow);
    },
    async count(accountId) {
      const rows = await db.query<{ count: string | number }>('select count(*) as count from assistants where account_id = ?', [accountId]);
      return Number(rows[0]?.count ?? 0);
    },
    async insert(a) {
      await db.query(
        `insert into assistants (id, account_id, name, instructions, visibility, provider, knowledge, api_key_ciphertext, created_at, updated_at)
         values (?, ?, ?, ?, ?, ?::jsonb, ?::jsonb, ?, ?, ?)`,
        [a.id, a.accountId, a.name, a.instructions, a.visibility, JSON.stringify(a.provider), JSON.stringify(a.knowledge), a.apiKeyCiphertext, a.createdAt, a.updatedAt],
      );
    },
    async update(a) {
      const rows = await db.query<{ id: string }>(
        `update assistants set name = ?, instructions = ?, visibility = ?, provider = ?::jsonb, knowledge = ?::jsonb,
           api_key_ciphertext = ?, updated_at = ?
         where id = ? and account_id = ? returning id`,
        [a.name, a.instructions, a.visibility, JSON.stringify(a.provider), JSON.stringify(a.knowledge), a.apiKeyCiphertext, a.updatedAt, a.id, a.accountId],
      );
      return rows.length > 0;
    },
    async delete(accountId, id) {
      const rows = await db.query<{ id: string }>('delete from assistants where id = ? and account_id = ? returning id', [id, accountId]);
      return rows.length > 0;
    },
  };
}

/** At most this many assistants are remembered; past it the oldest entry goes first. */
const CACHED_ASSISTANTS = 10_000;

/**
 * `store`, with `get` (read for every answer) answered from memory for up to `ttlMs` after it was
 * read: one round trip less per answer. This process's own writes forget the assistant at once; a
 * change made through another replica is seen within `ttlMs`. `ttlMs` 0: every `get` reads.
 */
export function withCachedGet(store: AssistantStore, options: { ttlMs: number; now?: () => number }): AssistantStore {
  if (options.ttlMs <= 0) return store;
  const now = options.now ?? Date.now;
  const cache = new Map<string, { readAt: number; assistant: Assistant | null }>();
  // A read that a write of this process overlapped may hold what was there before the write: it is
  // returned, not remembered (`writes` counts the writes so far).
  let writes = 0;
  const forget = (id: string) => {
    writes++;
    cache.delete(id);
  };
  return {
    ...store,
    async get(id) {
      const cached = cache.get(id);
      if (cached && now() - cached.readAt < options.ttlMs) return cached.assistant;
      const readAt = now();
      const writesBefore = writes;
      const assistant = await store.get(id);
      if (writes !== writesBefore) return assistant;
      cache.delete(id);
      if (cache.size >= CACHED_ASSISTANTS) cache.delete(cache.keys().next().value!);
      cache.set(id, { readAt, assistant });
      return assistant;
    },
    async insert(assistant) {
      forget(assistant.id);
      await store.insert(assistant);
      forget(assistant.id);
    },
    async update(assistant) {
      forget(assistant.id);
      const updated = await store.update(assistant);
      forget(assistant.id);
      return updated;
    },
    async delete(accountId, id) {
      forget(id);
      const deleted = await store.delete(accountId, id);
      forget(id);
      return deleted;
    },
  };
}
