import { NOT_SURE } from '@parley/builtin-assistant';
import type { EventPublisher } from '@parley/messaging';
import type { Logger } from '@parley/observability';
import type { AssistantStore } from '../assistants/assistant-store.ts';
import type { Answerer } from '../answering/answerer.ts';
import type { ContextEntry } from '../conversation-context/context.ts';
import type { ContextStore } from '../conversation-context/context-store.ts';
import type { ResponderMetrics } from '../metrics.ts';
import type { PageAccounts } from '../pages/page-accounts.ts';
import { shapeAnswer } from '../shaping/shape.ts';
import type { ShapeOptions } from '../shaping/shape.ts';
import { decideAtDueTime, sendCommandFor, suppressionsFor } from './pending-reply.ts';
import type { DueSettings, PendingReply } from './pending-reply.ts';
import type { ClaimedReply, PendingReplyStore } from './pending-reply-store.ts';

export type Clock = { now(): Date };

export type ReplyPollerOptions = {
  logger: Logger;
  replies: PendingReplyStore;
  assistants: AssistantStore;
  context: ContextStore;
  pageAccounts: PageAccounts;
  answerer: Answerer;
  publisher: EventPublisher;
  clock: Clock;
  shape: ShapeOptions;
  due: DueSettings;
  metrics?: ResponderMetrics;
  /** How often to look for due replies. */
  intervalMs: number;
  /** Replies taken per look (answered concurrently). */
  batchSize?: number;
  /** How long a taken reply is reserved; after a crash another replica takes it once this passes. Longer than a provider's timeout. */
  leaseMs: number;
};

export type ReplyPoller = {
  start(): void;
  /** Stops looking and waits for the replies in progress. */
  stop(): Promise<void>;
  /** One look: takes the due replies and handles them; resolves with how many were taken. */
  tick(): Promise<number>;
  /** Look now rather than at the next interval (a reply just became due, or its message arrived). */
  wake(): void;
};

/** How long processed decision ids are remembered: longer than any reply window (24 h). */
const PROCESSED_RETENTION_MS = 48 * 3_600_000;
const PRUNE_EVERY_MS = 10 * 60_000;
const MAX_RETRY_MS = 60_000;

/**
 * The durable timer of pending replies: replies live in PostgreSQL, never in an in-memory timer,
 * so a restart loses none. Each look takes the due ones (leased, `for update skip locked`), decides
 * (decideAtDueTime), builds the context, asks the assistant, shapes the answer and publishes
 * `outbound.send.requested` — then forgets the reply in the same transaction that checked it was
 * not cancelled or merged meanwhile. A crash after publishing and before forgetting sends the same
 * command again with the same outboundId, which outbound-sender applies once.
 */
