import { isDeepStrictEqual } from 'node:util';
import type { EventPublisher } from '@parley/messaging';
import { rebuildView } from '../api/views.ts';
import type { ProjectionConfig } from '../config.ts';
import { imageAttachment, inboxEvents } from '../inbox/fixtures.ts';
import { API_ONLY_INDEXES } from '../inbox/migrations.ts';
import type { RunningProjection } from '../service.ts';
import { apiClient, createProjectionTopics, dropSchemas, feed, OUR_APP_ID, sql, startTestProjection, testConfig, testKafka, uniqueName, waitFor } from '../test-support.ts';
import type { TestTopics } from '../test-support.ts';

// A rebuild builds a new copy of the inbox from the beginning of the log while the old one serves,
// then switches over: the rebuilt inbox must answer every API call exactly as the old one did.

const MIN = 60_000;
let topics: TestTopics;
let publisher: EventPublisher;
let config: ProjectionConfig;
let service: RunningProjection;
const api = apiClient(() => service.url);
const enc = encodeURIComponent;
const acme = inboxEvents(uniqueName('acme'));
const shop = inboxEvents(uniqueName('shop'));
const globex = inboxEvents(uniqueName('globex'));

beforeAll(async () => {
  topics = await createProjectionTopics('rebuild');
  ({ publisher } = testKafka());
  config = testConfig(topics);
  service = await startTestProjection(config);
  await service.host.ready;

  const t = Date.now() - 60 * MIN;
  const e = acme;
  const cdn = `https://scontent.xx.fbcdn.net/v/p.jpg?oe=${Math.floor((t + 90 * MIN) / 1000).toString(16)}`;
  await feed(publisher, topics, [
    acme.pageConnected({ accountId: 'acme', name: 'Acme', at: t - MIN }),
    shop.pageConnected({ accountId: 'acme', name: 'Acme Shop', at: t - MIN }),
    globex.pageConnected({ accountId: 'globex', name: 'Globex', at: t - MIN }),
    ...Array.from({ length: 6 }, (_, i) => shop.received(`s-${i}`, { mid: uniqueName('m'), text: `shop question ${i}`, at: t + i * 1_000 })),
    e.received('ana', { mid: 'a-1', text: 'Hello, is the cake ready?', at: t + 10_000 }),
    e.received('ana', { mid: 'a-2', text: null, attachments: [imageAttachment(cdn)], at: t + 11_000 }),
    e.sendRequested('ana', { outboundId: 'ra-1', parts: [{ text: 'Yes!' }, { text: 'Come by at 5.' }], sendAt: t + 12_000, at: t + 12_000 }),
    e.scheduled('ana', { outboundId: 'ra-1', parts: [{ text: 'Yes!' }, { text: 'Come by at 5.' }], sendAt: t + 12_000 }),
    e.echoed('ana', { mid: 'ra-mid-0', appId: OUR_APP_ID, at: t + 12_900 }),
    e.sent('ana', { outboundId: 'ra-1', part: 0, partCount: 2, mid: 'ra-mid-0', content: { text: 'Yes!' }, sentAt: t + 13_000 }),
    e.sent('ana', { outboundId: 'ra-1', part: 1, partCount: 2, mid: 'ra-mid-1', content: { text: 'Come by at 5.' }, sentAt: t + 13_500 }),
    e.delivery('ana', { watermark: t + 13_200, mids: ['ra-mid-1'], at: t + 14_000 }),
    e.read('ana', { watermark: t + 13_600, at: t + 15_000 }),
    e.reaction('ana', { mid: 'ra-mid-1', emoji: '😍', at: t + 16_000 }),
    e.profile('ana', { available: true, firstName: 'Ana', lastName: 'Silva', displayName: 'Ana Silva', at: t + 17_000 }),
    e.received('bo', { mid: 'b-1', text: 'I need a person', at: t + 20_000 }),
    e.escalated('bo', { reason: 'human_requested', at: t + 20_500 }),
    e.echoed('bo', { mid: 'b-human', appId: '263902037430900', text: 'Hi Bo, Sam here', at: t + 21_000 }),
    e.profile('bo', { available: false, displayName: 'Customer 0000', reason: 'no_profile', at: t + 21_500 }),
    e.received('cy', { mid: 'c-1', text: 'refund?', at: t + 30_000 }),
    e.resolved('cy', { at: t + 31_000 }),
    e.sendRequested('cy', { outboundId: 'rc-1', sendAt: t + 32_000, at: t + 32_000 }),
    e.failed('cy', { outboundId: 'rc-1', at: t + 33_000 }),
    e.comment('fan', { commentId: 'k-1', message: 'Love it', name: 'Dee Fan', at: t + 40_000 }),
    e.comment('fan', { commentId: 'k-1', verb: 'edited', message: 'Love it!!', at: t + 41_000 }),
    globex.received('gus', { mid: uniqueName('m'), text: 'globex only', at: t + 50_000 }),
  ]);
  await waitFor(async () => (await api.get('/v1/conversations?limit=200')).body.items?.length === 10 && (await api.get(`/v1/conversations/${enc(acme.conversationId('ana'))}`)).body.customer?.name === 'Ana Silva', {
    description: 'the inbox projected',
    timeoutMs: 30_000,
  });
});

