/**
 * Retrieval over an assistant's knowledge: which entries a customer's words are about. Pure.
 * Okapi BM25 ranks the entries; a match must also cover enough of the question (the share of the
 * question's IDF weight found in the entry), so that one common word in a long question does not
 * pick an unrelated entry — the built-in assistant answers with an entry only when it is about
 * the question, and otherwise says it is not sure.
 */

export type Passage = { id: string; title: string; content: string };
export type Ranked<T extends Passage> = { passage: T; score: number; coverage: number };

const K1 = 1.2;
const B = 0.75;
/** A title says what an entry is about: its words count twice. */
const TITLE_WEIGHT = 2;
/** Share of the question's weight an entry must contain to be an answer. */
export const MIN_COVERAGE = 0.4;

// English function words, question words and politeness that say nothing about the topic.
const STOPWORDS = new Set(
  `a about above after again against all am an and any are aren as at be because been before being below between both but by
  can cannot could couldn did didn do does doesn doing don down during each few for from further had hadn has hasn have haven
  having he her here hers herself him himself his how i if in into is isn it its itself just let me mine more most mustn my myself
  no nor not now of off on once only or other ought our ours ourselves out over own same shan she should shouldn so some such than
  that the their theirs them themselves then there these they this those through to too under until up very was wasn we were weren
  what when where which while who whom why will with won would wouldn you your yours yourself yourselves
  also anything something someone anyone ok okay yes yeah please pls plz thanks thank thx hi hello hey dear want wanna like know
  tell need get got may might must shall im ive id youre dont cant wont whats hows wheres whens thats its u ur r`
    .split(/\s+/)
    .filter(Boolean),
);

/** Lower-cased, accent-free word stems without stopwords: "Opening hours?" → ["open", "hour"]. */
export function tokenize(text: string): string[] {
  const words = text
    .normalize('NFKD')
    .replace(/\p{M}+/gu, '')
    .toLowerCase()
    .replace(/['’]/g, '')
    .split(/[^\p{L}\p{N}]+/u);
  const tokens: string[] = [];
  for (const word of words) {
    if (word === '' || STOPWORDS.has(word)) continue;
    if (word.length < 2 && !/\d/.test(word)) continue;
    tokens.push(stem(word));
  }
  return tokens;
}

/** A light suffix stripper (plurals, -ing, -ed), enough for "hours"/"hour" and "shipping"/"shipped"/"ship". */
export function stem(word: string): string {
  if (/\d/.test(word) || word.length <= 3) return word;
  let w = word;
  if (w.endsWith('ies') && w.length > 4) w = `${w.slice(0, -3)}y`;
  else if (/(ss|x|ch|sh|zz)es$/.test(w)) w = w.slice(0, -2);
  else if (w.endsWith('s') && !/(ss|us|is)$/.test(w)) w = w.slice(0, -1);
  if (w.endsWith('ing') && w.length > 5) w = undouble(w.slice(0, -3));
  else if (w.endsWith('ed') && w.length > 4) w = undouble(w.slice(0, -2));
  return w;
}

function undouble(w: string): string {
  return /([^aeiouls])\1$/.test(w) ? w.slice(0, -1) : w;
}

type Indexed<T extends Passage> = { passage: T; terms: Map<string, number>; length: number };

/** Ranks passages for a question, best first; passages sharing no word with it are left out. */
export function rank<T extends Passage>(question: string, passages: ReadonlyArray<T>): Ranked<T>[] {
  const queryTerms = [...new Set(tokenize(question))];
  if (queryTerms.length === 0 || passages.length === 0) return [];
  const indexed: Indexed<T>[] = passages.map((passage) => {
    const tokens = [...Array.from({ length: TITLE_WEIGHT }, () => tokenize(passage.title)).flat(), ...tokenize(passage.content)];
    const terms = new Map<string, number>();
    for (const token of tokens) terms.set(token, (terms.get(token) ?? 0) + 1);
    return { passage, terms, length: tokens.length };
  });
  const averageLength = indexed.reduce((sum, d) => sum + d.length, 0) / indexed.length || 1;
  const idf = new Map<string, number>();
  for (const term of queryTerms) {
    // A word no passage contains weighs like the rarest word that some passage contains: it says the
    // question is partly about something else, but must not drown the words the knowledge does cover.
    const containing = Math.max(1, indexed.filter((d) => d.terms.has(term)).length);
    // The "plus one" form stays positive even for a term in every passage of a small knowledge base.
    idf.set(term, Math.log(1 + (indexed.length - containing + 0.5) / (containing + 0.5)));
  }
  const totalWeight = queryTerms.reduce((sum, term) => sum + idf.get(term)!, 0);
  const ranked: Ranked<T>[] = [];
  for (const document of indexed) {
    let score = 0;
    let covered = 0;
    for (const term of queryTerms) {
      const frequency = document.terms.get(term) ?? 0;
      if (frequency === 0) continue;
      const weight = idf.get(term)!;
      covered += weight;
      score += (weight * frequency * (K1 + 1)) / (frequency + K1 * (1 - B + (B * document.length) / averageLength));
    }
    if (score > 0) ranked.push({ passage: document.passage, score, coverage: covered / totalWeight });
  }
  return ranked.sort((a, b) => b.score - a.score || b.coverage - a.coverage);
}

/** The passage that answers the question, if one covers enough of it. */
export function bestMatch<T extends Passage>(question: string, passages: ReadonlyArray<T>, minCoverage = MIN_COVERAGE): Ranked<T> | null {
  const best = rank(question, passages).find((r) => r.coverage >= minCoverage);
  return best ?? null;
}
