import { topicOf } from '@parley/contracts';
import type { ParleyEvent } from '@parley/contracts';
import { applyEvent, conversationIdOf, deepEqual, emptySlice, routeOf } from './evolve.ts';
import type { ConversationSlice, EvolveContext, TimelineEvent } from './evolve.ts';
import { T0, imageAttachment, inboxEvents } from './fixtures.ts';
import { conversationStatusOf, statusOf } from './model.ts';
import type { InboxMessage } from './model.ts';

const OUR_APP = '1517776481860111';
const context: EvolveContext = { ourAppIds: new Set([OUR_APP]) };
const e = inboxEvents('page-1');
const PSID = 'psid-1';
const CONVERSATION = e.conversationId(PSID);
const S = 1_000;

/** Given these events (in this order), the slices of every conversation they touched. */
function given(events: ReadonlyArray<ParleyEvent>, start: Map<string, ConversationSlice> = new Map()): Map<string, ConversationSlice> {
  const slices = new Map(start);
  for (const event of events) {
    if (routeOf(event) !== 'timeline') continue;
    const timeline = event as TimelineEvent;
    const id = conversationIdOf(timeline)!;
    slices.set(id, applyEvent(slices.get(id) ?? emptySlice(id), timeline, context));
  }
  return slices;
}

function slice(slices: Map<string, ConversationSlice>, id = CONVERSATION): ConversationSlice {
  const found = slices.get(id);
  if (!found) throw new Error(`no slice for ${id}`);
  return found;
}

function message(s: ConversationSlice, id: string): InboxMessage {
  const found = s.messages.get(id);
  if (!found) throw new Error(`no message ${id}; have ${[...s.messages.keys()].join(', ')}`);
  return found;
}

describe('customer messages', () => {
  it('a message creates the conversation, opens the reply window and is received', () => {
    const received = e.received(PSID, { mid: 'm1', text: 'Do you deliver?', at: T0 });
    const s = slice(given([received]));
    expect(s.conversation).toMatchObject({ id: CONVERSATION, pageId: 'page-1', channel: 'messenger', customerPsid: PSID, lastInboundAt: T0, createdAt: T0 });
    expect(message(s, 'm1')).toMatchObject({ direction: 'inbound', author: 'customer', text: 'Do you deliver?', createdAt: T0 });
    expect(statusOf(message(s, 'm1'))).toBe('received');
  });

  it('the same message twice (a duplicate or a replay) changes nothing', () => {
    const received = e.received(PSID, { mid: 'm1', at: T0 });
    const once = slice(given([received]));
    const twice = slice(given([received], new Map([[CONVERSATION, once]])));
    expect(twice).toBe(once);
    const sameFactOtherEventId = e.received(PSID, { mid: 'm1', at: T0 });
    expect(slice(given([sameFactOtherEventId], new Map([[CONVERSATION, once]])))).toBe(once);
  });

  it('keeps attachments as Meta described them and maps unknown types to fallback', () => {
    const s = slice(
      given([
        e.received(PSID, {
          mid: 'm1',
          text: null,
          attachments: [imageAttachment('https://scontent.xx.fbcdn.net/v/a.jpg?oe=65A1B2C3'), { type: 'location', metaType: 'location', url: null, title: null, stickerId: null, coordinates: { lat: 1.5, long: 2.5 } }],
        }),
      ]),
    );
    expect(message(s, 'm1').attachments).toEqual([
      { type: 'image', metaType: 'image', url: 'https://scontent.xx.fbcdn.net/v/a.jpg?oe=65A1B2C3', title: null },
      { type: 'fallback', metaType: 'location', url: null, title: '1.5,2.5' },
    ]);
  });

  it('a postback is a customer message titled with the button the customer tapped', () => {
    const s = slice(given([e.postback(PSID, { mid: 'pb1', title: 'Opening hours', payload: 'HOURS', at: T0 })]));
    expect(message(s, 'pb1')).toMatchObject({ kind: 'postback', text: 'Opening hours', direction: 'inbound' });
    expect(s.conversation?.lastInboundAt).toBe(T0);
  });

  it('a referral renews the reply window without adding a message', () => {
    const s = slice(given([e.received(PSID, { mid: 'm1', at: T0 }), e.referral(PSID, { at: T0 + 60 * S })]));
    expect(s.conversation?.lastInboundAt).toBe(T0 + 60 * S);
    expect(s.messages.size).toBe(1);
  });
});

