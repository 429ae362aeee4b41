import { createKeyring } from '@parley/fernet';
import type { FernetKeyring } from '@parley/fernet';
import type { Assistant } from './assistant.ts';

/**
 * Provider API keys. Two ways to give an assistant a key, neither of which ever answers it back:
 * - `apiKey` in the API: stored Fernet-encrypted with TOKEN_ENCRYPTION_KEYS (newest first, as for Page tokens).
 * - `apiKeyRef: "NAME"`: a key the operator configured as the environment variable `LLM_API_KEY_NAME`,
 *   bound to one server by `LLM_API_KEY_NAME_BASE_URL`. The key is only ever sent to that server, so
 *   an account cannot point an assistant at its own server and harvest the operator's key.
 */

export type ApiKeyRef = { apiKey: string; baseUrl: string };
export type ApiKeyRefs = ReadonlyMap<string, ApiKeyRef>;

const REF_VARIABLE = /^LLM_API_KEY_([A-Z][A-Z0-9_]{0,63})$/;

/** Reads the operator's named keys from the environment; `problems` lists keys without their server. */
export function readApiKeyRefs(env: Record<string, string | undefined>): { refs: ApiKeyRefs; problems: string[] } {
  const refs = new Map<string, ApiKeyRef>();
  const problems: string[] = [];
  for (const [name, value] of Object.entries(env)) {
    const match = REF_VARIABLE.exec(name);
    if (!match || name.endsWith('_BASE_URL') || !value) continue;
    const baseUrl = env[`${name}_BASE_URL`]?.trim();
    if (!baseUrl || !URL.canParse(baseUrl)) {
      problems.push(`${name}_BASE_URL is missing or not a URL: the key ${name} must name the one server it may be sent to`);
      continue;
    }
    refs.set(match[1]!, { apiKey: value.trim(), baseUrl: normalizeBaseUrl(baseUrl) });
  }
  return { refs, problems };
}

export function normalizeBaseUrl(value: string): string {
  return value.trim().replace(/\/+$/, '');
}

export type SecretBox = {
  /** False when no encryption keys are configured: `apiKey` cannot be stored then (apiKeyRef still works). */
  readonly canStore: boolean;
  seal(plaintext: string): string;
  open(ciphertext: string): string;
};

export function createSecretBox(keys: ReadonlyArray<string> | undefined): SecretBox {
  const keyring: FernetKeyring | null = keys && keys.length > 0 ? createKeyring(keys) : null;
  return {
    canStore: keyring !== null,
    seal(plaintext) {
      if (!keyring) throw new Error('No TOKEN_ENCRYPTION_KEYS configured: provider API keys cannot be stored');
      return keyring.encrypt(plaintext);
    },
    open(ciphertext) {
      if (!keyring) throw new Error('No TOKEN_ENCRYPTION_KEYS configured: stored provider API keys cannot be read');
      return keyring.decrypt(ciphertext).toString('utf8');
    },
  };
}

export type ApiKeyResolution = { ok: true; apiKey: string | null } | { ok: false; reason: string };

/** The key to send to an assistant's provider, or why there is none that may be sent. */
export function resolveApiKey(assistant: Pick<Assistant, 'provider' | 'apiKeyCiphertext'>, refs: ApiKeyRefs, box: SecretBox): ApiKeyResolution {
  const provider = assistant.provider;
  if (provider.type !== 'openai-compatible') return { ok: true, apiKey: null };
  if (assistant.apiKeyCiphertext) {
    try {
      return { ok: true, apiKey: box.open(assistant.apiKeyCiphertext) };
    } catch (error) {
      return { ok: false, reason: `the stored API key cannot be decrypted (${(error as Error).name})` };
    }
  }
  if (provider.apiKeyRef) return checkRef(provider.apiKeyRef, provider.baseUrl, refs);
  return { ok: true, apiKey: null };
}

/** Whether a reference names a configured key that may be sent to `baseUrl`. */
export function checkRef(ref: string, baseUrl: string, refs: ApiKeyRefs): ApiKeyResolution {
  const configured = refs.get(ref);
  if (!configured) return { ok: false, reason: `no key named ${ref} is configured (LLM_API_KEY_${ref})` };
  if (configured.baseUrl !== normalizeBaseUrl(baseUrl)) return { ok: false, reason: `the key ${ref} may only be sent to ${configured.baseUrl}` };
  return { ok: true, apiKey: configured.apiKey };
}
