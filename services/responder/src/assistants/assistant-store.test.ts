import type { Assistant } from './assistant.ts';
import { withCachedGet } from './assistant-store.ts';
import type { AssistantStore } from './assistant-store.ts';

// The cache in front of the assistants table: what it reads, and when what it holds is forgotten.
// The store behind it is a recording stand-in: the cache's own logic is what is under test.

const assistant = (id: string, name: string): Assistant => ({
  id,
  accountId: 'acme',
  name,
  instructions: '',
  visibility: 'private',
  provider: { type: 'builtin' },
  knowledge: [],
  apiKeyCiphertext: null,
  createdAt: '2026-11-27T00:00:00.000Z',
  updatedAt: '2026-11-27T00:00:00.000Z',
});

function recordingStore(rows: Map<string, Assistant>) {
  let reads = 0;
  let holdNextRead: Promise<void> | null = null;
  const store: AssistantStore = {
    async get(id) {
      reads++;
      const value = rows.get(id) ?? null;
      if (holdNextRead) {
        const hold = holdNextRead;
        holdNextRead = null;
        await hold;
      }
      return value;
    },
    getOwned: async (accountId, id) => (rows.get(id)?.accountId === accountId ? rows.get(id)! : null),
    list: async (accountId) => [...rows.values()].filter((a) => a.accountId === accountId),
    count: async (accountId) => [...rows.values()].filter((a) => a.accountId === accountId).length,
    insert: async (a) => void rows.set(a.id, a),
    update: async (a) => rows.has(a.id) && Boolean(rows.set(a.id, a)),
    delete: async (_accountId, id) => rows.delete(id),
  };
  return { store, reads: () => reads, holdNextRead: (until: Promise<void>) => (holdNextRead = until) };
}

describe('assistants read for answers', () => {
  it('are read once per TTL, missing ones too', async () => {
    let clock = 0;
    const backing = recordingStore(new Map([['a1', assistant('a1', 'Shop')]]));
    const cached = withCachedGet(backing.store, { ttlMs: 5_000, now: () => clock });
    expect((await cached.get('a1'))?.name).toBe('Shop');
    expect((await cached.get('a1'))?.name).toBe('Shop');
    expect(await cached.get('missing')).toBeNull();
    expect(await cached.get('missing')).toBeNull();
    expect(backing.reads()).toBe(2);
    clock = 5_000;
    await cached.get('a1');
    expect(backing.reads()).toBe(3);
  });

  it("are forgotten at once when this process inserts, updates or deletes them", async () => {
    const backing = recordingStore(new Map([['a1', assistant('a1', 'Shop')]]));
    const cached = withCachedGet(backing.store, { ttlMs: 60_000, now: () => 0 });
    await cached.get('a1');
    await cached.update(assistant('a1', 'Renamed'));
    expect((await cached.get('a1'))?.name).toBe('Renamed');
    await cached.delete('acme', 'a1');
    expect(await cached.get('a1')).toBeNull();
    await cached.insert(assistant('a1', 'Back'));
    expect((await cached.get('a1'))?.name).toBe('Back');
  });

  it('are not remembered from a read that a write overlapped', async () => {
    const backing = recordingStore(new Map([['a1', assistant('a1', 'Old')]]));
    const cached = withCachedGet(backing.store, { ttlMs: 60_000, now: () => 0 });
    let finishRead!: () => void;
    backing.holdNextRead(new Promise<void>((resolve) => (finishRead = resolve)));
    const reading = cached.get('a1'); // reads "Old", then waits
    await cached.update(assistant('a1', 'New'));
    finishRead();
    expect((await reading)?.name).toBe('Old');
    expect((await cached.get('a1'))?.name).toBe('New');
  });

  it('are read every time with a TTL of 0', async () => {
    const backing = recordingStore(new Map([['a1', assistant('a1', 'Shop')]]));
    const cached = withCachedGet(backing.store, { ttlMs: 0 });
    await cached.get('a1');
    await cached.get('a1');
    expect(backing.reads()).toBe(2);
  });
});
