import {
  HUMAN_REQUEST_PHRASES,
  HUMAN_REQUEST_TARGETS,
  HUMAN_REQUEST_VERBS,
  HUMAN_REQUEST_WORDS,
  INSULTS,
  NEGATIVE_WORDS,
  PROFANITY,
  REQUEST_FILLER,
} from './phrases.ts';

export type EscalationSignalKind =
  | 'keyword'
  | 'human_request'
  | 'person_word'
  | 'shouting'
  | 'repeated_punctuation'
  | 'profanity'
  | 'insult'
  | 'negative_words'
  | 'aimed_at_us'
  | 'repeated_question';

export type EscalationSignal = { kind: EscalationSignalKind; weight: number; evidence: string };

export type EscalationAssessment = {
  score: number;
  signals: EscalationSignal[];
  escalate: boolean;
  reason: 'keyword' | 'human_requested' | 'frustration' | null;
  /** A sentence a person reads in the inbox: why the conversation was escalated. */
  detail: string | null;
};

/** The score at which a conversation escalates. One mild signal stays below it; a strong one, or two, reach it. */
export const ESCALATION_THRESHOLD = 5;

/**
 * Weights of the signals. The Page's own keywords and explicit requests for a person escalate on
 * their own; frustration needs either a strong signal (a question asked three times) or two.
 */
export const SIGNAL_WEIGHTS = {
  keyword: 10,
  human_request: 10,
  /** "agent", "customer service please": the message is the request. */
  person_word_alone: 10,
  /** "operator" somewhere in a longer message: maybe, maybe not. */
  person_word: 2,
  shouting: 3,
  repeated_punctuation: 2,
  profanity: 4,
  insult: 4,
  negative_word: 3,
  /** "you are useless", "you idiot": the insult or negative word is aimed at the assistant or the business. */
  aimed_at_us: 2,
  repeated_question: 5,
} as const;

/** How many times the same question (this message included) makes the customer's frustration obvious. */
export const REPEATED_QUESTION_COUNT = 3;
/** How many of the customer's previous messages are compared with this one. */
export const REPEATED_QUESTION_LOOKBACK = 5;
/** Texts are long at most 2,000 characters on Messenger; never scan more than this. */
const MAX_SCANNED_CHARS = 5_000;

export type EscalationContext = {
  /** The Page's escalation keywords (any case). */
  keywords: ReadonlyArray<string>;
  /** The customer's previous message texts in this conversation, oldest first (this message excluded). */
  previousMessages: ReadonlyArray<string>;
};

/**
 * Scores one customer message for escalation. Pure: the same text and context always give the same
 * answer. Matching is case- and accent-insensitive on word boundaries ("agent" does not match
 * "agenda"; "atención" matches "atencion").
 */
export function assessEscalation(text: string | null, context: EscalationContext): EscalationAssessment {
  const original = (text ?? '').slice(0, MAX_SCANNED_CHARS);
  const normalized = normalizeText(original);
  const signals: EscalationSignal[] = [];
  if (normalized === '') return verdict(signals);

  for (const keyword of context.keywords) {
    const needle = normalizeText(keyword);
    if (needle !== '' && containsPhrase(normalized, needle)) {
      signals.push({ kind: 'keyword', weight: SIGNAL_WEIGHTS.keyword, evidence: keyword.trim() });
    }
  }

  const request = HUMAN_REQUEST_PATTERN.exec(normalized);
  if (request) {
    signals.push({ kind: 'human_request', weight: SIGNAL_WEIGHTS.human_request, evidence: request[0].trim() });
  } else {
    const personWord = personWordSignal(normalized);
    if (personWord) signals.push(personWord);
  }

  const shouting = shoutedWords(original);
  if (shouting) signals.push({ kind: 'shouting', weight: SIGNAL_WEIGHTS.shouting, evidence: shouting });

  const punctuation = /[!?]{3,}/u.exec(original);
  if (punctuation) signals.push({ kind: 'repeated_punctuation', weight: SIGNAL_WEIGHTS.repeated_punctuation, evidence: punctuation[0] });

  for (const word of matchesOf(normalized, PROFANITY_PATTERNS)) signals.push({ kind: 'profanity', weight: SIGNAL_WEIGHTS.profanity, evidence: word });
  for (const word of matchesOf(normalized, INSULT_PATTERNS)) signals.push({ kind: 'insult', weight: SIGNAL_WEIGHTS.insult, evidence: word });
  for (const word of matchesOf(normalized, NEGATIVE_PATTERNS)) signals.push({ kind: 'negative_words', weight: SIGNAL_WEIGHTS.negative_word, evidence: word });
  const aimed = AIMED_AT_US_PATTERN.exec(normalized);
  if (aimed) signals.push({ kind: 'aimed_at_us', weight: SIGNAL_WEIGHTS.aimed_at_us, evidence: aimed[0] });

  const repeated = repeatedQuestion(original, context.previousMessages);
  if (repeated) signals.push({ kind: 'repeated_question', weight: SIGNAL_WEIGHTS.repeated_question, evidence: repeated });

  return verdict(signals);
}

function verdict(signals: EscalationSignal[]): EscalationAssessment {
  const score = signals.reduce((sum, s) => sum + s.weight, 0);
  const escalate = score >= ESCALATION_THRESHOLD;
  if (!escalate) return { score, signals, escalate, reason: null, detail: null };
  const keyword = signals.find((s) => s.kind === 'keyword');
  if (keyword) return { score, signals, escalate, reason: 'keyword', detail: `The customer wrote the Page's escalation keyword "${keyword.evidence}".` };
  const request = signals.find((s) => s.kind === 'human_request' || (s.kind === 'person_word' && s.weight >= ESCALATION_THRESHOLD));
  if (request) return { score, signals, escalate, reason: 'human_requested', detail: `The customer asked for a person: "${request.evidence}".` };
  const listed = signals.map((s) => `${DESCRIPTIONS[s.kind]} ("${s.evidence}")`).join(', ');
  return { score, signals, escalate, reason: 'frustration', detail: `The customer seems frustrated (score ${score}): ${listed}.` };
}

