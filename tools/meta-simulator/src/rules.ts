// Meta's rules as pure functions: what a Send API call may carry, when a Page may message a
// customer, and when a token is usable. Time is passed in; nothing here does I/O.
import { graphErrors, type GraphError } from './graph-errors.ts';
import type { SimComment, SimToken } from './model.ts';

const HOUR = 60 * 60 * 1000;
const DAY = 24 * HOUR;

/** The standard messaging window: 24 h after the customer's last message, postback or reaction (§8). */
export const REPLY_WINDOW_MS = DAY;
/** HUMAN_AGENT (and CUSTOMER_FEEDBACK) may answer up to 7 days after the customer's last action (§8). */
export const HUMAN_AGENT_WINDOW_MS = 7 * DAY;
/** A private reply must go out within 7 days of the comment (§3e). */
export const PRIVATE_REPLY_WINDOW_MS = 7 * DAY;
/** `message.text` must be less than 2000 characters (§3b). */
export const MAX_TEXT_CHARS = 2000;
/** `message.metadata` must be less than 1000 characters (§3b). */
export const MAX_METADATA_CHARS = 1000;
/** Quick replies per message [M]. */
export const MAX_QUICK_REPLIES = 13;
/** Send API calls per second per Page (§5). */
export const DEFAULT_SEND_RATE_PER_SECOND = 300;

export const MESSAGING_TYPES = ['RESPONSE', 'UPDATE', 'MESSAGE_TAG', 'UTILITY'] as const;
export type MessagingType = (typeof MESSAGING_TYPES)[number];
/** Tags still accepted. */
export const ACTIVE_TAGS = ['HUMAN_AGENT', 'CUSTOMER_FEEDBACK'] as const;
/** Tags Meta retired: still recognised, refused with code 100. */
export const RETIRED_TAGS = ['CONFIRMED_EVENT_UPDATE', 'POST_PURCHASE_UPDATE', 'ACCOUNT_UPDATE'] as const;
export const SENDER_ACTIONS = ['typing_on', 'typing_off', 'mark_seen', 'react', 'unreact'] as const;
export type SenderAction = (typeof SENDER_ACTIONS)[number];
export const SEND_ATTACHMENT_TYPES = ['image', 'audio', 'video', 'file', 'template'] as const;
export const NOTIFICATION_TYPES = ['REGULAR', 'SILENT_PUSH', 'NO_PUSH'] as const;
/** Keys a sender_action request may carry besides the credentials (§3c). */
const SENDER_ACTION_KEYS = new Set(['recipient', 'sender_action', 'access_token', 'appsecret_proof']);

export type SendRecipient = { readonly kind: 'psid'; readonly id: string } | { readonly kind: 'comment'; readonly commentId: string };

export interface OutboundAttachment {
  readonly type: (typeof SEND_ATTACHMENT_TYPES)[number];
  readonly payload: Record<string, unknown>;
}

export interface OutboundQuickReply {
  readonly content_type: string;
  readonly title?: string;
  readonly payload?: string;
  readonly image_url?: string;
}

export interface OutboundMessage {
  readonly text?: string;
  readonly attachment?: OutboundAttachment;
  readonly quickReplies?: OutboundQuickReply[];
  readonly metadata?: string;
}

/** A Send API body once validated. */
export type SendRequest =
  | {
      readonly kind: 'message';
      readonly recipient: SendRecipient;
      readonly messagingType: MessagingType;
      readonly tag?: string;
      readonly message: OutboundMessage;
      readonly notificationType?: string;
    }
  | {
      readonly kind: 'sender_action';
      readonly recipient: SendRecipient;
      readonly action: SenderAction;
      readonly payload?: { readonly message_id?: string; readonly reaction?: string };
    };

export type Checked<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: GraphError };

const fail = (message: string): { ok: false; error: GraphError } => ({ ok: false, error: graphErrors.invalidParameter(message) });

/** Counts characters as people see them (code points), so an emoji is one character, not two. */
export function charCount(text: string): number {
  let n = 0;
  for (const _ of text) n++;
  return n;
}

