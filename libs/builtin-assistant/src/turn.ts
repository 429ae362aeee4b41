/**
 * What the built-in assistant reads of a conversation: who said what, with media noted (never its
 * URL) and buttons tapped. The responder keeps more per entry (ids, times, where it came from);
 * any entry with at least these fields will do.
 */

export type Author = 'customer' | 'assistant' | 'agent' | 'page';

export type AttachmentKind = 'image' | 'video' | 'audio' | 'file' | 'sticker' | 'location' | 'fallback' | 'other';

/** What the assistant is told about an attachment: never its URL (it expires and may be private). */
export type AttachmentNote = { kind: AttachmentKind; title: string | null; like: boolean };

export type ConversationEntry = {
  author: Author;
  text: string | null;
  attachments: ReadonlyArray<AttachmentNote>;
  /** A tapped button: its title (or payload); `getStarted` for the Get Started button. */
  postback: { title: string | null; getStarted: boolean } | null;
};

/**
 * The customer's latest turn: their entries since the assistant or a person last answered. The
 * Page's automated messages (a greeting, an away message) answer nothing, so they do not end the
 * turn: a greeting sent on first contact must not hide the question that came with it.
 */
export function latestCustomerTurn<T extends Pick<ConversationEntry, 'author'>>(entries: ReadonlyArray<T>): T[] {
  const turn: T[] = [];
  for (let i = entries.length - 1; i >= 0; i--) {
    const entry = entries[i]!;
    if (entry.author === 'page') continue;
    if (entry.author !== 'customer') break;
    turn.unshift(entry);
  }
  return turn;
}
