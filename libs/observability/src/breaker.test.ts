import { Registry } from 'prom-client';
import { breakerReporter, createCircuitBreaker } from './breaker.ts';
import { createLogger } from './logger.ts';

function capture() {
  const lines: Array<Record<string, unknown>> = [];
  const logger = createLogger({ service: 'test', level: 'debug', destination: { write: (line: string) => lines.push(JSON.parse(line)) } });
  return { logger, lines };
}

async function sample(registry: Registry, metric: string, labels: Record<string, string>): Promise<number | undefined> {
  const found = (await registry.getSingleMetric(metric)?.get())?.values.find((v) => Object.entries(labels).every(([k, value]) => v.labels[k] === value));
  return found?.value;
}

describe('breakerReporter', () => {
  it('exports a watched breaker as closed before anything happens to it, and logs nothing for that', async () => {
    const { logger, lines } = capture();
    const registry = new Registry();
    breakerReporter({ logger, metrics: registry }).watch('graph-api');
    expect(await sample(registry, 'circuit_breaker_state', { breaker: 'graph-api' })).toBe(0);
    expect(lines).toHaveLength(0);
  });

  it('logs each state change, sets the gauge and counts the transition', async () => {
    const { logger, lines } = capture();
    const registry = new Registry();
    const reporter = breakerReporter({ logger, metrics: registry });
    reporter.report('graph-api', 'open');
    expect(await sample(registry, 'circuit_breaker_state', { breaker: 'graph-api' })).toBe(2);
    reporter.report('graph-api', 'half_open');
    expect(await sample(registry, 'circuit_breaker_state', { breaker: 'graph-api' })).toBe(1);
    reporter.report('graph-api', 'closed');
    expect(await sample(registry, 'circuit_breaker_state', { breaker: 'graph-api' })).toBe(0);
    expect(await sample(registry, 'circuit_breaker_transitions_total', { breaker: 'graph-api', state: 'open' })).toBe(1);
    expect(lines.map((l) => [l['breaker'], l['state'], l['level']])).toEqual([
      ['graph-api', 'open', 'warn'],
      ['graph-api', 'half_open', 'warn'],
      ['graph-api', 'closed', 'warn'],
    ]);
  });

  it('lets several breakers and reporters share one registry (the metrics are registered once)', async () => {
    const { logger } = capture();
    const registry = new Registry();
    const first = breakerReporter({ logger, metrics: registry });
    const second = breakerReporter({ logger, metrics: registry });
    first.report('graph-api', 'open');
    second.report('llm-provider', 'open');
    expect(await sample(registry, 'circuit_breaker_state', { breaker: 'graph-api' })).toBe(2);
    expect(await sample(registry, 'circuit_breaker_state', { breaker: 'llm-provider' })).toBe(2);
  });

  it('still logs when no registry is given', () => {
    const { logger, lines } = capture();
    breakerReporter({ logger }).report('graph-api', 'open');
    expect(lines[0]).toMatchObject({ breaker: 'graph-api', state: 'open' });
  });
});

describe('createCircuitBreaker', () => {
  it('reports through the same metrics when it opens', async () => {
    const { logger } = capture();
    const registry = new Registry();
    const breaker = createCircuitBreaker(async () => {
      throw new Error('down');
    }, { name: 'remote', logger, metrics: registry, volumeThreshold: 1, errorThresholdPercentage: 1, resetTimeoutMs: 60_000 });
    expect(await sample(registry, 'circuit_breaker_state', { breaker: 'remote' })).toBe(0);
    await expect(breaker.fire()).rejects.toThrow('down');
    expect(breaker.opened).toBe(true);
    expect(await sample(registry, 'circuit_breaker_state', { breaker: 'remote' })).toBe(2);
    expect(await sample(registry, 'circuit_breaker_transitions_total', { breaker: 'remote', state: 'open' })).toBe(1);
    breaker.shutdown();
  });
});
