import { TOPICS } from '@parley/contracts';
import type { ParleyEvent } from '@parley/contracts';
import { RetriableError, handlersOfMany, startEventConsumer } from '@parley/messaging';
import type { EventPublisher, Kafka, RunningConsumer } from '@parley/messaging';
import type { Logger } from '@parley/observability';
import { contextEntryOf } from './conversation-context/context.ts';
import type { ContextEntry } from './conversation-context/context.ts';
import type { ContextStore } from './conversation-context/context-store.ts';
import type { PageAccounts } from './pages/page-accounts.ts';
import type { PendingReplyStore } from './pending-replies/pending-reply-store.ts';
import type { Clock } from './pending-replies/reply-poller.ts';

export type HandlerDeps = {
  logger: Logger;
  context: ContextStore;
  pageAccounts: PageAccounts;
  replies: PendingReplyStore;
  publisher: EventPublisher;
  clock: Clock;
  /** Called when a reply may have become answerable (requested, or its message arrived): wakes the poller. */
  onReplyMayBeDue?: () => void;
};

/**
 * Decisions and Page ownership (conversation.decisions.v1, page.events.v1). What happens to each input:
 * - reply requested / escalated / resolved → the conversation's pending reply (see pending-reply.ts),
 *   once per event id: a duplicate is skipped.
 * - Page events → the Page's account (an older event never overwrites a newer one).
 * - everything else on these topics (including the suppressions this service publishes) → ignored.
 * - malformed records and unknown event types are handled by the messaging library (DLQ / skipped).
 */
export function handleDecisionEvent(deps: HandlerDeps): (event: ParleyEvent) => Promise<void> {
  return (event) =>
    asRetriable(async () => {
      switch (event.type) {
        case 'conversation.reply.requested':
        case 'conversation.escalated':
        case 'conversation.resolved': {
          const changes = await deps.replies.apply(event, deps.clock.now(), (events) => deps.publisher.publish(events));
          deps.logger.debug({ eventId: event.id, type: event.type, conversationId: event.conversationId, changes: changes === 'duplicate' ? changes : changes.map((c) => c.type) }, 'decision applied');
          if (event.type === 'conversation.reply.requested' && Date.parse(event.data.replyAt) <= deps.clock.now().getTime()) deps.onReplyMayBeDue?.();
          return;
        }
        case 'page.connected':
        case 'page.connection.changed':
        case 'page.settings.changed':
        case 'page.disconnected':
          await deps.pageAccounts.record(event);
          return;
        default:
          return;
      }
    });
}

/**
 * The recent conversation (messenger.inbound.v1, outbound.events.v1): messages, postbacks, comments,
 * echoes and sent messages become context entries (idempotent by event id and by Meta's mid);
 * profiles give the customer's first name. Anything else is not context and is ignored. Several
 * waiting events are recorded together (`handleContextEvents`, `ContextStore.recordMany`).
 */
export function handleContextEvent(deps: HandlerDeps): (event: ParleyEvent) => Promise<void> {
  const handleMany = handleContextEvents(deps);
  return (event) => handleMany([event]);
}

/** handleContextEvent for several events of one partition, in order. */
export function handleContextEvents(deps: HandlerDeps): (events: ReadonlyArray<ParleyEvent>) => Promise<void> {
  return (events) =>
    asRetriable(async () => {
      const entries: ContextEntry[] = [];
      for (const event of events) {
        if (event.type === 'messenger.customer.profile.updated') await deps.context.recordProfile(event);
        const entry = contextEntryOf(event);
        if (entry) entries.push(entry);
      }
      if (entries.length > 0) await deps.context.recordMany(entries);
      // A due reply may have been waiting for this message to reach the context (the decision is
      // consumed by the other consumer and can be first): it was put back for a later look
      // (CONTEXT_RETRY_MS); it goes now instead. The poller is woken only then: a reply already due
      // was woken for when it was requested, and a wake for nothing cost the poller an empty look.
      const customers = [...new Set(entries.filter((entry) => entry.author === 'customer').map((entry) => entry.conversationId))];
      if (customers.length > 0 && (await deps.replies.dueNowIfWaiting(customers, deps.clock.now())) > 0) deps.onReplyMayBeDue?.();
    });
}

// PostgreSQL errors worth retrying until they pass: connection loss, shutdown, serialization, deadlock.
const RETRIABLE_PG = /^(08|53|57P|40001|40P01)/;
const RETRIABLE_NET = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN']);

/**
 * Infrastructure failures become RetriableError (the partition waits and retries until they pass,
 * nothing is skipped); anything else (a bug) keeps the library's bounded retries, then the DLQ.
 */
async function asRetriable(work: () => Promise<void>): Promise<void> {
  try {
    await work();
  } catch (error) {
    throw classifyHandlerError(error);
  }
}

/** The error a handler rethrows: infrastructure failures marked retriable, everything else as it was. */
export function classifyHandlerError(error: unknown): unknown {
  if (typeof error !== 'object' || error === null) return error;
  if ((error as { retriable?: unknown }).retriable !== undefined) return error;
  const code = String((error as { code?: unknown }).code ?? '');
  const message = (error as Error).message ?? '';
  if (RETRIABLE_PG.test(code) || RETRIABLE_NET.has(code) || /connection|timeout|terminat/i.test(message)) {
    return new RetriableError(`infrastructure unavailable: ${message}`, { cause: error });
  }
  return error;
}

export type ConsumerGroups = { decisions: string; context: string };

/** The topics consumed: Parley's own, unless tests give fresh ones so that they see only their own events. */
export type InputTopics = { decisions: string; pages: string; inbound: string; outboundEvents: string };

export const DEFAULT_INPUT_TOPICS: InputTopics = {
  decisions: TOPICS.decisions,
  pages: TOPICS.pages,
  inbound: TOPICS.inbound,
  outboundEvents: TOPICS.outboundEvents,
};

/** Starts both consumers: decisions and Page ownership in one group, the conversation context in another. */
export async function startConsumers(kafka: Kafka, groups: ConsumerGroups, topics: InputTopics, deps: HandlerDeps): Promise<RunningConsumer[]> {
  const decisions = await startEventConsumer({
    kafka,
    publisher: deps.publisher,
    logger: deps.logger,
    groupId: groups.decisions,
    topics: [topics.decisions, topics.pages],
    handle: handleDecisionEvent(deps),
  });
  const context = await startEventConsumer({
    kafka,
    publisher: deps.publisher,
    logger: deps.logger,
    groupId: groups.context,
    topics: [topics.inbound, topics.outboundEvents],
    ...handlersOfMany(handleContextEvents(deps)),
  });
  return [decisions, context];
}
