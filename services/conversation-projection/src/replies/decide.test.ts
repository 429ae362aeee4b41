import { decideReply } from './decide.ts';
import type { ReplyTarget } from './decide.ts';

const HOUR = 3_600_000;
const NOW = Date.parse('2026-03-10T12:00:00Z');
const messenger = (hoursAgo: number | null, pageStatus: string | null = 'connected'): ReplyTarget => ({
  channel: 'messenger',
  lastInboundAt: hoursAgo === null ? null : NOW - hoursAgo * HOUR,
  lastCommentAt: null,
  lastCommentId: null,
  pageStatus,
});

describe('a person\'s reply', () => {
  it('inside 24 hours: a normal RESPONSE, text first then attachments', () => {
    expect(decideReply({ text: 'Hi', attachments: [{ type: 'image', url: 'https://x.example/a.png' }] }, messenger(23.9), NOW)).toEqual({
      kind: 'send',
      parts: [{ text: 'Hi' }, { attachment: { type: 'image', url: 'https://x.example/a.png' } }],
      messagingType: 'RESPONSE',
      tag: null,
      commentId: null,
      replyWindowClosesAt: NOW + 0.1 * HOUR,
      held: false,
    });
  });

  it('from 24 hours to 7 days: MESSAGE_TAG with HUMAN_AGENT', () => {
    expect(decideReply({ text: 'Hi' }, messenger(24), NOW)).toMatchObject({ kind: 'send', messagingType: 'MESSAGE_TAG', tag: 'HUMAN_AGENT' });
    expect(decideReply({ text: 'Hi' }, messenger(7 * 24 - 0.01), NOW)).toMatchObject({ kind: 'send', tag: 'HUMAN_AGENT' });
  });

  it('after 7 days, or before the customer ever wrote: refused with a sentence a person understands', () => {
    const late = decideReply({ text: 'Hi' }, messenger(7 * 24), NOW);
    expect(late).toMatchObject({ kind: 'reject', status: 409, code: 'reply_window_closed' });
    expect(late.kind === 'reject' && late.detail).toContain('The customer last wrote on 3 March 2026');
    expect(decideReply({ text: 'Hi' }, messenger(null), NOW)).toMatchObject({ kind: 'reject', code: 'reply_window_closed' });
  });

  it('a disconnected (or unknown) Page refuses; a Page that needs reconnecting accepts and holds', () => {
    expect(decideReply({ text: 'Hi' }, messenger(1, 'disconnected'), NOW)).toMatchObject({ kind: 'reject', status: 409, code: 'page_disconnected' });
    expect(decideReply({ text: 'Hi' }, messenger(1, null), NOW)).toMatchObject({ kind: 'reject', code: 'page_disconnected' });
    expect(decideReply({ text: 'Hi' }, messenger(1, 'needs_reconnect'), NOW)).toMatchObject({ kind: 'send', held: true });
    expect(decideReply({ text: 'Hi' }, messenger(1, 'degraded'), NOW)).toMatchObject({ kind: 'send', held: false });
  });

  it('a comment thread: text only, answering the latest comment within 7 days', () => {
    const thread: ReplyTarget = { channel: 'page_comment', lastInboundAt: null, lastCommentAt: NOW - 48 * HOUR, lastCommentId: 'c-9', pageStatus: 'connected' };
    expect(decideReply({ text: 'Yes', attachments: [{ type: 'file', url: 'https://x.example/a.pdf' }] }, thread, NOW)).toMatchObject({ kind: 'reject', status: 422, code: 'attachments_not_allowed' });
    expect(decideReply({ text: 'Yes' }, thread, NOW)).toMatchObject({ kind: 'send', messagingType: 'RESPONSE', tag: null, commentId: 'c-9', parts: [{ text: 'Yes' }] });
    expect(decideReply({ text: 'Yes' }, { ...thread, lastCommentAt: NOW - 8 * 24 * HOUR }, NOW)).toMatchObject({ kind: 'reject', code: 'reply_window_closed' });
  });

  it('an empty reply is a bad request', () => {
    expect(decideReply({}, messenger(1), NOW)).toMatchObject({ kind: 'reject', status: 400, code: 'invalid_request' });
  });
});
