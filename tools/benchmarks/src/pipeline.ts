// Reply-pipeline benchmark: end-to-end latency from the simulator's webhook for a new customer's
// question to the Send API call that answers it (typing indicators excluded), at a steady rate of
// new conversations, with an instant response delay and the built-in assistant. Two systems answer
// the same traffic in the same run:
//
//   Parley     the six services as processes (tools/e2e's stack: own Kafka namespace, own database),
//              every step durable (Kafka acks=all, PostgreSQL), Meta played by an in-process simulator;
//   Bottender  a Bottender 1.5 Messenger bot in one process (bottender-bot.ts) answering with the same
//              `builtinAnswer` from the same knowledge, its state in memory, against a second
//              simulator started with the very same options (a simulator posts to one webhook URL).
//
// Each system gets PAGES Pages (Parley's connected through the OAuth flow, Bottender's given their
// Page tokens); every message is a new customer (a new conversation) on the next Page in turn.
// Phases, Parley and Bottender alternating so both see the same machine:
//   0. warm-up: a question per Page, then WARMUP_RATE per second for WARMUP_S seconds (default 20/s
//      for 10 s; WARMUP_S=0 for none), not measured. With only the question per Page, the steady
//      phase began while V8 was still compiling the services' hot code, and its backlog from those
//      first seconds decided its p99 (a long-running deployment is past that within a minute);
//   1. steady: RATE new customers per second for DURATION_S seconds;
//   2. step-up: STEP_START, STEP_START + STEP_SIZE, … up to STEP_MAX per second, STEP_DURATION_S each,
//      until a rate is not held: p99 over 1 s, or a message left unanswered DRAIN_S after the last send.
// Peak resident memory (VmHWM) of every Parley service process and of the Bottender process is read
// after the steady phase (the load the target is about) and at the end. For Parley it also reads the
// run's own topics at the end to show where the time goes (webhook → ingress → rules → responder →
// outbound-sender → Send API), and it counts answers that are not what the built-in assistant says
// to the question (an answer made before the question reached the responder's context, for one).
//
// The simulators post a message, its echo and its delivery receipt to each system, each Page's in
// order and Pages side by side (WEBHOOK_ORDER=global: one POST at a time for everything); the time
// webhooks waited inside the simulator is printed, so that its queue is never mistaken for the system.
//
//   npm run bench:pipeline                          (KAFKA_BROKERS + DATABASE_URL, or the local stack's)
//   RATE=10 DURATION_S=10 PAGES=5 STEP_START=10 STEP_MAX=10 npm run bench:pipeline   (a quick check)
//
// Loopback only; every loop is bounded in count and time; it stops by itself and removes what it
// created (processes, the database, the Kafka topics of its namespace). Prints Markdown for
// docs/benchmarks.md with the machine and the date.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import pg from 'pg';
import { builtinAnswer, NOT_SURE } from '@parley/builtin-assistant';
import type { Passage } from '@parley/builtin-assistant';
import { EVENT_TOPICS, TOPICS } from '@parley/contracts';
import { connectNewPage, createAssistant, saveSettings, startStack } from '@parley/e2e';
import type { ServiceName, Stack } from '@parley/e2e';
import { SERVICES, ensureInfrastructure, freePort } from '@parley/local-stack';
import { startMetaSimulator } from '@parley/meta-simulator';
import type { RunningMetaSimulator } from '@parley/meta-simulator';
import { createKafkaClient } from '@parley/messaging';
import { createLogger } from '@parley/observability';
import { deleteTestTopics, waitFor } from '@parley/testing';
import { ageSecondsOf, cpuMsOfPid, pidsMatching, postgresCpuMs } from './proc.ts';

const root = join(import.meta.dirname, '..', '..', '..');
const setting = (name: string, fallback: number): number => {
  const value = Number(process.env[name] ?? fallback);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`${name} must be a positive number, got ${process.env[name]}`);
  return value;
};
const RATE = setting('RATE', 50);
const DURATION_S = setting('DURATION_S', 30);
/** Parley sends at most PAGE_SEND_RATE_PER_SECOND (20) Send API calls per Page, typing indicator included: 10 answers/s. */
const PAGES = Math.round(setting('PAGES', 50));
const ANSWERS_PER_PAGE_PER_SECOND = 10;
const STEP_START = setting('STEP_START', 50);
const STEP_SIZE = setting('STEP_SIZE', 50);
/** Beyond PAGES × 10/s Parley holds sends back on purpose (Meta's per-Page pace), which is not what is measured. */
const PAGE_CAPACITY = PAGES * ANSWERS_PER_PAGE_PER_SECOND;
const STEP_MAX = Math.min(setting('STEP_MAX', 1000), PAGE_CAPACITY);
const STEP_DURATION_S = setting('STEP_DURATION_S', 20);
const DRAIN_S = setting('DRAIN_S', 30);
const WARMUP_RATE = setting('WARMUP_RATE', 20);
const WARMUP_S = Number(process.env['WARMUP_S'] ?? 10);
if (!Number.isFinite(WARMUP_S) || WARMUP_S < 0) throw new Error(`WARMUP_S must be 0 or more seconds, got ${process.env['WARMUP_S']}`);
const P99_LIMIT_MS = 1_000;
const LOG_LEVEL = process.env['LOG_LEVEL'] ?? 'info';
/**
 * `per-page` (default): the simulators post each Page's webhooks in order and different Pages' side
 * by side, as a platform with many Pages sees them; `global`: one POST at a time for everything
 * (the simulator's default), which caps both systems at the simulator's pace.
 */