export function createReplyPoller(options: ReplyPollerOptions): ReplyPoller {
  const log = options.logger.child({ component: 'reply-poller' });
  const batchSize = options.batchSize ?? 10;
  let running = false;
  let timer: NodeJS.Timeout | undefined;
  let current: Promise<unknown> = Promise.resolve();
  let lastPrune = 0;
  // Wakes so far, and how many of them the last claim covered: a wake comes after its reply
  // committed, so a claim that began after it saw the reply; only a later wake means look again.
  let wakes = 0;
  let wakesClaimed = 0;

  async function tick(): Promise<number> {
    const now = options.clock.now();
    if (now.getTime() - lastPrune > PRUNE_EVERY_MS) {
      lastPrune = now.getTime();
      const pruned = await options.replies.pruneProcessed(new Date(now.getTime() - PROCESSED_RETENTION_MS));
      if (pruned > 0) log.debug({ pruned }, 'forgot old processed decision ids');
    }
    wakesClaimed = wakes;
    const claimed = await options.replies.claimDue(now, batchSize, options.leaseMs);
    await Promise.all(claimed.map((reply) => handle(reply)));
    return claimed.length;
  }

  async function handle(reply: ClaimedReply): Promise<void> {
    const replyLog = log.child({ conversationId: reply.conversationId, assistantId: reply.assistantId, triggerEventIds: reply.triggerEventIds });
    try {
      await answerDueReply(reply, replyLog);
    } catch (error) {
      // PostgreSQL or Kafka unavailable: try again with backoff. The lateness rule ends the retries eventually.
      const retryInMs = Math.min(MAX_RETRY_MS, 1_000 * 2 ** Math.max(0, reply.attempts - 1));
      replyLog.error({ err: error, attempts: reply.attempts, retryInMs }, 'handling a due reply failed; will retry');
      options.metrics?.replies.inc({ outcome: 'failed', detail: '' });
      await options.replies.release(reply, new Date(options.clock.now().getTime() + retryInMs)).catch((releaseError: unknown) => {
        replyLog.error({ err: releaseError }, 'could not release the reply; its lease will expire');
      });
    }
  }

  async function answerDueReply(reply: ClaimedReply, replyLog: Logger): Promise<void> {
    const now = options.clock.now();
    const [assistant, { entries, customerFirstName }] = await Promise.all([options.assistants.get(reply.assistantId), options.context.conversation(reply.conversationId)]);
    const pageAccountId = reply.accountId ?? (await options.pageAccounts.accountOf(reply.pageId));
    const decision = decideAtDueTime({
      pending: reply,
      now,
      assistant,
      pageAccountId,
      contextEventIds: new Set(entries.map((e) => e.eventId)),
      settings: options.due,
    });
    switch (decision.kind) {
      case 'wait_for_context':
        replyLog.debug({ missing: decision.missing }, 'waiting for the trigger messages to reach the context');
        options.metrics?.replies.inc({ outcome: 'waiting_for_context', detail: '' });
        await options.replies.release(reply, new Date(decision.dueAt));
        return;
      case 'suppress': {
        const outcome = await options.replies.finalize(reply, () =>
          options.publisher.publish(suppressionsFor(reply, decision.reason, decision.detail, { now, accountId: pageAccountId })),
        );
        replyLog.info({ reason: decision.reason, outcome }, 'reply suppressed');
        options.metrics?.replies.inc({ outcome: outcome === 'done' ? 'suppressed' : outcome, detail: decision.reason });
        return;
      }
      case 'answer': {
        const answer = await options.answerer.answer({ assistant: assistant!, customerFirstName, entries });
        const shaped = shapeAnswer(answer.text, options.shape);
        // An empty answer from a model is no answer: the customer still hears from us.
        const parts = shaped.length > 0 ? shaped : shapeAnswer(NOT_SURE, options.shape);
        const sentAt = options.clock.now();
        const command = sendCommandFor(reply, parts, { now: sentAt, accountId: pageAccountId, commentId: commentIdFor(reply, entries) });
        const outcome = await options.replies.finalize(reply, () => options.publisher.publish([command]));
        replyLog.info({ outcome, source: answer.source, parts: parts.length, outboundId: command.data.outboundId, failure: answer.failure }, 'reply answered');
        options.metrics?.replies.inc({ outcome: outcome === 'done' ? 'answered' : outcome, detail: answer.source });
        return;
      }
      default: {
        const unknown: never = decision;
        throw new Error(`Unknown due decision ${JSON.stringify(unknown)}`);
      }
    }
  }

  let ticking = false;

  function schedule(delayMs: number): void {
    if (!running) return;
    clearTimeout(timer);
    timer = setTimeout(() => {
      ticking = true;
      const work = tick().then(
        (taken) => {
          ticking = false;
          const again = wakes > wakesClaimed || taken >= batchSize;
          schedule(again ? 0 : options.intervalMs);
        },
        (error: unknown) => {
          ticking = false;
          log.error({ err: error }, 'looking for due replies failed');
          schedule(options.intervalMs);
        },
      );
      current = work;
    }, delayMs);
  }

  return {
    start() {
      if (running) return;
      running = true;
      schedule(0);
    },
    async stop() {
      running = false;
      clearTimeout(timer);
      await current;
    },
    tick,
    wake() {
      if (!running) return;
      // The interval is only a safety net: an instant reply should not wait for it.
      wakes++;
      if (!ticking) schedule(0);
    },
  };
}

/** For a comment thread: the latest trigger comment (its id is stored as the entry's mid), else the thread's root comment. */
function commentIdFor(reply: PendingReply, entries: ReadonlyArray<ContextEntry>): string | null {
  if (reply.channel !== 'page_comment') return null;
  const triggers = new Set(reply.triggerEventIds);
  const latest = [...entries].reverse().find((e) => triggers.has(e.eventId) && e.mid);
  return latest?.mid ?? reply.conversationId.split(':comment:')[1] ?? null;
}
