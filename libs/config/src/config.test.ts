import { ConfigError, env, loadConfig } from './index.ts';

const shape = {
  KAFKA_BROKERS: env.kafkaBrokers,
  DATABASE_URL: env.databaseUrl,
  PORT: env.port(3000),
  API_KEYS: env.apiKeys,
};

describe('configuration', () => {
  it('gives typed values for a good environment', () => {
    const config = loadConfig('svc', shape, {
      KAFKA_BROKERS: 'a:9092, b:9093',
      DATABASE_URL: 'postgres://x@y/z',
      API_KEYS: 'acme:k1,globex:k2',
    });
    expect(config.KAFKA_BROKERS).toEqual(['a:9092', 'b:9093']);
    expect(config.PORT).toBe(3000);
    expect(config.API_KEYS.get('k2')).toBe('globex');
  });

  it('lists every problem at once, naming each variable', () => {
    let error: unknown;
    try {
      loadConfig('svc', shape, { KAFKA_BROKERS: 'no-port', PORT: 'eighty', API_KEYS: 'nocolon' });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const { problems, message } = error as ConfigError;
    expect(problems).toHaveLength(4);
    expect(message).toMatch(/KAFKA_BROKERS is invalid/);
    expect(message).toMatch(/DATABASE_URL is missing/);
    expect(message).toMatch(/PORT is invalid/);
    expect(message).toMatch(/API_KEYS is invalid: each entry must be accountId:key/);
  });
});
