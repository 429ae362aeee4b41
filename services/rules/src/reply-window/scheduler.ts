import type { ParleyEvent } from '@parley/contracts';
import type { EventPublisher } from '@parley/messaging';
import type { Logger } from '@parley/observability';
import { evolveConversation } from '../conversations/conversation-state.ts';
import type { RulesMetrics } from '../metrics.ts';
import type { RulesStore } from '../store/store.ts';
import { LATE_ALERT_LIMIT_MS, decideWindowAlert } from './window-alert.ts';

export type WindowSchedulerOptions = {
  store: RulesStore;
  publisher: EventPublisher;
  /** Injectable so tests can move time forward; `() => new Date()` in production. */
  clock: () => Date;
  leadMs: number;
  intervalMs: number;
  batchSize?: number;
  logger: Logger;
  metrics: RulesMetrics;
};

export type WindowScheduler = {
  /** Escalates every conversation due now; resolves with how many. Safe to call while the loop runs. */
  tick(): Promise<number>;
  stop(): Promise<void>;
};

/**
 * The reply-window alarm. Durable: what is due lives in the `conversations` table
 * (`window_alert_closes_at`), polled every `intervalMs`, so a restart loses nothing and a
 * conversation found late is still escalated. Due rows are taken `for update skip locked` in
 * batches, so several replicas share the work without escalating a conversation twice; the
 * escalation is published before the transaction commits (a crash in between publishes it again
 * under the same deterministic id).
 */
export function startWindowScheduler(options: WindowSchedulerOptions): WindowScheduler {
  const batchSize = options.batchSize ?? 100;
  const log = options.logger.child({ component: 'window-scheduler' });
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  let running: Promise<number> | undefined;

  async function runBatch(): Promise<number> {
    return options.store.transaction(async (tx) => {
      const now = options.clock();
      const due = await options.store.lockDueWindowAlerts(tx, now, options.leadMs, LATE_ALERT_LIMIT_MS, batchSize);
      const events: ParleyEvent[] = [];
      for (const conversation of due) {
        const page = await options.store.loadPage(conversation.pageId, tx);
        const alerts = decideWindowAlert(conversation, page?.accountId ?? null, now, options.leadMs);
        if (alerts.length === 0) continue;
        await options.store.saveConversation(alerts.reduce(evolveConversation, conversation), tx);
        for (const alert of alerts) await options.store.markProcessed(tx, alert.id, alert.type);
        events.push(...alerts);
      }
      await options.publisher.publish(events);
      options.metrics.record(events);
      if (events.length > 0) log.info({ escalated: events.map((e) => e.conversationId) }, 'reply windows about to close: escalated');
      return due.length === batchSize ? -events.length : events.length; // negative: a full batch, there may be more
    });
  }

  async function tickOnce(): Promise<number> {
    let total = 0;
    for (;;) {
      const result = await runBatch();
      total += Math.abs(result);
      if (result >= 0 || stopped) return total;
    }
  }

  function tick(): Promise<number> {
    // One pass at a time in this process; other replicas are kept apart by `skip locked`.
    running ??= tickOnce().finally(() => {
      running = undefined;
    });
    return running;
  }

  function schedule() {
    if (stopped) return;
    timer = setTimeout(() => {
      tick()
        .catch((error: unknown) => log.warn({ err: error }, 'reply-window pass failed; retrying at the next interval'))
        .finally(schedule);
    }, options.intervalMs);
  }
  schedule();

  return {
    tick,
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await running?.catch(() => undefined);
    },
  };
}
