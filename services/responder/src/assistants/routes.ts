import type { Express, Request, RequestHandler } from 'express';
import { HttpProblem, jsonBody } from '@parley/http';
import {
  LIMITS,
  apiKeyChange,
  isPrivateNetworkUrl,
  parseAssistantInput,
  providerConfigOf,
  toAssistantView,
  withEntryIds,
} from './assistant.ts';
import type { Assistant, AssistantInput } from './assistant.ts';
import type { AssistantStore } from './assistant-store.ts';
import { checkRef } from './secrets.ts';
import type { ApiKeyRefs, SecretBox } from './secrets.ts';

export type AssistantRoutesDeps = {
  store: AssistantStore;
  /** API key → account id (API_KEYS). */
  apiKeys: ReadonlyMap<string, string>;
  secrets: SecretBox;
  apiKeyRefs: ApiKeyRefs;
  /** Lets provider URLs name localhost or private networks (local models in development, tests). */
  allowPrivateNetwork: boolean;
  now(): Date;
  newId(): string;
};

/** Every request body of this API is under this size (the largest valid assistant is about 220 kB of JSON). */
export const BODY_LIMIT = '512kb';

/**
 * The assistants API (CONTRACTS.md): `GET|POST /v1/assistants`, `GET|PUT|DELETE /v1/assistants/{id}`,
 * scoped to the caller's account. Another account's assistant answers 404, like one that does not exist.
 * Errors are problem+json: 401 `unauthorized`, 404 `assistant_not_found`, 409 `assistant_limit_reached`,
 * 422 `invalid_assistant` (with `errors: [{ path, message }]`), `api_key_required`,
 * `api_key_storage_unavailable`, `api_key_ref_not_allowed`, `provider_url_not_allowed`;
 * 400 `malformed_json` and 413 `body_too_large` come from the HTTP library.
 */
export function mountAssistantRoutes(app: Express, deps: AssistantRoutesDeps): void {
  const authenticate = requireAccount(deps.apiKeys);

  app.get('/v1/assistants', authenticate, async (_req, res) => {
    const assistants = await deps.store.list(res.locals['accountId'] as string);
    res.json({ items: assistants.map(toAssistantView) });
  });

  app.post('/v1/assistants', authenticate, jsonBody(BODY_LIMIT), async (req, res) => {
    const accountId = res.locals['accountId'] as string;
    const input = validBody(req);
    if ((await deps.store.count(accountId)) >= LIMITS.assistantsPerAccount) {
      throw new HttpProblem({ status: 409, code: 'assistant_limit_reached', title: 'Too many assistants', detail: `An account may have at most ${LIMITS.assistantsPerAccount} assistants.` });
    }
    const now = deps.now().toISOString();
    const assistant = build(deps, input, { id: deps.newId(), accountId, createdAt: now, updatedAt: now }, null);
    await deps.store.insert(assistant);
    res.status(201).location(`/v1/assistants/${encodeURIComponent(assistant.id)}`).json(toAssistantView(assistant));
  });

  app.get('/v1/assistants/:id', authenticate, async (req, res) => {
    res.json(toAssistantView(await owned(deps, res.locals['accountId'] as string, String(req.params['id']))));
  });

  app.put('/v1/assistants/:id', authenticate, jsonBody(BODY_LIMIT), async (req, res) => {
    const accountId = res.locals['accountId'] as string;
    const id = String(req.params['id']);
    const input = validBody(req);
    if (input.id !== undefined && input.id !== id) {
      throw invalid([{ path: 'id', message: `does not match the assistant in the URL (${id})` }]);
    }
    const previous = await owned(deps, accountId, id);
    const assistant = build(deps, input, { id, accountId, createdAt: previous.createdAt, updatedAt: deps.now().toISOString() }, previous);
    // Deleted meanwhile: not found, rather than resurrecting it.
    if (!(await deps.store.update(assistant))) throw notFound(id);
    res.json(toAssistantView(assistant));
  });

  app.delete('/v1/assistants/:id', authenticate, async (req, res) => {
    const id = String(req.params['id']);
    if (!(await deps.store.delete(res.locals['accountId'] as string, id))) throw notFound(id);
    res.status(204).end();
  });
}

