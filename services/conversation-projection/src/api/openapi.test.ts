import type { Express } from 'express';
import { createHttpApp, startHttpServer } from '@parley/http';
import { createMetricsRegistry } from '@parley/observability';
import type { EventPublisher } from '@parley/messaging';
import type { Database } from '@parley/persistence';
import type { ProjectionApiDeps } from './routes.ts';
import { requireAccount, requireAdmin } from './auth.ts';
import { openApiDocument } from './openapi.ts';
import { mountProjectionApi } from './routes.ts';
import { testLogger } from '../test-support.ts';

// The OpenAPI document and the express routes must name the same operations. Nothing here touches
// the database or the broker: mounting routes only registers them.

const unused = () => {
  throw new Error('not used when only listing routes');
};
const deps: ProjectionApiDeps = {
  host: { current: unused, onApplied: () => () => undefined, onSwitched: () => () => undefined, startRebuild: unused, rebuildStatus: unused },
  control: {} as Database,
  publisher: {} as EventPublisher,
  auth: requireAccount(new Map([['k', 'acme']])),
  admin: requireAdmin([]),
  clock: Date.now,
  logger: testLogger(),
  heartbeatMs: 1_000,
};

function app(): Express {
  return createHttpApp({ service: 'openapi-test', logger: testLogger(), metrics: createMetricsRegistry('openapi-test'), routes: (a) => void mountProjectionApi(a, deps) });
}

/** `GET /v1/conversations/{id}` for every route express knows. */
function expressOperations(express: Express): string[] {
  const stack = (express as unknown as { router: { stack: Array<{ route?: { path: string; methods: Record<string, boolean> } }> } }).router.stack;
  return stack
    .filter((layer) => layer.route)
    .flatMap((layer) =>
      Object.keys(layer.route!.methods)
        .filter((m) => m !== '_all')
        .map((m) => `${m.toUpperCase()} ${layer.route!.path.replace(/:(\w+)/g, '{$1}')}`),
    )
    .sort();
}

function documentedOperations(document: Record<string, unknown>): string[] {
  const paths = document['paths'] as Record<string, Record<string, unknown>>;
  return Object.entries(paths)
    .flatMap(([path, operations]) => Object.keys(operations).map((method) => `${method.toUpperCase()} ${path}`))
    .sort();
}

describe('the OpenAPI document', () => {
  it('documents exactly the routes express serves', () => {
    expect(documentedOperations(openApiDocument())).toEqual(expressOperations(app()));
  });

  it('is OpenAPI 3.1, every reference resolves, every operation says what it answers', () => {
    const document = openApiDocument();
    expect(document['openapi']).toBe('3.1.0');
    const schemas = (document['components'] as { schemas: Record<string, unknown> }).schemas;
    const refs = [...JSON.stringify(document).matchAll(/"\$ref":"#\/components\/schemas\/(\w+)"/g)].map((m) => m[1]!);
    expect(refs.length).toBeGreaterThan(10);
    for (const ref of refs) expect(Object.keys(schemas)).toContain(ref);
    for (const operations of Object.values(document['paths'] as Record<string, Record<string, { responses?: object }>>)) {
      for (const operation of Object.values(operations)) expect(Object.keys(operation.responses ?? {})).not.toHaveLength(0);
    }
    expect(schemas['Message']).toMatchObject({ properties: { author: { enum: ['customer', 'assistant', 'agent', 'page', 'page_inbox'] } } });
  });

  it('is served at GET /v1/openapi.json without a key', async () => {
    const server = await startHttpServer(app(), 0, '127.0.0.1');
    try {
      const res = await fetch(`${server.url}/v1/openapi.json`);
      expect(res.status).toBe(200);
      const body = (await res.json()) as Record<string, unknown>;
      expect(body['openapi']).toBe('3.1.0');
      expect(body['servers']).toEqual([{ url: server.url }]);
    } finally {
      await server.close();
    }
  });
});
