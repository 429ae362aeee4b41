/**
 * At most `limit` webhooks per sender in any `windowMs` (100 a minute). A sender over it is not
 * dropped — its events are recorded and flagged `throttled`, so the rules send no automated reply
 * until it slows down. Sliding window log per sender, pure except for the state it holds; time is
 * passed in.
 */
export class SenderRateLimit {
  readonly #limit: number;
  readonly #windowMs: number;
  readonly #maxSenders: number;
  readonly #hits = new Map<string, number[]>();

  constructor(options: { limit?: number; windowMs?: number; maxSenders?: number } = {}) {
    this.#limit = options.limit ?? 100;
    this.#windowMs = options.windowMs ?? 60_000;
    this.#maxSenders = options.maxSenders ?? 200_000;
  }

  /** Counts one webhook from `sender` at `now`; true when the sender is over the limit. */
  hit(sender: string, now: number): boolean {
    const cutoff = now - this.#windowMs;
    let hits = this.#hits.get(sender);
    if (hits) {
      let drop = 0;
      while (drop < hits.length && hits[drop]! <= cutoff) drop++;
      if (drop > 0) hits = hits.slice(drop);
      // Re-insert to keep the map ordered by recent activity (oldest senders evicted first).
      this.#hits.delete(sender);
    } else {
      hits = [];
    }
    hits.push(now);
    // Keep only what can still matter: a sender far over the limit does not grow without bound.
    if (hits.length > this.#limit + 1) hits = hits.slice(hits.length - (this.#limit + 1));
    this.#hits.set(sender, hits);
    if (this.#hits.size > this.#maxSenders) {
      const oldest = this.#hits.keys().next().value;
      if (oldest !== undefined) this.#hits.delete(oldest);
    }
    return hits.length > this.#limit;
  }
}
