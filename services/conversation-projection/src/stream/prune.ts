import type { Logger } from '@parley/observability';
import type { ActiveInbox } from '../rebuild/inbox-host.ts';

/**
 * The change log only serves streams that reconnect: a day of it is plenty. Older rows are deleted
 * every `everyMs`; a client that comes back later than that gets `event: reset` and reloads.
 */
export function startChangeLogPruning(inbox: () => ActiveInbox, logger: Logger, options: { everyMs?: number; keepMs?: number } = {}): { stop(): void } {
  const timer = setInterval(() => {
    const cutoff = new Date(Date.now() - (options.keepMs ?? 24 * 60 * 60 * 1000));
    inbox()
      .db.query('delete from inbox_changes where at < ?', [cutoff])
      .catch((error: unknown) => logger.warn({ err: error }, 'pruning the inbox change log failed'));
  }, options.everyMs ?? 10 * 60 * 1000);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}
