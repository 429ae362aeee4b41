import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EVENT_TOPICS, TOPICS, deterministicId } from '@parley/contracts';
import type { ParleyEvent } from '@parley/contracts';
import { createEventPublisher, createKafkaClient, provisionTopics, startEventConsumer } from '@parley/messaging';
import { createLogger } from '@parley/observability';
import { KAFKA_VERSION, findRepoRoot, freePort, localPath, startLocalKafka } from '@parley/local-stack';
import type { LocalKafka } from '@parley/local-stack';
import { uniqueName, waitFor } from '@parley/testing';
import { startIngress } from '../service.ts';
import type { RunningIngress } from '../service.ts';
import { signatureHeader } from './signature.ts';

// The broker goes away: ingress must answer 503 (Meta retries) and lose nothing. This test runs
// its own single-node Kafka so that it can stop and restart it without disturbing other tests.
const SECRET = 'outage-secret';
const logger = createLogger({ service: 'ingress-outage-test', level: 'silent' });
const root = findRepoRoot(__dirname);
const dataDir = mkdtempSync(join(tmpdir(), 'parley-outage-kafka-'));
let ports: { port: number; controllerPort: number };
let kafka: LocalKafka;
let ingress: RunningIngress;

const startBroker = () =>
  startLocalKafka({ ...ports, dataDir, jarsDir: localPath(root, 'kafka', `jars-${KAFKA_VERSION}`), heapMb: 384 });

beforeAll(async () => {
  const port = await freePort();
  let controllerPort = await freePort();
  while (controllerPort === port) controllerPort = await freePort();
  ports = { port, controllerPort };
  kafka = await startBroker();
  await provisionTopics(createKafkaClient({ brokers: kafka.brokers, clientId: 'outage-test', logger }), EVENT_TOPICS);
  ingress = await startIngress(
    {
      KAFKA_BROKERS: kafka.brokers,
      META_APP_SECRET: [SECRET],
      META_VERIFY_TOKEN: 'v',
      PORT: 0,
      WEBHOOK_BODY_LIMIT_BYTES: 1024 * 1024,
      PUBLISH_TIMEOUT_MS: 4_000,
      DEDUPE_WINDOW_MS: 300_000,
      SENDER_LIMIT_PER_MINUTE: 100,
    },
    { logger },
  );
}, 180_000);

afterAll(async () => {
  await ingress?.stop().catch(() => undefined);
  await kafka?.stop();
  rmSync(dataDir, { recursive: true, force: true });
}, 60_000);

const pageId = uniqueName('page');
function webhook(mid: string) {
  const body = JSON.stringify({ object: 'page', entry: [{ id: pageId, time: Date.now(), messaging: [{ sender: { id: 'c1' }, recipient: { id: pageId }, timestamp: Date.now(), message: { mid, text: mid } }] }] });
  return fetch(`${ingress.url}/webhooks/messenger`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-hub-signature-256': signatureHeader(body, SECRET) }, body });
}

it('answers 503 while the broker is down, then accepts Meta\'s retry and later webhooks, losing nothing and duplicating nothing', async () => {
  expect((await webhook('before')).status).toBe(200);

  await kafka.stop();
  const duringOutage = await webhook('during');
  expect(duringOutage.status).toBe(503);
  expect(duringOutage.headers.get('retry-after')).toBe('5');
  expect(await duringOutage.json()).toMatchObject({ code: 'broker_unavailable' });
  expect((await fetch(`${ingress.url}/readyz`)).status).toBe(503);

  kafka = await startBroker();
  // Meta retries the webhook it got a 503 for; the broker may need a moment to take writes again.
  await waitFor(async () => (await webhook('during')).status === 200, { description: 'the retried webhook accepted', timeoutMs: 60_000, intervalMs: 1_000 });
  expect((await webhook('before')).status).toBe(200); // a late duplicate of the first: acknowledged
  expect((await webhook('after')).status).toBe(200);

  const client = createKafkaClient({ brokers: kafka.brokers, clientId: 'outage-reader', logger });
  const seen: ParleyEvent[] = [];
  const reader = await startEventConsumer({
    kafka: client,
    publisher: createEventPublisher({ kafka: client, logger }),
    logger,
    groupId: uniqueName('outage-reader'),
    topics: [TOPICS.inbound],
    handle: async (event) => {
      if (event.pageId === pageId) seen.push(event);
    },
  });
  try {
    // One customer, one partition: once 'after' is read, everything published before it was too.
    await waitFor(() => seen.some((e) => e.id === deterministicId('message', 'after')), { description: 'the last webhook on the topic', timeoutMs: 30_000 });
    expect(seen.map((e) => e.id)).toEqual([deterministicId('message', 'before'), deterministicId('message', 'during'), deterministicId('message', 'after')]);
  } finally {
    await reader.stop();
  }
}, 240_000);
