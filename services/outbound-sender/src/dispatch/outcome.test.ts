import { GraphApiError } from '@parley/graph-api';
import { DEFAULT_RETRY_POLICY, decideOutcome } from './outcome.ts';
import type { GraphOutcome, OutcomeInput } from './outcome.ts';

const now = new Date('2026-11-26T10:00:00.000Z');
const send = { channel: 'messenger' as const, tag: null, sendAt: now, replyWindowClosesAt: new Date('2026-11-27T09:00:00.000Z') };
const policy = { ...DEFAULT_RETRY_POLICY, baseDelayMs: 1_000, maxDelayMs: 60_000, maxAttempts: 5, breakerRetryMs: 30_000 };
const graphError = (init: Partial<ConstructorParameters<typeof GraphApiError>[0]>) =>
  new GraphApiError({ kind: 'graph', operation: 'POST /v25.0/me/messages', message: 'error', httpStatus: 400, ...init });
const failed = (error: unknown): GraphOutcome => ({ ok: false, error });

function when(outcome: GraphOutcome, overrides: Partial<OutcomeInput> = {}) {
  return decideOutcome({ step: 'message', outcome, send, attempts: 0, now, policy, random: () => 0.5, ...overrides });
}

describe("what to do with Meta's answer to a part", () => {
  it('given Meta accepted it, then the part is sent with its mid', () => {
    expect(when({ ok: true, mid: 'm_1' })).toEqual({ kind: 'sent', mid: 'm_1' });
  });

  it.each([
    ['code 1 (unknown, temporary)', { code: 1, httpStatus: 500 }],
    ['code 2 (service)', { code: 2, httpStatus: 500 }],
    ['code 1200 (temporary send failure)', { code: 1200 }],
    ['an HTTP 503 without an error body', { httpStatus: 503 }],
    ['is_transient', { code: 9999, isTransient: true }],
  ])('given a transient error (%s), then it is retried later with backoff and announced as graph_unavailable', (_what, init) => {
    const decision = when(failed(graphError(init)));
    expect(decision).toMatchObject({ kind: 'retry', reason: 'graph_unavailable', countsAsAttempt: true });
    // attempt 1: between half and all of the base delay (full jitter, random 0.5 → 3/4).
    expect(decision.kind === 'retry' && decision.retryAt.getTime() - now.getTime()).toBe(750);
  });

  it('given transient errors keep coming, then the backoff grows exponentially up to its cap', () => {
    const delay = (attempts: number) => {
      const decision = when(failed(graphError({ code: 2, httpStatus: 500 })), { attempts, policy: { ...policy, maxAttempts: 100 } });
      return decision.kind === 'retry' ? decision.retryAt.getTime() - now.getTime() : -1;
    };
    expect([0, 1, 2, 3].map(delay)).toEqual([750, 1_500, 3_000, 6_000]);
    expect(delay(20)).toBe(45_000); // capped at maxDelayMs (60 s), jittered
  });

  it('given the last allowed attempt failed transiently, then the part fails (category transient) with a reason a person understands', () => {
    expect(when(failed(graphError({ code: 2, httpStatus: 500 })), { attempts: 4 })).toMatchObject({
      kind: 'fail',
      failure: { category: 'transient', reason: 'Facebook kept failing (5 attempts), so this was not sent.', graphCode: 2 },
    });
  });

  it('given a network failure, then it is retried (meta-platform.md §4b)', () => {
    expect(when(failed(new GraphApiError({ kind: 'network', operation: 'POST /me/messages', message: 'x' }))).kind).toBe('retry');
  });

  it("given a timed-out message (Meta may have delivered it), then it is not retried blindly: the part waits for its echo", () => {
    const timeout = new GraphApiError({ kind: 'timeout', operation: 'POST /me/messages', message: 'x' });
    expect(when(failed(timeout))).toEqual({ kind: 'unconfirmed', detail: timeout.reason });
    // Even after many attempts: the echo decides, and the deadline gives up on it (reconcile.ts).
    expect(when(failed(timeout), { attempts: 10 }).kind).toBe('unconfirmed');
  });

  it('given a timed-out typing indicator, then the message goes on (a courtesy, nothing to confirm)', () => {
    expect(when(failed(new GraphApiError({ kind: 'timeout', operation: 'POST /me/messages', message: 'x' })), { step: 'typing' })).toEqual({ kind: 'continue' });
  });

  it.each([4, 17, 32, 613])('given rate limit code %i, then it waits at least as long as Meta says, announced as rate_limited, without giving up', (code) => {
    const decision = when(failed(graphError({ code, retryAfterMs: 120_000 })), { attempts: 50 });
    expect(decision).toMatchObject({ kind: 'retry', reason: 'rate_limited' });
    expect(decision.kind === 'retry' && decision.retryAt.getTime()).toBe(now.getTime() + 120_000);
  });

  it('given the breaker is open, then the send is deferred (graph_unavailable), not failed, and the attempt does not count', () => {
    const decision = when(failed(new GraphApiError({ kind: 'breaker_open', operation: 'POST /me/messages', message: 'open' })), { attempts: 4 });
    expect(decision).toMatchObject({ kind: 'retry', reason: 'graph_unavailable', countsAsAttempt: false });
    expect(decision.kind === 'retry' && decision.retryAt.getTime()).toBe(now.getTime() + 30_000);
  });

  it('given 190 (token invalid), then the Page is held, with the code and subcode for outbound.token.rejected', () => {
    expect(when(failed(graphError({ code: 190, subcode: 460 })))).toMatchObject({ kind: 'hold', graphCode: 190, graphSubcode: 460 });
  });

  it('given a permission error, then the part fails (permission) and the token is reported as rejected', () => {
    expect(when(failed(graphError({ code: 230, httpStatus: 403 })))).toMatchObject({ kind: 'fail', tokenRejected: true, failure: { category: 'permission', graphCode: 230 } });
  });

  it("given 10/2018278 (outside the window), then it fails as window_closed with the window's own sentence", () => {
    expect(when(failed(graphError({ code: 10, subcode: 2018278 })))).toEqual({
      kind: 'fail',
      tokenRejected: false,
      failure: { category: 'window_closed', reason: "The customer's 24-hour reply window closed before this was sent.", graphCode: 10, graphSubcode: 2018278 },
    });
    expect(when(failed(graphError({ code: 10, subcode: 2018278 })), { send: { ...send, tag: 'HUMAN_AGENT' } })).toMatchObject({ failure: { reason: expect.stringMatching(/7-day window/) } });
  });

  it.each([
    ['551 (customer unavailable)', { code: 551, subcode: 1545041 }, 'recipient_unavailable'],
    ['100/2018001 (no matching user)', { code: 100, subcode: 2018001 }, 'recipient_unavailable'],
    ['100 (invalid parameter)', { code: 100 }, 'invalid_request'],
    ['368 (blocked as abusive)', { code: 368 }, 'policy'],
    ['10900 (comment already answered)', { code: 10900 }, 'invalid_request'],
  ])('given a permanent error %s, then the part fails with category %s', (_what, init, category) => {
    expect(when(failed(graphError(init)))).toMatchObject({ kind: 'fail', tokenRejected: false, failure: { category } });
  });

  it('given a 2xx Meta answered in a way nobody can read, then it fails as unknown (it may have gone out: never repeated)', () => {
    expect(when(failed(new GraphApiError({ kind: 'invalid_response', operation: 'POST /me/messages', message: 'x', httpStatus: 200 })))).toMatchObject({ kind: 'fail', failure: { category: 'unknown' } });
  });

  it('given an error that is not from Meta (a bug before the request), then it is retried like a transient one', () => {
    expect(when(failed(new TypeError('boom')))).toMatchObject({ kind: 'retry', reason: 'graph_unavailable' });
  });
});

describe("what to do with Meta's answer to a typing indicator", () => {
  const typing = (outcome: GraphOutcome) => decideOutcome({ step: 'typing', outcome, send, attempts: 0, now, policy, random: () => 0.5 });

  it('given it went out, or failed in a way only the message can tell (window, recipient, 5xx), then the message goes on', () => {
    expect(typing({ ok: true, mid: null })).toEqual({ kind: 'continue' });
    expect(typing(failed(graphError({ code: 10, subcode: 2018278 })))).toEqual({ kind: 'continue' });
    expect(typing(failed(graphError({ code: 2, httpStatus: 500 })))).toEqual({ kind: 'continue' });
  });

  it('given the token is rejected or the breaker is open, then the message waits too', () => {
    expect(typing(failed(graphError({ code: 190 }))).kind).toBe('hold');
    expect(typing(failed(new GraphApiError({ kind: 'breaker_open', operation: 'x', message: 'x' }))).kind).toBe('retry');
  });
});
