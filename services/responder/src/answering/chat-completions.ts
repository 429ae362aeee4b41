import { createCircuitBreaker } from '@parley/observability';
import type { Logger, Registry } from '@parley/observability';
import type { ChatMessage } from './prompt.ts';

/**
 * A client of OpenAI-compatible chat-completions servers (OpenAI, Azure OpenAI's compatible
 * endpoint, vLLM, Ollama, LiteLLM, ...): `POST {baseUrl}/chat/completions` with `model` and
 * `messages`. Each assistant's provider is a remote dependency of its own, so each gets its own
 * circuit breaker (`llm:<assistantId>`): one account's failing model never blocks another's.
 */

export type ChatCompletionRequest = {
  /** `llm:<assistantId>` (or `llm:<baseUrl>`): one breaker per name. */
  breakerName: string;
  baseUrl: string;
  model: string;
  apiKey: string | null;
  messages: ReadonlyArray<ChatMessage>;
};

export type ChatCompletionsClient = {
  /** The model's answer, or a rejection (timeout, HTTP error, malformed answer, breaker open). */
  complete(request: ChatCompletionRequest): Promise<string>;
};

export type ChatCompletionsOptions = {
  logger: Logger;
  metrics?: Registry;
  /** A request that takes longer is abandoned (and counts as a failure). */
  timeoutMs: number;
  breaker?: { volumeThreshold?: number; errorThresholdPercentage?: number; resetTimeoutMs?: number };
  /** Most breakers kept; the least recently used one is dropped beyond this (an unbounded map would grow with every assistant). */
  maxBreakers?: number;
  fetch?: typeof fetch;
};

/** An answer larger than this is refused: a Messenger answer is at most a few kilobytes. */
const MAX_RESPONSE_BYTES = 1_000_000;

export class ProviderError extends Error {
  readonly status: number | null;
  constructor(message: string, status: number | null = null) {
    super(message);
    this.name = 'ProviderError';
    this.status = status;
  }
}

type Breaker = ReturnType<typeof createCircuitBreaker<[ChatCompletionRequest], string>>;

export function createChatCompletionsClient(options: ChatCompletionsOptions): ChatCompletionsClient {
  const doFetch = options.fetch ?? fetch;
  const breakers = new Map<string, Breaker>();
  const maxBreakers = options.maxBreakers ?? 1_000;

  async function call(request: ChatCompletionRequest): Promise<string> {
    const headers: Record<string, string> = { 'content-type': 'application/json', accept: 'application/json' };
    if (request.apiKey) headers['authorization'] = `Bearer ${request.apiKey}`;
    let response: Response;
    try {
      response = await doFetch(`${request.baseUrl}/chat/completions`, {
        method: 'POST',
        headers,
        body: JSON.stringify({ model: request.model, messages: request.messages }),
        signal: AbortSignal.timeout(options.timeoutMs),
        redirect: 'error',
      });
    } catch (error) {
      const name = (error as Error).name;
      throw new ProviderError(name === 'TimeoutError' || name === 'AbortError' ? `no answer within ${options.timeoutMs} ms` : `request failed: ${(error as Error).message}`);
    }
    const body = await readLimited(response, MAX_RESPONSE_BYTES, options.timeoutMs);
    if (!response.ok) throw new ProviderError(`HTTP ${response.status}: ${body.slice(0, 200)}`, response.status);
    let parsed: unknown;
    try {
      parsed = JSON.parse(body);
    } catch {
      throw new ProviderError('the answer is not JSON', response.status);
    }
    const content = (parsed as { choices?: Array<{ message?: { content?: unknown } }> }).choices?.[0]?.message?.content;
    if (typeof content !== 'string' || content.trim() === '') throw new ProviderError('the answer has no choices[0].message.content', response.status);
    return content.trim();
  }

  function breakerFor(name: string): Breaker {
    const existing = breakers.get(name);
    if (existing) {
      // Map order is insertion order: re-inserting marks it recently used.
      breakers.delete(name);
      breakers.set(name, existing);
      return existing;
    }
    const breaker = createCircuitBreaker(call, {
      name,
      logger: options.logger,
      ...(options.metrics ? { metrics: options.metrics } : {}),
      // Our own abort fires first; the breaker's timeout is only a backstop.
      timeoutMs: options.timeoutMs + 1_000,
      volumeThreshold: options.breaker?.volumeThreshold ?? 5,
      errorThresholdPercentage: options.breaker?.errorThresholdPercentage ?? 50,
      resetTimeoutMs: options.breaker?.resetTimeoutMs ?? 30_000,
    });
    breakers.set(name, breaker);
    if (breakers.size > maxBreakers) {
      const oldest = breakers.keys().next().value!;
      breakers.get(oldest)?.shutdown();
      breakers.delete(oldest);
    }
    return breaker;
  }

  return {
    complete: (request) => breakerFor(request.breakerName).fire(request),
  };
}

/** Reads the body up to `maxBytes` (the request's timeout signal also bounds the time this takes). */
async function readLimited(response: Response, maxBytes: number, timeoutMs: number): Promise<string> {
  if (!response.body) return '';
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    let chunk: Awaited<ReturnType<typeof reader.read>>;
    try {
      chunk = await reader.read();
    } catch (error) {
      const name = (error as Error).name;
      throw new ProviderError(name === 'TimeoutError' || name === 'AbortError' ? `no complete answer within ${timeoutMs} ms` : `reading the answer failed: ${(error as Error).message}`, response.status);
    }
    if (chunk.done) break;
    size += chunk.value.byteLength;
    if (size > maxBytes) {
      await reader.cancel().catch(() => undefined);
      throw new ProviderError(`the answer is over ${maxBytes} bytes`, response.status);
    }
    chunks.push(chunk.value);
  }
  return Buffer.concat(chunks).toString('utf8');
}
