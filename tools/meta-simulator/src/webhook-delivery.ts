// Posts signed webhooks to the product the way Meta does: one POST per payload, signed over the exact
// bytes, retried with exponential backoff until the receiver answers 200 or the attempts run out.
// Deliveries go out one at a time in the order they were made, so a receiver sees events in order
// ("Messages are always sent in order", §2b) and a failing receiver holds back what follows, as it
// would at Meta. With `orderPerPage`, that holds for each Page on its own and different Pages'
// deliveries go out side by side (load tests with many Pages, where one queue for the whole
// platform would measure the simulator). Backoff runs on real timers (not the simulator clock) so
// retries happen on their own.
import { randomUUID } from 'node:crypto';
import { encodeMetaJson, signMetaPayload, signMetaPayloadSha1 } from './signature.ts';
import { envelope, type PageEvent, type WebhookPayload } from './webhook-payloads.ts';

export interface RetryPolicy {
  /** Total attempts including the first. */
  readonly maxAttempts: number;
  readonly initialDelayMs: number;
  readonly factor: number;
  readonly maxDelayMs: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = { maxAttempts: 6, initialDelayMs: 1000, factor: 2, maxDelayMs: 60_000 };

/** Delay before the next attempt after attempt `failedAttempt` (1-based) failed: initial × factor^(n-1), capped. */
export function retryDelayMs(failedAttempt: number, policy: RetryPolicy): number {
  return Math.min(policy.maxDelayMs, policy.initialDelayMs * policy.factor ** Math.max(0, failedAttempt - 1));
}

export interface DeliveryAttempt {
  readonly attempt: number;
  readonly startedAt: string;
  readonly statusCode?: number;
  readonly error?: string;
  readonly durationMs: number;
}

export type DeliveryStatus = 'pending' | 'delivered' | 'failed' | 'skipped' | 'cancelled';

export interface WebhookDelivery {
  readonly id: string;
  status: DeliveryStatus;
  readonly createdAt: string;
  finishedAt?: string;
  /** Why nothing was posted (skipped) or why it gave up (failed). */
  reason?: string;
  url?: string;
  /** The exact body posted, and its parsed form for convenience. */
  readonly body: string;
  readonly payload: unknown;
  /** The X-Hub-Signature-256 value sent (null when deliberately unsigned). */
  readonly signature: string | null;
  readonly events: ReadonlyArray<{ pageId: string; field: string }>;
  readonly attempts: DeliveryAttempt[];
}

export interface WebhookDispatcherOptions {
  readonly getUrl: () => string | undefined;
  readonly getSecret: () => string;
  readonly getRetryPolicy: () => RetryPolicy;
  /** Meta gives up on an answer after 20 s (§2h). */
  readonly timeoutMs: number;
  /** > 0: events made within this many ms are batched into one POST with several `entry` objects. */
  readonly getBatchWindowMs: () => number;
  readonly escapeSlashes: boolean;
  /** Keep at most this many deliveries in the log (oldest dropped first). */
  readonly logLimit: number;
  /** Each Page's deliveries in order, different Pages' concurrently. Default false: one at a time overall. */
  readonly orderPerPage?: boolean;
}

export interface RawDeliveryOptions {
  /** Override the signature header (a wrong one, for tests of the receiver); null sends none. */
  readonly signature?: string | null;
  readonly events?: ReadonlyArray<{ pageId: string; field: string }>;
}

export class WebhookDispatcher {
  readonly #options: WebhookDispatcherOptions;
  readonly #log: WebhookDelivery[] = [];
  /** The last delivery of each queue (one queue, keyed '', unless ordered per Page); removed once done. */
  readonly #tails = new Map<string, Promise<unknown>>();
  #closed = false;
  readonly #closeController = new AbortController();
  readonly #timers = new Set<{ timer: NodeJS.Timeout; resolve: () => void }>();
  #batch: { events: PageEvent[]; promise: Promise<WebhookDelivery>; timer: { timer: NodeJS.Timeout; resolve: () => void } } | undefined;

