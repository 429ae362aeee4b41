import {
  HOW_CAN_I_HELP,
  MEDIA_FOLLOW_UP,
  NOT_SURE,
  NOT_SURE_ABOUT_THE_REST,
  YOU_ARE_WELCOME,
  builtinAnswer,
  instructionPassages,
  isGreeting,
  isThanks,
} from './builtin-assistant.ts';
import { bestMatch, rank, stem, tokenize } from './retrieval.ts';
import type { AttachmentKind, AttachmentNote, ConversationEntry } from './turn.ts';

const knowledge = [
  { id: 'hours', title: 'Opening hours', content: 'We are open Monday to Friday from 9:00 to 17:00, and Saturday from 10:00 to 14:00.' },
  { id: 'shipping', title: 'Shipping', content: 'We ship within 2–3 working days. Shipping is free for orders over €50.' },
  { id: 'returns', title: 'Returns and refunds', content: 'You can return any item within 30 days for a full refund. Bring the receipt.' },
  { id: 'address', title: 'Where to find us', content: 'Our shop is at 12 Harbour Street, Brighton.' },
  { id: 'payment', title: 'Payment methods', content: 'We accept cards, PayPal and cash in the shop.' },
];

const note = (kind: AttachmentKind, like = false): AttachmentNote => ({ kind, title: null, like });
const customer = (text: string | null, attachments: AttachmentNote[] = []): ConversationEntry => ({ author: 'customer', text, attachments, postback: null });
const page = (text: string): ConversationEntry => ({ author: 'assistant', text, attachments: [], postback: null });
const answer = (entries: ConversationEntry[], firstName: string | null = null, instructions = '') =>
  builtinAnswer({ assistant: { instructions, knowledge }, customerFirstName: firstName, entries });

describe('retrieval', () => {
  it('tokenizes to stems without stopwords, accents or punctuation', () => {
    expect(tokenize('What are your Opening Hours?')).toEqual(['open', 'hour']);
    expect(tokenize('Café déliveries, please!')).toEqual(['cafe', 'delivery']);
    expect(['shipping', 'shipped', 'ships'].map(stem)).toEqual(['ship', 'ship', 'ship']);
  });

  it('ranks the entry that is about the question first', () => {
    expect(rank('when are you open on saturday?', knowledge)[0]?.passage.id).toBe('hours');
    expect(rank('how long does shipping take', knowledge)[0]?.passage.id).toBe('shipping');
    expect(bestMatch('can I get a refund?', knowledge)?.passage.id).toBe('returns');
    expect(bestMatch('do you take paypal', knowledge)?.passage.id).toBe('payment');
  });

  it('finds no answer for a question the knowledge does not cover, even when a word overlaps', () => {
    expect(bestMatch('do you sell gift cards for birthdays?', knowledge)).toBeNull();
    expect(bestMatch('what is the meaning of life', knowledge)).toBeNull();
    expect(bestMatch('', knowledge)).toBeNull();
    expect(bestMatch('opening hours', [])).toBeNull();
  });
});

