import type { ParleyEvent } from '@parley/contracts';
import { firstOfEach } from '../decisions/inbound-handler.ts';
import type { RulesStore } from '../store/store.ts';
import { evolveConversation, seedOf } from './conversation-state.ts';
import type { ConversationState } from './conversation-state.ts';

/**
 * Consumes `outbound.events.v1` and `conversation.decisions.v1` for what they tell about a
 * conversation: `outbound.message.sent` (an answer went out; its mid is ours), and escalations and
 * resolutions made by people through the projection (rules' own escalations come back already
 * processed and are skipped). Everything else on those topics changes nothing here. Several
 * waiting events are applied in one transaction (see the inbound handler).
 */
export function createConversationEventsHandler(deps: { store: RulesStore }): (events: ReadonlyArray<ParleyEvent>) => Promise<void> {
  return async (events) => {
    const relevant = events.filter(changesConversation);
    if (relevant.length === 0) return;
    await deps.store.transaction(async (tx) => {
      const { fresh, conversations: locked } = await deps.store.markProcessedLoadingPagesLocking(tx, relevant, relevant.map(seedOf));
      const toApply = firstOfEach(relevant.filter((event) => fresh.has(event.id)));
      if (toApply.length === 0) return;
      const conversations = await deps.store.lockConversations(toApply.map(seedOf), tx, locked);
      const changed = new Map<string, ConversationState>();
      for (const event of toApply) {
        const conversation = conversations.get(event.conversationId)!;
        const next = evolveConversation(conversation, event);
        if (next === conversation) continue;
        conversations.set(event.conversationId, next);
        changed.set(event.conversationId, next);
      }
      await deps.store.saveConversations([...changed.values()], tx);
    });
  };
}

type ConversationEvent = Extract<ParleyEvent, { type: 'outbound.message.sent' | 'conversation.escalated' | 'conversation.resolved' }> & { conversationId: string };

function changesConversation(event: ParleyEvent): event is ConversationEvent {
  if (event.conversationId === null) return false;
  switch (event.type) {
    case 'outbound.message.sent':
    case 'conversation.escalated':
    case 'conversation.resolved':
      return true;
    default:
      return false;
  }
}
