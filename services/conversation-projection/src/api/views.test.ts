import { blankForTest } from './views-fixtures.ts';
import { toMessageView } from './views.ts';

describe('a message as the API shows it', () => {
  it('an expired Meta link is kept and said to be expired; one that still works says when it stops', () => {
    const now = Date.parse('2026-03-10T12:00:00Z');
    const past = Math.floor((now - 1_000) / 1000).toString(16);
    const future = Math.floor((now + 3_600_000) / 1000).toString(16);
    const view = toMessageView(
      blankForTest({
        attachments: [
          { type: 'image', metaType: 'image', url: `https://scontent.xx.fbcdn.net/a.jpg?oe=${past}`, title: null },
          { type: 'video', metaType: 'video', url: `https://scontent.xx.fbcdn.net/b.mp4?oe=${future}`, title: null },
          { type: 'fallback', metaType: 'reel', url: 'https://www.facebook.com/reel/1', title: 'A reel' },
        ],
      }),
      now,
    );
    expect(view.attachments).toEqual([
      { type: 'image', url: `https://scontent.xx.fbcdn.net/a.jpg?oe=${past}`, expiresAt: new Date(parseInt(past, 16) * 1000).toISOString(), expired: true },
      { type: 'video', url: `https://scontent.xx.fbcdn.net/b.mp4?oe=${future}`, expiresAt: new Date(parseInt(future, 16) * 1000).toISOString(), expired: false },
      { type: 'fallback', metaType: 'reel', url: 'https://www.facebook.com/reel/1', title: 'A reel', expired: false },
    ]);
  });

  it('shows a failure only when the message failed, a deferral only while it is scheduled', () => {
    const failure = { reason: 'Blocked', category: 'recipient_unavailable', graphCode: 551 };
    const deferred = { reason: 'page_needs_reconnect', detail: null, retryAt: null };
    const outbound = { direction: 'outbound' as const, author: 'assistant' as const, outboundId: 'o1', part: 0 };
    expect(toMessageView(blankForTest({ ...outbound, failure }), 0)).toMatchObject({ status: 'failed', failure: { reason: 'Blocked', graphCode: 551 } });
    expect(toMessageView(blankForTest({ ...outbound, failure, sentAt: 5 }), 0).failure).toBeUndefined();
    expect(toMessageView(blankForTest({ ...outbound, deferred }), 0)).toMatchObject({ status: 'scheduled', deferred: { reason: 'page_needs_reconnect' } });
    expect(toMessageView(blankForTest({ ...outbound, deferred, sentAt: 5 }), 0).deferred).toBeUndefined();
  });
});
