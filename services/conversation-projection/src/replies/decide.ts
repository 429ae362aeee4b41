import type { OutboundPart } from '@parley/contracts';
import { COMMENT_REPLY_WINDOW_MS, HUMAN_AGENT_WINDOW_MS, REPLY_WINDOW_MS } from '../inbox/model.ts';

// Whether a person's reply can go out, and how: pure, time passed in.
//
// Messenger: inside 24 h of the customer's last action a normal RESPONSE; after that, up to 7 days,
// MESSAGE_TAG with HUMAN_AGENT (a person answering, which the tag exists for); after that Meta
// refuses every message, so we refuse it here with a sentence a person understands. A comment
// thread takes text only, within 7 days of the customer's latest comment (a private reply).
// A Page that needs reconnecting: the reply is accepted and held (outbound-sender defers it and
// sends it after the reconnect if the window is still open); a disconnected Page: refused.

export type ReplyRequest = {
  text?: string | undefined;
  attachments?: ReadonlyArray<{ type: 'image' | 'video' | 'audio' | 'file'; url: string }> | undefined;
};

export type ReplyTarget = {
  channel: 'messenger' | 'page_comment';
  lastInboundAt: number | null;
  lastCommentAt: number | null;
  lastCommentId: string | null;
  /** The Page's connection status; null when the inbox has not heard of the Page. */
  pageStatus: string | null;
};

export type ReplyDecision =
  | {
      kind: 'send';
      parts: OutboundPart[];
      messagingType: 'RESPONSE' | 'MESSAGE_TAG';
      tag: 'HUMAN_AGENT' | null;
      commentId: string | null;
      replyWindowClosesAt: number | null;
      /** Accepted but held until the Page is reconnected. */
      held: boolean;
    }
  | { kind: 'reject'; status: 400 | 409 | 422; code: string; title: string; detail: string };

const HELD_STATUSES = new Set(['needs_reconnect', 'revoked']);

export function decideReply(request: ReplyRequest, target: ReplyTarget, now: number): ReplyDecision {
  const attachments = request.attachments ?? [];
  if (!request.text && attachments.length === 0) {
    return { kind: 'reject', status: 400, code: 'invalid_request', title: 'Empty reply', detail: 'A reply needs text, attachments, or both.' };
  }
  if (target.pageStatus === null || target.pageStatus === 'disconnected') {
    return {
      kind: 'reject',
      status: 409,
      code: 'page_disconnected',
      title: 'Page disconnected',
      detail: 'This Page is no longer connected to Parley, so nothing can be sent from it. Connect the Page again to reply.',
    };
  }
  if (target.channel === 'page_comment' && attachments.length > 0) {
    return {
      kind: 'reject',
      status: 422,
      code: 'attachments_not_allowed',
      title: 'Attachments not allowed',
      detail: 'Replies to Page comments can only be text. Remove the attachments and send the text.',
    };
  }
  const parts: OutboundPart[] = [
    ...(request.text ? [{ text: request.text }] : []),
    ...attachments.map((a) => ({ attachment: { type: a.type, url: a.url } })),
  ];
  const held = HELD_STATUSES.has(target.pageStatus);

  if (target.channel === 'page_comment') {
    if (target.lastCommentAt === null || target.lastCommentId === null || now >= target.lastCommentAt + COMMENT_REPLY_WINDOW_MS) {
      return windowClosed(
        target.lastCommentAt === null
          ? 'The customer has not commented yet, so there is nothing to reply to.'
          : `The customer last commented on ${day(target.lastCommentAt)}. A reply to a comment must go within 7 days of it; answer when they comment or write again.`,
      );
    }
    return { kind: 'send', parts, messagingType: 'RESPONSE', tag: null, commentId: target.lastCommentId, replyWindowClosesAt: null, held };
  }

  if (target.lastInboundAt === null) {
    return windowClosed('The customer has not written to this Page yet. Messenger only lets the Page answer once the customer has written.');
  }
  const standardCloses = target.lastInboundAt + REPLY_WINDOW_MS;
  if (now < standardCloses) {
    return { kind: 'send', parts, messagingType: 'RESPONSE', tag: null, commentId: null, replyWindowClosesAt: standardCloses, held };
  }
  if (now < target.lastInboundAt + HUMAN_AGENT_WINDOW_MS) {
    return { kind: 'send', parts, messagingType: 'MESSAGE_TAG', tag: 'HUMAN_AGENT', commentId: null, replyWindowClosesAt: standardCloses, held };
  }
  return windowClosed(
    `The customer last wrote on ${day(target.lastInboundAt)}. Messenger lets a person answer for 7 days after the customer's last message, and that time has passed; you can answer as soon as they write again.`,
  );
}

function windowClosed(detail: string): ReplyDecision {
  return { kind: 'reject', status: 409, code: 'reply_window_closed', title: 'Reply window closed', detail };
}

function day(ms: number): string {
  return new Date(ms).toLocaleString('en-GB', { dateStyle: 'long', timeStyle: 'short', timeZone: 'UTC' }) + ' UTC';
}
