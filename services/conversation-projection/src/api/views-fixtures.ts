import type { InboxMessage } from '../inbox/model.ts';

/** A message with every fact empty, for tests of how the API shows it. */
export function blankForTest(overrides: Partial<InboxMessage>): InboxMessage {
  return {
    id: 'm1',
    conversationId: 'p:c',
    mid: 'm1',
    direction: 'inbound',
    author: 'customer',
    kind: 'message',
    text: null,
    attachments: [],
    createdAt: 0,
    sentAt: null,
    metaTimestamp: null,
    deliveredAt: null,
    deliveredByMidAt: null,
    readAt: null,
    scheduledFor: null,
    failure: null,
    deferred: null,
    cancelled: null,
    outboundId: null,
    part: null,
    purpose: null,
    messagingType: null,
    tag: null,
    agentId: null,
    reaction: null,
    replyToMid: null,
    quickReplyPayload: null,
    editedAt: null,
    removed: false,
    echoed: false,
    ...overrides,
  };
}