afterAll(async () => {
  await service?.stop();
  await publisher?.disconnect();
  await topics?.delete();
  if (config) await dropSchemas(config.DB_SCHEMA);
});

/**
 * Every answer, once the projection has applied all that was fed: two readings a second apart
 * agree. (The inbox shows the inbound events first; the outbound ones, on other topics, can land
 * a moment later, and a "before" read between the two made the rebuilt copy look different.)
 */
async function settledAnswers(): Promise<Record<string, unknown>> {
  let previous = await everyAnswer();
  return waitFor(
    async () => {
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      const next = await everyAnswer();
      const settled = isDeepStrictEqual(next, previous);
      previous = next;
      return settled ? next : undefined;
    },
    { description: 'the inbox to settle', timeoutMs: 30_000 },
  );
}

/** Every answer a support tool can get from the inbox, for both accounts. */
async function everyAnswer(): Promise<Record<string, unknown>> {
  const answers: Record<string, unknown> = {};
  for (const key of ['key-acme', 'key-globex']) {
    const paths = [
      '/v1/conversations?limit=200',
      '/v1/conversations?status=escalated',
      '/v1/conversations?status=resolved',
      '/v1/conversations?channel=page_comment',
      '/v1/conversations?q=cake',
      '/v1/conversations?q=silva',
      `/v1/conversations?pageId=${shop.pageId}&limit=200`,
    ];
    let cursor: string | null = null;
    let page = 0;
    do {
      paths.push(`/v1/conversations?limit=3${cursor ? `&cursor=${enc(cursor)}` : ''}`);
      const res: { body: { nextCursor: string | null } } = await api.get(paths[paths.length - 1]!, key);
      cursor = res.body.nextCursor;
      page += 1;
    } while (cursor && page < 10);
    for (const path of paths) answers[`${key} ${path}`] = (await api.get(path, key)).body;
    const list = (await api.get('/v1/conversations?limit=200', key)).body.items as Array<{ id: string }>;
    for (const { id } of list) {
      answers[`${key} ${id}`] = (await api.get(`/v1/conversations/${enc(id)}`, key)).body;
      answers[`${key} ${id} messages`] = (await api.get(`/v1/conversations/${enc(id)}/messages?limit=200`, key)).body;
      const first = (await api.get(`/v1/conversations/${enc(id)}/messages?limit=2`, key)).body as { nextCursor: string | null };
      answers[`${key} ${id} messages page 1`] = first;
      if (first.nextCursor) answers[`${key} ${id} messages page 2`] = (await api.get(`/v1/conversations/${enc(id)}/messages?limit=2&cursor=${enc(first.nextCursor)}`, key)).body;
    }
  }
  return answers;
}

describe('POST /v1/admin/projections/rebuild', () => {
  it('only operators may rebuild; an unknown rebuild is 404', async () => {
    const denied = await api.post('/v1/admin/projections/rebuild', undefined, 'key-acme');
    expect(denied.status).toBe(403);
    expect(denied.body).toMatchObject({ code: 'forbidden' });
    expect((await api.get('/v1/admin/projections/rebuild/nope', 'key-acme')).status).toBe(403);
    expect((await api.get('/v1/admin/projections/rebuild/nope', 'key-ops')).body).toMatchObject({ status: 404, code: 'rebuild_not_found' });
    expect((await api.post('/v1/admin/projections/rebuild', undefined, '')).status).toBe(401);
  });

  it('builds a new copy from the log while the old one serves, switches over, and answers exactly as before', async () => {
    const before = await settledAnswers();
    const oldSchema = service.host.current().schema;
    const oldIndexes = await indexesOf(oldSchema);
    const controller = new AbortController();
    const streamed: string[] = [];
    const stream = await fetch(`${service.url}/v1/stream`, { headers: { authorization: 'Bearer key-acme' }, signal: controller.signal });
    void (async () => {
      const reader = stream.body!.getReader();
      const decoder = new TextDecoder();
      try {
        for (;;) {
          const { value, done } = await reader.read();
          if (done) return;
          streamed.push(decoder.decode(value));
        }
      } catch {
        // aborted
      }
    })();

    try {
      const started = await api.post('/v1/admin/projections/rebuild', undefined, 'key-ops');
      expect(started.status).toBe(202);
      expect(started.headers.get('location')).toBe(`/v1/admin/projections/rebuild/${started.body.id}`);
      expect(rebuildView.parse(started.body)).toMatchObject({ status: 'running', requestedBy: 'ops' });
      const again = await api.post('/v1/admin/projections/rebuild', undefined, 'key-ops');
      expect(again.status).toBe(409);
      expect(again.body).toMatchObject({ code: 'rebuild_in_progress', rebuildId: started.body.id });
      // The old copy keeps answering meanwhile.
      expect((await api.get('/v1/conversations?limit=200')).body).toEqual(before['key-acme /v1/conversations?limit=200']);

      const finished = await waitFor(
        async () => {
          const res = await api.get(`/v1/admin/projections/rebuild/${started.body.id}`, 'key-ops');
          return res.body.status !== 'running' ? res.body : undefined;
        },
        { description: 'the rebuild to finish', timeoutMs: 60_000 },
      );
      expect(rebuildView.parse(finished)).toMatchObject({ status: 'completed', progress: { caughtUp: true }, error: null });
      expect(service.host.current().schema).toBe(finished.schema);
      expect(finished.schema).not.toBe(oldSchema);

      expect(await everyAnswer()).toEqual(before);
      // The copy was written without the API's indexes and built them before it switched: it has
      // every index the old copy had, and the rebuild recorded which ones it deferred.
      expect(await indexesOf(finished.schema)).toEqual(oldIndexes);
      const [rebuildRow] = await sql<{ deferred_indexes: string[] }>(`select deferred_indexes from "${config.DB_SCHEMA}".projection_rebuilds where id = $1`, [started.body.id]);
      expect(rebuildRow!.deferred_indexes.map((d) => /INDEX IF NOT EXISTS (\w+) ON/.exec(d)?.[1]).sort()).toEqual([...API_ONLY_INDEXES].sort());
      await waitFor(async () => (await sql('select 1 from pg_namespace where nspname = $1', [oldSchema])).length === 0, { description: 'the old copy dropped' });
      await waitFor(() => streamed.join('').includes('event: reset'), { description: 'the stream told to reload' });

      // The rebuilt copy goes on consuming live.
      await feed(publisher, topics, [acme.received('ana', { mid: uniqueName('m'), text: 'after the switch', at: Date.now() })]);
      await waitFor(async () => (await api.get(`/v1/conversations/${enc(acme.conversationId('ana'))}`)).body.lastMessagePreview === 'after the switch', {
        description: 'a new message in the rebuilt inbox',
      });
    } finally {
      controller.abort();
    }
  });
});

