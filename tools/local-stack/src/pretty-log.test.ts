import { formatLogLine } from './pretty-log.ts';

const plain = { color: false, sourceWidth: 8 };

describe('the npm start log formatter', () => {
  it('shows a pino record as time, level, source and message, with its other fields', () => {
    const line = JSON.stringify({
      level: 'info',
      time: '2026-01-02T03:04:05.678Z',
      service: 'ingress',
      pid: 12,
      hostname: 'box',
      msg: 'webhook accepted',
      pageId: '123',
      events: 2,
    });
    const shown = formatLogLine('ingress', line, plain);
    expect(shown).toMatch(/^\d\d:\d\d:\d\d\.678 INFO {2}ingress {2}│ webhook accepted pageId=123 events=2$/);
    expect(shown).not.toContain('hostname');
  });

  it('accepts numeric pino levels and epoch times', () => {
    const shown = formatLogLine('rules', JSON.stringify({ level: 50, time: 0, msg: 'boom' }), plain);
    expect(shown).toContain('ERROR');
    expect(shown).toContain('rules    │ boom');
  });

  it('prints an error with its message and indented stack', () => {
    const line = JSON.stringify({ level: 'error', msg: 'send failed', err: { type: 'GraphError', message: 'token expired', stack: 'GraphError: token expired\n    at send (x.ts:1:1)' } });
    const shown = formatLogLine('outbound', line, plain).split('\n');
    expect(shown[0]).toContain('err="GraphError: token expired"');
    expect(shown[1]?.trim()).toBe('at send (x.ts:1:1)');
  });

  it('keeps lines that are not pino records as they are: a crash, or JSON that is not a log record', () => {
    expect(formatLogLine('ingress', 'TypeError: x is not a function', plain)).toMatch(/ingress {2}│ TypeError: x is not a function$/);
    expect(formatLogLine('ingress', '{"hello":"world"}', plain)).toMatch(/│ \{"hello":"world"\}$/);
    expect(formatLogLine('ingress', '{not json', plain)).toMatch(/│ \{not json$/);
  });

  it('quotes values with spaces and renders objects as JSON', () => {
    const shown = formatLogLine('x', JSON.stringify({ level: 'warn', msg: 'm', reason: 'window closed', data: { a: 1 } }), plain);
    expect(shown).toContain('reason="window closed" data={"a":1}');
  });

  it('colours only when asked', () => {
    const line = JSON.stringify({ level: 'info', msg: 'm' });
    expect(formatLogLine('x', line, { color: true, sourceWidth: 1 })).toContain('\u001b[');
    expect(formatLogLine('x', line, plain)).not.toContain('\u001b[');
  });
});