describe('reactions', () => {
  it('a reaction to a message we have not seen yet waits, then applies when the message arrives', () => {
    const reaction = e.reaction(PSID, { mid: 'm1', emoji: '👍', at: T0 + S });
    const waiting = slice(given([reaction]));
    expect(waiting.pending.map((p) => p.waitsFor)).toEqual(['mid:m1']);
    expect(waiting.conversation?.lastInboundAt).toBe(T0 + S);

    const s = slice(given([e.sent(PSID, { outboundId: 'o1', mid: 'm1', sentAt: T0 })], new Map([[CONVERSATION, waiting]])));
    expect(s.pending).toEqual([]);
    expect(message(s, 'o1:0').reaction).toEqual({ reaction: 'love', emoji: '👍', at: T0 + S });
  });

  it('the latest reaction wins: an unreact removes it, an older one arriving late does not return', () => {
    const s = slice(
      given([
        e.received(PSID, { mid: 'm1', at: T0 }),
        e.reaction(PSID, { mid: 'm1', at: T0 + 2 * S, action: 'unreact' }),
        e.reaction(PSID, { mid: 'm1', at: T0 + S }),
      ]),
    );
    expect(message(s, 'm1').reaction).toEqual({ reaction: null, emoji: null, at: T0 + 2 * S });
  });
});

describe('echoes: who wrote from the Page', () => {
  it('an echo from another app (Meta\'s inbox) is a message by a person on the Page', () => {
    const s = slice(given([e.echoed(PSID, { mid: 'mx', appId: '263902037430900', text: 'Hi, Sam here', at: T0 })]));
    expect(message(s, 'mx')).toMatchObject({ direction: 'outbound', author: 'page_inbox', text: 'Hi, Sam here', sentAt: T0 });
    expect(statusOf(message(s, 'mx'))).toBe('sent');
  });

  it('our own echo before outbound.message.sent waits and then merges into our message (no duplicate)', () => {
    const echo = e.echoed(PSID, { mid: 'm-ours', appId: OUR_APP, at: T0 + 5 });
    const waiting = slice(given([echo]));
    expect(waiting.messages.size).toBe(0);
    expect(waiting.pending.map((p) => p.waitsFor)).toEqual(['mid:m-ours']);

    const s = slice(given([e.sent(PSID, { outboundId: 'o1', mid: 'm-ours', sentAt: T0 + 9 })], new Map([[CONVERSATION, waiting]])));
    expect([...s.messages.keys()]).toEqual(['o1:0']);
    expect(message(s, 'o1:0')).toMatchObject({ author: 'assistant', echoed: true, metaTimestamp: T0 + 5, sentAt: T0 + 5 });
    expect(s.pending).toEqual([]);
  });

  it('our echo names its send in the metadata ({outboundId}:{part}): sent, even if outbound-sender never said so', () => {
    // outbound-sender crashed after Meta accepted the part: it reports a failure, Meta's echo says otherwise.
    const s = slice(
      given([
        e.sendRequested(PSID, { outboundId: 'o1', parts: [{ text: 'a' }, { text: 'b' }], sendAt: T0 }),
        e.failed(PSID, { outboundId: 'o1', part: 1, reason: 'Unknown whether it was sent.' }),
        e.echoed(PSID, { mid: 'm-b', appId: OUR_APP, metadata: 'o1:1', at: T0 + 5 }),
      ]),
    );
    expect(message(s, 'o1:1')).toMatchObject({ mid: 'm-b', sentAt: T0 + 5, metaTimestamp: T0 + 5, echoed: true });
    expect(statusOf(message(s, 'o1:1'))).toBe('sent');
    expect(s.pending).toEqual([]);
  });

  it('an echo naming a send we have not heard of yet waits for it', () => {
    const waiting = slice(given([e.echoed(PSID, { mid: 'm-a', appId: OUR_APP, metadata: 'o9:0', at: T0 + 5 })]));
    expect(waiting.pending.map((p) => p.waitsFor)).toEqual(['msg:o9:0']);
    const s = slice(given([e.sendRequested(PSID, { outboundId: 'o9', sendAt: T0 })], new Map([[CONVERSATION, waiting]])));
    expect(message(s, 'o9:0')).toMatchObject({ mid: 'm-a', sentAt: T0 + 5 });
    expect(s.pending).toEqual([]);
  });

  it('metadata from another app names nothing of ours', () => {
    const s = slice(given([e.echoed(PSID, { mid: 'm-x', appId: '263902037430900', metadata: 'o1:0', at: T0 })]));
    expect(message(s, 'm-x').author).toBe('page_inbox');
  });

  it('an echo after outbound.message.sent merges into our message', () => {
    const s = slice(given([e.sent(PSID, { outboundId: 'o1', mid: 'm-ours', sentAt: T0 + 9 }), e.echoed(PSID, { mid: 'm-ours', appId: OUR_APP, at: T0 + 5 })]));
    expect([...s.messages.keys()]).toEqual(['o1:0']);
    expect(message(s, 'o1:0')).toMatchObject({ echoed: true, metaTimestamp: T0 + 5 });
  });
});