const WEBHOOK_ORDER = process.env['WEBHOOK_ORDER'] === 'global' ? 'global' : 'per-page';

// The knowledge both answer from, and questions it answers (checked below with the same function).
const INSTRUCTIONS = 'You answer customers of a small shop, briefly and politely.';
const KNOWLEDGE = [
  { title: 'Opening hours', content: 'We are open Monday to Friday from 9:00 to 17:00, and Saturday from 10:00 to 14:00.' },
  { title: 'Shipping', content: 'We ship within 2–3 working days. Shipping is free for orders over €50.' },
  { title: 'Returns and refunds', content: 'You can return any item within 30 days for a full refund. Bring the receipt.' },
  { title: 'Where to find us', content: 'Our shop is at 12 Harbour Street, Brighton.' },
  { title: 'Payment methods', content: 'We accept cards, PayPal and cash in the shop.' },
];
const PASSAGES: Passage[] = KNOWLEDGE.map((k, i) => ({ id: `k${i + 1}`, ...k }));
const QUESTIONS = ['What are your opening hours?', 'How much is shipping?', 'Can I get a refund?', 'Do you take PayPal?', 'Where is your shop?'];
const EXPECTED = QUESTIONS.map(
  (text) => builtinAnswer({ assistant: { instructions: INSTRUCTIONS, knowledge: PASSAGES }, customerFirstName: null, entries: [{ author: 'customer', text, attachments: [], postback: null }] }).text,
);

type Target = {
  name: string;
  meta: RunningMetaSimulator;
  pages: string[];
  processes(): Array<{ name: string; pid: number | undefined }>;
  /** Round trips to PostgreSQL so far, per process (Parley's services count them in `db_round_trips_total`). */
  roundTrips(): Promise<RoundTrips[]>;
  /** Position in the simulator's Send API log up to which records have been looked at. */
  cursor: number;
  alive: boolean;
};

type PhaseResult = {
  system: string;
  rate: number;
  seconds: number;
  sent: number;
  answered: number;
  wrong: number;
  offeredPerSecond: number;
  answeredPerSecond: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
  inFlightAtEnd: number;
  webhookWaitP99: number;
  webhookPostP99: number;
  webhookFailed: number;
  /** p50 of the first Send API call of any kind (the typing indicator, for Parley): where the time goes. */
  firstCallP50: number;
  /** A few of the answers that were not the built-in assistant's answer to the question. */
  wrongExamples: string[];
  /** CPU milliseconds each of the system's processes (and the broker and database) used per answered message, from sending to the end of the drain. */
  cpuMsPerAnswer: Array<{ name: string; ms: number }>;
  /** Round trips to PostgreSQL per answered message, same span as the CPU. */
  roundTripsPerAnswer: RoundTrips[];
  held: boolean;
  /** Per conversation: the webhook time, the first Send API call, the answer (for the stage breakdown). */
  samples: Map<string, { t0: number; firstCall: number | undefined; answer: number | undefined }>;
};

/** `statements` as sent by the code; `transactions` counts BEGIN and its COMMIT or ROLLBACK together, two round trips each. */
type RoundTrips = { name: string; statements: number; transactions: number };

type Memory = { name: string; hwmMiB: number; rssMiB: number };
/** Where a service's memory is, from its /metrics (prom-client's process and Node.js metrics). */
type Heap = { name: string; heapUsedMiB: number; heapTotalMiB: number; externalMiB: number; rssMiB: number };

let psidSequence = 0;
/** PSIDs given explicitly: the simulator's own generator scans every customer, which a long run cannot afford. */
const nextPsid = (): string => String(3_100_000_000_000_000 + ++psidSequence);

