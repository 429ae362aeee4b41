import type { AttachmentKind, AttachmentNote, Author } from '@parley/builtin-assistant';
import type { EventOf, InboundAttachment, OutboundPart, ParleyEvent } from '@parley/contracts';

/**
 * The recent conversation the assistant answers from: the last messages of each conversation, in
 * the responder's own tables, built from the log (customer messages, postbacks and comments from
 * messenger.inbound.v1; what the Page sent from outbound.events.v1 and from echoes).
 * Pure code: what to remember of an event, and how to describe it to an assistant.
 */

/** How many messages of a conversation are kept (and given to the assistant). */
export const RECENT_MESSAGES = 20;
/** Longer texts are cut when stored: Messenger texts are under 2000 characters, comments can be longer. */
export const MAX_STORED_TEXT = 4_000;

// Who spoke, media notes and the customer's latest turn are the built-in assistant's vocabulary too.
export type { AttachmentKind, AttachmentNote, Author } from '@parley/builtin-assistant';
export { latestCustomerTurn } from '@parley/builtin-assistant';

export type ContextEntry = {
  /** The id of the event it came from: the idempotency key. */
  eventId: string;
  conversationId: string;
  pageId: string;
  author: Author;
  text: string | null;
  attachments: AttachmentNote[];
  /** A tapped button: its title (or payload); `getStarted` for the Get Started button. */
  postback: { title: string | null; getStarted: boolean } | null;
  /** Meta's message id: the same message seen as `outbound.message.sent` and as an echo is stored once. */
  mid: string | null;
  occurredAt: string;
  /** Where it came from; an echo never overrides what outbound-sender said about the author. */
  source: 'inbound' | 'echo' | 'outbound';
};

/** Meta's thumbs-up ("like") stickers: small, medium, large. */
const LIKE_STICKERS = new Set(['369239263222822', '369239343222814', '369239383222810']);

export type ContextEvent =
  | EventOf<'messenger.message.received'>
  | EventOf<'messenger.message.echoed'>
  | EventOf<'messenger.postback.received'>
  | EventOf<'messenger.comment.received'>
  | EventOf<'outbound.message.sent'>;

/**
 * The context entry an event adds, or null for events that are not part of what was said
 * (deliveries, reads, reactions, removed comments, events without a conversation).
 */
export function contextEntryOf(event: ParleyEvent): ContextEntry | null {
  if (event.conversationId === null) return null;
  const base = { eventId: event.id, conversationId: event.conversationId, pageId: event.pageId, occurredAt: event.occurredAt };
  switch (event.type) {
    case 'messenger.message.received':
      return {
        ...base,
        author: 'customer',
        text: clip(event.data.text),
        attachments: notesOf(event.data.attachments),
        postback: null,
        mid: event.data.mid,
        source: 'inbound',
      };
    case 'messenger.message.echoed':
      return {
        ...base,
        author: 'page',
        text: clip(event.data.text),
        attachments: notesOf(event.data.attachments),
        postback: null,
        mid: event.data.mid,
        source: 'echo',
      };
    case 'messenger.postback.received':
      return {
        ...base,
        author: 'customer',
        text: null,
        attachments: [],
        postback: { title: clip(event.data.title ?? event.data.payload), getStarted: event.data.isGetStarted },
        mid: event.data.mid,
        source: 'inbound',
      };
    case 'messenger.comment.received':
      if (event.data.verb === 'remove' || !event.data.message) return null;
      return {
        ...base,
        author: event.data.fromPage ? 'page' : 'customer',
        text: clip(event.data.message),
        attachments: [],
        postback: null,
        // The comment's id takes the place of a message id: a reply goes to it, and it is stored once.
        mid: event.data.commentId,
        source: 'inbound',
      };
    case 'outbound.message.sent':
      return {
        ...base,
        author: event.data.author,
        ...contentOf(event.data.content),
        postback: null,
        mid: event.data.mid,
        source: 'outbound',
      };
    default:
      return null;
  }
}

