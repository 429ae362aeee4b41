/**
 * Shapes an assistant's answer into Messenger messages. Pure: the same text always gives the same parts.
 *
 * - Each part has at most `maxChars` characters (UTF-16 code units, what Meta counts against its
 *   limit of "less than 2000 characters"); `maxChars` can never reach that limit.
 * - Parts are cut at sentence boundaries; a sentence longer than a part is cut at word boundaries;
 *   a single token longer than a part (a long URL) is cut hard, between grapheme clusters, so an
 *   emoji or an accented letter is never broken in two.
 * - Whitespace is normalized (runs of spaces collapse, lines are trimmed, blank lines separate
 *   paragraphs); no part is empty; the order of the text is kept.
 * - At most `maxParts` parts: a longer answer keeps its first `maxParts - 1` parts, the last of them
 *   ends with an ellipsis, and a final part offers a person (so the customer is told there is more
 *   and how to get it, rather than receiving a wall of messages).
 */

/** Meta refuses a text message of 2000 characters or more. */
export const MESSENGER_TEXT_LIMIT = 2000;
export const ELLIPSIS = '…';
/** The last part of an answer too long to send whole. */
export const MORE_OFFER = "There's more to it than fits here — would you like me to connect you with a person?";

export type ShapeOptions = {
  /** Characters per message; 320 reads comfortably on a phone. */
  readonly maxChars: number;
  /** Messages per answer, the last of which is the offer of a person when the answer is truncated. */
  readonly maxParts: number;
};

export const DEFAULT_SHAPE: ShapeOptions = { maxChars: 320, maxParts: 5 };

/** The smallest part that still leaves room for the offer of a person. */
export const MIN_PART_CHARS = 100;

/** Checks shaping options; configuration uses it so that a bad value stops the service at start-up. */
export function validateShapeOptions(options: ShapeOptions): void {
  if (!Number.isInteger(options.maxChars) || options.maxChars < MIN_PART_CHARS || options.maxChars >= MESSENGER_TEXT_LIMIT) {
    throw new RangeError(`maxChars must be an integer from ${MIN_PART_CHARS} to ${MESSENGER_TEXT_LIMIT - 1}, got ${options.maxChars}`);
  }
  if (!Number.isInteger(options.maxParts) || options.maxParts < 2 || options.maxParts > 20) {
    throw new RangeError(`maxParts must be an integer from 2 to 20, got ${options.maxParts}`);
  }
}

/** Splits an answer into Messenger-sized text parts (see the module comment). Empty text gives no parts. */
export function shapeAnswer(text: string, options: ShapeOptions = DEFAULT_SHAPE): string[] {
  validateShapeOptions(options);
  const max = options.maxChars;
  const parts: string[] = [];
  let current = '';
  for (const unit of sentenceUnits(text)) {
    const candidate = current === '' ? unit.text : current + unit.separator + unit.text;
    if (candidate.length <= max) {
      current = candidate;
      continue;
    }
    if (current !== '') parts.push(current);
    current = '';
    if (unit.text.length <= max) {
      current = unit.text;
    } else {
      const pieces = splitLongSentence(unit.text, max);
      parts.push(...pieces.slice(0, -1));
      current = pieces[pieces.length - 1] ?? '';
    }
  }
  if (current !== '') parts.push(current);
  return parts.length <= options.maxParts ? parts : truncate(parts, options);
}

type Unit = { text: string; separator: string };

// Invisible characters that only cause trouble in a message (controls, zero-width spaces, BOM);
// newlines and tabs are handled as whitespace. Zero-width joiners stay: emoji sequences need them.
// eslint-disable-next-line no-control-regex -- removing control characters is the point
const INVISIBLE = /[\u0000-\u0008\u000B\u000E-\u001F\u007F\u200B\u2060\uFEFF]/g;
const HORIZONTAL_SPACE = /[\t\f\v \u00A0\u1680\u2000-\u200A\u202F\u205F\u3000]+/g;

const sentences = new Intl.Segmenter('en', { granularity: 'sentence' });
const graphemes = new Intl.Segmenter('en', { granularity: 'grapheme' });

/** The text's sentences in order, each with the separator that joins it to the one before. */
function sentenceUnits(text: string): Unit[] {
  const paragraphs = text
    .replace(/\r\n?|[\u2028\u2029]/g, '\n')
    .replace(INVISIBLE, '')
    .split(/\n[ \t\f\v\u00A0]*\n\s*/)
    .map((paragraph) =>
      paragraph
        .split('\n')
        .map((line) => line.replace(HORIZONTAL_SPACE, ' ').trim())
        .filter((line) => line !== ''),
    )
    .filter((lines) => lines.length > 0);
  const units: Unit[] = [];
  paragraphs.forEach((lines, p) => {
    lines.forEach((line, l) => {
      let first = true;
      for (const { segment } of sentences.segment(line)) {
        const sentence = segment.trim();
        if (sentence === '') continue;
        const separator = !first ? ' ' : l > 0 ? '\n' : p > 0 ? '\n\n' : '';
        units.push({ text: sentence, separator });
        first = false;
      }
    });
  });
  return units;
}

/** A sentence longer than a part: cut between words, and hard-cut any single word that is still too long. */
function splitLongSentence(sentence: string, max: number): string[] {
  const pieces: string[] = [];
  let current = '';
  for (const word of sentence.split(' ')) {
    if (word === '') continue;
    const candidate = current === '' ? word : `${current} ${word}`;
    if (candidate.length <= max) {
      current = candidate;
      continue;
    }
    if (current !== '') pieces.push(current);
    current = '';
    if (word.length <= max) {
      current = word;
    } else {
      const chunks = hardSplit(word, max);
      pieces.push(...chunks.slice(0, -1));
      current = chunks[chunks.length - 1] ?? '';
    }
  }
  if (current !== '') pieces.push(current);
  return pieces;
}

/** Cuts a token into chunks of at most `max` UTF-16 units, between grapheme clusters (code points as a last resort). */
function hardSplit(token: string, max: number): string[] {
  const chunks: string[] = [];
  let current = '';
  for (const { segment } of graphemes.segment(token)) {
    // A grapheme cluster longer than a whole part (pathological combining marks) falls back to code points.
    const pieces = segment.length <= max ? [segment] : Array.from(segment);
    for (const piece of pieces) {
      if (current.length + piece.length > max) {
        chunks.push(current);
        current = '';
      }
      current += piece;
    }
  }
  if (current !== '') chunks.push(current);
  return chunks;
}

function truncate(parts: string[], options: ShapeOptions): string[] {
  const kept = parts.slice(0, options.maxParts - 1);
  const lastIndex = kept.length - 1;
  kept[lastIndex] = withEllipsis(kept[lastIndex]!, options.maxChars);
  return [...kept, MORE_OFFER];
}

/** Ends a part with an ellipsis (instead of its final punctuation), shortening it if it has no room left. */
function withEllipsis(part: string, max: number): string {
  let text = part.replace(/[\s.,;:!?…]+$/u, '');
  if (text.length + ELLIPSIS.length > max) {
    const kept: string[] = [];
    let length = 0;
    for (const { segment } of graphemes.segment(text)) {
      if (length + segment.length + ELLIPSIS.length > max) break;
      kept.push(segment);
      length += segment.length;
    }
    text = kept.join('').trimEnd();
  }
  return text + ELLIPSIS;
}
