import { ensureInfrastructure } from './infrastructure.ts';
import { redactUrl } from './postgres.ts';
import { freePort } from './ports.ts';

// The global setup already brought up Kafka and PostgreSQL (by whichever route) and put them in
// the environment: here they are "given", so ensureInfrastructure must use them and start nothing.
describe('choosing where Kafka and PostgreSQL come from', () => {
  const given = { KAFKA_BROKERS: process.env['KAFKA_BROKERS'], DATABASE_URL: process.env['DATABASE_URL'] };

  it('uses KAFKA_BROKERS and DATABASE_URL when they are set, and stopping leaves them running', async () => {
    const infrastructure = await ensureInfrastructure({ purpose: 'test', env: given });
    expect(infrastructure.sources).toEqual({ kafka: 'environment', postgres: 'environment' });
    expect(infrastructure.kafkaBrokers).toEqual(given.KAFKA_BROKERS?.split(','));
    expect(infrastructure.databaseUrl).toBe(given.DATABASE_URL);
    await infrastructure.stop();
    // Still there: a second call finds them answering.
    const again = await ensureInfrastructure({ purpose: 'test', env: given });
    expect(again.sources.kafka).toBe('environment');
  });

  it('says clearly when a given broker does not answer, instead of starting another', async () => {
    const deadPort = await freePort();
    await expect(
      ensureInfrastructure({ purpose: 'test', env: { ...given, KAFKA_BROKERS: `127.0.0.1:${deadPort}` }, environmentCheckTimeoutMs: 1_500 }),
    ).rejects.toThrow(/KAFKA_BROKERS is set but the broker does not answer/);
  });

  it('rejects an unknown PARLEY_INFRA value', async () => {
    await expect(ensureInfrastructure({ purpose: 'test', env: { PARLEY_INFRA: 'kubernetes' } })).rejects.toThrow(/PARLEY_INFRA must be auto, docker or local/);
  });

  it('never prints a database password', () => {
    expect(redactUrl('postgres://app:hunter2@db:5432/parley')).toBe('postgres://app:***@db:5432/parley');
    expect(redactUrl('not a url')).toBe('(unparseable URL)');
  });
});
