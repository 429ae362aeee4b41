import { classifyGraphError } from './index.ts';
import type { GraphErrorCategory, GraphErrorFacts } from './index.ts';

// meta-platform.md §4b, row by row, plus the HTTP-level and transport-level cases.
const table: Array<[string, GraphErrorFacts, GraphErrorCategory, boolean]> = [
  ['1 API unknown', { httpStatus: 500, code: 1 }, 'transient', true],
  ['1/99 missing permission or Advanced Access', { httpStatus: 400, code: 1, subcode: 99 }, 'permission', false],
  ['1/1357046 invalid JSON reply', { httpStatus: 400, code: 1, subcode: 1357046 }, 'invalid_request', false],
  ['2 service temporarily unavailable', { httpStatus: 500, code: 2 }, 'transient', true],
  ['2/2018344 ToS not accepted', { httpStatus: 400, code: 2, subcode: 2018344 }, 'permission', false],
  ['4 app request limit', { httpStatus: 400, code: 4 }, 'rate_limited', true],
  ['4/2018354 marketing frequency', { httpStatus: 400, code: 4, subcode: 2018354 }, 'policy', false],
  ['17 user request limit', { httpStatus: 400, code: 17 }, 'rate_limited', true],
  ['32 Page-level limit', { httpStatus: 400, code: 32 }, 'rate_limited', true],
  ['613 send rate limit', { httpStatus: 400, code: 613 }, 'rate_limited', true],
  ['1200 temporary send failure', { httpStatus: 500, code: 1200 }, 'transient', true],
  ['10 permission denied', { httpStatus: 403, code: 10 }, 'permission', false],
  ['10/2018278 outside the reply window', { httpStatus: 400, code: 10, subcode: 2018278 }, 'window_closed', false],
  ['10/2018065 other outside-window subcode', { httpStatus: 400, code: 10, subcode: 2018065 }, 'permission', false],
  ['100 invalid parameter', { httpStatus: 400, code: 100 }, 'invalid_request', false],
  ['100/2018001 no matching user', { httpStatus: 400, code: 100, subcode: 2018001 }, 'recipient_unavailable', false],
  ['190 invalid token', { httpStatus: 401, code: 190 }, 'auth_invalid', false],
  ['190/460 password changed', { httpStatus: 400, code: 190, subcode: 460 }, 'auth_invalid', false],
  ['190/463 expired', { httpStatus: 400, code: 190, subcode: 463 }, 'auth_invalid', false],
  ['190 with an unknown subcode', { httpStatus: 400, code: 190, subcode: 123456 }, 'auth_invalid', false],
  ['200 permissions error', { httpStatus: 403, code: 200 }, 'permission', false],
  ['200/2018028 app not live', { httpStatus: 400, code: 200, subcode: 2018028 }, 'permission', false],
  ['230 permissions disallow message', { httpStatus: 400, code: 230 }, 'permission', false],
  ['299 end of the permission range', { httpStatus: 400, code: 299 }, 'permission', false],
  ['300 is past the permission range', { httpStatus: 400, code: 300 }, 'unknown', false],
  ['368 deemed abusive', { httpStatus: 400, code: 368 }, 'policy', false],
  ['551 person not available', { httpStatus: 400, code: 551 }, 'recipient_unavailable', false],
  ['551/1545041 same with subcode', { httpStatus: 400, code: 551, subcode: 1545041 }, 'recipient_unavailable', false],
  ['2022 commerce messaging disabled', { httpStatus: 400, code: 2022 }, 'policy', false],
  ['10900 already replied', { httpStatus: 400, code: 10900 }, 'invalid_request', false],
  ['10903 user cannot reply', { httpStatus: 400, code: 10903 }, 'recipient_unavailable', false],
  ['10904 Page messages disabled', { httpStatus: 400, code: 10904 }, 'permission', false],
  ['unknown code on a 400', { httpStatus: 400, code: 987654 }, 'unknown', false],
  ['unknown code honoured as transient', { httpStatus: 400, code: 987654, isTransient: true }, 'transient', true],
  ['is_transient:false does not cancel a retry code', { httpStatus: 500, code: 2, isTransient: false }, 'transient', true],
  ['plain HTTP 500', { httpStatus: 500 }, 'transient', true],
  ['plain HTTP 503', { httpStatus: 503 }, 'transient', true],
  ['unknown code on a 502', { httpStatus: 502, code: 987654 }, 'transient', true],
  ['plain HTTP 429', { httpStatus: 429 }, 'rate_limited', true],
  ['plain HTTP 404', { httpStatus: 404 }, 'invalid_request', false],
  ['nothing known', {}, 'unknown', false],
  ['timeout', { kind: 'timeout' }, 'transient', true],
  ['network failure', { kind: 'network' }, 'transient', true],
  ['breaker open', { kind: 'breaker_open' }, 'transient', true],
  ['unreadable 2xx', { kind: 'invalid_response', httpStatus: 200 }, 'unknown', false],
];

describe('classifyGraphError', () => {
  it.each(table)('%s → %s', (_label, facts, category, retriable) => {
    const result = classifyGraphError(facts);
    expect({ category: result.category, retriable: result.retriable }).toEqual({ category, retriable });
    expect(result.reason).toMatch(/^[A-Z].*[.]$/);
  });

  it('explains the closed reply window in words a Page admin understands', () => {
    expect(classifyGraphError({ httpStatus: 400, code: 10, subcode: 2018278 }).reason).toBe(
      "The customer's 24-hour reply window is closed; a person may still reply with the human-agent tag for 7 days.",
    );
  });

  it('names the cause of an invalid token when Meta gives it and always asks for a reconnect', () => {
    expect(classifyGraphError({ code: 190, subcode: 460 }).reason).toContain('password');
    expect(classifyGraphError({ code: 190, subcode: 463 }).reason).toContain('expired');
    for (const subcode of [undefined, 458, 459, 460, 463, 464, 467, 1]) {
      expect(classifyGraphError({ code: 190, subcode }).reason).toContain('reconnect');
    }
  });

  it('is pure: the same facts give the same answer', () => {
    const facts = { httpStatus: 400, code: 551 };
    expect(classifyGraphError(facts)).toEqual(classifyGraphError({ ...facts }));
  });
});