describe('our sends', () => {
  it('a request makes one scheduled message per part, with who wrote it and why', () => {
    const s = slice(
      given([e.sendRequested(PSID, { outboundId: 'o1', author: 'agent', purpose: 'manual', parts: [{ text: 'One' }, { attachment: { type: 'image', url: 'https://cdn.example.com/a.png' } }], sendAt: T0 })]),
    );
    expect(message(s, 'o1:0')).toMatchObject({ author: 'agent', purpose: 'manual', text: 'One', part: 0, scheduledFor: T0 });
    expect(message(s, 'o1:1')).toMatchObject({ text: null, attachments: [{ type: 'image', url: 'https://cdn.example.com/a.png', metaType: null, title: null }], part: 1 });
    expect(statusOf(message(s, 'o1:0'))).toBe('scheduled');
  });

  it('a sent event before its scheduled event creates the message, and the scheduled event does not take it back', () => {
    const s = slice(given([e.sent(PSID, { outboundId: 'o1', mid: 'm1', sentAt: T0 + S }), e.scheduled(PSID, { outboundId: 'o1', sendAt: T0 })]));
    expect(statusOf(message(s, 'o1:0'))).toBe('sent');
    expect(message(s, 'o1:0')).toMatchObject({ createdAt: T0, sentAt: T0 + S, scheduledFor: T0, mid: 'm1' });
  });

  it('a failure of a send we do not know yet waits, then fails every unsent part with its reason', () => {
    const failed = e.failed(PSID, { outboundId: 'o1', reason: 'Outside the reply window.', graphCode: 10 });
    const waiting = slice(given([failed]));
    expect(waiting.pending.map((p) => p.waitsFor)).toEqual(['outbound:o1']);
    const s = slice(given([e.sendRequested(PSID, { outboundId: 'o1', parts: [{ text: 'a' }, { text: 'b' }] })], new Map([[CONVERSATION, waiting]])));
    expect(statusOf(message(s, 'o1:0'))).toBe('failed');
    expect(message(s, 'o1:1').failure).toEqual({ reason: 'Outside the reply window.', category: 'window_closed', graphCode: 10 });
  });

  it('a failure of one part leaves the parts already sent as sent', () => {
    const s = slice(
      given([
        e.sendRequested(PSID, { outboundId: 'o1', parts: [{ text: 'a' }, { text: 'b' }] }),
        e.sent(PSID, { outboundId: 'o1', part: 0, partCount: 2, mid: 'm1', content: { text: 'a' } }),
        e.failed(PSID, { outboundId: 'o1', part: null }),
      ]),
    );
    expect(statusOf(message(s, 'o1:0'))).toBe('sent');
    expect(statusOf(message(s, 'o1:1'))).toBe('failed');
  });

  it('a deferred send stays scheduled and says why; a cancelled one says it was cancelled', () => {
    const s = slice(
      given([
        e.sendRequested(PSID, { outboundId: 'o1' }),
        e.deferred(PSID, { outboundId: 'o1', retryAt: T0 + 60 * S }),
        e.sendRequested(PSID, { outboundId: 'o2' }),
        e.messageCancelled(PSID, { outboundId: 'o2' }),
      ]),
    );
    expect(statusOf(message(s, 'o1:0'))).toBe('scheduled');
    expect(message(s, 'o1:0').deferred).toEqual({ reason: 'page_needs_reconnect', detail: expect.any(String), retryAt: T0 + 60 * S });
    expect(statusOf(message(s, 'o2:0'))).toBe('cancelled');
  });

  it('a request to cancel is not a cancellation: only outbound-sender\'s cancelled event is', () => {
    expect(routeOf(e.sendCancelled(PSID, { outboundId: 'o1' }))).toBe('none');
  });
});

