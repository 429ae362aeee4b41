// Projection benchmark: the conversation-projection service (its own process, real Kafka and
// PostgreSQL) measured from the outside.
//
//   1. live: events generated straight into a dedicated topic with a fast producer while the
//      service consumes it; events applied per second (from its /metrics) until it has caught up;
//   2. rebuild: POST /v1/admin/projections/rebuild; the time until the new copy has read the whole
//      topic from the beginning and the service switched to it;
//   3. list: p50/p99 of GET /v1/conversations (first page, deep pages by cursor, a status filter,
//      a Page filter, a text search) over the inbox of CONVERSATIONS conversations of one account.
//
//   npm run bench:projection                                   (1,000,000 events, 100,000 conversations)
//   EVENTS=20000 CONVERSATIONS=2000 npm run bench:projection   (a quick run)
//   node tools/benchmarks/src/projection.ts --events=200000 --conversations=20000 --list-requests=300
//
// Needs KAFKA_BROKERS and DATABASE_URL (or starts the local stack's). Prints a Markdown table for
// docs/benchmarks.md. Everything it creates (topic, schemas) is removed afterwards unless KEEP=1.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseEvent } from '@parley/contracts';
import { createEventPublisher, createKafkaClient, provisionTopics } from '@parley/messaging';
import { SERVICES, nodeOptionsFor } from '@parley/local-stack';
import { createLogger } from '@parley/observability';
import pg from 'pg';

const root = join(import.meta.dirname, '..', '..', '..');
const args = Object.fromEntries(
  process.argv
    .slice(2)
    .map((a) => /^--([\w-]+)=(.*)$/.exec(a))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => [m[1]!.toUpperCase().replaceAll('-', '_'), m[2]!]),
);
const setting = (name: string, fallback: number) => Number(args[name] ?? process.env[name] ?? fallback);
const TOTAL_EVENTS = setting('EVENTS', 1_000_000);
const CONVERSATIONS = setting('CONVERSATIONS', 100_000);
const PAGES = setting('PAGES', 10);
const LIST_REQUESTS = setting('LIST_REQUESTS', 500);
const PARTITIONS = setting('PARTITIONS', 6);
const PORT = setting('PORT', 3966);
const KEEP = (process.env['KEEP'] ?? '') === '1';
const logger = createLogger({ service: 'bench', level: 'warn' });
const run = randomBytes(4).toString('hex');
const TOPIC = `bench.projection.${run}`;
const SCHEMA = `bench_projection_${run}`;
const API = `http://127.0.0.1:${PORT}`;

