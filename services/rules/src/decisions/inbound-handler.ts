import type { ParleyEvent } from '@parley/contracts';
import { RetriableError } from '@parley/messaging';
import type { EventPublisher } from '@parley/messaging';
import type { Logger } from '@parley/observability';
import { evolveConversation, seedOf } from '../conversations/conversation-state.ts';
import type { ConversationState } from '../conversations/conversation-state.ts';
import type { RulesMetrics } from '../metrics.ts';
import { isKnownPage } from '../pages/page-state.ts';
import type { RulesStore } from '../store/store.ts';
import { decide } from './decide.ts';
import type { DecisionPolicy, RulesOutput } from './decide.ts';
import type { Random } from './delay.ts';

export type InboundHandlerDeps = {
  store: RulesStore;
  publisher: EventPublisher;
  clock: () => Date;
  random: Random;
  policy: DecisionPolicy;
  /**
   * `page.connected` and the first messages travel on different topics: an inbound event for a Page
   * not known yet, recorded less than this long ago, is retried (the partition waits) rather than
   * suppressed as `page_disconnected`. Older ones are decided at once.
   */
  unknownPageGraceMs: number;
  logger: Logger;
  metrics: RulesMetrics;
};

/**
 * Consumes `messenger.inbound.v1`, several events at a time when several are waiting (one
 * transaction, two or three set-based statements, one publish — the per-event round trips were
 * the service's cost under load). In that transaction: skip the events already processed (a
 * redelivery), lock their conversations, and for each event in order `decide`, apply the event
 * and its decisions to the conversation (`evolve`, so a later event of the batch sees the earlier
 * one's effect), then save what changed, publish the decisions and commit. Publishing happens
 * before the commit: if Kafka refuses, nothing is stored and the events are retried; if the commit
 * fails after publishing, the retry publishes the same events again under the same deterministic
 * ids, which every consumer applies once.
 *
 * An event for a Page not known yet (within the grace period) throws RetriableError: the whole
 * batch rolls back, the consumer falls back to one event at a time, and that event's partition
 * waits for the Page's `page.connected`.
 *
 * Deliveries, reads and unsupported events change nothing here and are not stored.
 */
export function createInboundHandler(deps: InboundHandlerDeps): (events: ReadonlyArray<ParleyEvent>) => Promise<void> {
  return async (events) => {
    const relevant = events.filter((event): event is ConversationInbound & { conversationId: string } => changesConversation(event) && event.conversationId !== null);
    if (relevant.length === 0) return;
    const published = await deps.store.transaction(async (tx) => {
      const { fresh, pages, conversations: locked } = await deps.store.markProcessedLoadingPagesLocking(tx, relevant, relevant.map(seedOf));
      const toDecide = firstOfEach(relevant.filter((event) => fresh.has(event.id)));
      if (toDecide.length === 0) return [];
      const now = deps.clock();
      for (const event of toDecide) {
        if (!isKnownPage(pages.get(event.pageId) ?? null) && getsDecision(event) && now.getTime() - Date.parse(event.recordedAt) < deps.unknownPageGraceMs) {
          throw new RetriableError(`Page ${event.pageId} is not known yet; waiting for its page.connected`);
        }
      }
      const conversations = await deps.store.lockConversations(toDecide.map(seedOf), tx, locked);
      const changed = new Map<string, ConversationState>();
      const outputs: RulesOutput[] = [];
      for (const event of toDecide) {
        const conversation = conversations.get(event.conversationId)!;
        const decided = decide(event, conversation, pages.get(event.pageId) ?? null, now, deps.random, deps.policy);
        const next = [event, ...decided].reduce(evolveConversation, conversation);
        if (next !== conversation) {
          conversations.set(event.conversationId, next);
          changed.set(event.conversationId, next);
        }
        outputs.push(...decided);
      }
      // Our escalations come back on conversation.decisions.v1: marked processed, skipped there.
      await deps.store.saveConversationsMarkingProcessed([...changed.values()], outputs, tx);
      await deps.publisher.publish(outputs);
      return outputs;
    });
    deps.metrics.record(published);
    // After the commit, so that the log never tells of a decision that was rolled back.
    for (const output of published) deps.logger.debug({ conversationId: output.conversationId, trigger: output.causationId, emitted: output.type }, 'inbound event decided');
  };
}

/** The events in order, each id once (the same event twice in one batch is applied once). */
export function firstOfEach<T extends { id: string }>(events: ReadonlyArray<T>): T[] {
  const seen = new Set<string>();
  return events.filter((event) => !seen.has(event.id) && seen.add(event.id));
}

type ConversationInbound = Extract<
  ParleyEvent,
  {
    type:
      | 'messenger.message.received'
      | 'messenger.message.echoed'
      | 'messenger.postback.received'
      | 'messenger.comment.received'
      | 'messenger.reaction.received'
      | 'messenger.referral.received'
      | 'messenger.customer.profile.updated';
  }
>;

function changesConversation(event: ParleyEvent): event is ConversationInbound {
  switch (event.type) {
    case 'messenger.message.received':
    case 'messenger.message.echoed':
    case 'messenger.postback.received':
    case 'messenger.comment.received':
    case 'messenger.reaction.received':
    case 'messenger.referral.received':
    case 'messenger.customer.profile.updated':
      return true;
    default:
      return false;
  }
}

function getsDecision(event: ConversationInbound): boolean {
  return event.type === 'messenger.message.received' || event.type === 'messenger.postback.received' || event.type === 'messenger.comment.received';
}