describe('deliveries and reads', () => {
  const sent = (id: string, mid: string, at: number) => e.sent(PSID, { outboundId: id, mid, sentAt: at });

  it('every message sent at or before the watermark becomes delivered, then read', () => {
    const s = slice(
      given([
        sent('o1', 'm1', T0),
        sent('o2', 'm2', T0 + 10 * S),
        e.delivery(PSID, { watermark: T0 + 5 * S, at: T0 + 6 * S }),
        e.read(PSID, { watermark: T0 + 10 * S, at: T0 + 20 * S }),
      ]),
    );
    expect(message(s, 'o1:0')).toMatchObject({ deliveredAt: T0 + 6 * S, readAt: T0 + 20 * S });
    expect(message(s, 'o2:0')).toMatchObject({ deliveredAt: T0 + 20 * S, readAt: T0 + 20 * S });
    expect(statusOf(message(s, 'o1:0'))).toBe('read');
  });

  it('a read before the message it covers is kept and applied when the message arrives', () => {
    const early = slice(given([e.read(PSID, { watermark: T0 + 10 * S, at: T0 + 11 * S })]));
    expect(early.watermarks.read).toEqual([[T0 + 10 * S, T0 + 11 * S]]);
    const s = slice(given([sent('o1', 'm1', T0 + 2 * S)], new Map([[CONVERSATION, early]])));
    expect(statusOf(message(s, 'o1:0'))).toBe('read');
    expect(message(s, 'o1:0').readAt).toBe(T0 + 11 * S);
  });

  it('a delivery before the message it covers is kept and applied when the message arrives', () => {
    const early = slice(given([e.delivery(PSID, { watermark: T0 + 10 * S, at: T0 + 11 * S })]));
    const s = slice(given([sent('o1', 'm1', T0 + 2 * S)], new Map([[CONVERSATION, early]])));
    expect(statusOf(message(s, 'o1:0'))).toBe('delivered');
  });

  it('a delivery naming a mid we do not know waits for it, even past the watermark', () => {
    const waiting = slice(given([e.delivery(PSID, { watermark: T0, mids: ['m9'], at: T0 + S })]));
    expect(waiting.pending.map((p) => p.waitsFor)).toEqual(['mid:m9']);
    const s = slice(given([sent('o9', 'm9', T0 + 3 * S)], new Map([[CONVERSATION, waiting]])));
    expect(message(s, 'o9:0').deliveredAt).toBe(T0 + S);
    expect(s.pending).toEqual([]);
  });

  it('watermarks compare with Meta\'s own time from the echo when we have it', () => {
    // We recorded the send after Meta's answer (T0+2s); Meta's echo says T0+1s; the read covers T0+1.5s.
    const s = slice(given([sent('o1', 'm1', T0 + 2 * S), e.read(PSID, { watermark: T0 + 1.5 * S, at: T0 + 3 * S })]));
    expect(statusOf(message(s, 'o1:0'))).toBe('sent');
    const after = slice(given([e.echoed(PSID, { mid: 'm1', appId: OUR_APP, at: T0 + S })], new Map([[CONVERSATION, s]])));
    expect(statusOf(message(after, 'o1:0'))).toBe('read');
  });

  it('a watermark that does not advance changes nothing', () => {
    const once = slice(given([sent('o1', 'm1', T0), e.read(PSID, { watermark: T0 + S })]));
    expect(slice(given([e.read(PSID, { watermark: T0 + S, at: T0 + 9 * S })], new Map([[CONVERSATION, once]])))).toBe(once);
  });
});