const DESCRIPTIONS: Record<EscalationSignalKind, string> = {
  keyword: 'keyword',
  human_request: 'asked for a person',
  person_word: 'mentioned a person',
  shouting: 'shouting',
  repeated_punctuation: 'repeated punctuation',
  profanity: 'profanity',
  insult: 'insult',
  negative_words: 'strongly negative words',
  aimed_at_us: 'aimed at us',
  repeated_question: 'asked the same thing again',
};

/** Lower case, accents removed, curly apostrophes straightened, whitespace collapsed. */
export function normalizeText(text: string): string {
  return text
    .normalize('NFKD')
    .replace(/\p{M}+/gu, '')
    .toLowerCase()
    .replace(/ß/g, 'ss')
    .replace(/[’‘`´]/g, "'")
    .replace(/\s+/g, ' ')
    .trim();
}

const BEFORE = '(?<![\\p{L}\\p{N}])';
const AFTER = '(?![\\p{L}\\p{N}])';

function phraseSource(phrase: string): string {
  return phrase
    .split(' ')
    .map((word) => word.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&'))
    .join('\\s+');
}

function phrasePattern(phrase: string, flags = 'u'): RegExp {
  return new RegExp(`${BEFORE}${phraseSource(phrase)}${AFTER}`, flags);
}

function containsPhrase(normalizedText: string, normalizedPhrase: string): boolean {
  return phrasePattern(normalizedPhrase).test(normalizedText);
}

const HUMAN_REQUEST_PATTERN = new RegExp(
  [
    `${BEFORE}(?:${HUMAN_REQUEST_VERBS.map(phraseSource).join('|')})\\s+(?:${HUMAN_REQUEST_TARGETS.map(phraseSource).join('|')})${AFTER}`,
    `${BEFORE}(?:${HUMAN_REQUEST_PHRASES.map(phraseSource).join('|')})${AFTER}`,
  ].join('|'),
  'u',
);

const PERSON_WORD_PATTERNS = HUMAN_REQUEST_WORDS.map((word) => ({ word, pattern: phrasePattern(word) }));
const FILLER = new Set(REQUEST_FILLER);

function personWordSignal(normalized: string): EscalationSignal | null {
  const found = PERSON_WORD_PATTERNS.find(({ pattern }) => pattern.test(normalized));
  if (!found) return null;
  // "an agent please!" is a request; "my travel agent booked it" is not.
  const rest = normalized
    .replace(found.pattern, ' ')
    .split(/[^\p{L}\p{N}']+/u)
    .filter((word) => word !== '' && !FILLER.has(word));
  const alone = rest.length === 0;
  return { kind: 'person_word', weight: alone ? SIGNAL_WEIGHTS.person_word_alone : SIGNAL_WEIGHTS.person_word, evidence: found.word };
}

const PROFANITY_PATTERNS = PROFANITY.map((word) => ({ word, pattern: phrasePattern(word) }));
const INSULT_PATTERNS = INSULTS.map((word) => ({ word, pattern: phrasePattern(word) }));
const NEGATIVE_PATTERNS = NEGATIVE_WORDS.map((word) => ({ word, pattern: phrasePattern(word) }));

const AIMED_AT_US_PATTERN = new RegExp(
  `${BEFORE}(?:you|you're|youre|u|ur|your|this bot|this service|this company)\\s+(?:are\\s+|is\\s+|r\\s+)?(?:(?:so|such|an?|really|completely|totally|absolutely|the)\\s+)*(?:${[...INSULTS, ...NEGATIVE_WORDS].map(phraseSource).join('|')})${AFTER}`,
  'u',
);

/** The distinct list entries found in the text; an entry inside a longer one found too ("stupid" in "stupid bot") counts once. */
function matchesOf(normalized: string, patterns: ReadonlyArray<{ word: string; pattern: RegExp }>): string[] {
  const found = patterns.filter(({ pattern }) => pattern.test(normalized)).map(({ word }) => word);
  return found.filter((word) => !found.some((other) => other !== word && other.includes(word)));
}

/** Three or more words in capitals making most of the message: "WHERE IS MY ORDER". */
function shoutedWords(original: string): string | null {
  const words = original.split(/[^\p{L}\p{N}]+/u).filter((w) => (w.match(/\p{L}/gu) ?? []).length >= 2);
  const cased = words.filter((w) => /\p{Lu}|\p{Ll}/u.test(w));
  const shouted = cased.filter((w) => !/\p{Ll}/u.test(w));
  if (shouted.length < 3 || shouted.length / cased.length < 0.6) return null;
  return shouted.slice(0, 6).join(' ');
}

/** The same question (or a sentence of three or more words) asked for the third time among the recent messages. */
function repeatedQuestion(original: string, previous: ReadonlyArray<string>): string | null {
  const current = comparable(original);
  const isQuestion = original.includes('?') || current.split(' ').length >= 3;
  if (!isQuestion || current.length < 4) return null;
  const recent = previous.slice(-REPEATED_QUESTION_LOOKBACK);
  const times = 1 + recent.filter((text) => comparable(text) === current).length;
  return times >= REPEATED_QUESTION_COUNT ? original.trim().slice(0, 80) : null;
}

function comparable(text: string): string {
  return normalizeText(text).replace(/[^\p{L}\p{N}\s]+/gu, ' ').replace(/\s+/g, ' ').trim();
}
