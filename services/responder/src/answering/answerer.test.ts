import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { generateFernetKey } from '@parley/fernet';
import { createLogger } from '@parley/observability';
import type { Assistant } from '../assistants/assistant.ts';
import { createSecretBox } from '../assistants/secrets.ts';
import { contextEntryOf } from '../conversation-context/context.ts';
import { attachment, messageReceived, messageSent } from '../test-fixtures.ts';
import { PROVIDER_FAILED, createAnswerer } from './answerer.ts';
import { createChatCompletionsClient } from './chat-completions.ts';
import { ANSWERING_RULES, WHOLE_KNOWLEDGE_CHARS, buildChatMessages, relevantKnowledge } from './prompt.ts';

/** A local server that speaks the chat-completions API; each test decides how it answers. */
type Handler = (body: { model: string; messages: Array<{ role: string; content: string }> }, req: IncomingMessage, res: ServerResponse) => void;

let server: Server;
let baseUrl: string;
let handler: Handler;
const requests: Array<{ authorization: string | undefined; body: { model: string; messages: Array<{ role: string; content: string }> } }> = [];
const hanging = new Set<ServerResponse>();

beforeAll(async () => {
  server = createServer((req, res) => {
    let raw = '';
    req.on('data', (chunk: Buffer) => (raw += chunk.toString('utf8')));
    req.on('end', () => {
      const body = JSON.parse(raw);
      requests.push({ authorization: req.headers.authorization, body });
      if (req.url !== '/v1/chat/completions' || req.method !== 'POST') {
        res.writeHead(404).end();
        return;
      }
      handler(body, req, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
});

afterAll(async () => {
  for (const res of hanging) res.destroy();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

beforeEach(() => {
  requests.length = 0;
});

const completion = (content: string) => (_body: unknown, _req: IncomingMessage, res: ServerResponse) => {
  res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ id: 'c1', object: 'chat.completion', choices: [{ index: 0, message: { role: 'assistant', content }, finish_reason: 'stop' }] }));
};

const logger = createLogger({ service: 'responder-test', level: 'silent' });
const box = createSecretBox([generateFernetKey()]);
const who = { pageId: 'page-1', psid: 'psid-1' };

function llmAssistant(id: string, overrides: Partial<Assistant> = {}): Assistant {
  return {
    id,
    accountId: 'acct-1',
    name: 'Harbour helper',
    instructions: 'You are the assistant of Harbour Bikes.',
    visibility: 'private',
    provider: { type: 'openai-compatible', baseUrl, model: 'tiny-model', apiKeyRef: null },
    knowledge: [{ id: 'k1', title: 'Opening hours', content: 'Mon–Fri 9–17.' }],
    apiKeyCiphertext: box.seal('sk-test-123'),
    createdAt: '2026-11-26T10:00:00.000Z',
    updatedAt: '2026-11-26T10:00:00.000Z',
    ...overrides,
  };
}

function answerer(options: { timeoutMs?: number; volumeThreshold?: number } = {}) {
  const fallbacks: string[] = [];
  const chat = createChatCompletionsClient({ logger, timeoutMs: options.timeoutMs ?? 2_000, breaker: { volumeThreshold: options.volumeThreshold ?? 3, resetTimeoutMs: 60_000 } });
  const answering = createAnswerer({ logger, chat, apiKeyRefs: new Map(), secrets: box, allowPrivateNetwork: true, onFallback: (id) => fallbacks.push(id) });
  return { answering, fallbacks };
}

const entries = () => [
  contextEntryOf(messageReceived(who, { text: 'Hi!' }))!,
  contextEntryOf(messageSent(who, { text: 'Hi! How can I help?' }))!,
  contextEntryOf(messageReceived(who, { text: 'When are you open?' }))!,
  contextEntryOf(messageReceived(who, { text: null, attachments: [attachment('image')] }))!,
];

describe('the OpenAI-compatible provider', () => {
  it('posts the model, the instructions with the knowledge, and the conversation; answers with the model\'s content', async () => {
    handler = completion('We are open Monday to Friday, 9 to 5.');
    const { answering } = answerer();
    const result = await answering.answer({ assistant: llmAssistant('a-success'), customerFirstName: 'Ana', entries: entries() });
    expect(result).toEqual({ text: 'We are open Monday to Friday, 9 to 5.', source: 'openai-compatible', failure: null });
    expect(requests).toHaveLength(1);
    const { authorization, body } = requests[0]!;
    expect(authorization).toBe('Bearer sk-test-123');
    expect(body.model).toBe('tiny-model');
    expect(body.messages[0]!.role).toBe('system');
    expect(body.messages[0]!.content).toContain('You are the assistant of Harbour Bikes.');
    expect(body.messages[0]!.content).toContain('### Opening hours\nMon–Fri 9–17.');
    expect(body.messages[0]!.content).toContain("The customer's first name is Ana.");
    expect(body.messages.slice(1)).toEqual([
      { role: 'user', content: 'Hi!' },
      { role: 'assistant', content: 'Hi! How can I help?' },
      { role: 'user', content: 'When are you open?\n[The customer sent an image; you cannot see it.]' },
    ]);
  });

  it('given a provider answering 500, falls back to the offer of a person, and opens its breaker so the provider is spared', async () => {
    handler = (_body, _req, res) => res.writeHead(500, { 'content-type': 'application/json' }).end('{"error":{"message":"overloaded"}}');
    const { answering, fallbacks } = answerer({ volumeThreshold: 3 });
    const assistant = llmAssistant('a-failing');
    for (let i = 0; i < 3; i++) {
      const result = await answering.answer({ assistant, customerFirstName: null, entries: entries() });
      expect(result).toMatchObject({ text: PROVIDER_FAILED, source: 'fallback', failure: expect.stringContaining('HTTP 500') });
    }
    expect(requests).toHaveLength(3);
    const whileOpen = await answering.answer({ assistant, customerFirstName: null, entries: entries() });
    expect(whileOpen).toMatchObject({ text: PROVIDER_FAILED, source: 'fallback', failure: expect.stringMatching(/open/i) });
    expect(requests).toHaveLength(3); // the open breaker did not call the provider
    expect(fallbacks).toEqual(['a-failing', 'a-failing', 'a-failing', 'a-failing']);

    // Another assistant's provider has its own breaker: still called.
    handler = completion('fine');
    expect(await answering.answer({ assistant: llmAssistant('a-other'), customerFirstName: null, entries: entries() })).toMatchObject({ text: 'fine' });
  });

  it('given a provider that never answers, gives up at the timeout and offers a person', async () => {
    handler = (_body, _req, res) => {
      hanging.add(res); // never answered; destroyed after the tests
    };
    const { answering } = answerer({ timeoutMs: 300 });
    const result = await answering.answer({ assistant: llmAssistant('a-slow'), customerFirstName: null, entries: entries() });
    expect(result).toMatchObject({ text: PROVIDER_FAILED, source: 'fallback', failure: expect.stringContaining('no answer within 300 ms') });
  });

  it('given an answer without content, or not JSON, falls back', async () => {
    const { answering } = answerer();
    handler = (_body, _req, res) => res.writeHead(200).end('{"choices":[]}');
    expect(await answering.answer({ assistant: llmAssistant('a-empty'), customerFirstName: null, entries: entries() })).toMatchObject({ source: 'fallback', failure: expect.stringContaining('choices[0]') });
    handler = (_body, _req, res) => res.writeHead(200).end('<html>');
    expect(await answering.answer({ assistant: llmAssistant('a-html'), customerFirstName: null, entries: entries() })).toMatchObject({ source: 'fallback', failure: 'the answer is not JSON' });
  });

  it('sends no Authorization header when the assistant has no key, and refuses a private-network URL unless allowed', async () => {
    handler = completion('ok');
    const { answering } = answerer();
    await answering.answer({ assistant: llmAssistant('a-nokey', { apiKeyCiphertext: null }), customerFirstName: null, entries: entries() });
    expect(requests[0]!.authorization).toBeUndefined();

    const strict = createAnswerer({ logger, chat: createChatCompletionsClient({ logger, timeoutMs: 1_000 }), apiKeyRefs: new Map(), secrets: box, allowPrivateNetwork: false });
    expect(await strict.answer({ assistant: llmAssistant('a-private-net'), customerFirstName: null, entries: entries() })).toMatchObject({ source: 'fallback', failure: expect.stringContaining('private network') });
    expect(requests).toHaveLength(1);
  });

  it('uses an operator key only for the server it is bound to', async () => {
    handler = completion('ok');
    const chat = createChatCompletionsClient({ logger, timeoutMs: 1_000 });
    const refs = new Map([['SHARED', { apiKey: 'sk-operator', baseUrl }]]);
    const answering = createAnswerer({ logger, chat, apiKeyRefs: refs, secrets: box, allowPrivateNetwork: true });
    const withRef = llmAssistant('a-ref', { apiKeyCiphertext: null, provider: { type: 'openai-compatible', baseUrl, model: 'm', apiKeyRef: 'SHARED' } });
    expect(await answering.answer({ assistant: withRef, customerFirstName: null, entries: entries() })).toMatchObject({ source: 'openai-compatible' });
    expect(requests[0]!.authorization).toBe('Bearer sk-operator');
    const elsewhere = { ...withRef, provider: { ...withRef.provider, baseUrl: `${baseUrl}/other` } } as Assistant;
    expect(await answering.answer({ assistant: elsewhere, customerFirstName: null, entries: entries() })).toMatchObject({ source: 'fallback', failure: expect.stringContaining('may only be sent to') });
    expect(requests).toHaveLength(1);
  });
});

describe('the built-in provider through the answerer', () => {
  it('answers without any network call', async () => {
    const { answering } = answerer();
    const assistant = llmAssistant('a-builtin', { provider: { type: 'builtin' } });
    const result = await answering.answer({ assistant, customerFirstName: null, entries: [contextEntryOf(messageReceived(who, { text: 'What are your opening hours?' }))!] });
    expect(result).toEqual({ text: 'Mon–Fri 9–17.', source: 'builtin', failure: null });
    expect(requests).toHaveLength(0);
  });
});

describe('the prompt', () => {
  it('tells the model its rules and keeps a person\'s messages apart from the assistant\'s', () => {
    const messages = buildChatMessages({
      assistant: { name: 'x', instructions: '', knowledge: [] },
      customerFirstName: null,
      entries: [contextEntryOf(messageReceived(who, { text: 'hello' }))!, contextEntryOf(messageSent(who, { text: 'A person here.', author: 'agent' }))!],
    });
    expect(messages[0]!.content).toContain(ANSWERING_RULES);
    expect(messages[0]!.content).toContain('Knowledge: none.');
    expect(messages[2]).toEqual({ role: 'assistant', content: '[A person from the team wrote:] A person here.' });
  });

  it('gives a large knowledge base only the entries relevant to the latest turn', () => {
    const filler = 'Lorem ipsum dolor sit amet. '.repeat(40);
    const knowledge = [
      ...Array.from({ length: 10 }, (_, i) => ({ id: `f${i}`, title: `Topic ${i}`, content: filler })),
      { id: 'bikes', title: 'Bike rental', content: 'Bikes cost €20 a day.' },
    ];
    expect(knowledge.reduce((n, k) => n + k.title.length + k.content.length, 0)).toBeGreaterThan(WHOLE_KNOWLEDGE_CHARS);
    const chosen = relevantKnowledge({ assistant: { name: 'x', instructions: '', knowledge }, customerFirstName: null, entries: [contextEntryOf(messageReceived(who, { text: 'How much is bike rental?' }))!] });
    expect(chosen.map((k) => k.id)).toEqual(['bikes']);
  });
});
