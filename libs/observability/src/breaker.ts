import CircuitBreaker from 'opossum';
import { Counter, Gauge } from 'prom-client';
import type { Registry } from 'prom-client';
import type { Logger } from './logger.ts';

export type BreakerState = 'closed' | 'open' | 'half_open';

export type BreakerOptions = {
  /** Names the remote dependency, e.g. `graph-api`, `llm-provider`. */
  name: string;
  logger: Logger;
  metrics?: Registry;
  timeoutMs?: number;
  errorThresholdPercentage?: number;
  resetTimeoutMs?: number;
  volumeThreshold?: number;
  /** Errors for which this returns true do not count as failures (e.g. a permanent 4xx from the remote). */
  isIgnoredError?: (error: unknown) => boolean;
};

/**
 * One circuit breaker per remote dependency, created once: its state changes are reported by
 * `breakerReporter` (log, gauge, counter).
 */
export function createCircuitBreaker<TArgs extends unknown[], TResult>(
  action: (...args: TArgs) => Promise<TResult>,
  options: BreakerOptions,
): CircuitBreaker<TArgs, TResult> {
  const breaker = new CircuitBreaker(action, {
    name: options.name,
    timeout: options.timeoutMs ?? 10_000,
    errorThresholdPercentage: options.errorThresholdPercentage ?? 50,
    resetTimeout: options.resetTimeoutMs ?? 10_000,
    volumeThreshold: options.volumeThreshold ?? 5,
    ...(options.isIgnoredError ? { errorFilter: options.isIgnoredError } : {}),
  });
  const reporter = breakerReporter({ logger: options.logger, ...(options.metrics ? { metrics: options.metrics } : {}) });
  reporter.watch(options.name);
  breaker.on('open', () => reporter.report(options.name, 'open'));
  breaker.on('halfOpen', () => reporter.report(options.name, 'half_open'));
  breaker.on('close', () => reporter.report(options.name, 'closed'));
  return breaker;
}

const STATE_VALUE: Record<BreakerState, number> = { closed: 0, half_open: 1, open: 2 };

export type BreakerReporter = {
  /** Exports a breaker's state (closed) from the start, before anything happens to it. */
  watch(name: string): void;
  /** A state change: logged, the gauge set, the transition counted. */
  report(name: string, state: BreakerState): void;
};

/**
 * What every circuit breaker does when its state changes, whoever created it (this module, or a
 * client with its own, like the Graph API's): a warning in the log, the `circuit_breaker_state`
 * gauge (0 closed, 1 half-open, 2 open) and `circuit_breaker_transitions_total`, labelled by breaker.
 * The metrics are registered once per registry, however many breakers report to it.
 */
export function breakerReporter(options: { logger: Logger; metrics?: Registry }): BreakerReporter {
  const { metrics } = options;
  const stateGauge = metrics
    ? registerOnce(metrics, 'circuit_breaker_state', () =>
        new Gauge({ name: 'circuit_breaker_state', help: 'Circuit breaker state: 0 closed, 1 half-open, 2 open', labelNames: ['breaker'], registers: [metrics] }),
      )
    : undefined;
  const transitions = metrics
    ? registerOnce(metrics, 'circuit_breaker_transitions_total', () =>
        new Counter({ name: 'circuit_breaker_transitions_total', help: 'Circuit breaker state changes', labelNames: ['breaker', 'state'], registers: [metrics] }),
      )
    : undefined;
  return {
    watch(name) {
      stateGauge?.set({ breaker: name }, STATE_VALUE.closed);
    },
    report(name, state) {
      options.logger.warn({ breaker: name, state }, `circuit breaker ${name} is ${state}`);
      stateGauge?.set({ breaker: name }, STATE_VALUE[state]);
      transitions?.inc({ breaker: name, state });
    },
  };
}

function registerOnce<T>(registry: Registry, name: string, create: () => T): T {
  return (registry.getSingleMetric(name) as T | undefined) ?? create();
}
