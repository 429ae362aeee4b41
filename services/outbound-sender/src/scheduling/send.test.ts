import { sendCommand } from '../test-support/commands.ts';
import { commandFingerprint, planSend } from './send.ts';

const pageId = '100000000000001';

describe('planning a send from its command', () => {
  it('given an assistant reply, when planned, then it is scheduled at sendAt with one pending part per message', () => {
    const command = sendCommand({ pageId, parts: [{ text: 'Hi!' }, { text: 'We open at 9.' }], sendAt: '2026-11-26T10:00:00.000Z', replyWindowClosesAt: '2026-11-27T09:00:00.000Z' });

    const planned = planSend(command);

    expect(planned.kind).toBe('schedule');
    expect(planned.send).toMatchObject({
      outboundId: command.data.outboundId,
      status: 'scheduled',
      conversationId: `${pageId}:2400000000000001`,
      nextAttemptAt: new Date('2026-11-26T10:00:00.000Z'),
      replyWindowClosesAt: new Date('2026-11-27T09:00:00.000Z'),
      commandEventId: command.id,
      correlationId: command.id,
    });
    expect(planned.parts.map((p) => [p.index, p.state, p.content])).toEqual([
      [0, 'pending', { text: 'Hi!' }],
      [1, 'pending', { text: 'We open at 9.' }],
    ]);
  });

  it.each([
    ['an assistant', 'assistant'],
    ['the Page (greeting, away message)', 'page'],
  ] as const)('given %s message with the human-agent tag, when planned, then it is refused as invalid and nothing will be sent', (_who, author) => {
    const planned = planSend(sendCommand({ pageId, author, messagingType: 'MESSAGE_TAG', tag: 'HUMAN_AGENT' }));

    expect(planned.kind).toBe('refuse');
    expect(planned.kind === 'refuse' && planned.reason).toMatch(/automated message may not use the human-agent tag/);
    expect(planned.send.status).toBe('failed');
    expect(planned.parts.every((p) => p.state === 'skipped')).toBe(true);
  });

  it("given a person's reply with MESSAGE_TAG + HUMAN_AGENT, when planned, then it is scheduled", () => {
    expect(planSend(sendCommand({ pageId, author: 'agent', agentId: 'agent-1', messagingType: 'MESSAGE_TAG', tag: 'HUMAN_AGENT', typingIndicator: false })).kind).toBe('schedule');
  });

  it('given MESSAGE_TAG without a tag, or a tag without MESSAGE_TAG, when planned, then it is refused', () => {
    expect(planSend(sendCommand({ pageId, author: 'agent', messagingType: 'MESSAGE_TAG', tag: null })).kind).toBe('refuse');
    expect(planSend(sendCommand({ pageId, author: 'agent', messagingType: 'RESPONSE', tag: 'HUMAN_AGENT' })).kind).toBe('refuse');
  });

  it('given text of 2000 characters or more (Meta takes less), when planned, then it is refused', () => {
    const planned = planSend(sendCommand({ pageId, parts: [{ text: 'a'.repeat(2000) }] }));
    expect(planned.kind === 'refuse' && planned.reason).toMatch(/less than 2000 characters/);
    // Counted as people see them: 1000 emoji are 1000 characters, though 2000 UTF-16 units.
    expect(planSend(sendCommand({ pageId, parts: [{ text: '🙂'.repeat(1000) }] })).kind).toBe('schedule');
  });

  it('given more parts than a send may have, when planned, then it is refused instead of flooding the customer', () => {
    const parts = Array.from({ length: 21 }, (_, i) => ({ text: `part ${i}` }));
    expect(planSend(sendCommand({ pageId, parts })).kind).toBe('refuse');
  });

  it('given an attachment that is not at an http(s) address, when planned, then it is refused', () => {
    const planned = planSend(sendCommand({ pageId, parts: [{ attachment: { type: 'image', url: 'ftp://example.com/a.png' } }] }));
    expect(planned.kind).toBe('refuse');
  });

  describe('Page comments (one private reply, text only)', () => {
    it('given several text parts, when planned, then they become the one private reply', () => {
      const planned = planSend(sendCommand({ pageId, channel: 'page_comment', commentId: 'post_1_comment_2', parts: [{ text: 'Thanks!' }, { text: 'Check your inbox.' }] }));
      expect(planned.kind).toBe('schedule');
      expect(planned.parts.map((p) => p.content)).toEqual([{ text: 'Thanks!\n\nCheck your inbox.' }]);
    });

    it('given an attachment, when planned, then it is refused (comments take text only)', () => {
      const planned = planSend(sendCommand({ pageId, channel: 'page_comment', commentId: 'c1', parts: [{ attachment: { type: 'image', url: 'https://example.com/a.png' } }] }));
      expect(planned.kind === 'refuse' && planned.reason).toMatch(/only be text/);
    });

    it('given no comment id, when planned, then it is refused', () => {
      expect(planSend(sendCommand({ pageId, channel: 'page_comment', commentId: null })).kind).toBe('refuse');
    });

    it('given parts that together are too long for one reply, when planned, then it is refused', () => {
      expect(planSend(sendCommand({ pageId, channel: 'page_comment', commentId: 'c1', parts: [{ text: 'a'.repeat(1500) }, { text: 'b'.repeat(600) }] })).kind).toBe('refuse');
    });
  });

  it('fingerprints what a command asks for, not when it was delivered, to notice an outboundId reused for something else', () => {
    const command = sendCommand({ pageId, outboundId: 'o-1' });
    const replay = { ...command, id: 'another-delivery', recordedAt: '2030-01-01T00:00:00.000Z' };
    const different = sendCommand({ pageId, outboundId: 'o-1', parts: [{ text: 'something else' }] });
    expect(commandFingerprint(replay)).toBe(commandFingerprint(command));
    expect(commandFingerprint(different)).not.toBe(commandFingerprint(command));
  });
});