async function main(): Promise<void> {
  if (RATE > PAGE_CAPACITY) throw new Error(`RATE ${RATE}/s is more than ${PAGES} Pages × ${ANSWERS_PER_PAGE_PER_SECOND} answers/s that Parley sends per Page: raise PAGES`);
  for (const [i, expected] of EXPECTED.entries()) {
    if (expected === NOT_SURE) throw new Error(`the knowledge does not answer "${QUESTIONS[i]}": fix the benchmark's questions`);
  }
  let stopInfra: (() => Promise<void>) | undefined;
  if (!process.env['KAFKA_BROKERS'] || !process.env['DATABASE_URL']) {
    const infra = await ensureInfrastructure({ purpose: 'test', onProgress: (m) => console.error(`[infra] ${m}`) });
    process.env['KAFKA_BROKERS'] = infra.kafkaBrokers.join(',');
    process.env['DATABASE_URL'] = infra.databaseUrl;
    stopInfra = infra.stop;
  }
  const maxPerPhase = Math.max(RATE * DURATION_S, STEP_MAX * STEP_DURATION_S);
  // A message, its echo and its delivery receipt: three webhooks each; the log is read and cleared per phase.
  const simulator = { deliveryLogLimit: Math.ceil(maxPerPhase * 4) + 1_000, webhookOrder: WEBHOOK_ORDER } as const;
  const startedAt = new Date();
  const load = loadavg();
  // A broker started minutes ago is still compiling its hot code: it cost 8.9–11.1 ms of CPU per
  // answer in such runs against 4.3 warm (eighth session). The report says how old it was.
  const brokerAgeS = Math.max(0, ...pidsMatching('kafka.Kafka').map((pid) => ageSecondsOf(pid) ?? 0));

  console.error(`[bench] starting Parley (6 services, LOG_LEVEL=${LOG_LEVEL})…`);
  const stack = await startStack({ name: 'bench', logLevel: LOG_LEVEL, simulator });
  let bottender: { child: ChildProcess; meta: RunningMetaSimulator; pages: string[] } | undefined;
  try {
    const assistantId = await createAssistant(stack, { name: 'Shop helper', instructions: INSTRUCTIONS, knowledge: KNOWLEDGE });
    const parleyPages: string[] = [];
    for (let i = 0; i < PAGES; i++) {
      const page = await connectNewPage(stack, `Bench Shop ${i + 1}`);
      await saveSettings(stack, page.pageId, { autoReply: true, assistantId, responseDelay: 'instant', greetingMessage: null, awayMessage: null, escalationKeywords: [] });
      parleyPages.push(page.pageId);
    }
    console.error(`[bench] ${PAGES} Pages connected to Parley`);
    const parley: Target = {
      name: 'Parley',
      meta: stack.meta,
      pages: parleyPages,
      processes: () => SERVICES.map(({ name }) => ({ name, pid: stack.pid(name as ServiceName) })),
      roundTrips: () => roundTripsOf(stack),
      cursor: 0,
      alive: true,
    };

    bottender = await startBottender(stack, parleyPages[0]!);
    const bot = bottender;
    const bottenderTarget: Target = { name: 'Bottender', meta: bot.meta, pages: bot.pages, processes: () => [{ name: 'bottender', pid: bot.child.pid }], roundTrips: async () => [], cursor: 0, alive: true };

    for (const target of [parley, bottenderTarget]) await warmUp(target);

    const steady: PhaseResult[] = [];
    for (const target of [parley, bottenderTarget]) steady.push(await runPhase(target, RATE, DURATION_S));
    const memoryAtRate = [...parley.processes(), ...bottenderTarget.processes()].map(memoryOf);
    const heapAtRate = await heapOf(stack);

    const steps: PhaseResult[] = [];
    for (let rate = STEP_START; rate <= STEP_MAX && (parley.alive || bottenderTarget.alive); rate += STEP_SIZE) {
      for (const target of [parley, bottenderTarget]) {
        if (!target.alive) continue;
        const result = await runPhase(target, rate, STEP_DURATION_S);
        steps.push(result);
        if (!result.held) target.alive = false;
      }
    }
    const memoryAtEnd = [...parley.processes(), ...bottenderTarget.processes()].map(memoryOf);
    const marks = await readStageMarks(stack);
    report({ startedAt, load, brokerAgeS, steady, steps, memoryAtRate, heapAtRate, memoryAtEnd, marks, benchRssMiB: process.memoryUsage().rss / 2 ** 20 });
  } finally {
    if (bottender) {
      bottender.child.kill('SIGTERM');
      await bottender.meta.stop();
    }
    await stack.stop();
    await cleanUp(stack);
    await stopInfra?.();
  }
}

