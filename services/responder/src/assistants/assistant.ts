import { BlockList, isIP } from 'node:net';
import { z } from 'zod';

/**
 * Assistants: what answers a Page's customers. Pure code: the shape an account may write, what is
 * answered back (never a provider's API key), and who may use an assistant.
 *
 * Visibility:
 * - `private` (the default): only Pages of the assistant's own account may use it. A Page of another
 *   account whose settings name it gets no answer; the responder emits `conversation.reply.suppressed`
 *   with reason `assistant_private`.
 * - `public`: Pages of any account may use it by its id (a shared assistant, e.g. one an agency runs
 *   for its clients). Only its own account sees, edits or deletes it through the API, and its
 *   provider (with its API key) is the owner's: the owner pays for every account's use of it.
 */

export const LIMITS = {
  name: 100,
  instructions: 8_000,
  knowledgeEntries: 200,
  knowledgeTitle: 200,
  knowledgeContent: 4_000,
  /** All knowledge of one assistant together, so that a context always fits a model's prompt. */
  knowledgeTotal: 200_000,
  baseUrl: 2_000,
  model: 200,
  apiKey: 4_000,
  assistantsPerAccount: 100,
} as const;

export type Visibility = 'public' | 'private';

export type KnowledgeEntry = { id: string; title: string; content: string };

export type ProviderConfig =
  | { type: 'builtin' }
  | { type: 'openai-compatible'; baseUrl: string; model: string; apiKeyRef: string | null };

export type Assistant = {
  id: string;
  accountId: string;
  name: string;
  instructions: string;
  visibility: Visibility;
  provider: ProviderConfig;
  knowledge: KnowledgeEntry[];
  /** Fernet token of the provider's API key; never answered, never logged. */
  apiKeyCiphertext: string | null;
  createdAt: string;
  updatedAt: string;
};

/** What the API answers: the provider's key only as `"apiKey": "set"`. */
export type AssistantView = {
  id: string;
  name: string;
  instructions: string;
  visibility: Visibility;
  provider:
    | { type: 'builtin' }
    | { type: 'openai-compatible'; baseUrl: string; model: string; apiKeyRef?: string; apiKey?: 'set' };
  knowledge: KnowledgeEntry[];
  createdAt: string;
  updatedAt: string;
};

/** The placeholder that stands for a stored key: answered by GET, accepted back by PUT as "keep it". */
export const API_KEY_SET = 'set';

const apiKeyRefPattern = /^[A-Z][A-Z0-9_]{0,63}$/;
const entryIdPattern = /^[A-Za-z0-9_.:-]{1,100}$/;

const knowledgeEntryInput = z
  .object({
    id: z.string().regex(entryIdPattern, 'letters, digits, "_", ".", ":" or "-", at most 100').optional(),
    title: z.string().trim().min(1).max(LIMITS.knowledgeTitle),
    content: z.string().trim().min(1).max(LIMITS.knowledgeContent),
  })
  .strict();

const baseUrlInput = z
  .url()
  .max(LIMITS.baseUrl)
  .refine((value) => /^https?:$/.test(new URL(value).protocol), 'must be an http(s) URL')
  .refine((value) => {
    const url = new URL(value);
    return url.username === '' && url.password === '' && url.search === '' && url.hash === '';
  }, 'must not carry credentials, a query or a fragment')
  .transform((value) => value.replace(/\/+$/, ''));

const providerInput = z.discriminatedUnion('type', [
  z.object({ type: z.literal('builtin') }).strict(),
  z
    .object({
      type: z.literal('openai-compatible'),
      baseUrl: baseUrlInput,
      model: z.string().trim().min(1).max(LIMITS.model),
      /** The name of a key the operator configured (LLM_API_KEY_<REF>), for keys that must not be stored. */
      apiKeyRef: z.string().regex(apiKeyRefPattern, 'upper-case letters, digits and "_", at most 64').nullable().optional(),
      /** Write-only. `"set"` (as answered) keeps the stored key, null removes it. */
      apiKey: z.string().min(1).max(LIMITS.apiKey).nullable().optional(),
    })
    .strict()
    .refine((p) => !(p.apiKeyRef && p.apiKey && p.apiKey !== API_KEY_SET), { message: 'give either apiKey or apiKeyRef, not both', path: ['apiKey'] }),
]);

