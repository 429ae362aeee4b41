import { Counter } from '@parley/observability';
import type { Registry } from '@parley/observability';

export type ResponderMetrics = {
  /** Due replies by outcome: answered (by source), suppressed (by reason), cancelled, superseded, waiting, failed. */
  replies: Counter<'outcome' | 'detail'>;
  /** Answers replaced by the offer of a person because the assistant's provider failed. */
  providerFallbacks: Counter<never>;
};

export function createResponderMetrics(registry: Registry): ResponderMetrics {
  const existing = registry.getSingleMetric('responder_replies_total') as Counter<'outcome' | 'detail'> | undefined;
  return {
    replies:
      existing ??
      new Counter({ name: 'responder_replies_total', help: 'Due replies by outcome', labelNames: ['outcome', 'detail'], registers: [registry] }),
    providerFallbacks:
      (registry.getSingleMetric('responder_provider_fallbacks_total') as Counter<never> | undefined) ??
      new Counter({ name: 'responder_provider_fallbacks_total', help: 'Answers replaced by the offer of a person because the provider failed', registers: [registry] }),
  };
}