describe('escalation and resolution', () => {
  it('escalated until resolved; a new customer message reopens a resolved conversation', () => {
    const escalated = slice(given([e.received(PSID, { mid: 'm1', at: T0 }), e.escalated(PSID, { at: T0 + S })]));
    expect(conversationStatusOf(escalated.conversation!)).toBe('escalated');
    expect(escalated.conversation?.escalation).toEqual({ reason: 'keyword', detail: 'asked for a refund', by: 'rules', at: T0 + S });
    const resolved = slice(given([e.resolved(PSID, { at: T0 + 2 * S })], new Map([[CONVERSATION, escalated]])));
    expect(conversationStatusOf(resolved.conversation!)).toBe('resolved');
    const reopened = slice(given([e.received(PSID, { mid: 'm2', at: T0 + 3 * S })], new Map([[CONVERSATION, resolved]])));
    expect(conversationStatusOf(reopened.conversation!)).toBe('open');
  });

  it('a customer message from before the resolution, read late, does not reopen it', () => {
    const s = slice(given([e.resolved(PSID, { at: T0 + 2 * S }), e.received(PSID, { mid: 'm1', at: T0 })]));
    expect(conversationStatusOf(s.conversation!)).toBe('resolved');
  });

  it('an escalation before the message that caused it creates the conversation', () => {
    const s = slice(given([e.escalated(PSID, { at: T0 + S })]));
    expect(s.conversation).toMatchObject({ id: CONVERSATION, customerPsid: PSID });
    expect(conversationStatusOf(s.conversation!)).toBe('escalated');
  });
});

describe('Page comments', () => {
  const conversation = e.commentConversationId('c1');

  it('a comment thread is one conversation; edits and removals apply to their comment', () => {
    const s = slice(
      given([
        e.comment('fb-user-1', { commentId: 'c1', message: 'Price?', name: 'Ana Silva', at: T0 }),
        e.comment('fb-user-2', { commentId: 'c2', rootCommentId: 'c1', message: 'Same question', at: T0 + S }),
        e.comment('fb-user-1', { commentId: 'c1', verb: 'edited', message: 'Price please?', at: T0 + 2 * S }),
        e.comment('fb-user-2', { commentId: 'c2', rootCommentId: 'c1', verb: 'remove', message: null, at: T0 + 3 * S }),
      ]),
      conversation,
    );
    expect(s.conversation).toMatchObject({ channel: 'page_comment', customerPsid: 'fb-user-1', customerEventName: 'Ana Silva', rootCommentId: 'c1', lastCommentId: 'c2' });
    expect(message(s, 'c1')).toMatchObject({ text: 'Price please?', kind: 'comment', editedAt: T0 + 2 * S });
    expect(message(s, 'c2').removed).toBe(true);
  });

  it('an edit before the comment it edits waits for it', () => {
    const s = slice(
      given([e.comment('u', { commentId: 'c1', verb: 'edited', message: 'v2', at: T0 + S }), e.comment('u', { commentId: 'c1', message: 'v1', at: T0 })]),
      conversation,
    );
    expect(message(s, 'c1').text).toBe('v2');
    expect(s.pending).toEqual([]);
  });

  it('the Page\'s own comment is by a person on the Page until our send claims it by its id', () => {
    const before = slice(given([e.comment('page-1', { commentId: 'c9', rootCommentId: 'c1', fromPage: true, message: 'DM us', at: T0 + S })]), conversation);
    expect(message(before, 'c9')).toMatchObject({ author: 'page_inbox', direction: 'outbound' });
    const sent = e.sent('fb-user-1', { outboundId: 'o1', mid: 'c9', sentAt: T0 + 2 * S, author: 'agent', content: { text: 'DM us' } });
    const ours = { ...sent, conversationId: conversation, data: { ...sent.data, channel: 'page_comment' as const } };
    const after = slice(given([ours], new Map([[conversation, before]])), conversation);
    expect([...after.messages.keys()]).toEqual(['o1:0']);
    expect([...after.removedMessageIds]).toEqual(['c9']);
    expect(message(after, 'o1:0')).toMatchObject({ author: 'agent', echoed: true, metaTimestamp: T0 + S });
  });
});

describe('events that are not about a conversation\'s timeline', () => {
  it('routes Page events, profiles and everything else', () => {
    expect(routeOf(e.pageConnected({ accountId: 'acct' }))).toBe('page');
    expect(routeOf(e.pageDisconnected())).toBe('page');
    expect(routeOf(e.profile(PSID, { available: true, displayName: 'Ana' }))).toBe('customer');
    for (const event of [e.unsupported(), e.replyRequested(PSID), e.replySuppressed(PSID), e.tokenRejected(), e.settingsChanged()]) {
      expect(routeOf(event)).toBe('none');
    }
  });
});

