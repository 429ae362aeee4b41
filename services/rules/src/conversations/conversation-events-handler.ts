import type { ParleyEvent } from '@parley/contracts';
import type { RulesStore } from '../store/store.ts';
import { evolveConversation, initialConversation } from './conversation-state.ts';

/**
 * Consumes `outbound.events.v1` and `conversation.decisions.v1` for what they tell about a
 * conversation: `outbound.message.sent` (an answer went out; its mid is ours), and escalations and
 * resolutions made by people through the projection (rules' own escalations come back already
 * processed and are skipped). Everything else on those topics changes nothing here.
 */
export function createConversationEventsHandler(deps: { store: RulesStore }): (event: ParleyEvent) => Promise<void> {
  return async (event) => {
    if (event.conversationId === null) return;
    switch (event.type) {
      case 'outbound.message.sent':
      case 'conversation.escalated':
      case 'conversation.resolved': {
        const conversationId = event.conversationId;
        const seed = initialConversation({ conversationId, pageId: event.pageId, channel: event.data.channel, customer: event.data.customer });
        await deps.store.transaction(async (tx) => {
          if (!(await deps.store.markProcessed(tx, event.id, event.type))) return;
          const conversation = await deps.store.lockConversation(seed, tx);
          const next = evolveConversation(conversation, event);
          if (next !== conversation) await deps.store.saveConversation(next, tx);
        });
        return;
      }
      default:
        return;
    }
  };
}
