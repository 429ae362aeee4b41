import { generateFernetKey } from '@parley/fernet';
import { createHttpApp, startHttpServer } from '@parley/http';
import type { RunningServer } from '@parley/http';
import { createLogger, createMetricsRegistry } from '@parley/observability';
import { openDatabase } from '@parley/persistence';
import type { Database } from '@parley/persistence';
import { createTestSchema, testDatabaseUrl } from '@parley/testing';
import type { TestSchema } from '@parley/testing';
import { migrations } from '../migrations.ts';
import { createAssistantStore } from './assistant-store.ts';
import { mountAssistantRoutes } from './routes.ts';
import type { AssistantRoutesDeps } from './routes.ts';
import { createSecretBox } from './secrets.ts';

const logger = createLogger({ service: 'responder-api-test', level: 'silent' });
const apiKeys = new Map([
  ['key-a', 'acct-a'],
  ['key-b', 'acct-b'],
]);
let schema: TestSchema;
let db: Database;
const servers: RunningServer[] = [];
let api: string;

async function serve(overrides: Partial<AssistantRoutesDeps> = {}): Promise<string> {
  let n = 0;
  const app = createHttpApp({
    service: 'responder',
    logger,
    metrics: createMetricsRegistry('responder'),
    routes: (express) =>
      mountAssistantRoutes(express, {
        store: createAssistantStore(db),
        apiKeys,
        secrets: createSecretBox([generateFernetKey()]),
        apiKeyRefs: new Map([['SHARED', { apiKey: 'sk-operator', baseUrl: 'https://llm.example/v1' }]]),
        allowPrivateNetwork: false,
        now: () => new Date('2026-11-26T10:00:00.000Z'),
        newId: () => `id-${Date.now().toString(36)}-${++n}-${Math.random().toString(36).slice(2, 8)}`,
        ...overrides,
      }),
  });
  const server = await startHttpServer(app, 0, '127.0.0.1');
  servers.push(server);
  return server.url;
}

beforeAll(async () => {
  schema = await createTestSchema(testDatabaseUrl(), 'responder_api');
  db = await openDatabase({ databaseUrl: testDatabaseUrl(), schema: schema.schema, logger, migrations });
  api = await serve();
});

afterAll(async () => {
  for (const server of servers) await server.close();
  await db.close();
  await schema.drop();
});

