import { createEvent } from '@parley/contracts';
import { T0, attachment, messageReceived, messageSent, pageConnected } from '../test-fixtures.ts';
import { MAX_STORED_TEXT, contextEntryOf, describeEntry, latestCustomerTurn } from './context.ts';
import type { ContextEntry } from './context.ts';

const who = { pageId: 'page-1', psid: 'psid-1' };

describe('conversation context: what is remembered', () => {
  it('remembers a customer message with its text, its mid and its media (never the media URL)', () => {
    const entry = contextEntryOf(messageReceived(who, { mid: 'mid-1', text: ' Hi there ', attachments: [attachment('image')] }))!;
    expect(entry).toMatchObject({ author: 'customer', text: 'Hi there', mid: 'mid-1', source: 'inbound', conversationId: 'page-1:psid-1' });
    expect(entry.attachments).toEqual([{ kind: 'image', title: null, like: false }]);
    expect(JSON.stringify(entry)).not.toContain('cdn.example');
  });

  it('remembers what the Page sent with its author, from outbound.message.sent', () => {
    expect(contextEntryOf(messageSent(who, { text: 'We open at 9.', mid: 'm-9', author: 'agent' }))).toMatchObject({ author: 'agent', text: 'We open at 9.', mid: 'm-9', source: 'outbound' });
  });

  it('remembers echoes as the Page\'s messages (outbound-sender\'s author wins when both are seen)', () => {
    const echo = createEvent('messenger.message.echoed', {
      id: 'echo-1', pageId: 'page-1', conversationId: 'page-1:psid-1', occurredAt: T0, recordedAt: T0,
      data: { channel: 'messenger', customer: { psid: 'psid-1' }, timestamp: 1, standby: false, throttled: false, raw: {}, mid: 'm-9', appId: '123', metadata: null, text: 'We open at 9.', attachments: [] },
    });
    expect(contextEntryOf(echo)).toMatchObject({ author: 'page', mid: 'm-9', source: 'echo' });
  });

  it('remembers a tapped button by its title, and Get Started as such', () => {
    const postback = (title: string | null, payload: string | null, isGetStarted: boolean) =>
      createEvent('messenger.postback.received', {
        id: `pb-${String(title)}`, pageId: 'page-1', conversationId: 'page-1:psid-1', occurredAt: T0, recordedAt: T0,
        data: { channel: 'messenger', customer: { psid: 'psid-1' }, timestamp: 1, standby: false, throttled: false, raw: {}, mid: null, title, payload, referral: null, isGetStarted },
      });
    const button = contextEntryOf(postback('Opening hours', 'HOURS', false))!;
    expect(describeEntry(button)).toBe('[The customer tapped the button "Opening hours".]');
    expect(describeEntry(contextEntryOf(postback(null, 'GET_STARTED', true))!)).toBe('[The customer tapped "Get Started".]');
  });

  it('remembers comments under their comment id, and forgets removed ones', () => {
    const comment = (verb: string, fromPage = false) =>
      createEvent('messenger.comment.received', {
        id: `c-${verb}-${fromPage}`, pageId: 'page-1', conversationId: 'page-1:comment:c1', occurredAt: T0, recordedAt: T0,
        data: { channel: 'page_comment', customer: { psid: 'u1' }, timestamp: 1, standby: false, throttled: false, raw: {}, commentId: 'c2', postId: 'p1', parentId: 'c1', rootCommentId: 'c1', verb, message: 'Price?', fromPage },
      });
    expect(contextEntryOf(comment('add'))).toMatchObject({ author: 'customer', text: 'Price?', mid: 'c2' });
    expect(contextEntryOf(comment('add', true))).toMatchObject({ author: 'page' });
    expect(contextEntryOf(comment('remove'))).toBeNull();
  });

  it('ignores what is not part of what was said: page events, deliveries', () => {
    expect(contextEntryOf(pageConnected('page-1', 'acct-1'))).toBeNull();
    const delivery = createEvent('messenger.delivery.received', {
      id: 'd1', pageId: 'page-1', conversationId: 'page-1:psid-1', occurredAt: T0, recordedAt: T0,
      data: { channel: 'messenger', customer: { psid: 'psid-1' }, timestamp: 1, standby: false, throttled: false, raw: {}, mids: [], watermark: 1 },
    });
    expect(contextEntryOf(delivery)).toBeNull();
  });

  it('cuts an oversized text when storing it', () => {
    const entry = contextEntryOf(messageReceived(who, { text: 'x'.repeat(MAX_STORED_TEXT + 500) }))!;
    expect(entry.text!.length).toBe(MAX_STORED_TEXT + 1);
  });
});

