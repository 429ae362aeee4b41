import { createHash } from 'node:crypto';
import {
  commentConversationId,
  createEvent,
  deterministicId,
  messengerConversationId,
} from '@parley/contracts';
import type { EventOf, InboundAttachment } from '@parley/contracts';

/**
 * Meta webhook payload → Parley events. Pure: the receive time is passed in.
 *
 * What happens to each kind of input:
 * - every `entry[]` item (possibly for different Pages) and every item of its `messaging[]`,
 *   `standby[]` and `changes[]` becomes one event — never only the first;
 * - a shape we understand becomes its normalized event, keeping the raw Meta object;
 * - anything else (unknown fields, broken items, another `object` than `page`) becomes
 *   `messenger.event.unsupported` with the raw object and the reason: nothing is dropped;
 * - a body that is not a Meta webhook at all (no `object`, no `entry` array) is refused.
 */
export type NormalizeResult =
  | { ok: true; events: InboundEvent[] }
  | { ok: false; reason: string };

/** The events ingress produces: one per Meta webhook item. */
export type InboundEvent = EventOf<
  | 'messenger.message.received'
  | 'messenger.message.echoed'
  | 'messenger.postback.received'
  | 'messenger.reaction.received'
  | 'messenger.delivery.received'
  | 'messenger.read.received'
  | 'messenger.referral.received'
  | 'messenger.comment.received'
  | 'messenger.event.unsupported'
>;

type Json = Record<string, unknown>;

export function normalizeWebhook(payload: unknown, receivedAt: Date): NormalizeResult {
  if (!isObject(payload)) return { ok: false, reason: 'The body must be a JSON object' };
  if (typeof payload['object'] !== 'string') return { ok: false, reason: 'Missing "object": this is not a Meta webhook' };
  if (!Array.isArray(payload['entry'])) return { ok: false, reason: 'Missing "entry" array: this is not a Meta webhook' };

  const events: InboundEvent[] = [];
  const object = payload['object'];
  for (const entry of payload['entry'] as unknown[]) {
    if (!isObject(entry)) {
      events.push(unsupported(null, entry, 'entry is not an object', null, receivedAt));
      continue;
    }
    const pageId = stringId(entry['id']);
    if (object !== 'page') {
      events.push(unsupported(pageId, entry, `webhooks for object "${object}" are not handled`, null, receivedAt));
      continue;
    }
    let items = 0;
    for (const [list, standby] of [['messaging', false], ['standby', true]] as const) {
      const value = entry[list];
      if (value === undefined) continue;
      if (!Array.isArray(value)) {
        events.push(unsupported(pageId, entry, `entry.${list} is not an array`, null, receivedAt));
        continue;
      }
      for (const item of value) {
        items++;
        events.push(normalizeMessaging(pageId, item, standby, receivedAt));
      }
    }
    if (entry['changes'] !== undefined) {
      if (!Array.isArray(entry['changes'])) {
        events.push(unsupported(pageId, entry, 'entry.changes is not an array', null, receivedAt));
      } else {
        for (const change of entry['changes']) {
          items++;
          events.push(normalizeChange(pageId, change, receivedAt));
        }
      }
    }
    if (items === 0 && entry['messaging'] === undefined && entry['standby'] === undefined && entry['changes'] === undefined) {
      events.push(unsupported(pageId, entry, 'entry has no messaging, standby or changes', null, receivedAt));
    }
  }
  return { ok: true, events };
}

// ---------------------------------------------------------------------------------------------
// messaging[] and standby[] items
// ---------------------------------------------------------------------------------------------