const assistantInput = z
  .object({
    // Read-only fields are accepted (so that a GET answer can be edited and PUT back) and ignored.
    id: z.string().optional(),
    createdAt: z.string().optional(),
    updatedAt: z.string().optional(),
    name: z.string().trim().min(1).max(LIMITS.name),
    instructions: z.string().max(LIMITS.instructions).default(''),
    visibility: z.enum(['public', 'private']).default('private'),
    provider: providerInput.default({ type: 'builtin' }),
    knowledge: z.array(knowledgeEntryInput).max(LIMITS.knowledgeEntries).default([]),
  })
  .strict()
  .superRefine((input, ctx) => {
    const total = input.knowledge.reduce((sum, entry) => sum + entry.title.length + entry.content.length, 0);
    if (total > LIMITS.knowledgeTotal) {
      ctx.addIssue({ code: 'custom', path: ['knowledge'], message: `knowledge is ${total} characters; at most ${LIMITS.knowledgeTotal} in all` });
    }
    const seen = new Set<string>();
    input.knowledge.forEach((entry, index) => {
      if (entry.id === undefined) return;
      if (seen.has(entry.id)) ctx.addIssue({ code: 'custom', path: ['knowledge', index, 'id'], message: `duplicate id "${entry.id}"` });
      seen.add(entry.id);
    });
  });

export type AssistantInput = z.infer<typeof assistantInput>;
export type ProviderInput = AssistantInput['provider'];

export type ValidationIssue = { path: string; message: string };

/** Validates a request body; every problem is listed at once. */
export function parseAssistantInput(body: unknown): { ok: true; input: AssistantInput } | { ok: false; issues: ValidationIssue[] } {
  const result = assistantInput.safeParse(body);
  if (result.success) return { ok: true, input: result.data };
  return {
    ok: false,
    issues: result.error.issues.map((issue) => ({ path: issue.path.map(String).join('.') || '(body)', message: issue.message })),
  };
}

/** Knowledge entries with an id each: the given one, or a new one from `newId`. */
export function withEntryIds(entries: AssistantInput['knowledge'], newId: () => string): KnowledgeEntry[] {
  return entries.map((entry) => ({ id: entry.id ?? newId(), title: entry.title, content: entry.content }));
}

export function providerConfigOf(input: ProviderInput): ProviderConfig {
  switch (input.type) {
    case 'builtin':
      return { type: 'builtin' };
    case 'openai-compatible':
      return { type: 'openai-compatible', baseUrl: input.baseUrl, model: input.model, apiKeyRef: input.apiKeyRef ?? null };
    default: {
      const unknown: never = input;
      throw new Error(`Unknown provider ${JSON.stringify(unknown)}`);
    }
  }
}

/** What a write does to the stored API key. */
export type ApiKeyChange =
  | { kind: 'keep' }
  | { kind: 'set'; plaintext: string }
  | { kind: 'clear' }
  | { kind: 'refused'; code: 'api_key_required'; detail: string };

/**
 * Decides what happens to the stored key. A key is kept only for the server it was given for:
 * when the base URL's origin changes, the key must be given again (or removed), so that an edit
 * never sends an existing key to a new server unnoticed.
 */