/** The Bottender bot in its own process, behind a second simulator set up exactly like Parley's. */
async function startBottender(stack: Stack, parleyPage: string): Promise<{ child: ChildProcess; meta: RunningMetaSimulator; pages: string[] }> {
  const port = await freePort();
  const meta = await startMetaSimulator({ port: 0, host: '127.0.0.1', ...stack.simulatorOptions, webhookUrl: `http://127.0.0.1:${port}/webhooks/messenger` });
  // The same webhook fields as auth-token subscribed Parley's Pages to (echoes and deliveries included).
  const fields = stack.meta.platform.page(parleyPage).subscribedFields;
  const tokens: Record<string, string> = {};
  for (let i = 0; i < PAGES; i++) {
    const page = meta.platform.createPage({ name: `Bench Shop ${i + 1}`, subscribe: fields ? [...fields] : true });
    tokens[page.id] = page.controlToken;
  }
  const child = spawn(process.execPath, ['tools/benchmarks/src/bottender-bot.ts'], {
    cwd: root,
    env: {
      ...process.env,
      PORT: String(port),
      META_APP_ID: stack.simulatorOptions.appId!,
      META_APP_SECRET: stack.simulatorOptions.appSecret!,
      GRAPH_API_BASE_URL: meta.url,
      PAGE_TOKENS: JSON.stringify(tokens),
      ASSISTANT: JSON.stringify({ instructions: INSTRUCTIONS, knowledge: PASSAGES }),
      NODE_ENV: 'production',
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  try {
    await waitFor(
      async () => {
        if (child.exitCode !== null) throw new Error(`the Bottender bot exited with ${child.exitCode}`);
        return (await fetch(`http://127.0.0.1:${port}/healthz`).then((r) => r.ok, () => false)) || undefined;
      },
      { description: 'the Bottender bot listening', timeoutMs: 30_000, intervalMs: 200 },
    );
  } catch (error) {
    child.kill('SIGTERM');
    await meta.stop();
    throw error;
  }
  return { child, meta, pages: Object.keys(tokens) };
}

/** One question per Page, answered before measuring: tokens fetched, consumers assigned, code warm. */
async function warmUp(target: Target): Promise<void> {
  const pending = new Map<string, { t0: number; question: number }>();
  for (const pageId of target.pages) send(target, pageId, pending);
  const answered: Answered = new Map();
  await waitFor(
    () => {
      collect(target, pending, answered);
      return answered.size === pending.size;
    },
    { description: `${target.name} answering the warm-up questions`, timeoutMs: 120_000, intervalMs: 200 },
  );
  await settle(target);
  if (WARMUP_S > 0) {
    console.error(`[bench] ${target.name}: warming up (not measured)…`);
    await runPhase(target, WARMUP_RATE, WARMUP_S);
    await settle(target);
  }
}

function send(target: Target, pageId: string, pending: Map<string, { t0: number; question: number }>): void {
  const psid = nextPsid();
  const question = psidSequence % QUESTIONS.length;
  target.meta.platform.createCustomer(pageId, { psid });
  const { timestamp, delivery } = target.meta.platform.customerMessage(pageId, psid, { text: QUESTIONS[question]! });
  delivery.catch(() => undefined);
  pending.set(`${pageId}:${psid}`, { t0: timestamp, question });
}

type Answered = Map<string, { at: number; text: string | undefined }>;

/**
 * Reads the Send API log from where it was last read: the first message (not a typing indicator)
 * to each customer, and the first call of any kind.
 */
function collect(target: Target, pending: ReadonlyMap<string, unknown>, answered: Answered, firstCalls: Map<string, number> = new Map()): void {
  const log = target.meta.state.sent;
  for (; target.cursor < log.length; target.cursor++) {
    const record = log[target.cursor]!;
    if (!record.accepted || record.recipientId === undefined) continue;
    const key = `${record.pageId}:${record.recipientId}`;
    if (!pending.has(key)) continue;
    if (!firstCalls.has(key)) firstCalls.set(key, record.at);
    const message = record.request['message'] as { text?: string } | undefined;
    if (message !== undefined && !answered.has(key)) answered.set(key, { at: record.at, text: message.text });
  }
}

async function runPhase(target: Target, rate: number, seconds: number): Promise<PhaseResult> {
  console.error(`[bench] ${target.name}: ${rate} new customers/s for ${seconds} s…`);
  const total = Math.round(rate * seconds);
  const pending = new Map<string, { t0: number; question: number }>();
  const answered: Answered = new Map();
  const firstCalls = new Map<string, number>();
  const phaseStart = Date.now();
  const cpuBefore = cpuOf(target);
  const roundTripsBefore = await target.roundTrips();
  const start = performance.now();
  let sent = 0;
  let page = 0;
  // Open-loop arrivals: what is due by now is sent now, whatever the system's pace.
  while (sent < total) {
    const due = Math.min(total, Math.floor(((performance.now() - start) / 1000) * rate) + 1);
    while (sent < due) {
      send(target, target.pages[page++ % target.pages.length]!, pending);
      sent++;
    }
    collect(target, pending, answered, firstCalls);
    await delay(5);
  }
  const sendSeconds = (performance.now() - start) / 1000;
  collect(target, pending, answered, firstCalls);
  const inFlightAtEnd = sent - answered.size;
  const drainDeadline = Date.now() + DRAIN_S * 1000;
  while (answered.size < sent && Date.now() < drainDeadline) {
    await delay(50);
    collect(target, pending, answered, firstCalls);
  }

  const latencies: number[] = [];
  const firstCallLatencies: number[] = [];
  const wrongExamples = new Set<string>();
  let wrong = 0;
  let firstT0 = Infinity;
  let lastAt = 0;
  for (const [key, { t0, question }] of pending) {
    firstT0 = Math.min(firstT0, t0);
    const answer = answered.get(key);
    if (!answer) {
      latencies.push(Infinity);
      continue;
    }
    latencies.push(answer.at - t0);
    firstCallLatencies.push((firstCalls.get(key) ?? answer.at) - t0);
    lastAt = Math.max(lastAt, answer.at);
    if (answer.text !== EXPECTED[question]) {
      wrong++;
      if (wrongExamples.size < 3) wrongExamples.add(`"${QUESTIONS[question]}" → "${answer.text ?? '[no text]'}"`);
    }
  }
  const cpuAfter = cpuOf(target);
  const cpuMsPerAnswer = cpuAfter.map(({ name, ms }) => ({ name, ms: (ms - (cpuBefore.find((b) => b.name === name)?.ms ?? 0)) / Math.max(1, answered.size) }));
  const roundTripsPerAnswer = (await target.roundTrips()).map(({ name, statements, transactions }) => {
    const before = roundTripsBefore.find((b) => b.name === name);
    const per = (now: number, then = 0) => (now - then) / Math.max(1, answered.size);
    return { name, statements: per(statements, before?.statements), transactions: per(transactions, before?.transactions) };
  });
  latencies.sort((a, b) => a - b);
  firstCallLatencies.sort((a, b) => a - b);
  const webhooks = await webhookStats(target, phaseStart);
  const p99 = percentile(latencies, 0.99);
  const result: PhaseResult = {
    system: target.name,
    rate,
    seconds,
    sent,
    answered: answered.size,
    wrong,
    offeredPerSecond: sent / sendSeconds,
    answeredPerSecond: lastAt > firstT0 ? answered.size / ((lastAt - firstT0) / 1000) : 0,
    p50: percentile(latencies, 0.5),
    p95: percentile(latencies, 0.95),
    p99,
    max: latencies[latencies.length - 1] ?? 0,
    inFlightAtEnd,
    ...webhooks,
    firstCallP50: percentile(firstCallLatencies, 0.5),
    wrongExamples: [...wrongExamples],
    cpuMsPerAnswer,
    roundTripsPerAnswer,
    samples: new Map([...pending].map(([key, { t0 }]) => [key, { t0, firstCall: firstCalls.get(key), answer: answered.get(key)?.at }])),
    held: answered.size === sent && p99 < P99_LIMIT_MS,
  };
  console.error(
    `[bench] ${target.name} @${rate}/s: ${result.answered}/${result.sent} answered, p50 ${fmt(result.p50)} p99 ${fmt(result.p99)} ms, ${result.held ? 'held' : 'NOT held'}`,
  );
  // A backlog is worked off before the next phase, so that it does not weigh on the other system.
  await settle(target, answered.size < sent ? 120_000 : 30_000, () => {
    collect(target, pending, answered, firstCalls);
    return answered.size === sent;
  });
  return result;
}

/**
 * How long webhooks waited in the simulator before being posted (it posts one at a time, in order,
 * as Meta promises) and how long each POST took: if the wait grows, the simulator's queue is part
 * of the latency. The log is cleared after each phase.
 */
async function webhookStats(target: Target, since: number): Promise<{ webhookWaitP99: number; webhookPostP99: number; webhookFailed: number }> {
  await Promise.race([target.meta.whenIdle(), delay(30_000)]);
  const waits: number[] = [];
  const posts: number[] = [];
  let failed = 0;
  for (const delivery of target.meta.deliveries()) {
    if (Date.parse(delivery.createdAt) < since) continue;
    if (delivery.status === 'failed') failed++;
    const first = delivery.attempts[0];
    if (!first) continue;
    waits.push(Date.parse(first.startedAt) - Date.parse(delivery.createdAt));
    posts.push(first.durationMs);
  }
  target.meta.platform.dispatcher.clear();
  waits.sort((a, b) => a - b);
  posts.sort((a, b) => a - b);
  return { webhookWaitP99: percentile(waits, 0.99), webhookPostP99: percentile(posts, 0.99), webhookFailed: failed };
}

/** Lets the system finish what it was doing (echoes, receipts, a backlog) before the next phase. */
async function settle(target: Target, timeoutMs = 30_000, done: () => boolean = () => true): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!done() && Date.now() < deadline) await delay(200);
  await Promise.race([target.meta.whenIdle(), delay(Math.max(0, deadline - Date.now()))]);
  target.meta.platform.dispatcher.clear();
  await delay(2_000);
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)]!;
}