async function main() {
  let brokers = process.env['KAFKA_BROKERS']?.split(',');
  let databaseUrl = process.env['DATABASE_URL'];
  let stopInfra: (() => Promise<void>) | undefined;
  if (!brokers || !databaseUrl) {
    const { ensureInfrastructure } = await import('@parley/local-stack');
    const infra = await ensureInfrastructure({ purpose: 'bench' } as never);
    brokers = infra.kafkaBrokers;
    databaseUrl = infra.databaseUrl;
    stopInfra = infra.stop;
  }
  const kafka = createKafkaClient({ brokers, clientId: `bench-projection-${run}`, logger });
  await provisionTopics(kafka, [
    { name: TOPIC, partitions: PARTITIONS, keyedBy: 'conversation', config: {}, description: 'benchmark' },
    { name: `${TOPIC}.dlq`, partitions: 1, keyedBy: 'conversation', config: {}, description: 'benchmark' },
  ]);
  const publisher = createEventPublisher({ kafka, logger, requestTimeoutMs: 30_000 });
  const generator = eventStream();
  const sample = generator.sample();
  for (const event of sample) {
    const check = parseEvent(event);
    if (!check.ok) throw new Error(`the generator makes invalid events: ${check.message}`);
  }

  const service = await startService(brokers, databaseUrl);
  const results: Array<[string, string]> = [];
  try {
    // 1. Live: produce while the service consumes; measure until everything is applied.
    const liveStarted = performance.now();
    let produced = 0;
    const producing = (async () => {
      for (const chunk of generator.chunks(5_000)) {
        await publisher.publishRaw(chunk.map((e) => ({ topic: TOPIC, key: e.conversationId ?? e.pageId, value: JSON.stringify(e) })));
        produced += chunk.length;
      }
    })();
    await producing;
    const producedMs = performance.now() - liveStarted;
    await waitUntil(async () => (await appliedEvents()) >= generator.count, 'the live projection to catch up', TOTAL_EVENTS / 50 + 60);
    const liveMs = performance.now() - liveStarted;
    results.push(['events produced', `${generator.count.toLocaleString('en')} (${(generator.count / (producedMs / 1000)).toFixed(0)}/s into ${PARTITIONS} partitions)`]);
    results.push(['live: events applied per second', `${(generator.count / (liveMs / 1000)).toFixed(0)}/s (${(liveMs / 1000).toFixed(1)} s to apply all while they were produced)`]);
    void produced;

    // 2. Rebuild from the beginning of the log.
    const rebuildStarted = performance.now();
    const started = await json('POST', '/v1/admin/projections/rebuild', 'ops-key');
    let status: { status: string; error?: string } = started as never;
    await waitUntil(
      async () => {
        status = (await json('GET', `/v1/admin/projections/rebuild/${(started as { id: string }).id}`, 'ops-key')) as never;
        return status.status !== 'running';
      },
      'the rebuild',
      TOTAL_EVENTS / 50 + 120,
    );
    if (status.status !== 'completed') throw new Error(`rebuild ${status.status}: ${status.error}`);
    const rebuildMs = performance.now() - rebuildStarted;
    results.push([`rebuild of ${generator.count.toLocaleString('en')} events`, `${(rebuildMs / 1000).toFixed(1)} s (${(generator.count / (rebuildMs / 1000)).toFixed(0)} events/s)`]);

    // 3. The conversation list over the whole inbox.
    const count = await conversationCount(databaseUrl);
    results.push(['conversations in the inbox', count.toLocaleString('en')]);
    for (const [name, latencies] of await listLatencies()) {
      results.push([`list: ${name}`, `p50 ${percentile(latencies, 50).toFixed(1)} ms · p99 ${percentile(latencies, 99).toFixed(1)} ms (${latencies.length} requests)`]);
    }
  } finally {
    service.kill('SIGTERM');
    await new Promise((resolve) => service.once('exit', resolve));
    await publisher.disconnect();
    if (!KEEP) {
      const admin = kafka.admin();
      await admin.connect();
      await admin.deleteTopics({ topics: [TOPIC, `${TOPIC}.dlq`] }).catch(() => undefined);
      await admin.disconnect();
      await dropSchemas(databaseUrl);
    }
    await stopInfra?.();
  }

  console.log(`\nMachine: ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${(totalmem() / 2 ** 30).toFixed(1)} GiB; Node ${process.version}; ${new Date().toISOString()}`);
  console.log(`Workload: ${TOTAL_EVENTS.toLocaleString('en')} events over ${CONVERSATIONS.toLocaleString('en')} conversations on ${PAGES} Pages of one account (messages, sends, echoes, deliveries, reads, escalations, resolutions), one topic of ${PARTITIONS} partitions.\n`);
  console.log('| measure | result |');
  console.log('|---|---|');
  for (const [name, value] of results) console.log(`| ${name} | ${value} |`);
}

// ---------------------------------------------------------------------------------------------
// Events: each conversation goes through a script of steps, conversations interleaved; built as
// plain objects (validated on a sample) because building a million through zod takes minutes.
// ---------------------------------------------------------------------------------------------

type RawEvent = Record<string, unknown> & { conversationId: string | null; pageId: string };

