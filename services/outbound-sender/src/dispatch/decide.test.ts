import type { PageConnection } from '../page-connections/page-connection.ts';
import { unknownPage } from '../page-connections/page-connection.ts';
import type { Send, SendPart } from '../scheduling/send.ts';
import { planSend } from '../scheduling/send.ts';
import { sendCommand } from '../test-support/commands.ts';
import type { SendCommandInput } from '../test-support/commands.ts';
import { decideNext, decideOnToken, decideProbe, replyWindowOf } from './decide.ts';

const pageId = '100000000000001';
const sendAt = new Date('2026-11-26T10:00:00.000Z');
const minutes = (n: number) => new Date(sendAt.getTime() + n * 60_000);
const hours = (n: number) => minutes(n * 60);
const days = (n: number) => hours(n * 24);

function given(input: Partial<SendCommandInput> = {}): { send: Send; parts: SendPart[] } {
  const planned = planSend(sendCommand({ pageId, sendAt: sendAt.toISOString(), replyWindowClosesAt: hours(20).toISOString(), ...input }));
  return { send: planned.send, parts: [...planned.parts] };
}

const connected: PageConnection = { ...unknownPage(pageId), status: 'connected' };
const withStates = (parts: SendPart[], ...states: SendPart['state'][]) => parts.map((p, i) => ({ ...p, state: states[i] ?? p.state }));
const reconcile = { echoWaitMs: 30_000, resendUnconfirmed: true, maxAttempts: 8 };
/** Part `index` waits for its echo until `until` (the other parts keep their states). */
const awaitingEcho = (parts: SendPart[], index: number, until: Date, attempts = 1) =>
  parts.map((p) => (p.index === index ? { ...p, state: 'unconfirmed' as const, reconcileUntil: until, attempts } : p));