function normalizeMessaging(entryPageId: string | null, item: unknown, standby: boolean, receivedAt: Date): InboundEvent {
  if (!isObject(item)) return unsupported(entryPageId, item, 'messaging item is not an object', null, receivedAt);
  const senderId = stringId(isObject(item['sender']) ? item['sender']['id'] : undefined);
  const recipientId = stringId(isObject(item['recipient']) ? item['recipient']['id'] : undefined);
  const timestamp = epochMillis(item['timestamp']);
  const message = isObject(item['message']) ? item['message'] : null;
  const isEcho = message !== null && message['is_echo'] === true;

  // On an echo the Page is the sender and the customer the recipient; otherwise the reverse.
  const pageId = entryPageId ?? (isEcho ? senderId : recipientId);
  const psid = isEcho ? recipientId : senderId;
  const kind = messagingKind(item);
  if (!pageId || !psid || timestamp === null) {
    const missing = [!pageId && 'page id', !psid && 'customer id (sender/recipient)', timestamp === null && 'timestamp'].filter(Boolean).join(', ');
    return unsupported(pageId, item, `${kind ?? 'messaging'} item without ${missing}`, kind, receivedAt);
  }
  const common = {
    channel: 'messenger' as const,
    customer: { psid },
    timestamp,
    standby,
    throttled: false,
    raw: item,
  };
  const envelope = (id: string) => ({
    id,
    pageId,
    conversationId: messengerConversationId(pageId, psid),
    occurredAt: new Date(timestamp),
    recordedAt: receivedAt,
    correlationId: id,
  });

  switch (kind) {
    case 'message': {
      const mid = stringId(message!['mid']);
      if (!mid) return unsupported(pageId, item, 'message without mid', kind, receivedAt);
      const attachments = normalizeAttachments(message!);
      if (attachments === null) return unsupported(pageId, item, 'message.attachments is not an array', kind, receivedAt);
      const text = optionalString(message!['text']);
      if (isEcho) {
        return createEvent('messenger.message.echoed', {
          ...envelope(deterministicId('echo', mid)),
          data: { ...common, mid, appId: stringId(message!['app_id']), metadata: optionalString(message!['metadata']), text, attachments },
        });
      }
      const quickReply = isObject(message!['quick_reply']) ? optionalString(message!['quick_reply']['payload']) : null;
      const replyTo = isObject(message!['reply_to']) ? stringId(message!['reply_to']['mid']) : null;
      return createEvent('messenger.message.received', {
        ...envelope(deterministicId('message', mid)),
        data: { ...common, mid, text, attachments, quickReplyPayload: quickReply, replyToMid: replyTo },
      });
    }
    case 'postback': {
      const postback = item['postback'] as Json;
      const mid = stringId(postback['mid']);
      const payload = optionalString(postback['payload']);
      const referral = isObject(postback['referral'])
        ? { ref: optionalString(postback['referral']['ref']), source: optionalString(postback['referral']['source']), type: optionalString(postback['referral']['type']) }
        : null;
      return createEvent('messenger.postback.received', {
        ...envelope(mid ? deterministicId('postback', mid) : deterministicId('postback', pageId, psid, timestamp, payload ?? '')),
        data: {
          ...common,
          mid,
          title: optionalString(postback['title']),
          payload,
          referral,
          // Meta sends the payload the Page configured for Get Started; these are the conventional ones.
          isGetStarted: payload !== null && /^(get[_ -]?started|GET_STARTED_PAYLOAD)$/i.test(payload),
        },
      });
    }
    case 'reaction': {
      const reaction = item['reaction'] as Json;
      const mid = stringId(reaction['mid']);
      const action = reaction['action'] === 'unreact' ? 'unreact' : reaction['action'] === 'react' ? 'react' : null;
      if (!mid || !action) return unsupported(pageId, item, 'reaction without mid or action', kind, receivedAt);
      return createEvent('messenger.reaction.received', {
        // A customer may react, unreact and react again to the same message: the timestamp tells them apart.
        ...envelope(deterministicId('reaction', mid, action, timestamp)),
        data: { ...common, mid, action, reaction: optionalString(reaction['reaction']), emoji: optionalString(reaction['emoji']) },
      });
    }
    case 'delivery': {
      const delivery = item['delivery'] as Json;
      const watermark = epochMillis(delivery['watermark']);
      if (watermark === null) return unsupported(pageId, item, 'delivery without watermark', kind, receivedAt);
      const mids = Array.isArray(delivery['mids']) ? delivery['mids'].filter((m): m is string => typeof m === 'string') : [];
      return createEvent('messenger.delivery.received', {
        ...envelope(deterministicId('delivery', pageId, psid, watermark)),
        data: { ...common, mids, watermark },
      });
    }
    case 'read': {
      const watermark = epochMillis((item['read'] as Json)['watermark']);
      if (watermark === null) return unsupported(pageId, item, 'read without watermark', kind, receivedAt);
      return createEvent('messenger.read.received', {
        ...envelope(deterministicId('read', pageId, psid, watermark)),
        data: { ...common, watermark },
      });
    }
    case 'referral': {
      const referral = item['referral'] as Json;
      const ref = optionalString(referral['ref']);
      return createEvent('messenger.referral.received', {
        ...envelope(deterministicId('referral', pageId, psid, timestamp, ref ?? '')),
        data: { ...common, ref, source: optionalString(referral['source']), referralType: optionalString(referral['type']) },
      });
    }
    case null:
      return unsupported(pageId, item, 'messaging item of an unknown kind', null, receivedAt);
    default:
      return unsupported(pageId, item, `messaging "${kind}" is not handled yet`, kind, receivedAt);
  }
}