describe('conversation context: media described to the assistant', () => {
  const described = (...attachments: ReturnType<typeof attachment>[]) => describeEntry(contextEntryOf(messageReceived(who, { text: null, attachments }))!);

  it.each([
    ['image', '[The customer sent an image; you cannot see it.]'],
    ['video', '[The customer sent a video; you cannot watch it.]'],
    ['audio', '[The customer sent an audio or voice message; you cannot listen to it.]'],
    ['file', '[The customer sent a file; you cannot open it.]'],
    ['location', '[The customer shared a location; you cannot see the map.]'],
    ['fallback', '[The customer shared a link; you cannot open it.]'],
    ['other', '[The customer shared something you cannot see.]'],
    ['template', '[The customer shared something you cannot see.]'],
  ] as const)('describes %s', (type, text) => {
    expect(described(attachment(type))).toBe(text);
  });

  it('names a shared link or file by its title', () => {
    expect(described(attachment('fallback', { title: 'Our menu' }))).toBe('[The customer shared a link ("Our menu"); you cannot open it.]');
    expect(described(attachment('file', { title: 'invoice.pdf' }))).toBe('[The customer sent a file ("invoice.pdf"); you cannot open it.]');
  });

  it('describes a sticker once during Meta\'s sticker transition, and the like sticker as a thumbs-up', () => {
    expect(described(attachment('sticker', { stickerId: '123' }), attachment('image', { stickerId: '123' }))).toBe('[The customer sent a sticker.]');
    expect(described(attachment('image', { stickerId: '369239263222822' }))).toBe('[The customer sent a thumbs-up (like) sticker.]');
  });

  it('keeps the text and then the media, in order', () => {
    const entry = contextEntryOf(messageReceived(who, { text: 'Is this broken?', attachments: [attachment('image'), attachment('video')] }))!;
    expect(describeEntry(entry)).toBe('Is this broken?\n[The customer sent an image; you cannot see it.]\n[The customer sent a video; you cannot watch it.]');
  });

  it('describes media the Page sent without pretending the customer sent it', () => {
    const entry: ContextEntry = { ...contextEntryOf(messageSent(who, { text: 'x' }))!, text: null, attachments: [{ kind: 'image', title: null, like: false }] };
    expect(describeEntry(entry)).toBe('[The Page sent an image.]');
  });
});

describe('conversation context: the customer\'s latest turn', () => {
  it('is every customer message since the Page last spoke', () => {
    const entries = [
      contextEntryOf(messageReceived(who, { text: 'old question' }))!,
      contextEntryOf(messageSent(who, { text: 'old answer' }))!,
      contextEntryOf(messageReceived(who, { text: 'first' }))!,
      contextEntryOf(messageReceived(who, { text: 'second' }))!,
    ];
    expect(latestCustomerTurn(entries).map((e) => e.text)).toEqual(['first', 'second']);
    expect(latestCustomerTurn(entries.slice(0, 2))).toEqual([]);
  });

  it('is not ended by the Page\'s greeting or away message, only by an answer', () => {
    const entries = [
      contextEntryOf(messageReceived(who, { text: 'what are your opening hours?' }))!,
      contextEntryOf(messageSent(who, { text: 'Welcome to our shop!', author: 'page' }))!,
    ];
    expect(latestCustomerTurn(entries).map((e) => e.text)).toEqual(['what are your opening hours?']);
    const answered = [...entries, contextEntryOf(messageSent(who, { text: 'We open at 9.', author: 'assistant' }))!];
    expect(latestCustomerTurn(answered)).toEqual([]);
  });
});
