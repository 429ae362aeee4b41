import { createLogger, scrubSecrets } from './logger.ts';

function capture() {
  const lines: Record<string, unknown>[] = [];
  const logger = createLogger({ service: 'test', level: 'debug', destination: { write: (line: string) => lines.push(JSON.parse(line)) } });
  return { logger, lines, text: () => JSON.stringify(lines) };
}

describe('logger', () => {
  it('redacts tokens, secrets and signatures wherever an object carries them', () => {
    const { logger, text } = capture();
    logger.info({ accessToken: 'EAAB-secret-1', page: { pageToken: 'EAAB-secret-2', id: '42' }, appSecret: 'shh-3' }, 'connected');
    logger.info({ req: { headers: { authorization: 'Bearer key-4', 'x-hub-signature-256': 'sha256=abc5' } } }, 'request');
    const out = text();
    for (const secret of ['EAAB-secret-1', 'EAAB-secret-2', 'shh-3', 'key-4', 'abc5']) expect(out).not.toContain(secret);
    expect(out).toContain('[REDACTED]');
    expect(out).toContain('"id":"42"');
  });

  it('scrubs tokens inside messages and error messages', () => {
    const { logger, text } = capture();
    logger.warn('GET /v25.0/me?access_token=EAAB-in-url&fields=id failed');
    logger.error({ err: new Error('call to /debug_token?input_token=EAAB-in-error&x=1 failed') }, 'graph error');
    const out = text();
    expect(out).not.toContain('EAAB-in-url');
    expect(out).not.toContain('EAAB-in-error');
    expect(out).toContain('fields=id');
  });

  it('leaves ordinary text alone', () => {
    expect(scrubSecrets('hello world, mode=subscribe')).toBe('hello world, mode=subscribe');
  });
});
