import { rank } from '@parley/builtin-assistant';
import type { Passage } from '@parley/builtin-assistant';
import { describeEntry, latestCustomerTurn } from '../conversation-context/context.ts';
import type { ContextEntry } from '../conversation-context/context.ts';

/**
 * The chat-completions messages for a language model: a system message (the assistant's
 * instructions, the relevant knowledge, and the rules of answering in Messenger), then the recent
 * conversation, customer messages as `user` and the Page's as `assistant`. Pure.
 */

export type ChatMessage = { role: 'system' | 'user' | 'assistant'; content: string };

export type PromptInput = {
  assistant: { name: string; instructions: string; knowledge: ReadonlyArray<Passage> };
  customerFirstName: string | null;
  entries: ReadonlyArray<ContextEntry>;
};

/** Knowledge this small goes to the model whole; larger knowledge is narrowed to the entries retrieval finds relevant. */
export const WHOLE_KNOWLEDGE_CHARS = 6_000;
export const MAX_KNOWLEDGE_CHARS = 12_000;
export const MAX_RELEVANT_ENTRIES = 5;

export const ANSWERING_RULES = [
  'You are answering a customer of this business in Facebook Messenger.',
  'Answer only from the instructions above and the knowledge below. If they do not answer the question, say you are not sure and offer to connect the customer with a person. Never invent facts such as prices, dates, stock or policies.',
  'You cannot see images, videos, stickers or files, listen to audio, open links or look at locations. When the customer sends one, say so kindly and offer to connect them with a person.',
  'If the customer asks for a person, say you will connect them with a person.',
  'Write short plain-text messages: no markdown, no headings, no tables.',
].join('\n');

export function buildChatMessages(input: PromptInput): ChatMessage[] {
  const knowledge = relevantKnowledge(input);
  const system = [
    input.assistant.instructions.trim(),
    ANSWERING_RULES,
    input.customerFirstName ? `The customer's first name is ${input.customerFirstName.trim().slice(0, 50)}.` : '',
    knowledge.length > 0 ? `Knowledge:\n${knowledge.map((p) => `### ${p.title}\n${p.content}`).join('\n\n')}` : 'Knowledge: none.',
  ]
    .filter(Boolean)
    .join('\n\n');
  const conversation: ChatMessage[] = [];
  for (const entry of input.entries) {
    const role = entry.author === 'customer' ? 'user' : 'assistant';
    const content = (entry.author === 'agent' ? '[A person from the team wrote:] ' : '') + describeEntry(entry);
    const last = conversation[conversation.length - 1];
    // Several messages in a row from one side are one turn for the model.
    if (last && last.role === role) last.content += `\n${content}`;
    else conversation.push({ role, content });
  }
  return [{ role: 'system', content: system }, ...conversation];
}

/** All of a small knowledge base; otherwise the entries that best match the customer's latest turn, within a budget. */
export function relevantKnowledge(input: PromptInput): Passage[] {
  const all = input.assistant.knowledge;
  const size = all.reduce((sum, p) => sum + p.title.length + p.content.length, 0);
  if (size <= WHOLE_KNOWLEDGE_CHARS) return [...all];
  const question = latestCustomerTurn(input.entries)
    .map((entry) => [entry.postback?.title, entry.text].filter(Boolean).join(' '))
    .join('\n');
  const chosen: Passage[] = [];
  let budget = MAX_KNOWLEDGE_CHARS;
  for (const { passage } of rank(question, all).slice(0, MAX_RELEVANT_ENTRIES)) {
    const cost = passage.title.length + passage.content.length;
    if (cost > budget) continue;
    chosen.push(passage);
    budget -= cost;
  }
  return chosen;
}
