import { graphErrorBody, graphErrors } from './graph-errors.ts';
import type { SimToken } from './model.ts';
import {
  HUMAN_AGENT_WINDOW_MS,
  PRIVATE_REPLY_WINDOW_MS,
  REPLY_WINDOW_MS,
  admitSendCall,
  charCount,
  checkPrivateReply,
  checkReplyWindow,
  checkTag,
  checkToken,
  parseSendRequest,
  replyWindowState,
} from './rules.ts';

const T0 = Date.UTC(2026, 0, 5, 9, 0, 0);
const HOUR = 60 * 60 * 1000;

function expectError(result: ReturnType<typeof parseSendRequest>, code: number, messagePart?: string): void {
  expect(result.ok).toBe(false);
  if (result.ok) return;
  expect(result.error.code).toBe(code);
  if (messagePart) expect(result.error.message).toContain(messagePart);
}

describe('the 24-hour reply window', () => {
  it('is open right after the customer wrote and closes at exactly 24 hours', () => {
    expect(checkReplyWindow({ now: T0, lastCustomerActionAt: T0, messagingType: 'RESPONSE' })).toBeNull();
    expect(checkReplyWindow({ now: T0 + REPLY_WINDOW_MS - 1, lastCustomerActionAt: T0, messagingType: 'UPDATE' })).toBeNull();
    const closed = checkReplyWindow({ now: T0 + REPLY_WINDOW_MS, lastCustomerActionAt: T0, messagingType: 'RESPONSE' });
    expect(closed).toEqual(graphErrors.outsideWindow());
    expect(closed).toMatchObject({ code: 10, subcode: 2018278, httpStatus: 400, message: '(#10) This message is sent outside of allowed window.' });
  });

  it('is closed for a customer who never wrote', () => {
    expect(checkReplyWindow({ now: T0, lastCustomerActionAt: null, messagingType: 'RESPONSE' })?.subcode).toBe(2018278);
    expect(checkReplyWindow({ now: T0, lastCustomerActionAt: null, messagingType: 'MESSAGE_TAG', tag: 'HUMAN_AGENT' })?.subcode).toBe(2018278);
  });

  it('lets HUMAN_AGENT answer after 24 hours and up to, not including, 7 days', () => {
    const after25h = T0 + 25 * HOUR;
    expect(checkReplyWindow({ now: after25h, lastCustomerActionAt: T0, messagingType: 'MESSAGE_TAG', tag: 'HUMAN_AGENT' })).toBeNull();
    expect(checkReplyWindow({ now: T0 + HUMAN_AGENT_WINDOW_MS - 1, lastCustomerActionAt: T0, messagingType: 'MESSAGE_TAG', tag: 'HUMAN_AGENT' })).toBeNull();
    expect(checkReplyWindow({ now: T0 + HUMAN_AGENT_WINDOW_MS, lastCustomerActionAt: T0, messagingType: 'MESSAGE_TAG', tag: 'HUMAN_AGENT' })?.code).toBe(10);
  });

  it('applies to sender actions too', () => {
    expect(checkReplyWindow({ now: T0 + REPLY_WINDOW_MS, lastCustomerActionAt: T0, messagingType: 'SENDER_ACTION' })?.subcode).toBe(2018278);
  });

  it('reports when each window closes', () => {
    expect(replyWindowState(T0 + HOUR, T0)).toEqual({
      lastCustomerActionAt: T0,
      standardOpen: true,
      standardClosesAt: T0 + REPLY_WINDOW_MS,
      humanAgentOpen: true,
      humanAgentClosesAt: T0 + HUMAN_AGENT_WINDOW_MS,
    });
    expect(replyWindowState(T0, null).standardOpen).toBe(false);
  });
});

describe('message tags', () => {
  it.each(['CONFIRMED_EVENT_UPDATE', 'POST_PURCHASE_UPDATE', 'ACCOUNT_UPDATE'])('refuses the retired tag %s with code 100', (tag) => {
    expect(checkTag(tag)).toMatchObject({ code: 100, httpStatus: 400 });
  });

  it('needs a tag for MESSAGE_TAG and refuses unknown ones', () => {
    expect(checkTag(undefined)?.code).toBe(100);
    expect(checkTag('ISSUE_RESOLUTION')?.message).toContain('HUMAN_AGENT');
    expect(checkTag('HUMAN_AGENT')).toBeNull();
    expect(checkTag('CUSTOMER_FEEDBACK')).toBeNull();
  });
});

