import type { Logger } from '@parley/observability';
import type { RulesStore } from './store.ts';

export type ProcessedEventsPruner = {
  /** Forgets every id older than the retention now; resolves with how many. */
  prune(): Promise<number>;
  stop(): Promise<void>;
};

const CHUNK = 10_000;

/**
 * Keeps `processed_events` from growing forever: every `intervalMs`, the ids of events applied
 * longer than `retentionMs` ago are deleted, in chunks. Several replicas may prune at once: deleting
 * what another replica deleted already deletes nothing.
 */
export function startProcessedEventsPruner(options: { store: RulesStore; clock: () => Date; retentionMs: number; intervalMs: number; logger: Logger }): ProcessedEventsPruner {
  const log = options.logger.child({ component: 'processed-events-pruner' });
  let stopped = false;
  let running: Promise<number> | undefined;

  async function pruneAll(): Promise<number> {
    const before = new Date(options.clock().getTime() - options.retentionMs);
    let total = 0;
    for (;;) {
      const pruned = await options.store.pruneProcessed(before, CHUNK);
      total += pruned;
      if (pruned < CHUNK || stopped) break;
    }
    if (total > 0) log.info({ pruned: total, before: before.toISOString() }, 'forgot the ids of old applied events');
    return total;
  }

  function prune(): Promise<number> {
    running ??= pruneAll().finally(() => {
      running = undefined;
    });
    return running;
  }

  const timer = setInterval(() => {
    prune().catch((error: unknown) => log.warn({ err: error }, 'pruning processed events failed; trying again at the next interval'));
  }, options.intervalMs);
  timer.unref();

  return {
    prune,
    async stop() {
      stopped = true;
      clearInterval(timer);
      await running?.catch(() => undefined);
    },
  };
}
