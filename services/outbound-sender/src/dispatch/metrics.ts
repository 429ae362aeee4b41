import { Counter } from '@parley/observability';
import type { Registry } from '@parley/observability';

export type DispatchMetrics = {
  partsSent: Counter<'author'>;
  sendsFailed: Counter<'category'>;
  sendsDeferred: Counter<'reason'>;
  sendsCancelled: Counter<string>;
  graphCalls: Counter<'call' | 'outcome'>;
  /** Parts whose Send API call got no answer (`timeout`) or whose dispatcher died during it (`crash`): they wait for their echo. */
  partsUnconfirmed: Counter<'cause'>;
  /** Parts sent again because their echo did not come in time (each one a possible duplicate, if Meta's echo was only late). */
  partsResent: Counter<string>;
};

export function createDispatchMetrics(registry: Registry): DispatchMetrics {
  const counter = <T extends string>(name: string, help: string, labelNames: T[]) =>
    (registry.getSingleMetric(name) as Counter<T> | undefined) ?? new Counter<T>({ name, help, labelNames, registers: [registry] });
  return {
    partsSent: counter('outbound_parts_sent_total', 'Message parts Meta accepted', ['author']),
    sendsFailed: counter('outbound_sends_failed_total', 'Sends that will not be delivered, by category', ['category']),
    sendsDeferred: counter('outbound_sends_deferred_total', 'Announced deferrals of sends, by reason', ['reason']),
    sendsCancelled: counter('outbound_sends_cancelled_total', 'Sends cancelled before they went out', []),
    graphCalls: counter('outbound_graph_calls_total', 'Send API calls by kind and outcome', ['call', 'outcome']),
    partsUnconfirmed: counter('outbound_parts_unconfirmed_total', 'Parts Meta did not confirm (timeout, crash mid-call) that wait for their echo', ['cause']),
    partsResent: counter('outbound_parts_resent_total', 'Parts sent again because no echo came before the deadline', []),
  };
}
