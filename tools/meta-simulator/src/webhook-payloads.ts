// Builders for the webhook bodies Meta posts for a Page (meta-platform.md §2). Pure: ids and
// times come in as arguments.
import type { WebhookField } from './model.ts';

export interface MessagingEvent {
  sender: { id: string };
  recipient: { id: string };
  timestamp: number;
  [key: string]: unknown;
}

export interface FeedChange {
  field: 'feed';
  value: Record<string, unknown>;
}

/** One event bound for one Page, before it is wrapped into `entry[]`. */
export type PageEvent =
  | { readonly pageId: string; readonly field: WebhookField; readonly time: number; readonly messaging: MessagingEvent }
  | { readonly pageId: string; readonly field: WebhookField; readonly time: number; readonly change: FeedChange };

export interface WebhookEntry {
  id: string;
  time: number;
  messaging?: MessagingEvent[];
  changes?: FeedChange[];
}

export interface WebhookPayload {
  object: 'page';
  entry: WebhookEntry[];
}

/** Wraps events into Meta's envelope, one `entry` per event (each `messaging[]` holds one object, §2a). */
export function envelope(events: readonly PageEvent[]): WebhookPayload {
  return {
    object: 'page',
    entry: events.map((e) =>
      'messaging' in e ? { id: e.pageId, time: e.time, messaging: [e.messaging] } : { id: e.pageId, time: e.time, changes: [e.change] },
    ),
  };
}

export type InboundAttachment = { type: string; payload?: Record<string, unknown> };

/** The customer wrote (§2b). */
export function customerMessageEvent(input: {
  pageId: string;
  psid: string;
  at: number;
  mid: string;
  text?: string;
  attachments?: InboundAttachment[];
  quickReplyPayload?: string;
  replyTo?: string;
  stickerId?: string;
}): PageEvent {
  const message: Record<string, unknown> = { mid: input.mid };
  if (input.text !== undefined) message['text'] = input.text;
  if (input.quickReplyPayload !== undefined) message['quick_reply'] = { payload: input.quickReplyPayload };
  if (input.replyTo !== undefined) message['reply_to'] = { mid: input.replyTo, is_self_reply: false };
  if (input.stickerId !== undefined) message['sticker_id'] = Number.isSafeInteger(Number(input.stickerId)) ? Number(input.stickerId) : input.stickerId;
  if (input.attachments && input.attachments.length > 0) message['attachments'] = input.attachments;
  return {
    pageId: input.pageId,
    field: 'messages',
    time: input.at,
    messaging: { sender: { id: input.psid }, recipient: { id: input.pageId }, timestamp: input.at, message },
  };
}

/** The Page sent something, through this app or another (§2c). `app_id` is a number in Meta's examples. */
export function echoEvent(input: {
  pageId: string;
  psid: string;
  at: number;
  mid: string;
  appId: string;
  text?: string;
  attachments?: InboundAttachment[];
  metadata?: string;
}): PageEvent {
  const message: Record<string, unknown> = { is_echo: true, app_id: numericIfPossible(input.appId) };
  if (input.metadata !== undefined) message['metadata'] = input.metadata;
  message['mid'] = input.mid;
  if (input.text !== undefined) message['text'] = input.text;
  if (input.attachments && input.attachments.length > 0) message['attachments'] = input.attachments;
  return {
    pageId: input.pageId,
    field: 'message_echoes',
    time: input.at,
    messaging: { sender: { id: input.pageId }, recipient: { id: input.psid }, timestamp: input.at, message },
  };
}

/** The customer tapped a postback button, Get Started or a persistent-menu item (§2d). */
export function postbackEvent(input: {
  pageId: string;
  psid: string;
  at: number;
  mid: string;
  title: string;
  payload: string;
  referral?: Record<string, unknown>;
}): PageEvent {
  const postback: Record<string, unknown> = { mid: input.mid, title: input.title, payload: input.payload };
  if (input.referral) postback['referral'] = input.referral;
  return {
    pageId: input.pageId,
    field: 'messaging_postbacks',
    time: input.at,
    messaging: { sender: { id: input.psid }, recipient: { id: input.pageId }, timestamp: input.at, postback },
  };
}

/** The customer reacted to (or withdrew a reaction from) a message (§2e). */
export function reactionEvent(input: {
  pageId: string;
  psid: string;
  at: number;
  mid: string;
  reaction: string;
  emoji: string;
  action: 'react' | 'unreact';
}): PageEvent {
  return {
    pageId: input.pageId,
    field: 'message_reactions',
    time: input.at,
    messaging: {
      sender: { id: input.psid },
      recipient: { id: input.pageId },
      timestamp: input.at,
      reaction: { reaction: input.reaction, emoji: input.emoji, action: input.action, mid: input.mid },
    },
  };
}

/** The customer's device received the Page's messages up to `watermark` (§2e). */
export function deliveryEvent(input: { pageId: string; psid: string; at: number; mids?: string[]; watermark: number }): PageEvent {
  const delivery: Record<string, unknown> = {};
  if (input.mids && input.mids.length > 0) delivery['mids'] = input.mids;
  delivery['watermark'] = input.watermark;
  return {
    pageId: input.pageId,
    field: 'message_deliveries',
    time: input.at,
    messaging: { sender: { id: input.psid }, recipient: { id: input.pageId }, timestamp: input.at, delivery },
  };
}

/** The customer read everything the Page sent up to `watermark` (§2e). */
export function readEvent(input: { pageId: string; psid: string; at: number; watermark: number }): PageEvent {
  return {
    pageId: input.pageId,
    field: 'message_reads',
    time: input.at,
    messaging: { sender: { id: input.psid }, recipient: { id: input.pageId }, timestamp: input.at, read: { watermark: input.watermark } },
  };
}

/** Someone commented on a Page post (§2g): `entry[].changes[]` with `field: "feed"`. `created_time` in seconds [M]. */
export function feedCommentEvent(input: {
  pageId: string;
  at: number;
  commentId: string;
  postId: string;
  parentId?: string;
  fromId: string;
  fromName: string;
  message: string;
  verb?: 'add' | 'edited' | 'remove';
}): PageEvent {
  return {
    pageId: input.pageId,
    field: 'feed',
    time: input.at,
    change: {
      field: 'feed',
      value: {
        from: { id: input.fromId, name: input.fromName },
        post_id: input.postId,
        comment_id: input.commentId,
        parent_id: input.parentId ?? input.postId,
        created_time: Math.floor(input.at / 1000),
        item: 'comment',
        verb: input.verb ?? 'add',
        message: input.message,
      },
    },
  };
}

function numericIfPossible(id: string): number | string {
  return /^\d{1,15}$/.test(id) ? Number(id) : id;
}
