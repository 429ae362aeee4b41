import { bestMatch } from './retrieval.ts';
import type { Passage } from './retrieval.ts';
import { latestCustomerTurn } from './turn.ts';
import type { AttachmentKind, AttachmentNote, ConversationEntry } from './turn.ts';

/**
 * The built-in assistant: no language model, so it never invents anything. It answers the
 * customer's latest turn (every message since the Page last spoke) from the assistant's knowledge
 * entries — and from the factual paragraphs of its instructions — by retrieval; it greets back,
 * thanks back, acknowledges media it cannot see, and otherwise says it is not sure and offers a person.
 */

export const NOT_SURE = "I'm not sure about that — would you like me to connect you with a person?";
export const NOT_SURE_ABOUT_THE_REST = "I'm not sure about the rest — would you like me to connect you with a person?";
export const MEDIA_FOLLOW_UP = 'Could you tell me in words what you need, or would you like me to connect you with a person?';
export const HOW_CAN_I_HELP = 'How can I help you today?';
export const YOU_ARE_WELCOME = "You're welcome! Is there anything else I can help you with?";

export type BuiltinInput = {
  assistant: { instructions: string; knowledge: ReadonlyArray<Passage> };
  customerFirstName: string | null;
  /** The conversation so far, oldest first (the responder keeps its last messages). */
  entries: ReadonlyArray<ConversationEntry>;
};

export type BuiltinAnswer = {
  text: string;
  /** The knowledge answered with (entry ids; `instructions:<n>` for a paragraph of the instructions). */
  matched: string[];
  /** Whether the answer offers a person (nothing matched, or media it cannot see). */
  offersPerson: boolean;
};

const GREETING_WORDS = new Set(
  'hi hello hey heya hiya howdy yo hallo hola bonjour salut ciao greetings good morning afternoon evening day there all everyone team folks guys 👋'.split(' '),
);
const GREETING_CORE = /\b(hi|hello|hey|heya|hiya|howdy|yo|hallo|hola|bonjour|salut|ciao|greetings|good (morning|afternoon|evening|day))\b|👋/u;
const THANKS_WORDS = new Set('thanks thank you thx ty cheers merci gracias danke so much very a lot great ok okay cool perfect awesome lovely 🙏 👍'.split(' '));
const THANKS_CORE = /\b(thanks|thank|thx|ty|cheers|merci|gracias|danke)\b|🙏/u;

/** Words of a short message, for recognising greetings and thanks ("Hi there!", "thanks a lot 🙏"). */
function words(text: string): string[] {
  return text
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\p{Extended_Pictographic}\s]/gu, ' ')
    .split(/\s+/)
    .filter(Boolean);
}

export function isGreeting(text: string): boolean {
  const w = words(text);
  return w.length > 0 && w.length <= 6 && GREETING_CORE.test(w.join(' ')) && w.every((word) => GREETING_WORDS.has(word));
}

/** "Hi, what are your opening hours?": a question that opens with a greeting deserves one back. */
export function opensWithGreeting(text: string): boolean {
  const first = words(text).slice(0, 3).join(' ');
  return new RegExp(`^(${GREETING_CORE.source})`, 'u').test(first);
}

export function isThanks(text: string): boolean {
  const w = words(text);
  return w.length > 0 && w.length <= 6 && THANKS_CORE.test(w.join(' ')) && w.every((word) => THANKS_WORDS.has(word));
}

/** Instructions addressed to the assistant ("You are…", "Always…") are not facts to answer with. */
const DIRECTIVE = /^(you|you're|your|always|never|be|do|don't|dont|answer|respond|reply|keep|use|act|avoid|make sure|try|only|if|when|please)\b/i;

/** The factual paragraphs of the instructions, as passages. */
export function instructionPassages(instructions: string): Passage[] {
  return instructions
    .split(/\n\s*\n|\n(?=\s*[-*•]\s)/)
    .map((paragraph) => paragraph.replace(/^\s*[-*•]\s*/, '').trim())
    .map((paragraph, index) => ({ id: `instructions:${index}`, title: '', content: paragraph }))
    .filter((p) => p.content !== '' && !DIRECTIVE.test(p.content));
}

const MEDIA_ACKNOWLEDGEMENT: Record<AttachmentKind, string> = {
  image: "Thanks for the picture — I can't see images, though.",
  video: "Thanks for the video — I can't watch videos, though.",
  audio: "Thanks for the voice message — I can't listen to audio, though.",
  file: "Thanks for the file — I can't open files, though.",
  sticker: 'Thanks for the sticker!',
  location: "Thanks for sharing your location — I can't see maps, though.",
  fallback: "Thanks for the link — I can't open links, though.",
  other: "Thanks for sharing that — I can't see it, though.",
};

function acknowledgement(note: AttachmentNote): string {
  return note.kind === 'sticker' && note.like ? '👍' : MEDIA_ACKNOWLEDGEMENT[note.kind];
}

/** Answers the customer's latest turn. Deterministic: the same conversation gives the same answer. */
export function builtinAnswer(input: BuiltinInput): BuiltinAnswer {
  const turn = latestCustomerTurn(input.entries);
  const passages: Passage[] = [...input.assistant.knowledge, ...instructionPassages(input.assistant.instructions)];
  let greeted = false;
  let thanked = false;
  const questions: string[] = [];
  const media: AttachmentNote[] = [];
  for (const entry of turn) {
    const said = [entry.postback && !entry.postback.getStarted ? entry.postback.title : null, entry.text].filter((t): t is string => Boolean(t));
    if (entry.postback?.getStarted) greeted = true;
    for (const text of said) {
      if (isGreeting(text)) greeted = true;
      else if (isThanks(text)) thanked = true;
      else {
        if (opensWithGreeting(text)) greeted = true;
        questions.push(text);
      }
    }
    media.push(...entry.attachments);
  }

  const matched: Passage[] = [];
  let unanswered = 0;
  for (const question of questions) {
    const match = bestMatch(question, passages);
    if (!match) {
      unanswered++;
    } else if (!matched.some((p) => p.id === match.passage.id)) {
      matched.push(match.passage);
    }
  }

  const name = input.customerFirstName?.trim().slice(0, 50);
  const blocks: string[] = [];
  if (greeted) blocks.push(name ? `Hi ${name}!` : 'Hi there!');
  blocks.push(...matched.map((p) => p.content));
  const acknowledgements = [...new Set(media.map(acknowledgement))];
  blocks.push(...acknowledgements);
  const mediaNeedsPerson = media.some((note) => note.kind !== 'sticker');

  let offersPerson = true;
  if (unanswered > 0) blocks.push(matched.length > 0 ? NOT_SURE_ABOUT_THE_REST : NOT_SURE);
  else if (mediaNeedsPerson) blocks.push(MEDIA_FOLLOW_UP);
  else {
    offersPerson = false;
    if (matched.length === 0) {
      if (thanked && !greeted) blocks.push(YOU_ARE_WELCOME);
      else if (greeted || media.length > 0) blocks.push(HOW_CAN_I_HELP);
      else {
        // Nothing to answer at all (an empty message): still never leave the customer without a word.
        blocks.push(NOT_SURE);
        offersPerson = true;
      }
    }
  }
  return { text: joinBlocks(blocks), matched: matched.map((p) => p.id), offersPerson };
}

/** Short lines (greetings, acknowledgements) run on; knowledge keeps its paragraphs. */
function joinBlocks(blocks: string[]): string {
  return blocks.reduce((text, block) => {
    if (text === '') return block;
    const separator = block.includes('\n') || text.includes('\n') ? '\n\n' : ' ';
    return text + separator + block;
  }, '');
}