/**
 * Graph accepts parameters as JSON or as form fields whose values are JSON strings
 * (`recipient={"id":"…"}`); this reads either. A string that is not JSON stays a string, and the
 * caller then reports it as the wrong type.
 */
export function readJsonParam(value: unknown): unknown {
  if (typeof value !== 'string') return value;
  const trimmed = value.trim();
  if (!trimmed.startsWith('{') && !trimmed.startsWith('[')) return value;
  try {
    return JSON.parse(trimmed) as unknown;
  } catch {
    return value;
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function idString(value: unknown): string | undefined {
  if (typeof value === 'string' && value.trim() !== '') return value.trim();
  if (typeof value === 'number' && Number.isSafeInteger(value)) return String(value);
  return undefined;
}

/** Validates a Send API body (`POST /{page}/messages`) and normalises it. Unknown top-level keys are ignored, like Meta. */
export function parseSendRequest(body: unknown): Checked<SendRequest> {
  if (!isRecord(body)) return fail('The request body must be a JSON object or form parameters');
  const recipient = parseRecipient(readJsonParam(body['recipient']));
  if (!recipient.ok) return recipient;

  if (body['sender_action'] !== undefined) {
    return parseSenderAction(body, recipient.value);
  }

  const messagingType = body['messaging_type'];
  if (messagingType === undefined) return fail('Param messaging_type is required');
  if (typeof messagingType !== 'string' || !(MESSAGING_TYPES as readonly string[]).includes(messagingType)) {
    return fail(`Param messaging_type must be one of {${MESSAGING_TYPES.join(', ')}} - got "${String(messagingType)}"`);
  }
  const tag = body['tag'];
  if (messagingType === 'MESSAGE_TAG') {
    const tagCheck = checkTag(tag);
    if (tagCheck) return { ok: false, error: tagCheck };
  }
  const notificationType = body['notification_type'];
  if (notificationType !== undefined && !(NOTIFICATION_TYPES as readonly unknown[]).includes(notificationType)) {
    return fail(`Param notification_type must be one of {${NOTIFICATION_TYPES.join(', ')}}`);
  }
  if (recipient.value.kind === 'comment' && body['message'] === undefined) return fail('Param message must be non-empty');
  const message = parseOutboundMessage(readJsonParam(body['message']));
  if (!message.ok) return message;
  return {
    ok: true,
    value: {
      kind: 'message',
      recipient: recipient.value,
      messagingType: messagingType as MessagingType,
      ...(messagingType === 'MESSAGE_TAG' ? { tag: tag as string } : {}),
      message: message.value,
      ...(typeof notificationType === 'string' ? { notificationType } : {}),
    },
  };
}

function parseRecipient(value: unknown): Checked<SendRecipient> {
  if (value === undefined) return fail('The parameter recipient is required');
  if (!isRecord(value)) return fail('Param recipient must be an object');
  const keys = ['id', 'comment_id', 'post_id', 'user_ref', 'phone_number', 'notification_messages_token'].filter(
    (k) => value[k] !== undefined,
  );
  if (keys.length !== 1) return fail('Param recipient must have exactly one of id, comment_id, post_id, user_ref');
  const id = idString(value['id']);
  if (keys[0] === 'id') return id ? { ok: true, value: { kind: 'psid', id } } : fail('Param recipient[id] must be a valid ID string');
  const commentId = idString(value['comment_id']);
  if (keys[0] === 'comment_id') {
    return commentId ? { ok: true, value: { kind: 'comment', commentId } } : fail('Param recipient[comment_id] must be a valid ID string');
  }
  // The simulator plays Page Messenger only; these recipient kinds exist at Meta but are not simulated.
  return fail(`Param recipient[${keys[0]}] is not supported by the Meta simulator`);
}

function parseSenderAction(body: Record<string, unknown>, recipient: SendRecipient): Checked<SendRequest> {
  const action = body['sender_action'];
  if (typeof action !== 'string' || !(SENDER_ACTIONS as readonly string[]).includes(action)) {
    return fail(`Param sender_action must be one of {${SENDER_ACTIONS.join(', ')}}`);
  }
  const needsPayload = action === 'react' || action === 'unreact';
  const extra = Object.keys(body).filter((k) => !SENDER_ACTION_KEYS.has(k) && !(needsPayload && k === 'payload'));
  if (extra.length > 0) {
    // §3c: a sender action request may contain only recipient + sender_action; text goes separately.
    return fail(`sender_action requests may only contain recipient and sender_action (got ${extra.join(', ')})`);
  }
  if (recipient.kind !== 'psid') return fail('Param recipient[id] is required for sender_action');
  if (!needsPayload) return { ok: true, value: { kind: 'sender_action', recipient, action: action as SenderAction } };
  const payload = readJsonParam(body['payload']);
  if (!isRecord(payload) || typeof payload['message_id'] !== 'string') return fail('Param payload[message_id] is required');
  if (action === 'react' && typeof payload['reaction'] !== 'string') return fail('Param payload[reaction] is required');
  return {
    ok: true,
    value: {
      kind: 'sender_action',
      recipient,
      action: action as SenderAction,
      payload: {
        message_id: payload['message_id'],
        ...(typeof payload['reaction'] === 'string' ? { reaction: payload['reaction'] } : {}),
      },
    },
  };
}

/** A MESSAGE_TAG send needs an accepted tag; retired tags are refused with code 100. */
export function checkTag(tag: unknown): GraphError | null {
  if (tag === undefined || tag === '') return graphErrors.invalidParameter('Param tag is required when messaging_type is MESSAGE_TAG');
  if (typeof tag !== 'string') return graphErrors.invalidParameter('Param tag must be a string');
  if ((RETIRED_TAGS as readonly string[]).includes(tag)) {
    return graphErrors.invalidParameter(`The tag ${tag} is no longer supported. Use HUMAN_AGENT for human replies outside the 24 hour window.`);
  }
  if (!(ACTIVE_TAGS as readonly string[]).includes(tag)) {
    return graphErrors.invalidParameter(`Param tag must be one of {${ACTIVE_TAGS.join(', ')}} - got "${tag}"`);
  }
  return null;
}

/** Validates `message` of a Send API body. */
export function parseOutboundMessage(value: unknown): Checked<OutboundMessage> {
  if (value === undefined) return fail('Must send either message or sender_action');
  if (!isRecord(value)) return fail('Param message must be an object');
  const text = value['text'];
  const attachment = readJsonParam(value['attachment']);
  if (text === undefined && attachment === undefined) return fail('Param message must contain text or attachment');
  if (text !== undefined && attachment !== undefined) return fail('Only one of message[text] and message[attachment] may be set');
  if (text !== undefined) {
    if (typeof text !== 'string') return fail('Param message[text] must be a UTF-8 string');
    if (text.length === 0) return fail('Param message[text] must be non-empty.');
    if (charCount(text) >= MAX_TEXT_CHARS) return fail(`Param message[text] must be less than ${MAX_TEXT_CHARS} characters`);
  }
  let parsedAttachment: OutboundAttachment | undefined;
  if (attachment !== undefined) {
    const checked = parseOutboundAttachment(attachment);
    if (!checked.ok) return checked;
    parsedAttachment = checked.value;
  }
  const metadata = value['metadata'];
  if (metadata !== undefined) {
    if (typeof metadata !== 'string') return fail('Param message[metadata] must be a string');
    if (charCount(metadata) >= MAX_METADATA_CHARS) return fail(`Param message[metadata] must be less than ${MAX_METADATA_CHARS} characters`);
  }
  let quickReplies: OutboundQuickReply[] | undefined;
  const rawQuickReplies = readJsonParam(value['quick_replies']);
  if (rawQuickReplies !== undefined) {
    const checked = parseQuickReplies(rawQuickReplies);
    if (!checked.ok) return checked;
    quickReplies = checked.value;
  }
  return {
    ok: true,
    value: {
      ...(typeof text === 'string' ? { text } : {}),
      ...(parsedAttachment ? { attachment: parsedAttachment } : {}),
      ...(quickReplies ? { quickReplies } : {}),
      ...(typeof metadata === 'string' ? { metadata } : {}),
    },
  };
}

/** Validates an attachment for the Send API or the Attachment Upload API. */
export function parseOutboundAttachment(value: unknown): Checked<OutboundAttachment> {
  if (!isRecord(value)) return fail('Param message[attachment] must be an object');
  const type = value['type'];
  if (typeof type !== 'string' || !(SEND_ATTACHMENT_TYPES as readonly string[]).includes(type)) {
    return fail(`Param message[attachment][type] must be one of {${SEND_ATTACHMENT_TYPES.join(', ')}}`);
  }
  const payload = readJsonParam(value['payload']);
  if (!isRecord(payload)) return fail('Param message[attachment][payload] must be an object');
  if (type === 'template') {
    if (typeof payload['template_type'] !== 'string') return fail('Param message[attachment][payload][template_type] is required');
    return { ok: true, value: { type, payload } };
  }
  const hasUrl = payload['url'] !== undefined;
  const hasId = payload['attachment_id'] !== undefined;
  if (hasUrl === hasId) return fail('Param message[attachment][payload] must have exactly one of url or attachment_id');
  if (hasUrl && (typeof payload['url'] !== 'string' || !/^https?:\/\/\S+$/i.test(payload['url']))) {
    return fail('Param message[attachment][payload][url] must be a valid URL');
  }
  if (hasId && idString(payload['attachment_id']) === undefined) return fail('Param message[attachment][payload][attachment_id] must be a valid ID');
  if (payload['is_reusable'] !== undefined && typeof payload['is_reusable'] !== 'boolean') {
    return fail('Param message[attachment][payload][is_reusable] must be a boolean');
  }
  return { ok: true, value: { type: type as OutboundAttachment['type'], payload } };
}

function parseQuickReplies(value: unknown): Checked<OutboundQuickReply[]> {
  if (!Array.isArray(value) || value.length === 0) return fail('Param message[quick_replies] must be a non-empty array');
  if (value.length > MAX_QUICK_REPLIES) return fail(`Param message[quick_replies] must have at most ${MAX_QUICK_REPLIES} elements`);
  const replies: OutboundQuickReply[] = [];
  for (const [i, item] of value.entries()) {
    if (!isRecord(item)) return fail(`Param message[quick_replies][${i}] must be an object`);
    const contentType = item['content_type'];
    if (contentType !== 'text' && contentType !== 'user_phone_number' && contentType !== 'user_email' && contentType !== 'TEXT' && contentType !== 'USER_PHONE_NUMBER' && contentType !== 'USER_EMAIL') {
      return fail(`Param message[quick_replies][${i}][content_type] must be one of {text, user_phone_number, user_email}`);
    }
    const isText = String(contentType).toLowerCase() === 'text';
    if (isText && (typeof item['title'] !== 'string' || item['title'] === '') && typeof item['image_url'] !== 'string') {
      return fail(`Param message[quick_replies][${i}][title] must be non-empty`);
    }
    if (isText && (item['payload'] === undefined || item['payload'] === '')) {
      return fail(`Param message[quick_replies][${i}][payload] must be non-empty`);
    }
    replies.push({
      content_type: String(contentType),
      ...(typeof item['title'] === 'string' ? { title: item['title'] } : {}),
      ...(item['payload'] !== undefined ? { payload: String(item['payload']) } : {}),
      ...(typeof item['image_url'] === 'string' ? { image_url: item['image_url'] } : {}),
    });
  }
  return { ok: true, value: replies };
}

/** When the reply windows of a (page, customer) thread close, for the chat page and for tests. */
export interface ReplyWindowState {
  readonly lastCustomerActionAt: number | null;
  readonly standardOpen: boolean;
  readonly standardClosesAt: number | null;
  readonly humanAgentOpen: boolean;
  readonly humanAgentClosesAt: number | null;
}

export function replyWindowState(now: number, lastCustomerActionAt: number | null): ReplyWindowState {
  if (lastCustomerActionAt === null) {
    return { lastCustomerActionAt, standardOpen: false, standardClosesAt: null, humanAgentOpen: false, humanAgentClosesAt: null };
  }
  const standardClosesAt = lastCustomerActionAt + REPLY_WINDOW_MS;
  const humanAgentClosesAt = lastCustomerActionAt + HUMAN_AGENT_WINDOW_MS;
  return {
    lastCustomerActionAt,
    standardOpen: now < standardClosesAt,
    standardClosesAt,
    humanAgentOpen: now < humanAgentClosesAt,
    humanAgentClosesAt,
  };
}

/**
 * May the Page send to this customer now? RESPONSE/UPDATE/UTILITY and sender actions need the 24 h
 * window; HUMAN_AGENT and CUSTOMER_FEEDBACK stretch it to 7 days. A customer who never wrote is
 * outside every window. The window closes at exactly 24 h (the Page has "up to" 24 hours).
 */
export function checkReplyWindow(input: {
  readonly now: number;
  readonly lastCustomerActionAt: number | null;
  readonly messagingType: MessagingType | 'SENDER_ACTION';
  readonly tag?: string;
}): GraphError | null {
  const window = replyWindowState(input.now, input.lastCustomerActionAt);
  switch (input.messagingType) {
    case 'RESPONSE':
    case 'UPDATE':
    case 'UTILITY':
    case 'SENDER_ACTION':
      return window.standardOpen ? null : graphErrors.outsideWindow();
    case 'MESSAGE_TAG':
      if (input.tag === 'HUMAN_AGENT' || input.tag === 'CUSTOMER_FEEDBACK') {
        return window.humanAgentOpen ? null : graphErrors.outsideWindow();
      }
      // A tag that passed checkTag is one of the two above; anything else never opens a window.
      return graphErrors.outsideWindow();
    default: {
      const unreachable: never = input.messagingType;
      throw new Error(`unknown messaging type ${String(unreachable)}`);
    }
  }
}

/** A private reply (recipient.comment_id): once per comment, within 7 days, never to the Page's own comment (§3e). */
export function checkPrivateReply(now: number, comment: Pick<SimComment, 'createdAt' | 'privateReplyAt' | 'fromId' | 'pageId'>): GraphError | null {
  if (comment.privateReplyAt !== undefined) return graphErrors.alreadyReplied();
  if (comment.fromId === comment.pageId) return graphErrors.cannotReplyToActivity();
  // [M] Meta's code for a reply after 7 days is not confirmed; 10903 says "can't reply to this activity".
  if (now - comment.createdAt >= PRIVATE_REPLY_WINDOW_MS) return graphErrors.cannotReplyToActivity();
  return null;
}

/** Is this token usable now? Missing → 104; unknown → 190; revoked → 190/subcode; expired → 190/463. */
export function checkToken(token: SimToken | undefined, raw: string | undefined, now: number): GraphError | null {
  if (raw === undefined || raw === '') return graphErrors.missingToken();
  if (!token) return graphErrors.malformedToken();
  if (token.revoked) return graphErrors.revokedToken(token.revoked.subcode, token.appId, token.userId);
  if (token.expiresAt !== null && now >= token.expiresAt) return graphErrors.expiredToken(token.expiresAt, now);
  return null;
}

/** Sliding one-second window of Send API calls per Page; returns whether this call is admitted and the trimmed history. */
export function admitSendCall(history: readonly number[], now: number, limitPerSecond: number): { admitted: boolean; history: number[] } {
  const recent = history.filter((t) => t > now - 1000 && t <= now);
  if (limitPerSecond > 0 && recent.length >= limitPerSecond) return { admitted: false, history: recent };
  return { admitted: true, history: [...recent, now] };
}
