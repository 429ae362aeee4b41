import { generateFernetKey } from '@parley/fernet';
import {
  API_KEY_SET,
  LIMITS,
  apiKeyChange,
  assistantAccess,
  isPrivateNetworkUrl,
  parseAssistantInput,
  toAssistantView,
  withEntryIds,
} from './assistant.ts';
import type { Assistant } from './assistant.ts';
import { createSecretBox, readApiKeyRefs, resolveApiKey } from './secrets.ts';

const openai = { type: 'openai-compatible', baseUrl: 'https://llm.example/v1', model: 'gpt-x' } as const;

function assistant(overrides: Partial<Assistant> = {}): Assistant {
  return {
    id: 'a1',
    accountId: 'acct-1',
    name: 'Helper',
    instructions: '',
    visibility: 'private',
    provider: { ...openai, apiKeyRef: null },
    knowledge: [],
    apiKeyCiphertext: 'gAAAA-ciphertext',
    createdAt: '2026-11-26T10:00:00.000Z',
    updatedAt: '2026-11-26T10:00:00.000Z',
    ...overrides,
  };
}

describe('assistant input', () => {
  it('accepts a minimal assistant and fills the defaults: private, built-in, no knowledge', () => {
    expect(parseAssistantInput({ name: ' Helper ' })).toEqual({
      ok: true,
      input: { name: 'Helper', instructions: '', visibility: 'private', provider: { type: 'builtin' }, knowledge: [] },
    });
  });

  it('lists every problem at once, with its path', () => {
    const result = parseAssistantInput({ name: '', visibility: 'secret', provider: { type: 'openai-compatible', baseUrl: 'ftp://x', model: '' }, knowledge: [{ title: 'x' }], colour: 'red' });
    expect(result.ok).toBe(false);
    const paths = result.ok ? [] : result.issues.map((i) => i.path);
    expect(paths).toEqual(expect.arrayContaining(['name', 'visibility', 'provider.baseUrl', 'provider.model', 'knowledge.0.content', '(body)']));
  });

  it('refuses what is not an object', () => {
    expect(parseAssistantInput(null).ok).toBe(false);
    expect(parseAssistantInput([]).ok).toBe(false);
    expect(parseAssistantInput('x').ok).toBe(false);
  });

  it('bounds sizes: name, instructions, entries, and all knowledge together', () => {
    expect(parseAssistantInput({ name: 'x'.repeat(LIMITS.name + 1) }).ok).toBe(false);
    expect(parseAssistantInput({ name: 'x', instructions: 'x'.repeat(LIMITS.instructions + 1) }).ok).toBe(false);
    expect(parseAssistantInput({ name: 'x', knowledge: Array.from({ length: LIMITS.knowledgeEntries + 1 }, () => ({ title: 't', content: 'c' })) }).ok).toBe(false);
    const big = Array.from({ length: 60 }, (_, i) => ({ title: `t${i}`, content: 'c'.repeat(LIMITS.knowledgeContent) }));
    const result = parseAssistantInput({ name: 'x', knowledge: big });
    expect(result.ok ? [] : result.issues).toEqual([expect.objectContaining({ path: 'knowledge', message: expect.stringContaining('at most 200000') })]);
  });

  it('refuses duplicate knowledge ids and gives new entries an id', () => {
    expect(parseAssistantInput({ name: 'x', knowledge: [{ id: 'k', title: 'a', content: 'b' }, { id: 'k', title: 'c', content: 'd' }] }).ok).toBe(false);
    let n = 0;
    expect(withEntryIds([{ id: 'keep', title: 'a', content: 'b' }, { title: 'c', content: 'd' }], () => `new-${++n}`).map((e) => e.id)).toEqual(['keep', 'new-1']);
  });

  it('refuses provider URLs with credentials, a query or another scheme, and normalizes the trailing slash', () => {
    for (const baseUrl of ['https://user:pw@llm.example/v1', 'https://llm.example/v1?key=x', 'file:///etc/passwd', 'javascript:alert(1)']) {
      expect(parseAssistantInput({ name: 'x', provider: { ...openai, baseUrl } }).ok).toBe(false);
    }
    const ok = parseAssistantInput({ name: 'x', provider: { ...openai, baseUrl: 'https://llm.example/v1/' } });
    expect(ok.ok && ok.input.provider).toMatchObject({ baseUrl: 'https://llm.example/v1' });
  });

  it('refuses a key and a key reference together', () => {
    expect(parseAssistantInput({ name: 'x', provider: { ...openai, apiKey: 'sk-1', apiKeyRef: 'SHARED' } }).ok).toBe(false);
  });
});