function eventStream() {
  const pages = Array.from({ length: PAGES }, (_, i) => `9${run.replace(/\D/g, '').padEnd(4, '0').slice(0, 4)}${String(i).padStart(6, '0')}`);
  const base = Date.now() - 2 * 24 * 3_600_000;
  const steps = ['received', 'requested', 'sent', 'echo', 'delivery', 'read', 'received', 'escalated', 'resolved', 'received'] as const;
  const pageEvents = PAGES;
  const count = pageEvents + TOTAL_EVENTS;
  let sequence = 0;

  const envelope = (type: string, pageId: string, conversationId: string | null, at: number, data: unknown, accountId: string | null = null): RawEvent => ({
    id: `${run}-${sequence++}`,
    type,
    version: 1,
    occurredAt: new Date(at).toISOString(),
    recordedAt: new Date(at).toISOString(),
    accountId,
    pageId,
    conversationId,
    causationId: null,
    correlationId: null,
    data,
  });

  function event(index: number): RawEvent {
    if (index < pageEvents) {
      return envelope('page.connected', pages[index]!, null, base, { name: `Bench Page ${index}`, subscribedFields: ['messages'], reconnect: false }, 'bench');
    }
    const n = index - pageEvents;
    const c = n % CONVERSATIONS;
    const round = Math.floor(n / CONVERSATIONS);
    const step = steps[round % steps.length]!;
    const pageId = pages[c % PAGES]!;
    const psid = `7${String(c).padStart(12, '0')}`;
    const conversationId = `${pageId}:${psid}`;
    const at = base + round * 60_000 + (c % 1000);
    const customer = { psid, name: null };
    const inbound = { channel: 'messenger', customer, timestamp: at, standby: false, throttled: false, raw: {} };
    // Each pass through the script is a new send (a new outboundId and mid).
    const cycle = Math.floor(round / steps.length);
    const outboundId = `${run}-o-${c}-${cycle}`;
    const outMid = `m_${run}_out_${c}_${cycle}`;
    const mid = `m_${run}_${c}_${round}`;
    switch (step) {
      case 'received':
        return envelope('messenger.message.received', pageId, conversationId, at, {
          ...inbound,
          mid,
          text: `Hello, customer ${c} here, asking about order ${round} — when will it ship?`,
          attachments: [],
          quickReplyPayload: null,
          replyToMid: null,
        });
      case 'requested':
        return envelope('outbound.send.requested', pageId, conversationId, at, {
          outboundId,
          customer,
          channel: 'messenger',
          commentId: null,
          author: 'assistant',
          purpose: 'reply',
          parts: [{ text: 'Thanks for writing! Your order ships tomorrow.' }],
          messagingType: 'RESPONSE',
          tag: null,
          sendAt: new Date(at).toISOString(),
          typingIndicator: true,
          agentId: null,
        });
      case 'sent':
        return envelope('outbound.message.sent', pageId, conversationId, at, {
          outboundId,
          customer,
          channel: 'messenger',
          author: 'assistant',
          part: 0,
          partCount: 1,
          mid: outMid,
          content: { text: 'Thanks for writing! Your order ships tomorrow.' },
          messagingType: 'RESPONSE',
          tag: null,
          sentAt: new Date(at).toISOString(),
        });
      case 'echo':
        return envelope('messenger.message.echoed', pageId, conversationId, at - 30_000, {
          ...inbound,
          timestamp: at - 30_000,
          mid: outMid,
          appId: '1517776481860111',
          metadata: null,
          text: 'Thanks for writing! Your order ships tomorrow.',
          attachments: [],
        });
      case 'delivery':
        return envelope('messenger.delivery.received', pageId, conversationId, at, { ...inbound, mids: [outMid], watermark: at });
      case 'read':
        return envelope('messenger.read.received', pageId, conversationId, at, { ...inbound, watermark: at });
      case 'escalated':
        return envelope('conversation.escalated', pageId, conversationId, at, { customer, channel: 'messenger', reason: 'keyword', detail: null, by: 'rules', triggerEventId: null });
      case 'resolved':
        return envelope('conversation.resolved', pageId, conversationId, at, { customer, channel: 'messenger', by: 'agent', agentId: null });
      default: {
        const unknown: never = step;
        throw new Error(`unknown step ${String(unknown)}`);
      }
    }
  }

  return {
    count,
    pages,
    sample: () => Array.from({ length: Math.min(count, PAGES + CONVERSATIONS * steps.length) }, (_, i) => event(i)).filter((_, i) => i < PAGES || i % Math.max(1, Math.floor(CONVERSATIONS / 7)) === 0),
    *chunks(size: number): Generator<RawEvent[]> {
      for (let start = 0; start < count; start += size) {
        yield Array.from({ length: Math.min(size, count - start) }, (_, i) => event(start + i));
      }
    },
  };
}

// ---------------------------------------------------------------------------------------------

