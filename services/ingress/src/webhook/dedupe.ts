/**
 * Remembers the event ids published in the last `windowMs` (5 minutes by default), so that a
 * webhook Meta delivers again is acknowledged without being published again. An id is remembered
 * together with the publish that carries it: a duplicate that arrives while the first copy is
 * still being written waits for that write (its 200 then also means "durable"), and an id whose
 * publish failed is forgotten, so Meta's retry goes through.
 *
 * It is per process (ingress keeps nothing durable); with several replicas a duplicate may reach
 * another one and be published twice — consumers apply events by id, so that is harmless.
 */
export class RecentEventIds {
  readonly #windowMs: number;
  readonly #maxEntries: number;
  readonly #entries = new Map<string, { at: number; write: Promise<void> }>();

  constructor(options: { windowMs?: number; maxEntries?: number } = {}) {
    this.#windowMs = options.windowMs ?? 5 * 60_000;
    this.#maxEntries = options.maxEntries ?? 500_000;
  }

  /** The pending or finished write of `id` if it was seen within the window. */
  seen(id: string, now: number): Promise<void> | undefined {
    const entry = this.#entries.get(id);
    if (!entry) return undefined;
    if (now - entry.at > this.#windowMs) {
      this.#entries.delete(id);
      return undefined;
    }
    return entry.write;
  }

  remember(id: string, write: Promise<void>, now: number): void {
    this.#entries.set(id, { at: now, write });
    write.catch(() => {
      if (this.#entries.get(id)?.write === write) this.#entries.delete(id);
    });
    this.#evict(now);
  }

  get size(): number {
    return this.#entries.size;
  }

  #evict(now: number): void {
    // Map keeps insertion order, so the oldest entries come first.
    for (const [id, entry] of this.#entries) {
      if (now - entry.at <= this.#windowMs && this.#entries.size <= this.#maxEntries) break;
      this.#entries.delete(id);
    }
  }
}
