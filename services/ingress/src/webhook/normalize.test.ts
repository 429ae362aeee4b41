import { deterministicId, parseEvent } from '@parley/contracts';
import { normalizeWebhook } from './normalize.ts';
import type { InboundEvent } from './normalize.ts';

// Fixtures follow Meta's documented payloads (shared/reference/meta-platform.md §2).
const PAGE = '111';
const PSID = '222';
const T = 1458692752478;
const receivedAt = new Date('2026-11-26T04:00:00.000Z');

const page = (...messaging: unknown[]) => ({ object: 'page', entry: [{ id: PAGE, time: T, messaging }] });
const fromCustomer = (fields: Record<string, unknown>) => ({ sender: { id: PSID }, recipient: { id: PAGE }, timestamp: T, ...fields });

function normalizeOk(payload: unknown): InboundEvent[] {
  const result = normalizeWebhook(payload, receivedAt);
  if (!result.ok) throw new Error(result.reason);
  // Every event produced must pass the published schema.
  for (const event of result.events) expect(parseEvent(event)).toMatchObject({ ok: true });
  return result.events;
}

function only(payload: unknown): InboundEvent {
  const events = normalizeOk(payload);
  expect(events).toHaveLength(1);
  return events[0]!;
}

describe('normalizing Meta webhooks', () => {
  describe('messages', () => {
    it('a text message becomes messenger.message.received with a deterministic id from its mid', () => {
      const event = only(page(fromCustomer({ message: { mid: 'm_1', text: 'hello, world!' } })));
      expect(event).toMatchObject({
        type: 'messenger.message.received',
        id: deterministicId('message', 'm_1'),
        pageId: PAGE,
        conversationId: `${PAGE}:${PSID}`,
        occurredAt: new Date(T).toISOString(),
        recordedAt: receivedAt.toISOString(),
        accountId: null,
        data: { channel: 'messenger', customer: { psid: PSID }, mid: 'm_1', text: 'hello, world!', attachments: [], standby: false, throttled: false },
      });
      expect(event.data.raw).toEqual(fromCustomer({ message: { mid: 'm_1', text: 'hello, world!' } }));
    });

    it('keeps the quick-reply payload and the message replied to', () => {
      const event = only(page(fromCustomer({ message: { mid: 'm_2', text: 'Red', quick_reply: { payload: 'COLOR_RED' }, reply_to: { mid: 'm_0', is_self_reply: false } } })));
      expect(event.data).toMatchObject({ quickReplyPayload: 'COLOR_RED', replyToMid: 'm_0' });
    });

    it.each([
      ['image', 'image'],
      ['video', 'video'],
      ['audio', 'audio'],
      ['file', 'file'],
    ])('keeps Meta\'s URL for an %s attachment', (metaType, type) => {
      const url = `https://cdn.fbsbx.com/v/${metaType}.bin?oe=6A1B2C3D`;
      const event = only(page(fromCustomer({ message: { mid: `m_${metaType}`, attachments: [{ type: metaType, payload: { url } }] } })));
      expect(event.data).toMatchObject({ text: null, attachments: [{ type, metaType, url, stickerId: null }] });
    });

    it('turns the new sticker type, the legacy image-with-sticker_id, and both at once into one sticker', () => {
      const url = 'https://scontent.xx.fbcdn.net/sticker.png';
      const both = only(page(fromCustomer({ message: { mid: 'm_s1', attachments: [
        { type: 'sticker', payload: { url, sticker_id: 369239263222822 } },
        { type: 'image', payload: { url, sticker_id: 369239263222822 } },
      ] } })));
      expect(both.data).toMatchObject({ attachments: [{ type: 'sticker', stickerId: '369239263222822', url }] });
      const legacy = only(page(fromCustomer({ message: { mid: 'm_s2', attachments: [{ type: 'image', payload: { url, sticker_id: 369239263222822 } }] } })));
      expect(legacy.data).toMatchObject({ attachments: [{ type: 'sticker', metaType: 'image', stickerId: '369239263222822' }] });
      const topLevel = only(page(fromCustomer({ message: { mid: 'm_s3', sticker_id: 369239263222822 } })));
      expect(topLevel.data).toMatchObject({ attachments: [{ type: 'sticker', stickerId: '369239263222822' }] });
    });

    it('keeps shared links (fallback), fallbacks without payload, locations, and new types as other', () => {
      const event = only(page(fromCustomer({ message: { mid: 'm_f', attachments: [
        { type: 'fallback', payload: { url: 'https://example.com/a', title: 'An article' } },
        { type: 'fallback' },
        { type: 'location', payload: { coordinates: { lat: 48.85, long: 2.35 } } },
        { type: 'ig_reel', payload: { url: 'https://instagram.com/reel/1', title: 'reel' } },
      ] } })));
      expect(event.data).toMatchObject({ attachments: [
        { type: 'fallback', url: 'https://example.com/a', title: 'An article' },
        { type: 'fallback', url: null },
        { type: 'location', coordinates: { lat: 48.85, long: 2.35 } },
        { type: 'other', metaType: 'ig_reel', url: 'https://instagram.com/reel/1' },
      ] });
    });

    it('an echo of the Page\'s own message names the customer as the recipient and keeps app_id and metadata', () => {
      const event = only(page({ sender: { id: PAGE }, recipient: { id: PSID }, timestamp: T, message: { is_echo: true, app_id: 1517776481860111, metadata: 'out-1:0', mid: 'm_e', text: 'hi there' } }));
      expect(event).toMatchObject({
        type: 'messenger.message.echoed',
        id: deterministicId('echo', 'm_e'),
        conversationId: `${PAGE}:${PSID}`,
        data: { customer: { psid: PSID }, appId: '1517776481860111', metadata: 'out-1:0', text: 'hi there' },
      });
    });
  });

  describe('other messaging events', () => {
    it('postbacks, including Get Started with a referral', () => {
      const event = only(page(fromCustomer({ postback: { mid: 'm_p', title: 'Get Started', payload: 'GET_STARTED', referral: { ref: 'ad1', source: 'SHORTLINK', type: 'OPEN_THREAD' } } })));
      expect(event).toMatchObject({
        type: 'messenger.postback.received',
        id: deterministicId('postback', 'm_p'),
        data: { title: 'Get Started', payload: 'GET_STARTED', isGetStarted: true, referral: { ref: 'ad1', source: 'SHORTLINK', type: 'OPEN_THREAD' } },
      });
      const other = only(page(fromCustomer({ postback: { title: 'Menu', payload: 'MENU' } })));
      expect(other.data).toMatchObject({ mid: null, isGetStarted: false });
    });

    it('reactions, telling react from unreact', () => {
      const react = only(page(fromCustomer({ reaction: { reaction: 'love', emoji: '\u2764\uFE0F', action: 'react', mid: 'm_r' } })));
      expect(react).toMatchObject({ type: 'messenger.reaction.received', data: { mid: 'm_r', action: 'react', reaction: 'love', emoji: '❤️' } });
      const unreact = only(page(fromCustomer({ reaction: { action: 'unreact', mid: 'm_r' } })));
      expect(unreact.id).not.toBe(react.id);
    });

    it('deliveries (mids optional) and reads carry their watermarks', () => {
      const delivered = only(page(fromCustomer({ delivery: { mids: ['m_a'], watermark: 1458668856253 } })));
      expect(delivered).toMatchObject({ type: 'messenger.delivery.received', id: deterministicId('delivery', PAGE, PSID, 1458668856253), data: { mids: ['m_a'], watermark: 1458668856253 } });
      const noMids = only(page(fromCustomer({ delivery: { watermark: 1458668856254 } })));
      expect(noMids.data).toMatchObject({ mids: [] });
      const read = only(page(fromCustomer({ read: { watermark: 1458668856253 } })));
      expect(read).toMatchObject({ type: 'messenger.read.received', data: { watermark: 1458668856253 } });
    });

    it('referrals', () => {
      const event = only(page(fromCustomer({ referral: { ref: 'summer', source: 'SHORTLINK', type: 'OPEN_THREAD' } })));
      expect(event).toMatchObject({ type: 'messenger.referral.received', data: { ref: 'summer', source: 'SHORTLINK', referralType: 'OPEN_THREAD' } });
    });

    it('events under standby (another app controls the thread) are flagged', () => {
      const event = only({ object: 'page', entry: [{ id: PAGE, time: T, standby: [fromCustomer({ message: { mid: 'm_sb', text: 'hi' } })] }] });
      expect(event).toMatchObject({ type: 'messenger.message.received', data: { standby: true } });
    });

    it('accepts the newer { field, value } envelope with a timestamp in seconds as a string', () => {
      const event = only({ object: 'page', entry: [{ id: PAGE, time: T, changes: [{ field: 'messaging_postbacks', value: { sender: { id: PSID }, recipient: { id: PAGE }, timestamp: '1527459824', postback: { title: 'Hi', payload: 'HI' } } }] }] });
      expect(event).toMatchObject({ type: 'messenger.postback.received', occurredAt: new Date(1527459824000).toISOString(), data: { timestamp: 1527459824000 } });
    });
  });

  describe('Page comments (feed)', () => {
    const comment = (value: Record<string, unknown>) => ({ object: 'page', entry: [{ id: PAGE, time: T, changes: [{ field: 'feed', value: { item: 'comment', verb: 'add', post_id: `${PAGE}_9`, created_time: 1700000000, ...value } }] }] });

    it('a top-level comment starts its own thread', () => {
      const event = only(comment({ comment_id: '9_1', parent_id: `${PAGE}_9`, from: { id: '555', name: 'Ada' }, message: 'Price?' }));
      expect(event).toMatchObject({
        type: 'messenger.comment.received',
        conversationId: `${PAGE}:comment:9_1`,
        occurredAt: new Date(1700000000000).toISOString(),
        data: { channel: 'page_comment', customer: { psid: '555', name: 'Ada' }, commentId: '9_1', rootCommentId: '9_1', message: 'Price?', fromPage: false, verb: 'add' },
      });
    });

    it('a reply joins its parent comment\'s thread, and the Page\'s own reply is flagged', () => {
      const event = only(comment({ comment_id: '9_2', parent_id: '9_1', from: { id: PAGE, name: 'Acme' }, message: 'DM us' }));
      expect(event).toMatchObject({ conversationId: `${PAGE}:comment:9_1`, data: { fromPage: true } });
    });

    it('other feed items are kept as unsupported', () => {
      const event = only({ object: 'page', entry: [{ id: PAGE, time: T, changes: [{ field: 'feed', value: { item: 'reaction', verb: 'add' } }] }] });
      expect(event).toMatchObject({ type: 'messenger.event.unsupported', data: { reason: 'feed item "reaction" is not handled', field: 'feed' } });
    });
  });

  describe('batches and bad input', () => {
    it('every entry (for different Pages) and every event in it becomes one event, not only the first', () => {
      const events = normalizeOk({ object: 'page', entry: [
        { id: '111', time: T, messaging: [fromCustomer({ message: { mid: 'm_a1', text: 'a' } }), fromCustomer({ message: { mid: 'm_a2', text: 'b' } })] },
        { id: '333', time: T, messaging: [{ sender: { id: '444' }, recipient: { id: '333' }, timestamp: T, read: { watermark: T } }] },
      ] });
      expect(events.map((e) => [e.type, e.pageId])).toEqual([
        ['messenger.message.received', '111'],
        ['messenger.message.received', '111'],
        ['messenger.read.received', '333'],
      ]);
    });

    it('one broken event among good ones becomes unsupported with its raw object; the good ones go through', () => {
      const broken = { sender: { id: PSID }, recipient: { id: PAGE }, timestamp: T, message: { text: 'no mid' } };
      const events = normalizeOk(page(fromCustomer({ message: { mid: 'm_ok', text: 'fine' } }), broken, 'not even an object'));
      expect(events.map((e) => e.type)).toEqual(['messenger.message.received', 'messenger.event.unsupported', 'messenger.event.unsupported']);
      expect(events[1]).toMatchObject({ pageId: PAGE, data: { reason: 'message without mid', raw: broken } });
      expect(events[2]).toMatchObject({ data: { reason: 'messaging item is not an object', raw: 'not even an object' } });
    });

    it('unknown messaging kinds, missing ids and unknown objects are kept as unsupported', () => {
      const optin = only(page(fromCustomer({ optin: { ref: 'x' } })));
      expect(optin).toMatchObject({ type: 'messenger.event.unsupported', data: { reason: 'messaging "optin" is not handled yet', field: 'optin' } });
      const weird = only(page(fromCustomer({ somethingNew: { a: 1 } })));
      expect(weird.data).toMatchObject({ reason: 'messaging item of an unknown kind' });
      const noSender = only(page({ recipient: { id: PAGE }, timestamp: T, message: { mid: 'm_x' } }));
      expect(noSender.data).toMatchObject({ reason: 'message item without customer id (sender/recipient)' });
      const instagram = only({ object: 'instagram', entry: [{ id: '17841', time: T, messaging: [] }] });
      expect(instagram).toMatchObject({ pageId: '17841', data: { reason: 'webhooks for object "instagram" are not handled' } });
      const empty = only({ object: 'page', entry: [{ id: PAGE, time: T }] });
      expect(empty.data).toMatchObject({ reason: 'entry has no messaging, standby or changes' });
    });

    it('the same unsupported object gets the same id, so a redelivery is deduplicated', () => {
      const payload = page(fromCustomer({ optin: { ref: 'x' } }));
      expect(only(payload).id).toBe(only(payload).id);
    });

    it('refuses what is not a Meta webhook at all', () => {
      expect(normalizeWebhook([], receivedAt)).toEqual({ ok: false, reason: 'The body must be a JSON object' });
      expect(normalizeWebhook({ entry: [] }, receivedAt)).toMatchObject({ ok: false, reason: expect.stringContaining('"object"') });
      expect(normalizeWebhook({ object: 'page' }, receivedAt)).toMatchObject({ ok: false, reason: expect.stringContaining('"entry"') });
    });

    it('an empty entry list is a valid webhook with nothing in it', () => {
      expect(normalizeWebhook({ object: 'page', entry: [] }, receivedAt)).toEqual({ ok: true, events: [] });
    });
  });
});