async function startService(brokers: string[], databaseUrl: string): Promise<ChildProcess> {
  // SERVICE_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof" profiles the service while it is measured.
  // As deployed (nodeOptionsFor), plus SERVICE_NODE_ARGS (e.g. a CPU profile).
  const nodeArgs = [...nodeOptionsFor(SERVICES.find((s) => s.name === 'conversation-projection')!), ...(process.env['SERVICE_NODE_ARGS'] ?? '').split(' ').filter(Boolean)];
  const child = spawn(process.execPath, [...nodeArgs, 'services/conversation-projection/src/main.ts'], {
    cwd: root,
    env: {
      ...process.env,
      KAFKA_BROKERS: brokers.join(','),
      DATABASE_URL: databaseUrl,
      PORT: String(PORT),
      // SERVICE_LOG_LEVEL=info shows how long finishing the rebuild's bulk load took.
      LOG_LEVEL: process.env['SERVICE_LOG_LEVEL'] ?? 'warn',
      API_KEYS: 'bench:bench-key,ops:ops-key',
      ADMIN_ACCOUNT_IDS: 'ops',
      META_APP_ID: '1517776481860111',
      AUTH_TOKEN_URL: 'http://127.0.0.1:9',
      INTERNAL_API_TOKEN: 'unused',
      PROFILE_ENRICHMENT: 'false',
      DB_SCHEMA: SCHEMA,
      CONSUMER_GROUP: `bench-projection-${run}`,
      PROJECTION_TOPICS: TOPIC,
      REBUILD_RETIRE_AFTER_MS: '0',
    },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  await waitUntil(async () => {
    if (child.exitCode !== null) throw new Error(`the service exited with ${child.exitCode}`);
    return fetch(`${API}/readyz`).then((r) => r.ok, () => false);
  }, 'the service to start', 60);
  return child;
}

async function appliedEvents(): Promise<number> {
  const text = await fetch(`${API}/metrics`).then((r) => r.text());
  let sum = 0;
  for (const line of text.split('\n')) if (line.startsWith('projection_events_applied_total{')) sum += Number(line.split(' ').pop());
  return sum;
}

async function json(method: string, path: string, key: string): Promise<unknown> {
  const res = await fetch(`${API}${path}`, { method, headers: { authorization: `Bearer ${key}` } });
  if (!res.ok) throw new Error(`${method} ${path} answered ${res.status}: ${await res.text()}`);
  return res.json();
}

async function listLatencies(): Promise<Map<string, number[]>> {
  const timed = async (path: string): Promise<{ ms: number; body: { items: Array<{ customer: { name: string } }>; nextCursor: string | null } }> => {
    const started = performance.now();
    const res = await fetch(`${API}${path}`, { headers: { authorization: 'Bearer bench-key' } });
    const body = (await res.json()) as { items: Array<{ customer: { name: string } }>; nextCursor: string | null };
    if (!res.ok) throw new Error(`${path} answered ${res.status}`);
    return { ms: performance.now() - started, body };
  };
  const results = new Map<string, number[]>();
  const record = (name: string, ms: number) => results.set(name, [...(results.get(name) ?? []), ms]);
  for (let i = 0; i < 20; i++) await timed('/v1/conversations?limit=50'); // warm-up
  const firstPage = await timed('/v1/conversations?limit=50');
  const someName = firstPage.body.items[0]?.customer.name.split(' ').pop() ?? 'a1b2';
  const pageId = `9${run.replace(/\D/g, '').padEnd(4, '0').slice(0, 4)}${String(0).padStart(6, '0')}`;
  for (let i = 0; i < LIST_REQUESTS; i++) {
    record('first page (limit 50)', (await timed('/v1/conversations?limit=50')).ms);
    if (i % 5 === 0) {
      let cursor = firstPage.body.nextCursor;
      for (let p = 0; p < 10 && cursor; p++) {
        const page = await timed(`/v1/conversations?limit=50&cursor=${encodeURIComponent(cursor)}`);
        record('next pages by cursor', page.ms);
        cursor = page.body.nextCursor;
      }
    }
    record('status=escalated', (await timed('/v1/conversations?limit=50&status=escalated')).ms);
    record('pageId filter', (await timed(`/v1/conversations?limit=50&pageId=${pageId}`)).ms);
    if (i % 5 === 0) record(`q (customer name "${someName}")`, (await timed(`/v1/conversations?limit=50&q=${encodeURIComponent(someName)}`)).ms);
    if (i % 5 === 0) record('q (message text "order 3")', (await timed(`/v1/conversations?limit=50&q=${encodeURIComponent('order 3')}`)).ms);
  }
  return results;
}

async function conversationCount(databaseUrl: string): Promise<number> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const { rows } = await client.query<{ active_schema: string }>(`select active_schema from "${SCHEMA}".projection_state`);
    const count = await client.query<{ n: string }>(`select count(*)::text as n from "${rows[0]!.active_schema}".conversations`);
    return Number(count.rows[0]!.n);
  } finally {
    await client.end();
  }
}

async function dropSchemas(databaseUrl: string): Promise<void> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const { rows } = await client.query<{ nspname: string }>(`select nspname from pg_namespace where nspname = $1 or nspname like $2`, [SCHEMA, `${SCHEMA}\\_%`]);
    for (const { nspname } of rows) await client.query(`drop schema if exists "${nspname}" cascade`);
  } finally {
    await client.end();
  }
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? 0;
}

async function waitUntil(check: () => Promise<boolean>, what: string, timeoutS: number): Promise<void> {
  const deadline = Date.now() + timeoutS * 1000;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error(`timed out waiting for ${what}`);
}

await main();