describe('Send API body validation', () => {
  const base = { recipient: { id: '2400000000000001' }, messaging_type: 'RESPONSE' };

  it('accepts a text message and normalises it', () => {
    const result = parseSendRequest({ ...base, message: { text: 'hello', metadata: 'outbound-1' }, access_token: 'x' });
    expect(result).toEqual({
      ok: true,
      value: { kind: 'message', recipient: { kind: 'psid', id: '2400000000000001' }, messagingType: 'RESPONSE', message: { text: 'hello', metadata: 'outbound-1' } },
    });
  });

  it('reads form-encoded parameters whose values are JSON strings', () => {
    const result = parseSendRequest({ recipient: '{"id":"42"}', messaging_type: 'UPDATE', message: '{"text":"hi"}' });
    expect(result.ok && result.value.kind === 'message' && result.value.message.text).toBe('hi');
  });

  it('refuses text of 2000 characters or more, counting emoji as one character', () => {
    expect(parseSendRequest({ ...base, message: { text: 'a'.repeat(1999) } }).ok).toBe(true);
    expectError(parseSendRequest({ ...base, message: { text: 'a'.repeat(2000) } }), 100, 'less than 2000');
    const emoji = '😀'.repeat(1999); // 3998 UTF-16 units, 1999 characters
    expect(charCount(emoji)).toBe(1999);
    expect(parseSendRequest({ ...base, message: { text: emoji } }).ok).toBe(true);
  });

  it('refuses a missing or unknown messaging_type, and a retired tag', () => {
    expectError(parseSendRequest({ recipient: { id: '1' }, message: { text: 'x' } }), 100, 'messaging_type');
    expectError(parseSendRequest({ ...base, messaging_type: 'PROMO', message: { text: 'x' } }), 100, 'messaging_type');
    expectError(parseSendRequest({ ...base, messaging_type: 'MESSAGE_TAG', tag: 'ACCOUNT_UPDATE', message: { text: 'x' } }), 100, 'ACCOUNT_UPDATE');
  });

  it('refuses bodies without a usable recipient or message', () => {
    expectError(parseSendRequest({ messaging_type: 'RESPONSE', message: { text: 'x' } }), 100, 'recipient');
    expectError(parseSendRequest({ ...base, recipient: { id: '1', comment_id: '2' }, message: { text: 'x' } }), 100, 'exactly one');
    expectError(parseSendRequest({ ...base, recipient: { user_ref: 'abc' }, message: { text: 'x' } }), 100, 'not supported');
    expectError(parseSendRequest({ ...base }), 100);
    expectError(parseSendRequest({ ...base, message: {} }), 100, 'text or attachment');
    expectError(parseSendRequest({ ...base, message: { text: 'x', attachment: { type: 'image', payload: { url: 'https://a/b.png' } } } }), 100, 'Only one');
    expectError(parseSendRequest('not an object'), 100);
  });

  it('validates attachments: type, exactly one of url or attachment_id, a real URL', () => {
    expect(parseSendRequest({ ...base, message: { attachment: { type: 'image', payload: { url: 'https://cdn.example/a.png', is_reusable: true } } } }).ok).toBe(true);
    expect(parseSendRequest({ ...base, message: { attachment: { type: 'file', payload: { attachment_id: '1857777774821032' } } } }).ok).toBe(true);
    expectError(parseSendRequest({ ...base, message: { attachment: { type: 'gif', payload: { url: 'https://a/b' } } } }), 100, 'type');
    expectError(parseSendRequest({ ...base, message: { attachment: { type: 'image', payload: {} } } }), 100, 'exactly one of url or attachment_id');
    expectError(parseSendRequest({ ...base, message: { attachment: { type: 'image', payload: { url: 'ftp://x' } } } }), 100, 'valid URL');
    expectError(parseSendRequest({ ...base, message: { attachment: { type: 'template', payload: {} } } }), 100, 'template_type');
  });

  it('validates quick replies and metadata', () => {
    const reply = { content_type: 'text', title: 'Yes', payload: 'YES' };
    expect(parseSendRequest({ ...base, message: { text: 'ok?', quick_replies: [reply] } }).ok).toBe(true);
    expectError(parseSendRequest({ ...base, message: { text: 'ok?', quick_replies: Array.from({ length: 14 }, () => reply) } }), 100, 'at most 13');
    expectError(parseSendRequest({ ...base, message: { text: 'ok?', quick_replies: [{ content_type: 'text', payload: 'P' }] } }), 100, 'title');
    expectError(parseSendRequest({ ...base, message: { text: 'x', metadata: 'm'.repeat(1000) } }), 100, 'metadata');
  });

  it('lets a sender action carry only recipient and sender_action', () => {
    expect(parseSendRequest({ recipient: { id: '1' }, sender_action: 'typing_on', access_token: 't' })).toEqual({
      ok: true,
      value: { kind: 'sender_action', recipient: { kind: 'psid', id: '1' }, action: 'typing_on' },
    });
    expectError(parseSendRequest({ recipient: { id: '1' }, sender_action: 'typing_on', messaging_type: 'RESPONSE' }), 100, 'messaging_type');
    expectError(parseSendRequest({ recipient: { id: '1' }, sender_action: 'typing_on', message: { text: 'hi' } }), 100, 'only contain recipient and sender_action');
    expectError(parseSendRequest({ recipient: { id: '1' }, sender_action: 'dance' }), 100, 'sender_action');
    expect(parseSendRequest({ recipient: { id: '1' }, sender_action: 'react', payload: { message_id: 'm_1', reaction: '😊' } }).ok).toBe(true);
    expectError(parseSendRequest({ recipient: { id: '1' }, sender_action: 'react', payload: { message_id: 'm_1' } }), 100, 'reaction');
  });
});