describe('the next step for a due send', () => {
  it('given a due assistant answer on a connected Page, then its first part goes out with a typing indicator before it', () => {
    const { send, parts } = given({ parts: [{ text: 'a' }, { text: 'b' }] });
    expect(decideNext({ reconcile, send, parts, page: connected, cancellation: null, now: minutes(1) })).toEqual({ kind: 'send', part: 0, typing: true, resend: false });
  });

  it('given the first part was sent, then the second goes out, without typing', () => {
    const { send, parts } = given({ parts: [{ text: 'a' }, { text: 'b' }] });
    expect(decideNext({ reconcile, send, parts: withStates(parts, 'sent'), page: connected, cancellation: null, now: minutes(1) })).toEqual({ kind: 'send', part: 1, typing: false, resend: false });
  });

  it.each([
    ['a person', { author: 'agent' as const }],
    ['the Page (greeting)', { author: 'page' as const }],
    ['an assistant that asked for none', { typingIndicator: false }],
    ['a Page comment reply', { channel: 'page_comment' as const, commentId: 'c1' }],
  ])('given a message from %s, then no typing indicator precedes it', (_who, overrides) => {
    const { send, parts } = given(overrides);
    expect(decideNext({ reconcile, send, parts, page: connected, cancellation: null, now: minutes(1) })).toMatchObject({ kind: 'send', typing: false });
  });

  it('given a Page nobody told us about, then it is sent (auth-token has the last word on its token)', () => {
    const { send, parts } = given();
    expect(decideNext({ reconcile, send, parts, page: unknownPage(pageId), cancellation: null, now: minutes(1) }).kind).toBe('send');
  });

  it('given every part was sent, then the send is closed as sent', () => {
    const { send, parts } = given({ parts: [{ text: 'a' }, { text: 'b' }] });
    expect(decideNext({ reconcile, send, parts: withStates(parts, 'sent', 'sent'), page: connected, cancellation: null, now: minutes(1) })).toEqual({ kind: 'close', status: 'sent' });
  });

  describe('restart safety and echoes', () => {
    it("given a part left in sending (the process died mid-call), then it waits for Meta's echo (ECHO_WAIT_MS) instead of failing or going out again", () => {
      const { send, parts } = given({ parts: [{ text: 'a' }, { text: 'b' }, { text: 'c' }] });
      expect(decideNext({ reconcile, send, parts: withStates(parts, 'sent', 'sending'), page: connected, cancellation: null, now: minutes(1) })).toEqual({
        kind: 'await_echo',
        part: 1,
        until: new Date(minutes(1).getTime() + 30_000),
        orphaned: true,
      });
    });

    it('given a part in sending and a cancellation, then the part still waits for its echo first (it may have gone out)', () => {
      const { send, parts } = given();
      expect(decideNext({ reconcile, send, parts: withStates(parts, 'sending'), page: connected, cancellation: { reason: 'escalated' }, now: minutes(1) }).kind).toBe('await_echo');
    });

    it('given a part waiting for its echo before the deadline, then the send keeps waiting until the deadline, even if its window closed meanwhile', () => {
      const { send, parts } = given({ parts: [{ text: 'a' }, { text: 'b' }] });
      const until = minutes(2);
      expect(decideNext({ reconcile, send, parts: awaitingEcho(parts, 0, until), page: connected, cancellation: null, now: minutes(1) })).toEqual({ kind: 'await_echo', part: 0, until, orphaned: false });
      expect(decideNext({ reconcile, send, parts: awaitingEcho(parts, 0, hours(21)), page: connected, cancellation: null, now: hours(20) }).kind).toBe('await_echo');
    });

    it('given no echo came by the deadline, then the part is sent again (Meta did not deliver it), without a second typing indicator', () => {
      const { send, parts } = given({ parts: [{ text: 'a' }, { text: 'b' }] });
      expect(decideNext({ reconcile, send, parts: awaitingEcho(parts, 0, minutes(2)), page: connected, cancellation: null, now: minutes(2) })).toEqual({ kind: 'send', part: 0, typing: false, resend: true });
    });

    it('given the echo came (the part is sent), then the next part goes out', () => {
      const { send, parts } = given({ parts: [{ text: 'a' }, { text: 'b' }] });
      expect(decideNext({ reconcile, send, parts: withStates(parts, 'sent'), page: connected, cancellation: null, now: minutes(1) })).toMatchObject({ kind: 'send', part: 1, resend: false });
    });

    it('given no echo by the deadline and re-sending turned off (RETRY_TIMED_OUT_SENDS=false), then the part is given up as unknown and later parts are skipped', () => {
      const { send, parts } = given({ parts: [{ text: 'a' }, { text: 'b' }, { text: 'c' }] });
      const step = decideNext({ reconcile: { ...reconcile, resendUnconfirmed: false }, send, parts: awaitingEcho(withStates(parts, 'sent'), 1, minutes(2)), page: connected, cancellation: null, now: minutes(3) });
      expect(step).toMatchObject({ kind: 'give_up', part: 1, skip: [2], failure: { category: 'unknown' } });
      expect(step.kind === 'give_up' && step.failure.reason).toMatch(/not sent again, to avoid sending it twice/);
    });

    it('given no echo by the deadline and a cancellation, then the waiting part is cancelled with the rest, not sent again', () => {
      const { send, parts } = given({ parts: [{ text: 'a' }, { text: 'b' }, { text: 'c' }] });
      expect(decideNext({ reconcile, send, parts: awaitingEcho(withStates(parts, 'sent'), 1, minutes(2)), page: connected, cancellation: { reason: 'escalated' }, now: minutes(3) })).toEqual({
        kind: 'cancel',
        reason: 'escalated',
        partsSent: 1,
        cancel: [1, 2],
      });
    });

    it('given no echo by the deadline and the window closed meanwhile, then the send fails there: the waiting part is given up (it may have gone out), the rest skipped', () => {
      const { send, parts } = given({ parts: [{ text: 'a' }, { text: 'b' }] });
      expect(decideNext({ reconcile, send, parts: awaitingEcho(parts, 0, hours(19)), page: connected, cancellation: null, now: hours(21) })).toMatchObject({
        kind: 'fail',
        part: 0,
        abandon: 0,
        skip: [1],
        failure: { category: 'window_closed' },
      });
    });

    it('given a failed part already announced (crash before the send row was updated), then the send is closed as failed without sending more', () => {
      const { send, parts } = given({ parts: [{ text: 'a' }, { text: 'b' }] });
      expect(decideNext({ reconcile, send, parts: withStates(parts, 'failed', 'skipped'), page: connected, cancellation: null, now: minutes(1) })).toEqual({ kind: 'close', status: 'failed' });
    });
  });

  it('given a cancellation before anything was sent, then the send is cancelled and nothing goes out', () => {
    const { send, parts } = given({ parts: [{ text: 'a' }, { text: 'b' }] });
    expect(decideNext({ reconcile, send, parts, page: connected, cancellation: { reason: 'escalated' }, now: minutes(1) })).toEqual({ kind: 'cancel', reason: 'escalated', partsSent: 0, cancel: [0, 1] });
  });

  it('given a cancellation mid-stream, then the rest is cancelled and the parts already sent are counted', () => {
    const { send, parts } = given({ parts: [{ text: 'a' }, { text: 'b' }] });
    expect(decideNext({ reconcile, send, parts: withStates(parts, 'sent'), page: connected, cancellation: { reason: 'escalated' }, now: minutes(1) })).toEqual({ kind: 'cancel', reason: 'escalated', partsSent: 1, cancel: [1] });
  });

  it('given a disconnected Page, then the send fails with page_disconnected without calling Meta', () => {
    const { send, parts } = given();
    const step = decideNext({ reconcile, send, parts, page: { ...connected, status: 'disconnected' }, cancellation: null, now: minutes(1) });
    expect(step).toMatchObject({ kind: 'fail', part: null, skip: [0], failure: { category: 'page_disconnected' } });
  });

  describe('Pages that need reconnecting', () => {
    it.each(['needs_reconnect', 'revoked'] as const)('given a %s Page, then the send is held (not failed)', (status) => {
      const { send, parts } = given();
      expect(decideNext({ reconcile, send, parts, page: { ...connected, status }, cancellation: null, now: minutes(1) })).toEqual({ kind: 'hold', probe: false });
    });

    it('given a send already held that comes due again, then it probes auth-token for a usable token', () => {
      const { send, parts } = given();
      expect(decideNext({ reconcile, send: { ...send, status: 'held' }, parts, page: { ...connected, status: 'needs_reconnect' }, cancellation: null, now: minutes(5) })).toEqual({ kind: 'hold', probe: true });
    });

    it('given a held send whose reply window closed meanwhile, then it fails with window_closed rather than waiting for nothing', () => {
      const { send, parts } = given();
      const step = decideNext({ reconcile, send: { ...send, status: 'held' }, parts, page: { ...connected, status: 'needs_reconnect' }, cancellation: null, now: hours(21) });
      expect(step).toMatchObject({ kind: 'fail', failure: { category: 'window_closed', reason: "The customer's 24-hour reply window closed before this was sent." } });
    });

    it("given a person's tagged reply held past the 24-hour window but inside 7 days, then it goes out once the Page is back", () => {
      const { send, parts } = given({ author: 'agent', messagingType: 'MESSAGE_TAG', tag: 'HUMAN_AGENT', typingIndicator: false });
      expect(decideNext({ reconcile, send: { ...send, status: 'scheduled' }, parts, page: connected, cancellation: null, now: days(3) })).toEqual({ kind: 'send', part: 0, typing: false, resend: false });
    });
  });
});

