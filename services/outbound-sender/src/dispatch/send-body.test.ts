import { sendMessageBody } from './send-body.ts';

const base = {
  outboundId: 'out-1',
  channel: 'messenger' as const,
  commentId: null,
  customer: { psid: '2400000000000001', name: null },
  messagingType: 'RESPONSE' as const,
  tag: null,
};

describe('Send API bodies', () => {
  it('sends text to the PSID as RESPONSE, with outboundId:part as metadata', () => {
    expect(sendMessageBody(base, 2, { text: 'Hello' })).toEqual({
      recipient: { id: '2400000000000001' },
      messaging_type: 'RESPONSE',
      message: { text: 'Hello', metadata: 'out-1:2' },
    });
  });

  it('sends attachments by URL', () => {
    expect(sendMessageBody(base, 0, { attachment: { type: 'image', url: 'https://example.com/a.png' } }).message).toEqual({
      attachment: { type: 'image', payload: { url: 'https://example.com/a.png', is_reusable: false } },
      metadata: 'out-1:0',
    });
  });

  it("tags a person's reply after the window with HUMAN_AGENT only when the command says so", () => {
    expect(sendMessageBody({ ...base, messagingType: 'MESSAGE_TAG', tag: 'HUMAN_AGENT' }, 0, { text: 'Hi' })).toMatchObject({ messaging_type: 'MESSAGE_TAG', tag: 'HUMAN_AGENT' });
    expect(sendMessageBody(base, 0, { text: 'Hi' })).not.toHaveProperty('tag');
  });

  it('answers a Page comment privately, to the comment', () => {
    expect(sendMessageBody({ ...base, channel: 'page_comment', commentId: '123_456' }, 0, { text: 'Thanks!' }).recipient).toEqual({ comment_id: '123_456' });
  });
});
