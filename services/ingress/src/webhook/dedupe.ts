/**
 * Remembers the event ids published in the last `windowMs` (5 minutes by default), so that a
 * webhook Meta delivers again is acknowledged without being published again. An id is remembered
 * together with the publish that carries it: a duplicate that arrives while the first copy is
 * still being written waits for that write (its 200 then also means "durable"), and an id whose
 * publish failed is forgotten, so Meta's retry goes through.
 *
 * Memory: once its write is acknowledged an id keeps only its time (a small integer), not the
 * write; a request's ids share one reaction to their write; the id is kept as a flat copy (see
 * `compact`). 106 bytes per id, measured over 300,000 ids; holding the write per id with a reaction
 * each, and the id as built, was 697: at 1,000 webhooks a second the 5-minute window alone would
 * have outgrown the ingress's 160 MiB heap in about four minutes. `maxEntries` bounds it whatever
 * the rate (the oldest ids go first): 500,000 ids, about 50 MiB.
 *
 * It is per process (ingress keeps nothing durable); with several replicas a duplicate may reach
 * another one and be published twice — consumers apply events by id, so that is harmless.
 */
export class RecentEventIds {
  readonly #windowMs: number;
  readonly #maxEntries: number;
  /** Id → when it was remembered, in ms since `#epoch` (a small integer, stored inline by V8). */
  readonly #remembered = new Map<string, number>();
  /** Ids whose write is still in flight, and that write. */
  readonly #writing = new Map<string, Promise<void>>();
  readonly #epoch = Date.now();

  constructor(options: { windowMs?: number; maxEntries?: number } = {}) {
    this.#windowMs = options.windowMs ?? 5 * 60_000;
    this.#maxEntries = options.maxEntries ?? 500_000;
  }

  /** The pending or finished write of `id` if it was seen within the window. */
  seen(id: string, now: number): Promise<void> | undefined {
    const at = this.#remembered.get(id);
    if (at === undefined) return undefined;
    if (now - (at + this.#epoch) > this.#windowMs) {
      this.#remembered.delete(id);
      return undefined;
    }
    return this.#writing.get(id) ?? ACKNOWLEDGED;
  }

  /** Remembers the ids one write carries (one request's events). */
  rememberAll(ids: ReadonlyArray<string>, write: Promise<void>, now: number): void {
    if (ids.length === 0) return;
    const at = now - this.#epoch;
    for (const id of ids) {
      this.#remembered.set(compact(id), at);
      this.#writing.set(id, write);
    }
    write.then(
      () => {
        for (const id of ids) if (this.#writing.get(id) === write) this.#writing.delete(id);
      },
      () => {
        for (const id of ids) {
          if (this.#writing.get(id) !== write) continue;
          this.#writing.delete(id);
          this.#remembered.delete(id);
        }
      },
    );
    this.#evict(now);
  }

  remember(id: string, write: Promise<void>, now: number): void {
    this.rememberAll([id], write, now);
  }

  get size(): number {
    return this.#remembered.size;
  }

  /** Ids whose write has not settled yet (each holds its write until then). */
  get writing(): number {
    return this.#writing.size;
  }

  #evict(now: number): void {
    // Map keeps insertion order, so the oldest entries come first.
    for (const [id, at] of this.#remembered) {
      if (now - (at + this.#epoch) <= this.#windowMs && this.#remembered.size <= this.#maxEntries) break;
      this.#remembered.delete(id);
    }
  }
}

/** What `seen` answers for an id whose write Kafka already acknowledged. */
const ACKNOWLEDGED: Promise<void> = Promise.resolve();

/**
 * A flat copy of an id. `deterministicId` builds its UUID text from slices of the hash's hex, so
 * the string it returns is a tree of pieces that keeps the whole 64-character hex alive: 441 bytes
 * per id as a Map key against 106 for the copy (300,000 ids).
 */
function compact(id: string): string {
  return Buffer.from(id, 'latin1').toString('latin1');
}