/** A copy's indexes, its schema name taken out of their definitions. */
async function indexesOf(schema: string): Promise<Array<{ indexname: string; indexdef: string }>> {
  const rows = await sql<{ indexname: string; indexdef: string }>('select indexname, indexdef from pg_indexes where schemaname = $1 order by indexname', [schema]);
  return rows.map((r) => ({ indexname: r.indexname, indexdef: r.indexdef.replaceAll(`${schema}.`, '').replace('IF NOT EXISTS ', '') }));
}

describe('rebuilds and restarts, with two replicas', () => {
  it('a rebuild interrupted by a restart resumes; a second replica follows the switch', async () => {
    const ownTopics = await createProjectionTopics('rebuild-replicas');
    const own = testConfig(ownTopics);
    const { publisher: ownPublisher } = testKafka();
    const page = inboxEvents(uniqueName('replicas'));
    let first: RunningProjection | undefined = await startTestProjection(own);
    let second: RunningProjection | undefined;
    let third: RunningProjection | undefined;
    try {
      await feed(ownPublisher, ownTopics, [
        page.pageConnected({ accountId: 'acme' }),
        ...Array.from({ length: 20 }, (_, i) => page.received(`c-${i}`, { mid: uniqueName('m'), text: `hello ${i}`, at: Date.now() - 60_000 + i })),
      ]);
      const url = (s: RunningProjection) => s.url;
      const list = async (s: RunningProjection) =>
        (await fetch(`${url(s)}/v1/conversations?limit=200`, { headers: { authorization: 'Bearer key-acme' } }).then((r) => r.json())) as { items: unknown[] };
      await waitFor(async () => (await list(first!)).items.length === 20, { description: 'the first replica\'s inbox' });
      const before = await list(first);

      // Start a rebuild and stop at once: it is still running when the process goes away.
      const rebuild = await first.host.startRebuild('ops');
      await first.stop();
      first = undefined;

      // Two replicas of the same service (same schema and group): one resumes the rebuild and switches; the other follows.
      second = await startTestProjection(own);
      third = await startTestProjection(own);
      const done = await waitFor(
        async () => {
          const status = (await second!.host.rebuildStatus(rebuild.id))!;
          return status.status !== 'running' ? status : undefined;
        },
        { description: 'the resumed rebuild to finish', timeoutMs: 60_000 },
      );
      expect(done).toMatchObject({ status: 'completed', progress: { caughtUp: true } });
      await waitFor(() => second!.host.current().schema === done.schema && third!.host.current().schema === done.schema, { description: 'both replicas on the new copy' });
      expect(await list(second)).toEqual(before);
      expect(await list(third)).toEqual(before);
      // Both keep consuming live (sharing the partitions).
      await feed(ownPublisher, ownTopics, Array.from({ length: 6 }, (_, i) => page.received(`n-${i}`, { mid: uniqueName('m'), at: Date.now() + i })));
      await waitFor(async () => (await list(third!)).items.length === 26 && (await list(second!)).items.length === 26, { description: 'new conversations on both replicas' });
    } finally {
      await first?.stop();
      await second?.stop();
      await third?.stop();
      await ownPublisher.disconnect();
      await ownTopics.delete();
      await dropSchemas(own.DB_SCHEMA);
    }
  });
});