export function apiKeyChange(previous: Pick<Assistant, 'provider' | 'apiKeyCiphertext'> | null, input: ProviderInput): ApiKeyChange {
  if (input.type === 'builtin') return { kind: 'clear' };
  if (input.apiKey === null) return { kind: 'clear' };
  // A reference replaces a stored key (the two together are refused by validation).
  if (input.apiKeyRef) return { kind: 'clear' };
  if (input.apiKey !== undefined && input.apiKey !== API_KEY_SET) return { kind: 'set', plaintext: input.apiKey };
  const hasKey = previous?.apiKeyCiphertext != null;
  if (!hasKey) {
    if (input.apiKey === API_KEY_SET) return { kind: 'refused', code: 'api_key_required', detail: 'No API key is stored for this assistant: give the key itself, not "set".' };
    return { kind: 'clear' };
  }
  const before = previous!.provider;
  if (before.type !== 'openai-compatible' || new URL(before.baseUrl).origin !== new URL(input.baseUrl).origin) {
    return { kind: 'refused', code: 'api_key_required', detail: 'The provider\'s server changed: give its API key again (or null for none).' };
  }
  return { kind: 'keep' };
}

export function toAssistantView(assistant: Assistant): AssistantView {
  const { provider } = assistant;
  return {
    id: assistant.id,
    name: assistant.name,
    instructions: assistant.instructions,
    visibility: assistant.visibility,
    provider:
      provider.type === 'builtin'
        ? { type: 'builtin' }
        : {
            type: 'openai-compatible',
            baseUrl: provider.baseUrl,
            model: provider.model,
            ...(provider.apiKeyRef ? { apiKeyRef: provider.apiKeyRef } : {}),
            ...(assistant.apiKeyCiphertext ? { apiKey: API_KEY_SET } : {}),
          },
    knowledge: assistant.knowledge,
    createdAt: assistant.createdAt,
    updatedAt: assistant.updatedAt,
  };
}

export type AssistantAccess = 'allowed' | 'no_assistant' | 'assistant_private';

/**
 * Whether a Page of `pageAccountId` may use the assistant. A Page whose account is not known yet
 * may use public assistants only: a private one is refused rather than risk answering with another
 * account's assistant.
 */
export function assistantAccess(assistant: Pick<Assistant, 'accountId' | 'visibility'> | null, pageAccountId: string | null): AssistantAccess {
  if (assistant === null) return 'no_assistant';
  if (assistant.visibility === 'public') return 'allowed';
  return pageAccountId !== null && pageAccountId === assistant.accountId ? 'allowed' : 'assistant_private';
}

const privateRanges = new BlockList();
privateRanges.addSubnet('0.0.0.0', 8, 'ipv4');
privateRanges.addSubnet('10.0.0.0', 8, 'ipv4');
privateRanges.addSubnet('100.64.0.0', 10, 'ipv4');
privateRanges.addSubnet('127.0.0.0', 8, 'ipv4');
privateRanges.addSubnet('169.254.0.0', 16, 'ipv4');
privateRanges.addSubnet('172.16.0.0', 12, 'ipv4');
privateRanges.addSubnet('192.168.0.0', 16, 'ipv4');
privateRanges.addAddress('::', 'ipv6');
privateRanges.addAddress('::1', 'ipv6');
privateRanges.addSubnet('fc00::', 7, 'ipv6');
privateRanges.addSubnet('fe80::', 10, 'ipv6');

/**
 * True for URLs naming this machine or a private network by name or literal address (localhost,
 * 10.x, 169.254.169.254, ...). Refused as provider URLs unless the operator allows them, so that an
 * account cannot point its assistant at Parley's internal services. Names that merely resolve to a
 * private address are not caught here (that needs egress rules in the deployment).
 */
export function isPrivateNetworkUrl(value: string): boolean {
  const host = new URL(value).hostname.replace(/^\[|\]$/g, '').toLowerCase();
  if (host === 'localhost' || host.endsWith('.localhost') || host.endsWith('.internal') || host.endsWith('.local')) return true;
  const version = isIP(host);
  if (version === 0) return false;
  const mapped = host.match(/^::ffff:(\d+\.\d+\.\d+\.\d+)$/);
  if (mapped) return privateRanges.check(mapped[1]!, 'ipv4');
  return privateRanges.check(host, version === 4 ? 'ipv4' : 'ipv6');
}
