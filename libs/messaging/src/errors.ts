/**
 * Errors say whether they are worth retrying, as kafkajs's own errors do. Consumers decide from
 * that between retrying with backoff (the partition waits, order is kept) and the dead-letter topic.
 */
export class RetriableError extends Error {
  readonly retriable = true as const;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'RetriableError';
  }
}

/** A record that can never be processed (it breaks a rule, not the infrastructure). Goes to the DLQ. */
export class PermanentError extends Error {
  readonly retriable = false as const;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'PermanentError';
  }
}

export type RetryVerdict = 'retry_forever' | 'retry_bounded' | 'dead_letter';

/**
 * `retriable: true` (broker, database, remote unavailable) is retried until it works: giving up
 * would skip the record. `retriable: false` goes straight to the DLQ. An error that says nothing
 * (most likely a bug) is retried a few times, then dead-lettered so that the partition moves on.
 */
export function retryVerdict(error: unknown): RetryVerdict {
  const retriable = (error as { retriable?: unknown } | null)?.retriable;
  if (retriable === true) return 'retry_forever';
  if (retriable === false) return 'dead_letter';
  return 'retry_bounded';
}

/** Exponential backoff with full jitter, capped. `random` is injectable for tests. */
export function backoffMs(attempt: number, initialMs: number, maxMs: number, random: () => number = Math.random): number {
  const ceiling = Math.min(maxMs, initialMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(ceiling / 2 + (ceiling / 2) * random());
}
