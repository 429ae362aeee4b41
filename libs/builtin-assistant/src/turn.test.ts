import { latestCustomerTurn } from './turn.ts';
import type { Author, ConversationEntry } from './turn.ts';

const said = (author: Author, text: string): ConversationEntry => ({ author, text, attachments: [], postback: null });

describe("the customer's latest turn", () => {
  it('is every customer message since the assistant or a person last answered', () => {
    const entries = [said('customer', 'old question'), said('assistant', 'old answer'), said('customer', 'first'), said('customer', 'second')];
    expect(latestCustomerTurn(entries).map((e) => e.text)).toEqual(['first', 'second']);
    expect(latestCustomerTurn(entries.slice(0, 2))).toEqual([]);
    expect(latestCustomerTurn([said('customer', 'a'), said('agent', 'a person answered')])).toEqual([]);
  });

  it("is not ended by the Page's automated messages (greeting, away message)", () => {
    const entries = [said('customer', 'what are your opening hours?'), said('page', 'Welcome to our shop!')];
    expect(latestCustomerTurn(entries).map((e) => e.text)).toEqual(['what are your opening hours?']);
  });

  it('is empty for an empty conversation, and keeps the entries as given (any extra fields included)', () => {
    expect(latestCustomerTurn([])).toEqual([]);
    const withId = { ...said('customer', 'hi'), eventId: 'e-1' };
    expect(latestCustomerTurn([withId])[0]).toBe(withId);
  });
});