/** `Authorization: Bearer <api key>` → `res.locals.accountId`, or 401. */
export function requireAccount(apiKeys: ReadonlyMap<string, string>): RequestHandler {
  return (req, res, next) => {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(req.header('authorization') ?? '');
    const accountId = match ? apiKeys.get(match[1]!) : undefined;
    if (!accountId) {
      res.setHeader('WWW-Authenticate', 'Bearer');
      throw new HttpProblem({ status: 401, code: 'unauthorized', title: 'Unauthorized', detail: 'Send Authorization: Bearer <api key>.' });
    }
    res.locals['accountId'] = accountId;
    next();
  };
}

function validBody(req: Request): AssistantInput {
  const parsed = parseAssistantInput(req.body);
  if (!parsed.ok) throw invalid(parsed.issues);
  return parsed.input;
}

function invalid(errors: Array<{ path: string; message: string }>): HttpProblem {
  return new HttpProblem({
    status: 422,
    code: 'invalid_assistant',
    title: 'Invalid assistant',
    detail: errors.map((e) => `${e.path}: ${e.message}`).join('; '),
    errors,
  });
}

function notFound(id: string): HttpProblem {
  return new HttpProblem({ status: 404, code: 'assistant_not_found', title: 'Assistant not found', detail: `Your account has no assistant ${id}.` });
}

async function owned(deps: AssistantRoutesDeps, accountId: string, id: string): Promise<Assistant> {
  const assistant = await deps.store.getOwned(accountId, id);
  if (!assistant) throw notFound(id);
  return assistant;
}

function build(
  deps: AssistantRoutesDeps,
  input: AssistantInput,
  identity: Pick<Assistant, 'id' | 'accountId' | 'createdAt' | 'updatedAt'>,
  previous: Assistant | null,
): Assistant {
  const provider = providerConfigOf(input.provider);
  if (provider.type === 'openai-compatible') {
    if (!deps.allowPrivateNetwork && isPrivateNetworkUrl(provider.baseUrl)) {
      throw new HttpProblem({ status: 422, code: 'provider_url_not_allowed', title: 'Provider URL not allowed', detail: 'The provider\'s baseUrl names this machine or a private network.' });
    }
    if (provider.apiKeyRef) {
      const ref = checkRef(provider.apiKeyRef, provider.baseUrl, deps.apiKeyRefs);
      if (!ref.ok) throw new HttpProblem({ status: 422, code: 'api_key_ref_not_allowed', title: 'API key reference not allowed', detail: ref.reason });
    }
  }
  const change = apiKeyChange(previous, input.provider);
  let apiKeyCiphertext: string | null;
  switch (change.kind) {
    case 'keep':
      apiKeyCiphertext = previous?.apiKeyCiphertext ?? null;
      break;
    case 'clear':
      apiKeyCiphertext = null;
      break;
    case 'set':
      if (!deps.secrets.canStore) {
        throw new HttpProblem({ status: 422, code: 'api_key_storage_unavailable', title: 'API keys cannot be stored', detail: 'This deployment has no encryption keys for provider API keys; use apiKeyRef.' });
      }
      apiKeyCiphertext = deps.secrets.seal(change.plaintext);
      break;
    case 'refused':
      throw new HttpProblem({ status: 422, code: change.code, title: 'API key required', detail: change.detail });
    default: {
      const unknown: never = change;
      throw new Error(`Unknown API key change ${JSON.stringify(unknown)}`);
    }
  }
  return {
    ...identity,
    name: input.name,
    instructions: input.instructions,
    visibility: input.visibility,
    provider,
    knowledge: withEntryIds(input.knowledge, deps.newId),
    apiKeyCiphertext,
  };
}