/**
 * CPU used so far by the target's processes, and by the Kafka broker and PostgreSQL (shared by both
 * systems, so only meaningful for Parley; Bottender uses neither).
 */
function cpuOf(target: Target): Array<{ name: string; ms: number }> {
  const sum = (pids: number[]) => pids.reduce((total, pid) => total + cpuMsOfPid(pid), 0);
  return [
    ...target.processes().map(({ name, pid }) => ({ name, ms: pid === undefined ? 0 : cpuMsOfPid(pid) })),
    { name: 'kafka broker', ms: sum(pidsMatching('kafka.Kafka')) },
    { name: 'postgresql', ms: postgresCpuMs() },
    { name: 'benchmark (simulators)', ms: cpuMsOfPid(process.pid) },
  ];
}

/** Each Parley service's V8 heap (used and reserved), external memory and resident set, as it reports them. */
async function heapOf(stack: Stack): Promise<Heap[]> {
  const MiB = 2 ** 20;
  return Promise.all(
    SERVICES.map(async ({ name }) => {
      const text = await fetch(`${stack.url(name as ServiceName)}/metrics`).then((r) => r.text()).catch(() => '');
      const value = (metric: string) => Number(new RegExp(`^${metric}(?:\\{[^}]*\\})? ([0-9.e+]+)`, 'm').exec(text)?.[1] ?? NaN);
      return {
        name,
        heapUsedMiB: value('nodejs_heap_size_used_bytes') / MiB,
        heapTotalMiB: value('nodejs_heap_size_total_bytes') / MiB,
        externalMiB: value('nodejs_external_memory_bytes') / MiB,
        rssMiB: value('process_resident_memory_bytes') / MiB,
      };
    }),
  );
}

/**
 * Each service's round trips to PostgreSQL so far, from `db_round_trips_total` on its /metrics (all
 * of its schemas): a machine's speed moves the CPU per answer between runs, not these.
 */
async function roundTripsOf(stack: Stack): Promise<RoundTrips[]> {
  return Promise.all(
    SERVICES.map(async ({ name }) => {
      const text = await fetch(`${stack.url(name as ServiceName)}/metrics`).then((r) => r.text()).catch(() => '');
      const count = { statements: 0, transactions: 0 };
      for (const [, labels, value] of text.matchAll(/^db_round_trips_total\{([^}]*)\} ([0-9.e+]+)$/gm)) {
        const kind = /kind="([a-z]+)"/.exec(labels!)?.[1];
        if (kind === 'statement') count.statements += Number(value);
        else if (kind === 'begin') count.transactions += Number(value);
      }
      return { name, ...count };
    }),
  );
}

/** VmHWM: the process's peak resident set since it started; VmRSS: now. */
function memoryOf(child: { name: string; pid: number | undefined }): Memory {
  if (child.pid === undefined) return { name: child.name, hwmMiB: NaN, rssMiB: NaN };
  try {
    const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
    const kib = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1] ?? NaN);
    return { name: child.name, hwmMiB: kib('VmHWM') / 1024, rssMiB: kib('VmRSS') / 1024 };
  } catch {
    return { name: child.name, hwmMiB: NaN, rssMiB: NaN };
  }
}

type Marks = Map<string, { inbound?: number; decision?: number; command?: number; stored?: number }>;

/**
 * When each conversation's first record reached ingress's, rules' and the responder's output topic
 * (the producers' timestamps, the same machine clock as the simulator's): where Parley's time goes.
 * Read once at the end, from the beginning of the run's own (namespaced) topics.
 */