const KNOWN_KINDS = [
  'message',
  'postback',
  'reaction',
  'delivery',
  'read',
  'referral',
  // Recorded as unsupported (with their raw object) until Parley acts on them:
  'optin',
  'account_linking',
  'policy_enforcement',
  'pass_thread_control',
  'take_thread_control',
  'request_thread_control',
  'app_roles',
  'message_edit',
  'game_play',
  'checkout_update',
  'payment',
] as const;

function messagingKind(item: Json): (typeof KNOWN_KINDS)[number] | null {
  // `postback` wins over `referral`: a Get Started postback may carry a referral inside it.
  for (const kind of KNOWN_KINDS) if (isObject(item[kind])) return kind;
  return null;
}

/**
 * Attachments keep Meta's URL (it expires; never downloaded). Stickers arrive as a `sticker`
 * attachment, as an `image` with `payload.sticker_id` (the older form), or — until Meta's
 * transition ends — both at once for the same sticker; they become one `sticker`.
 */
function normalizeAttachments(message: Json): InboundAttachment[] | null {
  const raw = message['attachments'];
  if (raw === undefined) {
    // Very old payloads put a lone sticker id on the message itself.
    const stickerId = stringId(message['sticker_id']);
    return stickerId ? [attachment('sticker', 'sticker', { stickerId })] : [];
  }
  if (!Array.isArray(raw)) return null;
  const out: InboundAttachment[] = [];
  const stickers = new Set<string>();
  for (const candidate of raw) {
    if (!isObject(candidate)) {
      out.push(attachment('other', 'unknown', {}));
      continue;
    }
    const metaType = typeof candidate['type'] === 'string' ? candidate['type'] : 'unknown';
    const payload = isObject(candidate['payload']) ? candidate['payload'] : {};
    const url = optionalString(payload['url']) ?? optionalString(candidate['url']);
    const title = optionalString(payload['title']) ?? optionalString(candidate['title']);
    const stickerId = stringId(payload['sticker_id']);
    if (metaType === 'sticker' || (metaType === 'image' && stickerId)) {
      const key = stickerId ?? url ?? '';
      if (stickers.has(key)) continue;
      stickers.add(key);
      out.push(attachment('sticker', metaType, { url, stickerId }));
      continue;
    }
    switch (metaType) {
      case 'image':
      case 'video':
      case 'audio':
      case 'file':
      case 'template':
        out.push(attachment(metaType, metaType, { url, title }));
        break;
      case 'fallback':
        // A shared link, or an unsupported share that comes with no payload at all.
        out.push(attachment('fallback', metaType, { url, title }));
        break;
      case 'location': {
        const coordinates = isObject(payload['coordinates']) ? payload['coordinates'] : null;
        const lat = coordinates ? Number(coordinates['lat']) : NaN;
        const long = coordinates ? Number(coordinates['long']) : NaN;
        out.push(attachment('location', metaType, { url, title, coordinates: Number.isFinite(lat) && Number.isFinite(long) ? { lat, long } : null }));
        break;
      }
      default:
        // reel, ig_reel, post, ig_post, appointment_booking, and whatever Meta adds next.
        out.push(attachment('other', metaType, { url, title }));
    }
  }
  return out;
}

function attachment(
  type: InboundAttachment['type'],
  metaType: string,
  fields: Partial<Pick<InboundAttachment, 'url' | 'title' | 'stickerId' | 'coordinates'>>,
): InboundAttachment {
  return { type, metaType, url: fields.url ?? null, title: fields.title ?? null, stickerId: fields.stickerId ?? null, coordinates: fields.coordinates ?? null };
}

// ---------------------------------------------------------------------------------------------
// changes[] items (Page feed: comments; and the newer `{ field, value }` messaging envelope)
// ---------------------------------------------------------------------------------------------

const MESSAGING_FIELDS = new Set(['messages', 'messaging_postbacks', 'message_reactions', 'message_deliveries', 'message_reads', 'message_echoes', 'messaging_referrals']);

