import { ESCALATION_THRESHOLD, assessEscalation, normalizeText } from './detector.ts';
import type { EscalationContext } from './detector.ts';

const none: EscalationContext = { keywords: [], previousMessages: [] };

function assess(text: string | null, context: Partial<EscalationContext> = {}) {
  return assessEscalation(text, { ...none, ...context });
}

describe('escalation detector: requests for a person escalate on their own', () => {
  it.each([
    'talk to a human',
    'Can I talk to a human please?',
    'I want to speak to someone',
    'speak with an agent',
    'Could I speak with a manager?',
    'I need a real person',
    'Is this a real person or a bot?',
    'connect me to a representative',
    'transfer me to customer service',
    'get me a human!',
    'Let me talk to somebody',
    'i need to talk to someone from your team',
    'live agent',
    'I want a live person',
    'agent',
    'Agent please',
    'AGENT!',
    'an agent now please',
    'representative',
    'operator',
    'human',
    'customer service please',
    'customer support',
    'Is there anyone there?',
    'I’d like a human being to look at this', // curly apostrophe
    // French
    'Je veux parler à un humain',
    'Je voudrais parler à quelqu’un',
    'parler à un conseiller svp',
    'une vraie personne svp',
    'service client',
    // Spanish
    'Quiero hablar con una persona',
    'hablar con un agente por favor',
    'atención al cliente',
    'necesito una persona real',
    // German
    'Ich möchte mit einem Menschen sprechen',
    'Kann ich mit einem Mitarbeiter sprechen?',
    'Kundenservice bitte',
    'eine echte Person bitte',
    // Italian, Portuguese
    'vorrei parlare con una persona',
    'quero falar com um atendente',
  ])('"%s"', (text) => {
    const result = assess(text);
    expect(result).toMatchObject({ escalate: true, reason: 'human_requested' });
    expect(result.score).toBeGreaterThanOrEqual(ESCALATION_THRESHOLD);
    expect(result.detail).toMatch(/asked for a person/);
  });
});

describe('escalation detector: ordinary messages do not escalate', () => {
  it.each([
    'Hello',
    'What are your opening hours?',
    'Do you deliver to Lyon?',
    'My travel agent booked the room for me',
    'What does the mobile operator charge for roaming?',
    'I need support with my order', // the assistant is the support; not a request for a person
    'Who is the representative for the north region?',
    'Thanks!!!',
    'Why???',
    'I am a bit disappointed with the color',
    'This is the worst weather ever, can I still pick up my order?',
    'Stupid question, but how do I reset my password?',
    'Damn, I forgot my password', // mild: not in the profanity list
    'crap, wrong button',
    'I LOVE IT',
    'NASA and the FBI use your product?',
    'Can you send the PDF to my email?',
    'Where is my order?',
    'The agenda for the event?', // "agent" is not in "agenda"
    'I want a humane solution', // "human" is not in "humane"
    'Sure, that works.',
    '',
    '   ',
  ])('"%s"', (text) => {
    const result = assess(text);
    expect(result.escalate).toBe(false);
    expect(result.reason).toBeNull();
    expect(result.score).toBeLessThan(ESCALATION_THRESHOLD);
  });

  it('scores a missing text (an attachment) as nothing', () => {
    expect(assess(null)).toEqual({ score: 0, signals: [], escalate: false, reason: null, detail: null });
  });
});

describe('escalation detector: frustration needs a strong signal or two', () => {
  it.each([
    ['WHERE IS MY ORDER!!!', ['shouting', 'repeated_punctuation']],
    ['this is useless and ridiculous', ['negative_words', 'negative_words']],
    ['This is fucking ridiculous', ['profanity', 'negative_words']],
    ['you are an idiot', ['insult', 'aimed_at_us']],
    ['You are useless', ['negative_words', 'aimed_at_us']],
    ['useless bot', ['insult', 'negative_words']],
    ['WORST SERVICE EVER', ['shouting', 'negative_words']],
    ['Your customer service is terrible', ['person_word', 'negative_words']],
    ['What a scam???', ['negative_words', 'repeated_punctuation']],
    ['I am so frustrated, this is unacceptable', ['negative_words', 'negative_words']],
    ['wtf is this shit', ['profanity', 'profanity']],
  ])('"%s"', (text, _kinds) => {
    const result = assess(text);
    expect(result.escalate).toBe(true);
    expect(result.reason).toBe('frustration');
    expect(result.detail).toMatch(/seems frustrated/);
  });

  it.each([
    ['shouting alone', 'WHERE IS MY ORDER'],
    ['repeated punctuation alone', 'Hello???'],
    ['one negative word', 'this is useless'],
    ['one profanity', 'fucking finally'],
    ['one insult', 'stupid me, I forgot'],
  ])('%s stays below the threshold', (_name, text) => {
    const result = assess(text);
    expect(result.escalate).toBe(false);
    expect(result.signals).toHaveLength(1);
  });

  it('escalates the third time the same question is asked among the recent messages', () => {
    const result = assess('Where is my order?', { previousMessages: ['Where is my order?', 'ok', 'where is my order ??'] });
    expect(result).toMatchObject({ escalate: true, reason: 'frustration' });
    expect(result.signals.map((s) => s.kind)).toEqual(['repeated_question']);
  });

  it('does not count a question asked twice, short replies repeated, or repeats outside the recent messages', () => {
    expect(assess('Where is my order?', { previousMessages: ['Where is my order?'] }).escalate).toBe(false);
    expect(assess('yes', { previousMessages: ['yes', 'yes'] }).escalate).toBe(false);
    expect(assess('ok', { previousMessages: ['ok', 'ok', 'ok'] }).escalate).toBe(false);
    const longAgo = ['Where is my order?', 'Where is my order?', 'a', 'b', 'c', 'd', 'e'];
    expect(assess('Where is my order?', { previousMessages: longAgo }).escalate).toBe(false);
  });
});

describe('escalation detector: the Page\'s keywords', () => {
  it.each([
    ['refund', 'I want a refund'],
    ['refund', 'REFUND NOW'],
    ['cancel my order', 'please Cancel  my order today'],
    ['réclamation', 'je veux faire une reclamation'], // accents do not matter
    ['lawyer', 'My lawyer will call you.'],
  ])('keyword "%s" escalates "%s"', (keyword, text) => {
    const result = assess(text, { keywords: [keyword] });
    expect(result).toMatchObject({ escalate: true, reason: 'keyword' });
    expect(result.detail).toContain(keyword);
  });

  it.each([
    ['refund', 'refunding is possible?'],
    ['cancel', 'cancellation policy?'],
    ['law', 'lawyer'],
  ])('keyword "%s" does not match inside a word: "%s"', (keyword, text) => {
    expect(assess(text, { keywords: [keyword] }).signals.some((s) => s.kind === 'keyword')).toBe(false);
  });

  it('treats keywords with regular-expression characters literally', () => {
    expect(assess('is it c++ or c?', { keywords: ['c++'] }).reason).toBe('keyword');
    expect(assess('a.b', { keywords: ['a*b'] }).escalate).toBe(false);
  });

  it('names the keyword rather than frustration when both apply', () => {
    expect(assess('REFUND NOW!!! this is ridiculous', { keywords: ['refund'] }).reason).toBe('keyword');
  });
});

describe('normalizeText', () => {
  it('lowers case, removes accents, straightens apostrophes and collapses whitespace', () => {
    expect(normalizeText('  Ich MÖCHTE  mit   jemandem’s Straße \n sprechen ')).toBe("ich mochte mit jemandem's strasse sprechen");
  });
});
