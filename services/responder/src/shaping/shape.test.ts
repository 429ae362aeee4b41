import { DEFAULT_SHAPE, ELLIPSIS, MESSENGER_TEXT_LIMIT, MORE_OFFER, shapeAnswer, validateShapeOptions } from './shape.ts';

const words = (parts: string[]) => parts.join(' ').replace(/…/g, '').split(/\s+/).filter(Boolean);

function sentence(n: number, length: number): string {
  const body = `Sentence ${n} says`;
  let text = body;
  while (text.length < length - 1) text += ' more';
  return `${text.slice(0, length - 1).trimEnd()}.`;
}

describe('shaping an answer into Messenger messages', () => {
  it('given a short answer, then it is one message, whitespace normalized', () => {
    expect(shapeAnswer('  We are open\t\tfrom 9   to 5.  ')).toEqual(['We are open from 9 to 5.']);
  });

  it('given an empty or blank answer, then there are no parts (the caller falls back)', () => {
    expect(shapeAnswer('')).toEqual([]);
    expect(shapeAnswer(' \n\t \n ')).toEqual([]);
    expect(shapeAnswer('\u200B\uFEFF')).toEqual([]);
  });

  it('given an answer of exactly 320 characters, then it is one message', () => {
    const text = sentence(1, 320);
    expect(text).toHaveLength(320);
    expect(shapeAnswer(text)).toEqual([text]);
  });

  it('given sentences that do not fit together, then it splits between sentences, in order', () => {
    const a = sentence(1, 200);
    const b = sentence(2, 200);
    const c = sentence(3, 100);
    expect(shapeAnswer(`${a} ${b} ${c}`)).toEqual([a, `${b} ${c}`]);
  });

  it('never cuts inside a sentence when a sentence boundary is available', () => {
    const text = 'Our shop is open Monday to Friday. ' + 'Deliveries take two to three working days within the country. '.repeat(8);
    const parts = shapeAnswer(text);
    expect(parts.length).toBeGreaterThan(1);
    for (const part of parts) {
      expect(part.length).toBeLessThanOrEqual(320);
      expect(part).toMatch(/\.$/);
    }
    expect(words(parts)).toEqual(words([text]));
  });

  it('given one very long sentence, then it splits between words and keeps every word', () => {
    const text = Array.from({ length: 150 }, (_, i) => `word${i}`).join(' ');
    const parts = shapeAnswer(text);
    expect(parts.length).toBeGreaterThan(1);
    for (const part of parts) {
      expect(part.length).toBeLessThanOrEqual(320);
      expect(part).toBe(part.trim());
      expect(part).not.toMatch(/^\S*\d\S*$/); // several words per part, not one each
    }
    expect(words(parts)).toEqual(words([text]));
  });

  it('given a single token longer than a message, then it is cut hard and nothing is lost', () => {
    const url = `https://example.com/${'a'.repeat(900)}`;
    const parts = shapeAnswer(`See ${url} for details.`);
    for (const part of parts) expect(part.length).toBeLessThanOrEqual(320);
    expect(parts.join('').replace(/\s+/g, '')).toBe(`See${url}fordetails.`);
  });

  it('never breaks an emoji or an accented letter when it has to cut hard', () => {
    const token = '👍🏽'.repeat(200) + 'é'.repeat(10);
    const parts = shapeAnswer(token);
    expect(parts.length).toBeGreaterThan(1);
    for (const part of parts) {
      expect(part.length).toBeLessThanOrEqual(320);
      // A lone surrogate would make encodeURIComponent throw.
      expect(() => encodeURIComponent(part)).not.toThrow();
      expect(part.startsWith('\u{1F3FD}')).toBe(false); // never a skin tone without its emoji
    }
    expect(parts.join('')).toBe(token);
  });

  it('keeps paragraphs and lines apart inside a message and drops blank lines', () => {
    const text = 'Opening hours:\n  Mon–Fri 9–17  \n\n\n\nSat 10–14\n\n  ';
    expect(shapeAnswer(text)).toEqual(['Opening hours:\nMon–Fri 9–17\n\nSat 10–14']);
  });

  it('given more than five messages of text, then it keeps four, ends the fourth with an ellipsis and offers a person', () => {
    const text = Array.from({ length: 10 }, (_, i) => sentence(i, 300)).join(' ');
    const parts = shapeAnswer(text);
    expect(parts).toHaveLength(DEFAULT_SHAPE.maxParts);
    expect(parts.slice(0, 3)).toEqual([sentence(0, 300), sentence(1, 300), sentence(2, 300)]);
    expect(parts[3]).toBe(sentence(3, 300).replace(/\.$/, '') + ELLIPSIS);
    expect(parts[4]).toBe(MORE_OFFER);
  });

  it('shortens the last kept part when the ellipsis does not fit', () => {
    const text = Array.from({ length: 6 }, () => 'x'.repeat(320)).join(' ');
    const parts = shapeAnswer(text, { maxChars: 320, maxParts: 2 });
    expect(parts).toEqual(['x'.repeat(319) + ELLIPSIS, MORE_OFFER]);
  });

  it('given any text, every part is non-empty, within the limit, and the words stay in order', () => {
    let seed = 42;
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const vocabulary = ['Hello', 'world.', 'A', 'very-long-token-' + 'z'.repeat(400), 'yes!', 'no?', '\n', '\n\n', '  ', 'emoji🙂', 'end.'];
    for (let round = 0; round < 200; round++) {
      const length = Math.floor(random() * 300);
      const text = Array.from({ length }, () => vocabulary[Math.floor(random() * vocabulary.length)]).join(' ');
      const options = { maxChars: 100 + Math.floor(random() * 400), maxParts: 20 };
      const parts = shapeAnswer(text, options);
      for (const part of parts) {
        expect(part.trim()).not.toBe('');
        expect(part.length).toBeLessThanOrEqual(options.maxChars);
      }
      if (parts.length < options.maxParts) expect(parts.join('').replace(/\s+/g, '')).toBe(text.replace(/\s+/g, ''));
    }
  });

  it('refuses options that could exceed Meta\'s limit or leave no room for the offer of a person', () => {
    expect(() => shapeAnswer('hi', { maxChars: MESSENGER_TEXT_LIMIT, maxParts: 5 })).toThrow(RangeError);
    expect(() => validateShapeOptions({ maxChars: 50, maxParts: 5 })).toThrow(/maxChars/);
    expect(() => validateShapeOptions({ maxChars: 320, maxParts: 1 })).toThrow(/maxParts/);
    expect(() => validateShapeOptions({ maxChars: 1999, maxParts: 20 })).not.toThrow();
  });

  it('with the largest allowed parts, never produces a message Meta would refuse', () => {
    const parts = shapeAnswer('y'.repeat(10_000), { maxChars: 1999, maxParts: 20 });
    expect(parts).toHaveLength(6);
    for (const part of parts) expect(part.length).toBeLessThan(MESSENGER_TEXT_LIMIT);
  });
});
