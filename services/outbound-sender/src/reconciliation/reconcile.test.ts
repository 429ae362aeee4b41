import { decideOnEcho, decideReconcile, matchEcho, parseEchoMetadata } from './reconcile.ts';
import type { ReconcilePolicy } from './reconcile.ts';

const now = new Date('2026-11-26T10:00:00.000Z');
const seconds = (n: number) => new Date(now.getTime() + n * 1_000);
const policy: ReconcilePolicy = { echoWaitMs: 30_000, resendUnconfirmed: true, maxAttempts: 8 };
const OUR_APP = '1234567890123456';

describe('a part Meta did not confirm', () => {
  it('given a part found in sending (its dispatcher died mid-call), when a dispatcher looks at it, then it waits ECHO_WAIT_MS for the echo', () => {
    expect(decideReconcile({ index: 2, state: 'sending', attempts: 0, reconcileUntil: null }, now, policy)).toEqual({ kind: 'await_echo', part: 2, until: seconds(30), orphaned: true });
  });

  it('given an unconfirmed part before its deadline, then it keeps waiting until that deadline (not a new one)', () => {
    expect(decideReconcile({ index: 0, state: 'unconfirmed', attempts: 1, reconcileUntil: seconds(10) }, now, policy)).toEqual({ kind: 'await_echo', part: 0, until: seconds(10), orphaned: false });
  });

  it('given an unconfirmed part at its deadline without an echo, then it is sent again (Meta echoes what it delivers)', () => {
    expect(decideReconcile({ index: 0, state: 'unconfirmed', attempts: 1, reconcileUntil: now }, now, policy)).toEqual({ kind: 'resend', part: 0 });
  });

  it('given re-sending is turned off, when the deadline passes, then the part is given up as unknown, with a reason a person understands', () => {
    expect(decideReconcile({ index: 0, state: 'unconfirmed', attempts: 1, reconcileUntil: seconds(-1) }, now, { ...policy, resendUnconfirmed: false })).toEqual({
      kind: 'give_up',
      part: 0,
      failure: {
        category: 'unknown',
        reason: 'Facebook did not confirm this message (no answer, and no copy of it came back in time), so Parley cannot tell whether it reached the customer; it was not sent again, to avoid sending it twice.',
        graphCode: null,
        graphSubcode: null,
      },
    });
  });

  it('given a part that used up its attempts (timeouts, crashes), when the deadline passes, then it is given up rather than tried forever', () => {
    expect(decideReconcile({ index: 1, state: 'unconfirmed', attempts: 8, reconcileUntil: seconds(-1) }, now, policy)).toMatchObject({
      kind: 'give_up',
      failure: { category: 'unknown', reason: expect.stringContaining('after 8 attempts') },
    });
  });

  it('given an unconfirmed part without a deadline (the schema forbids it), then it counts as past the deadline', () => {
    expect(decideReconcile({ index: 0, state: 'unconfirmed', attempts: 1, reconcileUntil: null }, now, policy).kind).toBe('resend');
  });

  it.each(['pending', 'sent', 'failed', 'unknown', 'skipped', 'cancelled'] as const)('given a %s part, then there is nothing to reconcile (a caller bug)', (state) => {
    expect(() => decideReconcile({ index: 0, state, attempts: 0, reconcileUntil: null }, now, policy)).toThrow('nothing to reconcile');
  });
});

describe("an echo's metadata", () => {
  it('names the outboundId and the part', () => {
    expect(parseEchoMetadata('9f0c1d2e-aaaa-8bbb-9ccc-0123456789ab:3')).toEqual({ outboundId: '9f0c1d2e-aaaa-8bbb-9ccc-0123456789ab', part: 3 });
  });

  it('keeps colons inside an outboundId a caller chose (the part is after the last one)', () => {
    expect(parseEchoMetadata('reply:page:42:0')).toEqual({ outboundId: 'reply:page:42', part: 0 });
  });

  it.each([
    ['no metadata', null],
    ['another tool’s free text', 'campaign=spring'],
    ['no outboundId', ':1'],
    ['no part', 'abc:'],
    ['a part that is not a number', 'abc:one'],
    ['a negative part', 'abc:-1'],
    ['a part written another way', 'abc:01'],
    ['a part out of any range', 'abc:10000000'],
  ])('given %s, then it is not one of ours', (_what, metadata) => {
    expect(parseEchoMetadata(metadata)).toBeNull();
  });
});

describe('whether an echo is one of our sends', () => {
  const echo = { pageId: 'p1', appId: OUR_APP, metadata: 'out-1:0', mid: 'm_1' };

  it('given our app and our metadata, then it names a part', () => {
    expect(matchEcho(echo, OUR_APP)).toEqual({ kind: 'match', target: { outboundId: 'out-1', part: 0 } });
  });

  it("given another app's echo with metadata that looks like ours, then it is not ours", () => {
    expect(matchEcho({ ...echo, appId: '263902037430900' }, OUR_APP)).toEqual({ kind: 'not_ours', why: 'other_app' });
  });

  it("given a person's reply from Meta's inbox (no metadata), then it is not ours", () => {
    expect(matchEcho({ ...echo, metadata: null }, OUR_APP)).toEqual({ kind: 'not_ours', why: 'no_metadata' });
  });

  it('given an echo without an app id, then our metadata decides', () => {
    expect(matchEcho({ ...echo, appId: null }, OUR_APP).kind).toBe('match');
  });
});

describe('what an echo of one of our parts changes', () => {
  const echo = { pageId: 'p1', mid: 'm_echo' };
  const send = { pageId: 'p1' };

  it.each(['sending', 'unconfirmed', 'pending'] as const)('given the part is %s, when its echo arrives, then it is confirmed sent and the send goes on', (state) => {
    expect(decideOnEcho({ echo, send, part: { state, mid: null } })).toEqual({ kind: 'confirm', from: state, resume: true });
  });

  it('given the part was given up as unknown, when its echo arrives, then it is recorded as sent but the failed send does not go on', () => {
    expect(decideOnEcho({ echo, send, part: { state: 'unknown', mid: null } })).toEqual({ kind: 'confirm', from: 'unknown', resume: false });
  });

  it('given the part is already sent with the same mid, when the echo arrives (normal, or duplicated), then nothing changes', () => {
    expect(decideOnEcho({ echo, send, part: { state: 'sent', mid: 'm_echo' } })).toEqual({ kind: 'already_sent' });
  });

  it('given the part was sent again and the late echo of the first one arrives, then it is a duplicate delivery (noticed, nothing changes)', () => {
    expect(decideOnEcho({ echo, send, part: { state: 'sent', mid: 'm_second' } })).toEqual({ kind: 'duplicate_delivery', recordedMid: 'm_second' });
  });

  it.each(['failed', 'skipped', 'cancelled'] as const)('given the part is %s, when an echo says it went out, then that is logged and the record stands', (state) => {
    expect(decideOnEcho({ echo, send, part: { state, mid: null } })).toEqual({ kind: 'contradicts', state });
  });

  it('given the ledger does not know the outboundId (another app, another environment), then it is ignored', () => {
    expect(decideOnEcho({ echo, send: null, part: null })).toEqual({ kind: 'ignore', why: 'unknown_send' });
  });

  it('given an echo on another Page than the send, then it is ignored', () => {
    expect(decideOnEcho({ echo: { ...echo, pageId: 'p2' }, send, part: { state: 'sending', mid: null } })).toEqual({ kind: 'ignore', why: 'other_page' });
  });
});