/** A JSON answer, loosely typed: the tests check its shape. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;
type TestResponse = { status: number; headers: Headers; json(): Promise<Json> };

async function call(method: string, path: string, key: string | null, body?: unknown, base = api): Promise<TestResponse> {
  const headers: Record<string, string> = {};
  if (key) headers['authorization'] = `Bearer ${key}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const response = await fetch(`${base}${path}`, { method, headers, ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }) });
  return { status: response.status, headers: response.headers, json: () => response.json() as Promise<Json> };
}

const faq = {
  name: 'FAQ bot',
  instructions: 'Answer from the FAQ.',
  visibility: 'private',
  provider: { type: 'builtin' },
  knowledge: [{ title: 'Opening hours', content: 'Mon–Fri 9–17.' }],
};

describe('the assistants API', () => {
  it('refuses a caller without a valid API key', async () => {
    for (const key of [null, 'wrong']) {
      const response = await call('GET', '/v1/assistants', key);
      expect(response.status).toBe(401);
      expect(response.headers.get('content-type')).toContain('application/problem+json');
      expect(response.headers.get('www-authenticate')).toBe('Bearer');
      expect(await response.json()).toMatchObject({ code: 'unauthorized', status: 401 });
    }
  });

  it('creates, reads, lists, replaces and deletes an assistant', async () => {
    const created = await call('POST', '/v1/assistants', 'key-a', faq);
    expect(created.status).toBe(201);
    const assistant = await created.json();
    expect(created.headers.get('location')).toBe(`/v1/assistants/${assistant.id}`);
    expect(assistant).toMatchObject({ name: 'FAQ bot', visibility: 'private', provider: { type: 'builtin' }, knowledge: [{ id: expect.any(String), title: 'Opening hours', content: 'Mon–Fri 9–17.' }] });

    expect(await (await call('GET', `/v1/assistants/${assistant.id}`, 'key-a')).json()).toEqual(assistant);
    const list = await (await call('GET', '/v1/assistants', 'key-a')).json();
    expect(list.items.map((a: { id: string }) => a.id)).toContain(assistant.id);

    // A GET answer, edited, can be PUT back as it is.
    const replaced = await call('PUT', `/v1/assistants/${assistant.id}`, 'key-a', { ...assistant, name: 'FAQ bot 2', visibility: 'public' });
    expect(replaced.status).toBe(200);
    expect(await replaced.json()).toMatchObject({ id: assistant.id, name: 'FAQ bot 2', visibility: 'public', knowledge: assistant.knowledge });

    expect((await call('DELETE', `/v1/assistants/${assistant.id}`, 'key-a')).status).toBe(204);
    expect((await call('GET', `/v1/assistants/${assistant.id}`, 'key-a')).status).toBe(404);
    expect((await call('DELETE', `/v1/assistants/${assistant.id}`, 'key-a')).status).toBe(404);
  });

  it('keeps accounts apart: another account\'s assistant is not found, whatever its visibility', async () => {
    const mine = await (await call('POST', '/v1/assistants', 'key-a', { ...faq, visibility: 'public' })).json();
    for (const [method, body] of [['GET', undefined], ['PUT', faq], ['DELETE', undefined]] as const) {
      const response = await call(method, `/v1/assistants/${mine.id}`, 'key-b', body);
      expect(response.status).toBe(404);
      expect(await response.json()).toMatchObject({ code: 'assistant_not_found' });
    }
    const theirs = await (await call('GET', '/v1/assistants', 'key-b')).json();
    expect(theirs.items.map((a: { id: string }) => a.id)).not.toContain(mine.id);
    expect(await (await call('GET', `/v1/assistants/${mine.id}`, 'key-a')).json()).toMatchObject({ name: 'FAQ bot' });
  });

  it('answers invalid input with 422 and every problem; malformed JSON with 400; an oversized body with 413', async () => {
    const invalid = await call('POST', '/v1/assistants', 'key-a', { name: '', visibility: 'everyone', extra: true });
    expect(invalid.status).toBe(422);
    const problem = await invalid.json();
    expect(problem).toMatchObject({ code: 'invalid_assistant', status: 422 });
    expect(problem.errors.map((e: { path: string }) => e.path)).toEqual(expect.arrayContaining(['name', 'visibility', '(body)']));

    const malformed = await call('POST', '/v1/assistants', 'key-a', '{"name":');
    expect(malformed.status).toBe(400);
    expect(await malformed.json()).toMatchObject({ code: 'malformed_json' });

    const huge = await call('POST', '/v1/assistants', 'key-a', { ...faq, instructions: 'x'.repeat(600_000) });
    expect(huge.status).toBe(413);

    const mismatch = await call('POST', '/v1/assistants', 'key-a', faq);
    const { id } = await mismatch.json();
    expect((await call('PUT', `/v1/assistants/${id}`, 'key-a', { ...faq, id: 'another' })).status).toBe(422);
  });

  it('never answers a provider\'s API key, stores it encrypted, and keeps it only for the same server', async () => {
    const provider = { type: 'openai-compatible', baseUrl: 'https://llm.example/v1', model: 'gpt-x', apiKey: 'sk-live-secret' };
    const created = await call('POST', '/v1/assistants', 'key-a', { ...faq, provider });
    expect(created.status).toBe(201);
    const assistant = await created.json();
    expect(assistant.provider).toEqual({ type: 'openai-compatible', baseUrl: 'https://llm.example/v1', model: 'gpt-x', apiKey: 'set' });
    expect(JSON.stringify(await (await call('GET', '/v1/assistants', 'key-a')).json())).not.toContain('sk-live-secret');
    const [row] = await db.query<{ api_key_ciphertext: string; provider: unknown }>(`select api_key_ciphertext, provider from "${schema.schema}".assistants where id = ?`, [assistant.id]);
    expect(row!.api_key_ciphertext).toMatch(/^gAAAAA/);
    expect(JSON.stringify(row)).not.toContain('sk-live-secret');

    // PUT back what GET answered: the key is kept.
    const kept = await call('PUT', `/v1/assistants/${assistant.id}`, 'key-a', { ...assistant, name: 'renamed' });
    expect((await kept.json()).provider.apiKey).toBe('set');
    const [after] = await db.query<{ api_key_ciphertext: string }>(`select api_key_ciphertext from "${schema.schema}".assistants where id = ?`, [assistant.id]);
    expect(after!.api_key_ciphertext).toBe(row!.api_key_ciphertext);

    // Another server: the key must be given again.
    const moved = await call('PUT', `/v1/assistants/${assistant.id}`, 'key-a', { ...assistant, provider: { ...assistant.provider, baseUrl: 'https://elsewhere.example/v1' } });
    expect(moved.status).toBe(422);
    expect(await moved.json()).toMatchObject({ code: 'api_key_required' });

    // null removes it.
    const cleared = await call('PUT', `/v1/assistants/${assistant.id}`, 'key-a', { ...assistant, provider: { ...assistant.provider, apiKey: null } });
    expect((await cleared.json()).provider).not.toHaveProperty('apiKey');
  });

  it('accepts an operator key reference only for its server, and refuses private-network provider URLs', async () => {
    const ref = await call('POST', '/v1/assistants', 'key-a', { ...faq, provider: { type: 'openai-compatible', baseUrl: 'https://llm.example/v1', model: 'm', apiKeyRef: 'SHARED' } });
    expect(ref.status).toBe(201);
    expect((await ref.json()).provider).toEqual({ type: 'openai-compatible', baseUrl: 'https://llm.example/v1', model: 'm', apiKeyRef: 'SHARED' });

    const elsewhere = await call('POST', '/v1/assistants', 'key-a', { ...faq, provider: { type: 'openai-compatible', baseUrl: 'https://mine.example/v1', model: 'm', apiKeyRef: 'SHARED' } });
    expect(elsewhere.status).toBe(422);
    expect(await elsewhere.json()).toMatchObject({ code: 'api_key_ref_not_allowed' });
    const unknown = await call('POST', '/v1/assistants', 'key-a', { ...faq, provider: { type: 'openai-compatible', baseUrl: 'https://llm.example/v1', model: 'm', apiKeyRef: 'NOPE' } });
    expect(await unknown.json()).toMatchObject({ code: 'api_key_ref_not_allowed' });

    const internal = await call('POST', '/v1/assistants', 'key-a', { ...faq, provider: { type: 'openai-compatible', baseUrl: 'http://169.254.169.254/v1', model: 'm' } });
    expect(internal.status).toBe(422);
    expect(await internal.json()).toMatchObject({ code: 'provider_url_not_allowed' });
  });

  it('refuses to store an API key when the deployment has no encryption keys', async () => {
    const withoutKeys = await serve({ secrets: createSecretBox(undefined) });
    const response = await call('POST', '/v1/assistants', 'key-a', { ...faq, provider: { type: 'openai-compatible', baseUrl: 'https://llm.example/v1', model: 'm', apiKey: 'sk-1' } }, withoutKeys);
    expect(response.status).toBe(422);
    expect(await response.json()).toMatchObject({ code: 'api_key_storage_unavailable' });
  });
});