describe('order independence (what makes a rebuild answer exactly as the live inbox)', () => {
  // Kafka orders a conversation within each topic, never across topics: any interleaving that
  // keeps each topic's order can happen, live or in a rebuild. They must all end the same.
  const story: ParleyEvent[] = [
    e.received(PSID, { mid: 'in1', at: T0 }),
    e.reaction(PSID, { mid: 'm-a', at: T0 + 30 * S }),
    e.echoed(PSID, { mid: 'm-a', appId: OUR_APP, at: T0 + 11 * S }),
    e.delivery(PSID, { watermark: T0 + 12 * S, mids: ['m-a'], at: T0 + 13 * S }),
    e.echoed(PSID, { mid: 'm-person', appId: '263902037430900', at: T0 + 20 * S, text: 'Hi, Sam here' }),
    e.echoed(PSID, { mid: 'm-b', appId: OUR_APP, metadata: 'o-b:0', at: T0 + 53 * S }),
    e.read(PSID, { watermark: T0 + 21 * S, at: T0 + 40 * S }),
    e.received(PSID, { mid: 'in2', at: T0 + 50 * S }),
    e.escalated(PSID, { at: T0 + 51 * S }),
    e.resolved(PSID, { at: T0 + 60 * S }),
    e.sendRequested(PSID, { outboundId: 'o-a', parts: [{ text: 'one' }, { text: 'two' }], sendAt: T0 + 10 * S }),
    e.sendRequested(PSID, { outboundId: 'o-b', sendAt: T0 + 52 * S, author: 'agent', purpose: 'manual' }),
    e.scheduled(PSID, { outboundId: 'o-a', parts: [{ text: 'one' }, { text: 'two' }], sendAt: T0 + 10 * S }),
    e.sent(PSID, { outboundId: 'o-a', part: 0, partCount: 2, mid: 'm-a', content: { text: 'one' }, sentAt: T0 + 12 * S }),
    e.failed(PSID, { outboundId: 'o-a', part: 1 }),
    e.deferred(PSID, { outboundId: 'o-b' }),
  ];

  function interleavings(events: ParleyEvent[], count: number): ParleyEvent[][] {
    let seed = 42;
    const random = () => ((seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31);
    const byTopic = new Map<string, ParleyEvent[]>();
    for (const event of events) byTopic.set(topicOf(event), [...(byTopic.get(topicOf(event)) ?? []), event]);
    const orders: ParleyEvent[][] = [];
    for (let i = 0; i < count; i++) {
      const queues = [...byTopic.values()].map((q) => [...q]);
      const order: ParleyEvent[] = [];
      while (queues.some((q) => q.length > 0)) {
        const open = queues.filter((q) => q.length > 0);
        order.push(open[Math.floor(random() * open.length)]!.shift()!);
      }
      orders.push(order);
    }
    return orders;
  }

  it('every interleaving of the topics gives the same conversation and messages', () => {
    const reference = slice(given(story));
    expect(reference.pending).toEqual([]);
    expect(conversationStatusOf(reference.conversation!)).toBe('resolved');
    expect(message(reference, 'o-a:0')).toMatchObject({ echoed: true, deliveredAt: T0 + 13 * S, readAt: T0 + 40 * S, reaction: { emoji: '❤️' } });
    expect(statusOf(message(reference, 'o-a:1'))).toBe('failed');
    expect(statusOf(message(reference, 'm-person'))).toBe('read');
    for (const order of interleavings(story, 200)) {
      const other = slice(given(order));
      expect(other.pending).toEqual([]);
      expect(deepEqual(other.conversation, reference.conversation)).toBe(true);
      const sorted = (s: ConversationSlice) => [...s.messages.values()].sort((a, b) => a.id.localeCompare(b.id));
      expect(sorted(other)).toEqual(sorted(reference));
    }
  });

  it('applying the whole story twice (a replay) changes nothing', () => {
    const once = given(story);
    const twice = given(story, once);
    expect(deepEqual(slice(twice).conversation, slice(once).conversation)).toBe(true);
    expect([...slice(twice).messages.values()]).toEqual([...slice(once).messages.values()]);
  });
});
