export { createLogger, scrubSecrets, REDACTED_PATHS } from './logger.ts';
export type { Logger, LoggerOptions } from './logger.ts';
export { createMetricsRegistry, Counter, Gauge, Histogram, Registry } from './metrics.ts';
export { startTelemetry } from './telemetry.ts';
export type { Telemetry } from './telemetry.ts';
export { breakerReporter, createCircuitBreaker } from './breaker.ts';
export type { BreakerOptions, BreakerReporter, BreakerState } from './breaker.ts';
export { installShutdown } from './shutdown.ts';