describe('private replies to comments', () => {
  const comment = { createdAt: T0, fromId: '2400000000000001', pageId: '100' };

  it('allows one reply within 7 days', () => {
    expect(checkPrivateReply(T0 + HOUR, comment)).toBeNull();
    expect(checkPrivateReply(T0 + HOUR, { ...comment, privateReplyAt: T0 + 1 })).toMatchObject({ code: 10900 });
    expect(checkPrivateReply(T0 + PRIVATE_REPLY_WINDOW_MS, comment)).toMatchObject({ code: 10903 });
  });

  it('refuses to reply privately to the Page itself', () => {
    expect(checkPrivateReply(T0, { ...comment, fromId: '100' })).toMatchObject({ code: 10903 });
  });
});

describe('tokens', () => {
  const token: SimToken = {
    value: 'EAAtoken',
    type: 'PAGE',
    appId: '1',
    pageId: '100',
    scopes: [],
    grantedPageIds: ['100'],
    issuedAt: T0,
    expiresAt: T0 + HOUR,
    dataAccessExpiresAt: T0 + 90 * 24 * HOUR,
    longLived: false,
  };

  it('answers 104 without a token, 190 for an unknown one', () => {
    expect(checkToken(undefined, undefined, T0)).toMatchObject({ code: 104, type: 'OAuthException' });
    expect(checkToken(undefined, 'garbage', T0)).toMatchObject({ code: 190, type: 'OAuthException', httpStatus: 400 });
  });

  it('answers 190/463 once expired and 190/<subcode> once revoked', () => {
    expect(checkToken(token, token.value, T0 + HOUR - 1)).toBeNull();
    expect(checkToken(token, token.value, T0 + HOUR)).toMatchObject({ code: 190, subcode: 463 });
    expect(checkToken({ ...token, revoked: { subcode: 460, at: T0 } }, token.value, T0)).toMatchObject({ code: 190, subcode: 460 });
  });
});

describe('per-Page send rate', () => {
  it('admits up to the limit within one second, then refuses until the second has passed', () => {
    let history: number[] = [];
    for (let i = 0; i < 3; i++) {
      const r = admitSendCall(history, T0, 3);
      expect(r.admitted).toBe(true);
      history = r.history;
    }
    expect(admitSendCall(history, T0 + 999, 3).admitted).toBe(false);
    expect(admitSendCall(history, T0 + 1000, 3).admitted).toBe(true);
    expect(admitSendCall(history, T0, 0).admitted).toBe(true); // 0 = no limit
  });
});

describe('error JSON', () => {
  it('has Meta\'s shape', () => {
    expect(graphErrorBody(graphErrors.personUnavailable(), 'AbC123')).toEqual({
      error: { message: "(#551) This person isn't available right now.", type: 'OAuthException', code: 551, error_subcode: 1545041, fbtrace_id: 'AbC123' },
    });
    expect(graphErrorBody(graphErrors.serviceUnavailable(), 'x').error).toMatchObject({ code: 2, is_transient: true });
    expect(graphErrors.serviceUnavailable().httpStatus).toBe(500);
    expect(graphErrorBody(graphErrors.noMatchingUser(), 'x').error).toMatchObject({ code: 100, error_subcode: 2018001 });
  });
});