function normalizeChange(pageId: string | null, change: unknown, receivedAt: Date): InboundEvent {
  if (!isObject(change)) return unsupported(pageId, change, 'change is not an object', null, receivedAt);
  const field = typeof change['field'] === 'string' ? change['field'] : null;
  const value = change['value'];
  if (field !== null && MESSAGING_FIELDS.has(field) && isObject(value)) {
    // Meta's newer docs wrap a messaging item as { field, value } (with a timestamp in seconds).
    return normalizeMessaging(pageId, value, false, receivedAt);
  }
  if (field !== 'feed' || !isObject(value)) {
    return unsupported(pageId, change, field === 'feed' ? 'feed change without a value' : `changes field "${field}" is not handled`, field, receivedAt);
  }
  if (value['item'] !== 'comment') {
    return unsupported(pageId, change, `feed item "${String(value['item'])}" is not handled`, field, receivedAt);
  }
  const commentId = stringId(value['comment_id']);
  const from = isObject(value['from']) ? value['from'] : null;
  const fromId = stringId(from?.['id']);
  if (!pageId || !commentId || !fromId) {
    return unsupported(pageId, change, 'comment without page id, comment_id or from.id', field, receivedAt);
  }
  const postId = stringId(value['post_id']);
  const parentId = stringId(value['parent_id']);
  // A reply's parent is a comment, unless it is the post itself: then this comment starts the thread.
  const rootCommentId = parentId && parentId !== postId ? parentId : commentId;
  // `created_time` is epoch seconds in Page webhooks; tolerate an ISO string as the Graph API returns.
  const createdTime = value['created_time'];
  const timestamp = epochMillis(createdTime) ?? (typeof createdTime === 'string' && !Number.isNaN(Date.parse(createdTime)) ? Date.parse(createdTime) : receivedAt.getTime());
  const verb = typeof value['verb'] === 'string' ? value['verb'] : 'add';
  const id = deterministicId('comment', commentId, verb, timestamp);
  return createEvent('messenger.comment.received', {
    id,
    pageId,
    conversationId: commentConversationId(pageId, rootCommentId),
    occurredAt: new Date(timestamp),
    recordedAt: receivedAt,
    correlationId: id,
    data: {
      channel: 'page_comment',
      customer: { psid: fromId, name: optionalString(from?.['name']) },
      timestamp,
      standby: false,
      throttled: false,
      raw: change,
      commentId,
      postId,
      parentId,
      rootCommentId,
      verb,
      message: optionalString(value['message']),
      fromPage: fromId === pageId,
    },
  });
}

// ---------------------------------------------------------------------------------------------
// helpers
// ---------------------------------------------------------------------------------------------

function unsupported(pageId: string | null, raw: unknown, reason: string, field: string | null, receivedAt: Date): EventOf<'messenger.event.unsupported'> {
  const timestamp = isObject(raw) ? epochMillis(raw['timestamp'] ?? raw['time']) : null;
  // Deterministic from the raw object, so that a redelivery of the same unknown thing is deduplicated.
  const fingerprint = createHash('sha256').update(JSON.stringify(raw) ?? 'undefined').digest('hex');
  const id = deterministicId('unsupported', pageId ?? 'unknown', fingerprint);
  return createEvent('messenger.event.unsupported', {
    id,
    pageId: pageId ?? 'unknown',
    occurredAt: timestamp !== null ? new Date(timestamp) : receivedAt,
    recordedAt: receivedAt,
    correlationId: id,
    data: { reason, field, timestamp, raw: raw === undefined ? null : raw },
  });
}

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Meta ids are strings, but some (app_id) arrive as numbers. */
function stringId(value: unknown): string | null {
  if (typeof value === 'string' && value.length > 0) return value;
  if (typeof value === 'number' && Number.isSafeInteger(value)) return String(value);
  return null;
}

function optionalString(value: unknown): string | null {
  return typeof value === 'string' ? value : null;
}

/** Epoch ms from Meta's `timestamp`/`time`/`watermark`: numbers in ms, or (newer envelopes) seconds, possibly as strings. */
function epochMillis(value: unknown): number | null {
  const number = typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : value;
  if (typeof number !== 'number' || !Number.isFinite(number) || number < 0) return null;
  const rounded = Math.trunc(number);
  return rounded < 100_000_000_000 ? rounded * 1000 : rounded;
}