async function readStageMarks(stack: Stack): Promise<Marks> {
  const marks: Marks = new Map();
  const stageOf = new Map<string, 'inbound' | 'decision' | 'command' | 'stored'>([
    [`${stack.namespace}${TOPICS.inbound}`, 'inbound'],
    [`${stack.namespace}${TOPICS.decisions}`, 'decision'],
    [`${stack.namespace}${TOPICS.outboundCommands}`, 'command'],
    // outbound-sender's outbox relays its events later: the time it stored the send is the event's own.
    [`${stack.namespace}${TOPICS.outboundEvents}`, 'stored'],
  ]);
  const kafka = createKafkaClient({ brokers: stack.kafkaBrokers, clientId: 'bench-pipeline-stages', logger: createLogger({ service: 'bench', level: 'warn' }) });
  const admin = kafka.admin();
  await admin.connect();
  const groupId = `bench-pipeline-stages-${randomUUID()}`;
  const consumer = kafka.consumer({ groupId });
  try {
    const remaining = new Map<string, number>();
    for (const topic of stageOf.keys()) {
      for (const { partition, high } of await admin.fetchTopicOffsets(topic)) if (Number(high) > 0) remaining.set(`${topic}:${partition}`, Number(high));
    }
    await consumer.connect();
    await consumer.subscribe({ topics: [...stageOf.keys()], fromBeginning: true });
    const caughtUp = new Promise<void>((resolve) => {
      if (remaining.size === 0) resolve();
      void consumer.run({
        eachBatch: async ({ batch }) => {
          const stage = stageOf.get(batch.topic)!;
          for (const message of batch.messages) {
            const key = message.key?.toString();
            if (!key) continue;
            const mark = marks.get(key) ?? {};
            if (stage === 'stored') {
              const event = JSON.parse(message.value?.toString() ?? '{}') as { type?: string; occurredAt?: string };
              if (event.type === 'outbound.message.scheduled' && event.occurredAt) mark.stored ??= Date.parse(event.occurredAt);
              marks.set(key, mark);
              continue;
            }
            mark[stage] ??= Number(message.timestamp);
            marks.set(key, mark);
          }
          const partition = `${batch.topic}:${batch.partition}`;
          if (Number(batch.lastOffset()) + 1 >= (remaining.get(partition) ?? 0)) remaining.delete(partition);
          if (remaining.size === 0) resolve();
        },
      });
    });
    await Promise.race([caughtUp, delay(60_000)]);
  } catch (error) {
    console.error(`[bench] could not read the stage marks: ${(error as Error).message}`);
  } finally {
    await consumer.disconnect().catch(() => undefined);
    await admin.deleteGroups([groupId]).catch(() => undefined);
    await admin.disconnect().catch(() => undefined);
  }
  return marks;
}

async function cleanUp(stack: Stack): Promise<void> {
  await deleteTestTopics(stack.kafkaBrokers, EVENT_TOPICS.map((t) => `${stack.namespace}${t.name}`)).catch((error: Error) => console.error(`[bench] topics left behind: ${error.message}`));
  const database = new URL(stack.databaseUrl).pathname.slice(1);
  const client = new pg.Client({ connectionString: process.env['DATABASE_URL'] });
  try {
    await client.connect();
    await client.query(`drop database if exists "${database}" with (force)`);
  } catch (error) {
    console.error(`[bench] database ${database} left behind: ${(error as Error).message}`);
  } finally {
    await client.end().catch(() => undefined);
  }
}

function wrongNotes(results: readonly PhaseResult[]): void {
  for (const r of results) {
    if (r.wrong > 0) console.log(`\n${r.system} at ${r.rate}/s answered ${r.wrong} of ${r.answered} otherwise than the built-in assistant answers the question alone, e.g. ${r.wrongExamples.join('; ')}.`);
  }
}

const fmt = (ms: number): string => (Number.isFinite(ms) ? ms.toFixed(0) : '∞');

