import type { ParleyEvent } from '@parley/contracts';
import { RetriableError } from '@parley/messaging';
import type { EventPublisher } from '@parley/messaging';
import type { Logger } from '@parley/observability';
import { evolveConversation, initialConversation } from '../conversations/conversation-state.ts';
import type { RulesMetrics } from '../metrics.ts';
import { isKnownPage } from '../pages/page-state.ts';
import type { RulesStore } from '../store/store.ts';
import { decide } from './decide.ts';
import type { DecisionPolicy } from './decide.ts';
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
 * Consumes `messenger.inbound.v1`. For each event that matters to a conversation, in one
 * transaction: skip it if already processed (a redelivery), lock the conversation, `decide`, apply
 * the event and the decisions to the state (`evolve`), publish the decisions and commit. Publishing
 * happens before the commit: if Kafka refuses, nothing is stored and the event is retried; if the
 * commit fails after publishing, the retry publishes the same events again under the same
 * deterministic ids, which every consumer applies once.
 *
 * Deliveries, reads and unsupported events change nothing here and are not stored.
 */
export function createInboundHandler(deps: InboundHandlerDeps): (event: ParleyEvent) => Promise<void> {
  return async (event) => {
    if (!changesConversation(event) || event.conversationId === null) return;
    const conversationId = event.conversationId;
    const published = await deps.store.transaction(async (tx) => {
      if (!(await deps.store.markProcessed(tx, event.id, event.type))) return [];
      const now = deps.clock();
      const page = await deps.store.loadPage(event.pageId, tx);
      if (!isKnownPage(page) && getsDecision(event) && now.getTime() - Date.parse(event.recordedAt) < deps.unknownPageGraceMs) {
        throw new RetriableError(`Page ${event.pageId} is not known yet; waiting for its page.connected`);
      }
      const seed = initialConversation({ conversationId, pageId: event.pageId, channel: event.data.channel, customer: event.data.customer });
      const conversation = await deps.store.lockConversation(seed, tx);
      const outputs = decide(event, conversation, page, now, deps.random, deps.policy);
      const next = [event, ...outputs].reduce(evolveConversation, conversation);
      if (next !== conversation) await deps.store.saveConversation(next, tx);
      // Our escalations come back on conversation.decisions.v1: already applied, skip them there.
      for (const output of outputs) await deps.store.markProcessed(tx, output.id, output.type);
      await deps.publisher.publish(outputs);
      return outputs;
    });
    deps.metrics.record(published);
    if (published.length > 0) {
      deps.logger.debug({ conversationId, trigger: event.id, emitted: published.map((e) => e.type) }, 'inbound event decided');
    }
  };
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