describe('the provider API key', () => {
  const input = (extra: Record<string, unknown>) => ({ ...openai, ...extra }) as never;

  it('is set from a new key, cleared by null or by switching to the built-in provider', () => {
    expect(apiKeyChange(null, input({ apiKey: 'sk-new' }))).toEqual({ kind: 'set', plaintext: 'sk-new' });
    expect(apiKeyChange(assistant(), input({ apiKey: null }))).toEqual({ kind: 'clear' });
    expect(apiKeyChange(assistant(), { type: 'builtin' })).toEqual({ kind: 'clear' });
  });

  it('is kept when the answer\'s "set" is sent back, or when it is left out, for the same server', () => {
    expect(apiKeyChange(assistant(), input({ apiKey: API_KEY_SET }))).toEqual({ kind: 'keep' });
    expect(apiKeyChange(assistant(), input({ baseUrl: 'https://llm.example/v2' }))).toEqual({ kind: 'keep' });
  });

  it('must be given again when the server changes, so an edit never sends it elsewhere unnoticed', () => {
    expect(apiKeyChange(assistant(), input({ baseUrl: 'https://evil.example/v1' }))).toMatchObject({ kind: 'refused', code: 'api_key_required' });
    expect(apiKeyChange(assistant(), input({ baseUrl: 'https://evil.example/v1', apiKey: API_KEY_SET }))).toMatchObject({ kind: 'refused' });
  });

  it('is dropped when the assistant switches to an operator key reference', () => {
    expect(apiKeyChange(assistant(), input({ apiKeyRef: 'SHARED' }))).toEqual({ kind: 'clear' });
    expect(apiKeyChange(assistant(), input({ apiKeyRef: 'SHARED', apiKey: API_KEY_SET }))).toEqual({ kind: 'clear' });
  });

  it('cannot be "kept" when there is none', () => {
    expect(apiKeyChange(assistant({ apiKeyCiphertext: null }), input({ apiKey: API_KEY_SET }))).toMatchObject({ kind: 'refused' });
    expect(apiKeyChange(null, input({}))).toEqual({ kind: 'clear' });
  });

  it('is never answered: only "set" says there is one', () => {
    const view = toAssistantView(assistant());
    expect(view.provider).toEqual({ type: 'openai-compatible', baseUrl: 'https://llm.example/v1', model: 'gpt-x', apiKey: 'set' });
    expect(JSON.stringify(view)).not.toContain('ciphertext');
    expect(toAssistantView(assistant({ apiKeyCiphertext: null, provider: { ...openai, apiKeyRef: 'SHARED' } })).provider).toEqual({ ...openai, apiKeyRef: 'SHARED' });
  });

  it('is stored encrypted and read back only with the keys', () => {
    const key = generateFernetKey();
    const box = createSecretBox([key]);
    const sealed = box.seal('sk-secret');
    expect(sealed).not.toContain('sk-secret');
    expect(resolveApiKey(assistant({ apiKeyCiphertext: sealed }), new Map(), box)).toEqual({ ok: true, apiKey: 'sk-secret' });
    expect(resolveApiKey(assistant({ apiKeyCiphertext: sealed }), new Map(), createSecretBox([generateFernetKey()]))).toMatchObject({ ok: false });
    expect(createSecretBox(undefined).canStore).toBe(false);
    // Rotation: a new key in front still reads what the old one sealed.
    expect(createSecretBox([generateFernetKey(), key]).open(sealed)).toBe('sk-secret');
  });

  it('reads operator keys from the environment, each bound to its server', () => {
    const { refs, problems } = readApiKeyRefs({
      LLM_API_KEY_SHARED: 'sk-op',
      LLM_API_KEY_SHARED_BASE_URL: 'https://llm.example/v1/',
      LLM_API_KEY_LONELY: 'sk-lonely',
      OTHER: 'x',
    });
    expect([...refs]).toEqual([['SHARED', { apiKey: 'sk-op', baseUrl: 'https://llm.example/v1' }]]);
    expect(problems).toEqual([expect.stringContaining('LLM_API_KEY_LONELY_BASE_URL')]);
  });
});

describe('who may use an assistant', () => {
  it('a private assistant: only Pages of its own account', () => {
    expect(assistantAccess({ accountId: 'acct-1', visibility: 'private' }, 'acct-1')).toBe('allowed');
    expect(assistantAccess({ accountId: 'acct-1', visibility: 'private' }, 'acct-2')).toBe('assistant_private');
    expect(assistantAccess({ accountId: 'acct-1', visibility: 'private' }, null)).toBe('assistant_private');
  });

  it('a public assistant: Pages of any account', () => {
    expect(assistantAccess({ accountId: 'acct-1', visibility: 'public' }, 'acct-2')).toBe('allowed');
    expect(assistantAccess({ accountId: 'acct-1', visibility: 'public' }, null)).toBe('allowed');
  });

  it('no assistant: nobody', () => {
    expect(assistantAccess(null, 'acct-1')).toBe('no_assistant');
  });
});

describe('provider URLs on private networks', () => {
  it.each([
    ['http://localhost:11434/v1', true],
    ['http://127.0.0.1:3002', true],
    ['http://169.254.169.254/latest', true],
    ['http://10.1.2.3/v1', true],
    ['http://192.168.1.10/v1', true],
    ['http://[::1]:8080/v1', true],
    ['http://[::ffff:127.0.0.1]/v1', true],
    ['http://auth-token.internal/v1', true],
    ['https://api.openai.com/v1', false],
    ['https://8.8.8.8/v1', false],
  ])('%s → %s', (url, expected) => {
    expect(isPrivateNetworkUrl(url)).toBe(expected);
  });
});