describe('the built-in assistant', () => {
  it('answers a question with the matching knowledge entry', () => {
    expect(answer([customer('What are your opening hours?')])).toEqual({ text: knowledge[0]!.content, matched: ['hours'], offersPerson: false });
  });

  it('never invents: when nothing matches it says so and offers a person', () => {
    expect(answer([customer('Do you sell gift cards?')])).toEqual({ text: NOT_SURE, matched: [], offersPerson: true });
    expect(NOT_SURE).toBe("I'm not sure about that — would you like me to connect you with a person?");
  });

  it('greets back, by first name when it is known', () => {
    expect(answer([customer('Hello!')], 'Ana').text).toBe(`Hi Ana! ${HOW_CAN_I_HELP}`);
    expect(answer([customer('hey there 👋')]).text).toBe(`Hi there! ${HOW_CAN_I_HELP}`);
  });

  it('greets back and answers when a greeting opens a question', () => {
    expect(answer([customer('Hi, where is your shop?')], 'Ana').text).toBe(`Hi Ana! ${knowledge[3]!.content}`);
  });

  it('thanks back', () => {
    expect(answer([customer('thanks a lot!')]).text).toBe(YOU_ARE_WELCOME);
  });

  it('answers every message of the customer\'s turn in one answer, each entry once', () => {
    const result = answer([page('Anything else?'), customer('Hi'), customer('how much is shipping?'), customer('and can I return things?'), customer('shipping to Brighton?')]);
    expect(result.matched).toEqual(['shipping', 'returns']);
    expect(result.text).toBe(`Hi there! ${knowledge[1]!.content} ${knowledge[2]!.content}`);
  });

  it('answers what it knows and offers a person for the rest', () => {
    const result = answer([customer('What are your opening hours?'), customer('Do you sell gift cards?')]);
    expect(result.text).toBe(`${knowledge[0]!.content} ${NOT_SURE_ABOUT_THE_REST}`);
    expect(result.offersPerson).toBe(true);
  });

  it('only answers the latest turn, not questions already answered', () => {
    const result = answer([customer('What are your opening hours?'), page(knowledge[0]!.content), customer('Do you accept PayPal?')]);
    expect(result.matched).toEqual(['payment']);
  });

  it.each([
    ['image', "Thanks for the picture — I can't see images, though."],
    ['video', "Thanks for the video — I can't watch videos, though."],
    ['audio', "Thanks for the voice message — I can't listen to audio, though."],
    ['file', "Thanks for the file — I can't open files, though."],
    ['location', "Thanks for sharing your location — I can't see maps, though."],
    ['fallback', "Thanks for the link — I can't open links, though."],
  ] as const)('acknowledges a %s it cannot see and offers a person', (type, acknowledgement) => {
    const result = answer([customer(null, [note(type)])]);
    expect(result.text).toBe(`${acknowledgement} ${MEDIA_FOLLOW_UP}`);
    expect(result.offersPerson).toBe(true);
  });

  it('acknowledges a sticker without offering a person, and a like with a like', () => {
    expect(answer([customer(null, [note('sticker')])]).text).toBe(`Thanks for the sticker! ${HOW_CAN_I_HELP}`);
    expect(answer([customer(null, [note('sticker', true)])]).text).toBe(`👍 ${HOW_CAN_I_HELP}`);
  });

  it('answers the words of a message and acknowledges its media', () => {
    const result = answer([customer('Can I return this?', [note('image')])]);
    expect(result.text).toBe(`${knowledge[2]!.content} Thanks for the picture — I can't see images, though. ${MEDIA_FOLLOW_UP}`);
  });

  it('answers from the factual paragraphs of the instructions, never from directives to the assistant', () => {
    const instructions = 'You are the friendly assistant of Harbour Bikes. Be concise.\n\nBike rentals cost €20 per day, helmets included.';
    expect(instructionPassages(instructions).map((p) => p.content)).toEqual(['Bike rentals cost €20 per day, helmets included.']);
    expect(answer([customer('How much is a bike rental?')], null, instructions).text).toBe('Bike rentals cost €20 per day, helmets included.');
    expect(answer([customer('Are you friendly and concise?')], null, instructions).text).toBe(NOT_SURE);
  });

  it('never leaves an empty turn without a word', () => {
    expect(answer([]).text).toBe(NOT_SURE);
  });

  it('recognises greetings and thanks, and not questions that contain those words', () => {
    expect(['hi', 'Hello!!', 'good morning', 'hey team', '👋'].map(isGreeting)).toEqual([true, true, true, true, true]);
    expect(['hi, what time do you open?', 'good product?', 'hello kitty plush'].map(isGreeting)).toEqual([false, false, false]);
    expect(['thanks', 'Thank you so much 🙏', 'ty'].map(isThanks)).toEqual([true, true, true]);
    expect(['thanks, what about returns?', 'ok'].map(isThanks)).toEqual([false, false]);
  });
});
