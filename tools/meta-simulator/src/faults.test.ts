import { activateFault, globMatches, takeFaults, validateFaultSpec } from './faults.ts';
import { retryDelayMs } from './webhook-delivery.ts';

describe('fault matching', () => {
  it('matches paths by glob', () => {
    expect(globMatches('/me/messages', '/me/messages')).toBe(true);
    expect(globMatches('*/messages', '/100/messages')).toBe(true);
    expect(globMatches('*/messages', '/100/message_attachments')).toBe(false);
    expect(globMatches('/oauth/*', '/oauth/access_token')).toBe(true);
    expect(globMatches('/me.messages', '/me/messages')).toBe(false); // '.' is literal
  });

  it('serves the next N matching requests, then stops', () => {
    const faults = [activateFault({ kind: 'serverError', count: 2, match: { path: '*/messages' } }, 'f1')];
    const send = { method: 'POST', path: '/me/messages', pageId: '100' };
    expect(takeFaults(faults, { method: 'GET', path: '/me/accounts' }).failure).toBeUndefined();
    const first = takeFaults(faults, send).failure;
    expect(first).toEqual({ kind: 'error', error: expect.objectContaining({ code: 2, httpStatus: 500 }) });
    expect(takeFaults(faults, send).failure).toBeDefined();
    expect(takeFaults(faults, send).failure).toBeUndefined();
    expect(faults[0]!.hits).toBe(2);
  });

  it('scopes to a page and method', () => {
    const faults = [activateFault({ kind: 'rateLimit', match: { pageId: '200', method: 'post' } }, 'f1')];
    expect(takeFaults(faults, { method: 'POST', path: '/me/messages', pageId: '100' }).failure).toBeUndefined();
    expect(takeFaults(faults, { method: 'GET', path: '/me', pageId: '200' }).failure).toBeUndefined();
    expect(takeFaults(faults, { method: 'POST', path: '/me/messages', pageId: '200' }).failure).toEqual({
      kind: 'error',
      error: expect.objectContaining({ code: 613 }),
    });
  });

  it('adds latency until cleared and combines it with one failure', () => {
    const faults = [activateFault({ kind: 'latency', ms: 50 }, 'l'), activateFault({ kind: 'timeout' }, 't'), activateFault({ kind: 'serverError', code: 1 }, 's')];
    const request = { method: 'POST', path: '/me/messages' };
    expect(takeFaults(faults, request)).toEqual({ latencyMs: 50, failure: { kind: 'timeout' } });
    expect(takeFaults(faults, request)).toEqual({ latencyMs: 50, failure: { kind: 'error', error: expect.objectContaining({ code: 1 }) } });
    expect(takeFaults(faults, request)).toEqual({ latencyMs: 50 });
  });

  it('applies subscriptionFailure only to POST subscribed_apps', () => {
    const faults = [activateFault({ kind: 'subscriptionFailure' }, 's')];
    expect(takeFaults(faults, { method: 'GET', path: '/100/subscribed_apps' }).failure).toBeUndefined();
    expect(takeFaults(faults, { method: 'POST', path: '/me/messages' }).failure).toBeUndefined();
    expect(takeFaults(faults, { method: 'POST', path: '/100/subscribed_apps' }).failure).toEqual({
      kind: 'error',
      error: expect.objectContaining({ code: 200 }),
    });
  });

  it('rejects unusable specs with a reason', () => {
    expect(validateFaultSpec({ kind: 'explode' })).toContain('kind');
    expect(validateFaultSpec({ kind: 'latency' })).toContain('ms');
    expect(validateFaultSpec({ kind: 'serverError', code: 3 })).toContain('1 or 2');
    expect(validateFaultSpec({ kind: 'graphError' })).toContain('error.code');
    expect(validateFaultSpec({ kind: 'timeout', count: 0 })).toContain('count');
    expect(validateFaultSpec({ kind: 'graphError', error: { code: 1200 } })).toBeNull();
  });
});

describe('webhook retry backoff', () => {
  it('doubles from the initial delay up to the cap', () => {
    const policy = { maxAttempts: 8, initialDelayMs: 100, factor: 2, maxDelayMs: 1000 };
    expect([1, 2, 3, 4, 5, 6].map((n) => retryDelayMs(n, policy))).toEqual([100, 200, 400, 800, 1000, 1000]);
  });
});
