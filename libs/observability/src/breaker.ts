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
 * One circuit breaker per remote dependency, created once: its state changes are logged and
 * exported as the `circuit_breaker_state` gauge (0 closed, 1 half-open, 2 open).
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
  const stateGauge = options.metrics
    ? registerOnce(options.metrics, 'circuit_breaker_state', () =>
        new Gauge({ name: 'circuit_breaker_state', help: 'Circuit breaker state: 0 closed, 1 half-open, 2 open', labelNames: ['breaker'], registers: [options.metrics!] }),
      )
    : undefined;
  const transitions = options.metrics
    ? registerOnce(options.metrics, 'circuit_breaker_transitions_total', () =>
        new Counter({ name: 'circuit_breaker_transitions_total', help: 'Circuit breaker state changes', labelNames: ['breaker', 'state'], registers: [options.metrics!] }),
      )
    : undefined;
  const report = (state: BreakerState, value: number) => {
    options.logger.warn({ breaker: options.name, state }, `circuit breaker ${options.name} is ${state}`);
    stateGauge?.set({ breaker: options.name }, value);
    transitions?.inc({ breaker: options.name, state });
  };
  stateGauge?.set({ breaker: options.name }, 0);
  breaker.on('open', () => report('open', 2));
  breaker.on('halfOpen', () => report('half_open', 1));
  breaker.on('close', () => report('closed', 0));
  return breaker;
}

function registerOnce<T>(registry: Registry, name: string, create: () => T): T {
  return (registry.getSingleMetric(name) as T | undefined) ?? create();
}