function contentOf(part: OutboundPart): { text: string | null; attachments: AttachmentNote[] } {
  if ('text' in part) return { text: clip(part.text), attachments: [] };
  return { text: null, attachments: [{ kind: part.attachment.type, title: null, like: false }] };
}

function clip(text: string | null | undefined): string | null {
  if (text === null || text === undefined) return null;
  const trimmed = text.trim();
  if (trimmed === '') return null;
  return trimmed.length > MAX_STORED_TEXT ? `${trimmed.slice(0, MAX_STORED_TEXT)}…` : trimmed;
}

/** Attachments as notes. During Meta's sticker transition a sticker arrives both as `sticker` and `image`: noted once. */
export function notesOf(attachments: ReadonlyArray<InboundAttachment>): AttachmentNote[] {
  const stickerIds = new Set(attachments.filter((a) => a.type === 'sticker' && a.stickerId).map((a) => a.stickerId));
  const hasSticker = attachments.some((a) => a.type === 'sticker');
  return attachments
    .filter((a) => !(a.type === 'image' && a.stickerId !== null && (stickerIds.has(a.stickerId) || hasSticker)))
    .map((a): AttachmentNote => {
      const like = a.stickerId !== null && LIKE_STICKERS.has(a.stickerId);
      // Old payloads carry a sticker as an image with a sticker_id.
      const kind: AttachmentKind = a.stickerId !== null ? 'sticker' : a.type === 'template' ? 'other' : a.type;
      return { kind, title: clip(a.title)?.slice(0, 200) ?? null, like };
    });
}

const CUSTOMER_MEDIA: Record<AttachmentKind, (title: string | null) => string> = {
  image: () => '[The customer sent an image; you cannot see it.]',
  video: () => '[The customer sent a video; you cannot watch it.]',
  audio: () => '[The customer sent an audio or voice message; you cannot listen to it.]',
  file: (title) => `[The customer sent a file${title ? ` ("${title}")` : ''}; you cannot open it.]`,
  sticker: () => '[The customer sent a sticker.]',
  location: () => '[The customer shared a location; you cannot see the map.]',
  fallback: (title) => `[The customer shared a link${title ? ` ("${title}")` : ''}; you cannot open it.]`,
  other: () => '[The customer shared something you cannot see.]',
};

/** How an attachment is described to the assistant, so it can acknowledge it and offer a person. */
export function describeAttachment(note: AttachmentNote, author: Author): string {
  if (author !== 'customer') return `[${author === 'agent' ? 'A person from the team' : 'The Page'} sent ${articleFor(note.kind)}.]`;
  if (note.kind === 'sticker' && note.like) return '[The customer sent a thumbs-up (like) sticker.]';
  return CUSTOMER_MEDIA[note.kind](note.title);
}

function articleFor(kind: AttachmentKind): string {
  switch (kind) {
    case 'image':
      return 'an image';
    case 'video':
      return 'a video';
    case 'audio':
      return 'an audio message';
    case 'file':
      return 'a file';
    case 'sticker':
      return 'a sticker';
    case 'location':
      return 'a location';
    case 'fallback':
      return 'a link';
    case 'other':
      return 'an attachment';
    default: {
      const unknown: never = kind;
      return String(unknown);
    }
  }
}

/** One entry as text for an assistant: its words, the button tapped, and its media described. */
export function describeEntry(entry: ContextEntry): string {
  const pieces: string[] = [];
  if (entry.postback) {
    pieces.push(entry.postback.getStarted ? '[The customer tapped "Get Started".]' : `[The customer tapped the button "${entry.postback.title ?? 'unnamed'}".]`);
  }
  if (entry.text) pieces.push(entry.text);
  for (const note of entry.attachments) pieces.push(describeAttachment(note, entry.author));
  return pieces.join('\n') || '[An empty message.]';
}