  constructor(options: WebhookDispatcherOptions) {
    this.#options = options;
  }

  /** Every delivery so far, oldest first. */
  list(): readonly WebhookDelivery[] {
    return this.#log;
  }

  clear(): void {
    this.#log.length = 0;
  }

  /** Posts these events in one payload (one `entry` each), or joins the open batch when batching is on. */
  enqueue(events: readonly PageEvent[]): Promise<WebhookDelivery> {
    const windowMs = this.#options.getBatchWindowMs();
    if (windowMs <= 0 || this.#closed) return this.#enqueuePayload(envelope(events), { events: eventRefs(events) });
    if (this.#batch) {
      this.#batch.events.push(...events);
      return this.#batch.promise;
    }
    const batchEvents = [...events];
    let timerRef!: { timer: NodeJS.Timeout; resolve: () => void };
    const promise = new Promise<void>((resolve) => {
      timerRef = { timer: setTimeout(resolve, windowMs), resolve };
      this.#timers.add(timerRef);
    }).then(() => {
      this.#timers.delete(timerRef);
      this.#batch = undefined;
      return this.#enqueuePayload(envelope(batchEvents), { events: eventRefs(batchEvents) });
    });
    this.#batch = { events: batchEvents, promise, timer: timerRef };
    return promise;
  }

  /** Posts any payload (for tests of the receiver: unknown shapes, several pages, bad signatures). */
  enqueuePayload(payload: unknown, options: RawDeliveryOptions = {}): Promise<WebhookDelivery> {
    return this.#enqueuePayload(payload, options);
  }

  /** Records an event that was not posted (e.g. the Page is not subscribed to its field). */
  recordSkipped(events: readonly PageEvent[], reason: string): WebhookDelivery {
    const payload = envelope(events);
    const body = encodeMetaJson(payload, { escapeSlashes: this.#options.escapeSlashes });
    const delivery: WebhookDelivery = {
      id: randomUUID(),
      status: 'skipped',
      reason,
      createdAt: new Date().toISOString(),
      finishedAt: new Date().toISOString(),
      body,
      payload,
      signature: null,
      events: eventRefs(events),
      attempts: [],
    };
    this.#remember(delivery);
    return delivery;
  }

  /** Posts the open batch now instead of at the end of its window. */
  flushBatch(): void {
    const batch = this.#batch;
    if (!batch) return;
    clearTimeout(batch.timer.timer);
    batch.timer.resolve();
  }

  /** Resolves once nothing is waiting to be posted (open batches included; `flush` posts them at once). */
  async whenIdle(options: { flush?: boolean } = {}): Promise<void> {
    for (;;) {
      if (options.flush) this.flushBatch();
      const batch = this.#batch?.promise;
      await Promise.all([...this.#tails.values(), batch]);
      if (this.#tails.size === 0 && this.#batch === undefined) return;
    }
  }

  /** Stops retrying, aborts what is in flight, marks what waits as cancelled. */
  close(): void {
    this.#closed = true;
    this.#closeController.abort();
    for (const t of this.#timers) {
      clearTimeout(t.timer);
      t.resolve();
    }
    this.#timers.clear();
  }

  #enqueuePayload(payload: unknown, options: RawDeliveryOptions): Promise<WebhookDelivery> {
    const body = typeof payload === 'string' ? payload : encodeMetaJson(payload, { escapeSlashes: this.#options.escapeSlashes });
    const signature = options.signature === undefined ? signMetaPayload(body, this.#options.getSecret()) : options.signature;
    const delivery: WebhookDelivery = {
      id: randomUUID(),
      status: 'pending',
      createdAt: new Date().toISOString(),
      body,
      payload: typeof payload === 'string' ? safeParse(payload) : payload,
      signature,
      events: options.events ?? eventRefsFromPayload(payload),
      attempts: [],
    };
    this.#remember(delivery);
    // A payload with several Pages' entries (batching, raw payloads) queues behind its first Page.
    const queue = this.#options.orderPerPage ? (delivery.events[0]?.pageId ?? '') : '';
    const run = (this.#tails.get(queue) ?? Promise.resolve()).then(() => this.#run(delivery));
    const tail = run.catch(() => undefined);
    this.#tails.set(queue, tail);
    void tail.then(() => {
      if (this.#tails.get(queue) === tail) this.#tails.delete(queue);
    });
    return run;
  }

  async #run(delivery: WebhookDelivery): Promise<WebhookDelivery> {
    const url = this.#options.getUrl();
    if (!url) return finish(delivery, 'skipped', 'no webhook URL configured');
    delivery.url = url;
    const policy = this.#options.getRetryPolicy();
    const secret = this.#options.getSecret();
    for (let attempt = 1; attempt <= Math.max(1, policy.maxAttempts); attempt++) {
      if (this.#closed) return finish(delivery, 'cancelled', 'simulator closed');
      const started = performance.now();
      const startedAt = new Date().toISOString();
      try {
        const headers: Record<string, string> = { 'content-type': 'application/json', 'user-agent': 'facebookexternalua' };
        if (delivery.signature !== null) {
          headers['x-hub-signature-256'] = delivery.signature;
          // The legacy SHA-1 header only makes sense next to a genuine SHA-256 signature.
          if (delivery.signature === signMetaPayload(delivery.body, secret)) headers['x-hub-signature'] = signMetaPayloadSha1(delivery.body, secret);
        }
        const response = await fetch(url, {
          method: 'POST',
          headers,
          body: delivery.body,
          signal: AbortSignal.any([this.#closeController.signal, AbortSignal.timeout(this.#options.timeoutMs)]),
        });
        await response.arrayBuffer().catch(() => undefined);
        delivery.attempts.push({ attempt, startedAt, statusCode: response.status, durationMs: Math.round(performance.now() - started) });
        if (response.status === 200) return finish(delivery, 'delivered');
      } catch (error) {
        delivery.attempts.push({ attempt, startedAt, error: describe(error), durationMs: Math.round(performance.now() - started) });
      }
      if (attempt < policy.maxAttempts) await this.#sleep(retryDelayMs(attempt, policy));
    }
    if (this.#closed) return finish(delivery, 'cancelled', 'simulator closed');
    return finish(delivery, 'failed', `no 200 answer after ${delivery.attempts.length} attempts`);
  }

  #sleep(ms: number): Promise<void> {
    if (this.#closed) return Promise.resolve();
    return new Promise((resolve) => {
      const ref = {
        timer: setTimeout(() => {
          this.#timers.delete(ref);
          resolve();
        }, ms),
        resolve,
      };
      this.#timers.add(ref);
    });
  }

  #remember(delivery: WebhookDelivery): void {
    this.#log.push(delivery);
    if (this.#log.length > this.#options.logLimit) this.#log.splice(0, this.#log.length - this.#options.logLimit);
  }
}

function finish(delivery: WebhookDelivery, status: DeliveryStatus, reason?: string): WebhookDelivery {
  delivery.status = status;
  if (reason !== undefined) delivery.reason = reason;
  delivery.finishedAt = new Date().toISOString();
  return delivery;
}

function eventRefs(events: readonly PageEvent[]): Array<{ pageId: string; field: string }> {
  return events.map((e) => ({ pageId: e.pageId, field: e.field }));
}

function eventRefsFromPayload(payload: unknown): Array<{ pageId: string; field: string }> {
  const entries = (payload as Partial<WebhookPayload> | null)?.entry;
  if (!Array.isArray(entries)) return [];
  return entries.map((e) => ({ pageId: String((e as { id?: unknown }).id ?? ''), field: 'raw' }));
}

function safeParse(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

function describe(error: unknown): string {
  if (error instanceof Error) {
    const cause = (error as { cause?: unknown }).cause;
    return cause instanceof Error ? `${error.name}: ${error.message} (${cause.message})` : `${error.name}: ${error.message}`;
  }
  return String(error);
}
