import { inboxEvents } from './fixtures.ts';
import { attachmentExpiry, fallbackCustomerName, humanAgentWindowClosesAt, previewOf, replyWindowClosesAt, DAY_MS } from './model.ts';
import { evolveCustomer, evolvePage } from './pages.ts';

describe('attachment expiry from Meta\'s CDN links', () => {
  it('reads `oe` as hex epoch seconds and `ext` as decimal epoch seconds', () => {
    expect(attachmentExpiry('https://scontent.xx.fbcdn.net/v/t1.15752-9/a.jpg?_nc_cat=1&oh=00_AfB&oe=65A1B2C3')).toBe(0x65a1b2c3 * 1000);
    expect(attachmentExpiry('https://lookaside.fbsbx.com/ig_messaging_cdn/?asset_id=1&signature=x&ext=1700000000&hash=y')).toBe(1_700_000_000_000);
  });

  it('says nothing (null) when the link carries no expiry, carries a malformed one, or is not a URL', () => {
    expect(attachmentExpiry('https://cdn.example.com/a.png')).toBeNull();
    expect(attachmentExpiry('https://scontent.xx.fbcdn.net/a.jpg?oe=zz')).toBeNull();
    expect(attachmentExpiry('https://lookaside.fbsbx.com/x?ext=soon')).toBeNull();
    expect(attachmentExpiry('not a url')).toBeNull();
    expect(attachmentExpiry(null)).toBeNull();
  });
});

describe('customer names', () => {
  it('a stable, readable fallback from the PSID: the same every time, different per customer', () => {
    expect(fallbackCustomerName('24000000001')).toMatch(/^Customer [0-9a-f]{4}$/);
    expect(fallbackCustomerName('24000000001')).toBe(fallbackCustomerName('24000000001'));
    expect(fallbackCustomerName('24000000001')).not.toBe(fallbackCustomerName('24000000002'));
  });

  it('takes Meta\'s names from a profile event, never the fallback as if it were a name', () => {
    const e = inboxEvents('page-1');
    expect(evolveCustomer(e.profile('p1', { available: true, firstName: 'Ana', lastName: 'Silva', displayName: 'Ana Silva' })).name).toBe('Ana Silva');
    expect(evolveCustomer(e.profile('p1', { available: true, firstName: null, lastName: null, displayName: 'Ana' })).name).toBe('Ana');
    const none = evolveCustomer(e.profile('p1', { available: false, displayName: fallbackCustomerName('p1'), reason: 'no_profile' }));
    expect(none).toMatchObject({ available: false, name: null, reason: 'no_profile' });
  });
});

describe('Pages', () => {
  it('a Page belongs to the account that connected it, and follows its connection status', () => {
    const e = inboxEvents('page-1');
    const connected = evolvePage(null, e.pageConnected({ accountId: 'acme', name: 'Bakery' }));
    expect(connected).toEqual({ pageId: 'page-1', accountId: 'acme', name: 'Bakery', status: 'connected', statusReason: null });
    const degraded = evolvePage(connected, e.pageConnectionChanged({ status: 'needs_reconnect', accountId: null }));
    expect(degraded).toMatchObject({ accountId: 'acme', status: 'needs_reconnect', statusReason: 'Meta rejected the Page token' });
    expect(evolvePage(degraded, e.pageDisconnected({ accountId: 'acme' }))).toMatchObject({ status: 'disconnected' });
    expect(evolvePage(degraded, e.pageConnected({ accountId: 'globex', name: 'Bakery' }))).toMatchObject({ accountId: 'globex', status: 'connected' });
  });
});

describe('reply windows', () => {
  it('Messenger: 24 hours and 7 days after the customer\'s last action; a comment thread: 7 days after the last comment', () => {
    expect(replyWindowClosesAt({ channel: 'messenger', lastInboundAt: 1_000, lastCommentAt: null })).toBe(1_000 + DAY_MS);
    expect(humanAgentWindowClosesAt({ channel: 'messenger', lastInboundAt: 1_000 })).toBe(1_000 + 7 * DAY_MS);
    expect(replyWindowClosesAt({ channel: 'page_comment', lastInboundAt: 5, lastCommentAt: 2_000 })).toBe(2_000 + 7 * DAY_MS);
    expect(humanAgentWindowClosesAt({ channel: 'page_comment', lastInboundAt: 5 })).toBeNull();
    expect(replyWindowClosesAt({ channel: 'messenger', lastInboundAt: null, lastCommentAt: null })).toBeNull();
  });
});

describe('previews', () => {
  const attachment = (type: 'image' | 'sticker' | 'fallback', metaType: string | null = null) => ({ type, metaType, url: null, title: null });
  it('the text on one line, shortened; else what was attached', () => {
    expect(previewOf({ text: '  Hello\n\nthere ', attachments: [], removed: false })).toBe('Hello there');
    expect(previewOf({ text: 'x'.repeat(300), attachments: [], removed: false })).toHaveLength(140);
    expect(previewOf({ text: null, attachments: [attachment('image'), attachment('image')], removed: false })).toBe('Photo and 1 more');
    expect(previewOf({ text: null, attachments: [attachment('fallback', 'location')], removed: false })).toBe('Location');
    expect(previewOf({ text: 'gone', attachments: [], removed: true })).toBe('Comment removed');
  });
});
