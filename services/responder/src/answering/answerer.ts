import { builtinAnswer } from '@parley/builtin-assistant';
import type { Logger } from '@parley/observability';
import { isPrivateNetworkUrl } from '../assistants/assistant.ts';
import type { Assistant } from '../assistants/assistant.ts';
import { resolveApiKey } from '../assistants/secrets.ts';
import type { ApiKeyRefs, SecretBox } from '../assistants/secrets.ts';
import type { ContextEntry } from '../conversation-context/context.ts';
import type { ChatCompletionsClient } from './chat-completions.ts';
import { buildChatMessages } from './prompt.ts';

/**
 * Asks an assistant for its answer. Never fails: when an assistant's language model cannot answer
 * (timeout, error, circuit open, no usable key), the customer still gets the polite offer of a
 * person, and the failure is logged and counted — a customer left without any answer is worse than
 * an honest "I can't answer right now".
 */

export const PROVIDER_FAILED = "Sorry, I can't answer that right now — would you like me to connect you with a person?";

export type AnswerInput = {
  assistant: Assistant;
  customerFirstName: string | null;
  entries: ReadonlyArray<ContextEntry>;
};

export type Answer = {
  text: string;
  source: 'builtin' | 'openai-compatible' | 'fallback';
  /** Why the provider did not answer (for logs and the inbox), when `source` is `fallback`. */
  failure: string | null;
};

export type Answerer = { answer(input: AnswerInput): Promise<Answer> };

export type AnswererDeps = {
  logger: Logger;
  chat: ChatCompletionsClient;
  apiKeyRefs: ApiKeyRefs;
  secrets: SecretBox;
  allowPrivateNetwork: boolean;
  onFallback?: (assistantId: string) => void;
};

export function createAnswerer(deps: AnswererDeps): Answerer {
  return {
    async answer(input) {
      const { assistant } = input;
      const provider = assistant.provider;
      switch (provider.type) {
        case 'builtin':
          return { text: builtinAnswer({ assistant, customerFirstName: input.customerFirstName, entries: input.entries }).text, source: 'builtin', failure: null };
        case 'openai-compatible': {
          const fallback = (failure: string): Answer => {
            deps.logger.warn({ assistantId: assistant.id, baseUrl: provider.baseUrl, model: provider.model, failure }, 'the assistant\'s provider did not answer; offering a person instead');
            deps.onFallback?.(assistant.id);
            return { text: PROVIDER_FAILED, source: 'fallback', failure };
          };
          // Checked again at call time: the operator may have tightened the rules since the assistant was saved.
          if (!deps.allowPrivateNetwork && isPrivateNetworkUrl(provider.baseUrl)) return fallback('the provider URL names a private network');
          const key = resolveApiKey(assistant, deps.apiKeyRefs, deps.secrets);
          if (!key.ok) return fallback(key.reason);
          try {
            const text = await deps.chat.complete({
              breakerName: `llm:${assistant.id}`,
              baseUrl: provider.baseUrl,
              model: provider.model,
              apiKey: key.apiKey,
              messages: buildChatMessages({ assistant, customerFirstName: input.customerFirstName, entries: input.entries }),
            });
            return { text, source: 'openai-compatible', failure: null };
          } catch (error) {
            return fallback((error as Error).message);
          }
        }
        default: {
          const unknown: never = provider;
          return { text: PROVIDER_FAILED, source: 'fallback', failure: `unknown provider ${JSON.stringify(unknown)}` };
        }
      }
    },
  };
}
