import { STATE_TTL_MS, checkState, issueState } from './oauth-state.ts';

const SECRET = 'a-server-secret-that-is-long-enough-0123456789';
const NOW = Date.UTC(2026, 10, 26, 12, 0, 0);

describe('OAuth state', () => {
  it('given a state we issued, when checked before it expires, then it is accepted with its nonce', () => {
    const issued = issueState(SECRET, NOW);
    expect(checkState(SECRET, issued.state, NOW + STATE_TTL_MS - 1000)).toEqual({ ok: true, nonce: issued.nonce, expiresAt: issued.expiresAt });
  });

  it('given a state we issued, when checked ten minutes later, then it has expired', () => {
    const issued = issueState(SECRET, NOW);
    expect(checkState(SECRET, issued.state, NOW + STATE_TTL_MS)).toEqual({ ok: false, problem: 'expired' });
  });

  it('given two states, then their nonces differ (single-use needs unique nonces)', () => {
    expect(issueState(SECRET, NOW).nonce).not.toBe(issueState(SECRET, NOW).nonce);
  });

  it.each([
    ['signed with another secret', (s: string) => issueState('another-secret-that-is-long-enough-0123456789', NOW).state ?? s],
    ['with a changed expiry (to extend it)', (s: string) => s.replace(/\.(\d+)\./, (_m, exp: string) => `.${Number(exp) + 3600}.`)],
    ['with a changed nonce', (s: string) => s.replace(/^v1\.(.)/, (_m, c: string) => `v1.${c === 'A' ? 'B' : 'A'}`)],
    ['with a truncated signature', (s: string) => s.slice(0, -1)],
    ['of another version', (s: string) => s.replace(/^v1/, 'v2')],
    ['made up', () => 'hello'],
    ['oversized', () => `v1.${'a'.repeat(500)}`],
  ])('given a state %s, then it is forged', (_what, tamper) => {
    const issued = issueState(SECRET, NOW);
    expect(checkState(SECRET, tamper(issued.state), NOW)).toEqual({ ok: false, problem: 'forged' });
  });

  it('given no state, then it is missing', () => {
    expect(checkState(SECRET, undefined, NOW)).toEqual({ ok: false, problem: 'missing' });
    expect(checkState(SECRET, '', NOW)).toEqual({ ok: false, problem: 'missing' });
  });
});