describe('reply windows', () => {
  it('uses the window the command carries, and 6 more days for a human-agent reply', () => {
    const closes = hours(20);
    expect(replyWindowOf({ channel: 'messenger', tag: null, sendAt, replyWindowClosesAt: closes })).toEqual({ kind: 'standard', closesAt: closes, exact: true });
    expect(replyWindowOf({ channel: 'messenger', tag: 'HUMAN_AGENT', sendAt, replyWindowClosesAt: closes }).closesAt).toEqual(new Date(closes.getTime() + 6 * 24 * 3_600_000));
  });

  it('bounds an unknown window by sendAt (the customer wrote at or before it)', () => {
    expect(replyWindowOf({ channel: 'messenger', tag: null, sendAt, replyWindowClosesAt: null })).toEqual({ kind: 'standard', closesAt: hours(24), exact: false });
    expect(replyWindowOf({ channel: 'messenger', tag: 'HUMAN_AGENT', sendAt, replyWindowClosesAt: null }).closesAt).toEqual(days(7));
    expect(replyWindowOf({ channel: 'page_comment', tag: null, sendAt, replyWindowClosesAt: null })).toEqual({ kind: 'private_reply', closesAt: days(7), exact: false });
  });

  it('given a command replayed long after it was due (e.g. a new consumer group reading old history), then it fails as window_closed instead of messaging the customer', () => {
    const { send, parts } = given({ replyWindowClosesAt: null });
    expect(decideNext({ reconcile, send, parts, page: connected, cancellation: null, now: days(30) })).toMatchObject({ kind: 'fail', failure: { category: 'window_closed' } });
  });

  it('closes exactly at closesAt (Meta gives "up to" 24 hours)', () => {
    const { send, parts } = given();
    expect(decideNext({ reconcile, send, parts, page: connected, cancellation: null, now: hours(20) }).kind).toBe('fail');
    expect(decideNext({ reconcile, send, parts, page: connected, cancellation: null, now: new Date(hours(20).getTime() - 1) }).kind).toBe('send');
  });
});

describe("auth-token's answers", () => {
  it('uses a token, holds on 409, fails on 404, waits when auth-token does not answer', () => {
    expect(decideOnToken({ kind: 'token', accessToken: 't', accountId: 'a', fingerprint: 'f' })).toEqual({ kind: 'use', accessToken: 't', fingerprint: 'f', accountId: 'a' });
    expect(decideOnToken({ kind: 'needs_reconnect' })).toEqual({ kind: 'hold' });
    expect(decideOnToken({ kind: 'not_connected' })).toMatchObject({ kind: 'fail', failure: { category: 'page_disconnected' } });
    expect(decideOnToken({ kind: 'unavailable', detail: 'down' })).toEqual({ kind: 'wait', detail: 'down' });
  });

  it('releases a held Page when auth-token hands out a token again, keeps holding on 409 or silence, gives up on 404', () => {
    expect(decideProbe({ kind: 'token', accessToken: 't', accountId: null, fingerprint: 'new' })).toBe('release');
    expect(decideProbe({ kind: 'needs_reconnect' })).toBe('keep');
    expect(decideProbe({ kind: 'unavailable', detail: 'down' })).toBe('keep');
    expect(decideProbe({ kind: 'not_connected' })).toBe('disconnected');
  });
});
