import { Counter } from '@parley/observability';
import type { Registry } from '@parley/observability';
import type { ParleyEvent } from '@parley/contracts';

export type RulesMetrics = { record(events: ReadonlyArray<ParleyEvent>): void };

/** Counts what rules decides: decisions by type and reason, escalations by reason, page sends by purpose. */
export function createRulesMetrics(registry: Registry): RulesMetrics {
  const decisions = new Counter({ name: 'rules_decisions_total', help: 'Decisions by type and suppression reason', labelNames: ['type', 'reason'], registers: [registry] });
  const escalations = new Counter({ name: 'rules_escalations_total', help: 'Escalations raised by rules, by reason', labelNames: ['reason', 'by'], registers: [registry] });
  const sends = new Counter({ name: 'rules_page_sends_total', help: 'Greetings and away messages requested', labelNames: ['purpose'], registers: [registry] });
  return {
    record(events) {
      for (const event of events) {
        if (event.type === 'conversation.reply.requested') decisions.inc({ type: 'requested', reason: '' });
        else if (event.type === 'conversation.reply.suppressed') decisions.inc({ type: 'suppressed', reason: event.data.reason });
        else if (event.type === 'conversation.escalated') escalations.inc({ reason: event.data.reason, by: event.data.by });
        else if (event.type === 'outbound.send.requested') sends.inc({ purpose: event.data.purpose });
      }
    },
  };
}