function report(input: {
  startedAt: Date;
  load: number[];
  /** Seconds the Kafka broker had been running when the benchmark started (0: not found). */
  brokerAgeS: number;
  steady: PhaseResult[];
  steps: PhaseResult[];
  memoryAtRate: Memory[];
  heapAtRate: Heap[];
  memoryAtEnd: Memory[];
  marks: Marks;
  benchRssMiB: number;
}): void {
  const { steady, steps } = input;
  const row = (r: PhaseResult) =>
    `| ${r.system} | ${r.rate} | ${r.seconds} | ${r.sent} | ${r.answered} | ${r.wrong} | ${r.offeredPerSecond.toFixed(1)} | ${r.answeredPerSecond.toFixed(1)} | ${fmt(r.p50)} | ${fmt(r.p95)} | ${fmt(r.p99)} | ${fmt(r.max)} | ${r.inFlightAtEnd} | ${fmt(r.firstCallP50)} | ${fmt(r.webhookWaitP99)} / ${fmt(r.webhookPostP99)} | ${r.held ? 'yes' : 'no'} |`;
  const header =
    '| system | rate /s | s | sent | answered | wrong answers | offered /s | answered /s | p50 ms | p95 ms | p99 ms | max ms | in flight at end of sending | first Send API call p50 ms | webhook wait / POST p99 ms | held |\n' +
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|';
  const highest = (system: string) => Math.max(0, ...steps.filter((s) => s.system === system && s.held).map((s) => s.rate));
  const failedAt = (system: string) => steps.find((s) => s.system === system && !s.held)?.rate;

  console.log(
    `\nMachine: ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${(totalmem() / 2 ** 30).toFixed(1)} GiB; Node ${process.version}; ` +
      `load average at start ${input.load.map((l) => l.toFixed(2)).join(' ')}; ` +
      `Kafka broker running for ${input.brokerAgeS > 0 ? `${(input.brokerAgeS / 60).toFixed(0)} min` : '? (not found)'} at start; ${input.startedAt.toISOString()}`,
  );
  console.log(
    `Traffic: every message a new customer on one of ${PAGES} Pages in turn, one of ${QUESTIONS.length} questions the knowledge answers; ` +
      `latency = Send API call of the answer − the simulator's webhook time (typing indicators excluded). Parley: LOG_LEVEL=${LOG_LEVEL}, ` +
      'instant delay, built-in assistant; Bottender 1.5.5 (one process, in-memory state) answering with the same builtinAnswer. ' +
      `Both simulators in the benchmark's process (${input.benchRssMiB.toFixed(0)} MiB RSS at the end), webhooks ordered ${WEBHOOK_ORDER === 'per-page' ? 'per Page (Pages side by side)' : 'globally (one POST at a time)'}, ` +
      'a message, its echo and its delivery receipt posted to each system. ' +
      `Warm-up before the phases, not measured: a question per Page${WARMUP_S > 0 ? `, then ${WARMUP_RATE}/s for ${WARMUP_S} s` : ''}.\n`,
  );
  console.log(`### Steady rate: ${RATE} new customers/s for ${DURATION_S} s\n`);
  console.log(header);
  for (const r of steady) console.log(row(r));
  wrongNotes(steady);
  const [p, b] = [steady.find((r) => r.system === 'Parley'), steady.find((r) => r.system === 'Bottender')];
  if (p && b) console.log(`\nParley / Bottender at ${RATE}/s: p50 ${(p.p50 / b.p50).toFixed(2)}×, p99 ${(p.p99 / b.p99).toFixed(2)}×.`);

  const ladder = STEP_START + STEP_SIZE > STEP_MAX ? `${STEP_START}/s` : `${STEP_START}, ${STEP_START + STEP_SIZE}, … up to ${STEP_MAX} /s`;
  console.log(`\n### Step-up: ${ladder}, ${STEP_DURATION_S} s each, until p99 ≥ ${P99_LIMIT_MS} ms or a message is left unanswered\n`);
  if (STEP_MAX === PAGE_CAPACITY) console.log(`(The ladder stops at ${PAGE_CAPACITY}/s: ${PAGES} Pages × the ${ANSWERS_PER_PAGE_PER_SECOND} answers/s Parley sends per Page; more Pages, more headroom.)\n`);
  console.log(header);
  for (const r of steps) console.log(row(r));
  wrongNotes(steps);
  const hp = highest('Parley');
  const hb = highest('Bottender');
  const ceiling = (system: string) => (failedAt(system) === undefined ? ` (held every rate tried, up to ${STEP_MAX}/s)` : ` (not held at ${failedAt(system)}/s)`);
  const held = (rate: number) => (rate > 0 ? `${rate}/s` : `below ${STEP_START}/s`);
  console.log(`\nHighest rate held: Parley ${held(hp)}${ceiling('Parley')}, Bottender ${held(hb)}${ceiling('Bottender')}; Parley / Bottender ${hp > 0 && hb > 0 ? (hp / hb).toFixed(2) : 'n/a'}.`);

  console.log("\n### Where Parley's time goes (p50 / p99 ms of each step, answered messages)\n");
  console.log('| rate /s | phase | webhook → ingress published | → rules decided | → responder requested the send | → outbound-sender stored it | → first Send API call (typing) | → answer sent |');
  console.log('|---:|---|---:|---:|---:|---:|---:|---:|');
  for (const r of [...steady, ...steps].filter((x) => x.system === 'Parley')) {
    const spans: number[][] = [[], [], [], [], [], []];
    for (const [key, s] of r.samples) {
      const m = input.marks.get(key);
      if (!m || m.inbound === undefined || m.decision === undefined || m.command === undefined || m.stored === undefined || s.firstCall === undefined || s.answer === undefined) continue;
      const points = [s.t0, m.inbound, m.decision, m.command, m.stored, s.firstCall, s.answer];
      for (let i = 0; i < spans.length; i++) spans[i]!.push(points[i + 1]! - points[i]!);
    }
    const cell = (values: number[]) => {
      values.sort((a, b) => a - b);
      return `${fmt(percentile(values, 0.5))} / ${fmt(percentile(values, 0.99))}`;
    };
    console.log(`| ${r.rate} | ${steady.includes(r) ? 'steady' : 'step'} | ${spans.map(cell).join(' | ')} |`);
  }

  // The p99 of a 20 s phase at 50/s is its tenth-slowest answer: whether the slow ones are spread
  // out (the machine is busy) or bunched (one stall) decides where to look.
  const steadyParley = steady.find((r) => r.system === 'Parley');
  if (steadyParley) {
    const phaseStart = Math.min(...[...steadyParley.samples.values()].map((s) => s.t0));
    const slowest = [...steadyParley.samples]
      .map(([key, s]) => ({ key, s, total: (s.answer ?? Infinity) - s.t0 }))
      .sort((a, b) => b.total - a.total)
      .slice(0, Math.max(10, Math.ceil(steadyParley.sent / 50)));
    console.log(`\n### The slowest answers of the steady ${RATE}/s phase: when (ms into the phase) and which hop took the time\n`);
    console.log('| at ms | total ms | webhook → ingress | → rules | → responder | → outbound-sender | → first call | → answer sent |');
    console.log('|---:|---:|---:|---:|---:|---:|---:|---:|');
    for (const { key, s, total } of slowest.sort((a, b) => a.s.t0 - b.s.t0)) {
      const m = input.marks.get(key);
      const points = [s.t0, m?.inbound, m?.decision, m?.command, m?.stored, s.firstCall, s.answer];
      const spans = points.slice(1).map((point, i) => (point === undefined || points[i] === undefined ? '' : fmt(point - points[i]!)));
      console.log(`| ${fmt(s.t0 - phaseStart)} | ${fmt(total)} | ${spans.join(' | ')} |`);
    }
  }

  console.log('\n### CPU per answered message (ms), from the first message of a phase to the end of its drain\n');
  const phases = [...steady, ...steps].filter((r) => r.system === 'Parley');
  console.log(`| process | ${phases.map((r) => `${r.rate}/s ${steady.includes(r) ? 'steady' : 'step'}`).join(' | ')} |`);
  console.log(`|---|${phases.map(() => '---:').join('|')}|`);
  for (const { name } of phases[0]?.cpuMsPerAnswer ?? []) {
    console.log(`| ${name} | ${phases.map((r) => (r.cpuMsPerAnswer.find((c) => c.name === name)?.ms ?? NaN).toFixed(1)).join(' | ')} |`);
  }
  console.log('\n### Round trips to PostgreSQL per answered message: statements + transactions (each a BEGIN and a COMMIT or ROLLBACK)\n');
  console.log(`| service | ${phases.map((r) => `${r.rate}/s ${steady.includes(r) ? 'steady' : 'step'}`).join(' | ')} |`);
  console.log(`|---|${phases.map(() => '---:').join('|')}|`);
  const roundTripCell = (rt: RoundTrips | undefined) => (rt ? `${rt.statements.toFixed(1)} + ${rt.transactions.toFixed(1)}` : '');
  for (const { name } of phases[0]?.roundTripsPerAnswer ?? []) {
    console.log(`| ${name} | ${phases.map((r) => roundTripCell(r.roundTripsPerAnswer.find((c) => c.name === name))).join(' | ')} |`);
  }
  const allRoundTrips = (r: PhaseResult) => r.roundTripsPerAnswer.reduce((sum, rt) => sum + rt.statements + 2 * rt.transactions, 0);
  console.log(`| **all, in round trips** | ${phases.map((r) => allRoundTrips(r).toFixed(1)).join(' | ')} |`);
  const bottenderCpu = [...steady, ...steps].filter((r) => r.system === 'Bottender').map((r) => `${r.rate}/s: ${(r.cpuMsPerAnswer.find((c) => c.name === 'bottender')?.ms ?? NaN).toFixed(1)}`);
  console.log(`\nBottender's process, for comparison: ${bottenderCpu.join(', ')} ms per answer.`);

  console.log(`\n### Resident memory (MiB): peak (VmHWM) after the steady ${RATE}/s phase, and at the end of the step-up\n`);
  console.log('| process | peak after steady | peak at end | resident at end | under 256 MiB |');
  console.log('|---|---:|---:|---:|---|');
  for (const m of input.memoryAtRate) {
    const end = input.memoryAtEnd.find((e) => e.name === m.name);
    console.log(`| ${m.name} | ${m.hwmMiB.toFixed(1)} | ${end?.hwmMiB.toFixed(1) ?? ''} | ${end?.rssMiB.toFixed(1) ?? ''} | ${m.hwmMiB < 256 ? 'yes' : 'no'} |`);
  }
  console.log(`\nWhere it is, right after the steady phase (MiB, from each service's /metrics): V8 heap used / reserved, external (buffers), resident.\n`);
  console.log('| service | heap used | heap reserved | external | resident |');
  console.log('|---|---:|---:|---:|---:|');
  for (const h of input.heapAtRate) console.log(`| ${h.name} | ${h.heapUsedMiB.toFixed(1)} | ${h.heapTotalMiB.toFixed(1)} | ${h.externalMiB.toFixed(1)} | ${h.rssMiB.toFixed(1)} |`);
  if (p && b) {
    console.log('\n### Targets\n');
    console.log(`- p99 under 250 ms at ${RATE}/s: ${p.p99 < 250 ? 'met' : 'not met'} (${fmt(p.p99)} ms)${RATE === 50 ? '' : ` — the target is stated at 50/s, this run used ${RATE}/s`}.`);
    // Bottender holding every rate tried means its ceiling is above the ladder: equal rates say nothing then.
    const bottenderCeilingFound = failedAt('Bottender') !== undefined;
    const verdict = hp < hb ? 'not met' : bottenderCeilingFound ? 'met' : `not shown (Bottender held every rate up to ${STEP_MAX}/s; a higher STEP_MAX finds its ceiling)`;
    console.log(`- At least Bottender's sustained rate: ${verdict} (${held(hp)} vs ${held(hb)}).`);
    const parleyMemory = input.memoryAtRate.filter((m) => m.name !== 'bottender');
    console.log(`- Every service under 256 MiB at ${RATE}/s: ${parleyMemory.every((m) => m.hwmMiB < 256) ? 'met' : 'not met'} (highest ${Math.max(...parleyMemory.map((m) => m.hwmMiB)).toFixed(1)} MiB).`);
  }
}

await main();
