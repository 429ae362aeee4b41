// The dispatcher: a few workers that take due sends from PostgreSQL and send them, part after part.
//
// Claiming: a worker locks one due send (`for no key update skip locked`) in a transaction it keeps
// open while it works on that send, so no other worker or replica touches it; if the process dies,
// the lock goes with it. Part states are committed on their own, before and after each Send API call
// (`sending`, then `sent` with Meta's mid), together with the events they cause (outbox), so a
// restart knows exactly what went out. The send's own row (status, next attempt) is written by the
// claiming transaction when the worker lets go of it.
//
// Nothing waits in memory: a send that has to wait (retry, rate limit, held Page) gets its
// `next_attempt_at` and is let go; a restart finds it there.
import type { AsyncLocalStorage } from 'node:async_hooks';
import type { GraphApiClient } from '@parley/graph-api';
import type { ParleyEvent } from '@parley/contracts';
import type { Logger } from '@parley/observability';
import type { Database, Transaction } from '@parley/persistence';
import type { Clock } from '../clock.ts';
import { appendToOutbox } from '../outbox/outbox.ts';
import { tokenApiSaysReconnect, tokenRejected, tokenReplaced } from '../page-connections/page-connection.ts';
import type { PageConnection } from '../page-connections/page-connection.ts';
import type { PageTokenProvider } from '../page-tokens/token-provider.ts';
import type { Ledger } from '../scheduling/ledger.ts';
import { cancelledEvent, deferredEvent, failedEvent, sentEvent, tokenRejectedEvent } from '../scheduling/outbound-events.ts';
import type { Failure } from '../scheduling/outbound-events.ts';
import type { DeferReason, Send, SendPart } from '../scheduling/send.ts';
import type { PageRateLimiter } from '../throttling/page-rate-limiter.ts';
import { decideNext, decideOnToken, decideProbe, PAGE_DISCONNECTED_REASON, recoveryFailure } from './decide.ts';
import type { DispatchMetrics } from './metrics.ts';
import { decideOutcome } from './outcome.ts';
import type { GraphOutcome, OutcomeDecision, RetryPolicy } from './outcome.ts';
import { sendMessageBody } from './send-body.ts';

export type DispatcherOptions = {
  db: Database;
  ledger: Ledger;
  graph: GraphApiClient;
  tokens: PageTokenProvider;
  limiter: PageRateLimiter;
  clock: Clock;
  logger: Logger;
  metrics: DispatchMetrics;
  policy: RetryPolicy;
  /** Which Page a Graph call is made for, so usage headers slow down the right Page. */
  pageContext: AsyncLocalStorage<string>;
  random?: () => number;
  /** Sends worked on at once (each holds a database connection while it works). */
  concurrency: number;
  /** How often idle workers look for due sends. */
  pollMs: number;
  /** How often a held send re-checks the Page's token with auth-token. */
  holdRecheckMs: number;
  /** How long to wait when auth-token does not answer. */
  tokenRetryMs: number;
  /** Called after events were written to the outbox. */
  onEvents(): void;
};

export type Dispatcher = {
  /** Look for due sends now (a command came in, held sends were released). */
  wake(): void;
  /** Finishes the Send API calls in flight, lets go of its sends (still due), then resolves. */
  stop(): Promise<void>;
  /** How many times a worker asked the database for a due send (tests wait on it instead of sleeping). */
  passes(): number;
};

/** Where a worker leaves a send when it lets go of it. */
type Release = { send: Send };

/** Where a failure before any Send API call lands: the first unsent part (null when none was sent), every pending part skipped. */
function pendingFrom(parts: ReadonlyArray<SendPart>): { part: number | null; skip: number[] } {
  const pending = parts.filter((p) => p.state === 'pending').map((p) => p.index);
  const anySent = parts.some((p) => p.state === 'sent');
  return { part: anySent ? (pending[0] ?? null) : null, skip: pending };
}

export function startDispatcher(options: DispatcherOptions): Dispatcher {
  const { db, ledger, graph, tokens, limiter, clock, metrics, policy } = options;
  const random = options.random ?? Math.random;
  const log = options.logger.child({ component: 'dispatcher' });
  let running = true;
  let passes = 0;
  const sleepers = new Set<() => void>();

  const inShortTransaction = <T>(work: (tx: Transaction) => Promise<T>) => db.transaction((_em, tx) => work(tx));

  function wakeAll(): void {
    for (const wake of [...sleepers]) wake();
  }

  function sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        sleepers.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      sleepers.add(done);
    });
  }

  async function callGraph(pageId: string, call: () => Promise<string | null>): Promise<GraphOutcome> {
    try {
      const mid = await options.pageContext.run(pageId, call);
      return { ok: true, mid };
    } catch (error) {
      return { ok: false, error };
    }
  }

  /** Works on one due send; false when there was none. */
  async function processOne(): Promise<boolean> {
    const worked = await db.transaction(async (_em, tx) => {
      const claimed = await ledger.claimDue(tx, clock.now());
      passes++;
      if (!claimed) return false;
      const release = await work(tx, claimed);
      const { send } = release;
      await ledger.updateSend(tx, send.outboundId, {
        status: send.status,
        nextAttemptAt: send.nextAttemptAt,
        deferredReason: send.deferredReason,
        deferrals: send.deferrals,
        accountId: send.accountId,
        now: clock.now(),
      });
      return true;
    });
    // Events written by the claiming transaction (deferrals) can be published now that it committed.
    if (worked) options.onEvents();
    return worked;
  }

  /**
   * Announces a deferral once per reason (a retry that keeps failing the same way is not news). The
   * event is written by the claiming transaction `tx`, with the send's new status and deferral count.
   */
  async function deferred(tx: Transaction, send: Send, reason: DeferReason, detail: string | null, retryAt: Date | null, status: 'scheduled' | 'held'): Promise<Send> {
    const now = clock.now();
    let next: Send = { ...send, status, nextAttemptAt: retryAt ?? now };
    if (send.deferredReason !== reason) {
      next = { ...next, deferredReason: reason, deferrals: send.deferrals + 1 };
      await appendToOutbox(db, tx, [deferredEvent(next, next.deferrals, reason, detail, retryAt, now)]);
      metrics.sendsDeferred.inc({ reason });
      options.onEvents();
    }
    return next;
  }

  /** Settles the send as failed: `failedPart` (was `sending`) failed, `skip` parts never go out. */
  async function fail(
    send: Send,
    failure: Failure,
    where: { part: number | null; failedPart?: number; orphanedPart?: number; skip: ReadonlyArray<number> },
    extraEvents: ReadonlyArray<ParleyEvent> = [],
  ): Promise<Release> {
    const now = clock.now();
    await inShortTransaction(async (tx) => {
      if (where.failedPart !== undefined) await ledger.movePart(tx, send.outboundId, where.failedPart, 'rejected', { now });
      if (where.orphanedPart !== undefined) await ledger.movePart(tx, send.outboundId, where.orphanedPart, 'orphaned', { now });
      for (const index of where.skip) await ledger.movePart(tx, send.outboundId, index, 'skip', { now });
      await appendToOutbox(db, tx, [...extraEvents, failedEvent(send, where.part, failure, now)]);
    });
    metrics.sendsFailed.inc({ category: failure.category });
    options.onEvents();
    log.warn({ outboundId: send.outboundId, pageId: send.pageId, part: where.part, category: failure.category, graphCode: failure.graphCode, graphSubcode: failure.graphSubcode }, failure.reason);
    return { send: { ...send, status: 'failed', deferredReason: null } };
  }

  async function savePage(page: PageConnection, events: ReadonlyArray<ParleyEvent> = []): Promise<void> {
    await inShortTransaction(async (tx) => {
      await ledger.savePage(tx, page, clock.now());
      await appendToOutbox(db, tx, events);
    });
    if (events.length > 0) options.onEvents();
  }

  async function work(tx: Transaction, claimed: Send): Promise<Release> {
    let send = claimed;
    let page = await ledger.page(undefined, send.pageId);
    const context = { outboundId: send.outboundId, pageId: send.pageId };

    // Each round settles a part or lets go of the send; the bound only guards against a bug looping.
    for (let round = 0; round < 1_000; round++) {
      const now = clock.now();
      if (!running) return { send: { ...send, nextAttemptAt: now } }; // stopping: still due, the next start picks it up
      const parts = await ledger.parts(undefined, send.outboundId);
      const recorded = await ledger.cancellation(undefined, send.outboundId);
      const cancellation = recorded && recorded.pageId === send.pageId ? recorded : null;
      const step = decideNext({ send, parts, cancellation, page, now });

      switch (step.kind) {
        case 'recover':
          log.error({ ...context, part: step.part }, 'found a part still marked sending: the process that sent it stopped mid-call; not sending it again');
          return fail(send, recoveryFailure(), { part: step.part, orphanedPart: step.part, skip: step.skip });

        case 'close':
          return { send: { ...send, status: step.status, deferredReason: null } };

        case 'cancel': {
          await inShortTransaction(async (tx) => {
            for (const index of step.cancel) await ledger.movePart(tx, send.outboundId, index, 'cancel', { now });
            await appendToOutbox(db, tx, [cancelledEvent(send, step.reason, step.partsSent, now)]);
          });
          metrics.sendsCancelled.inc();
          options.onEvents();
          log.info({ ...context, partsSent: step.partsSent }, 'send cancelled');
          return { send: { ...send, status: 'cancelled', deferredReason: null } };
        }

        case 'fail':
          return fail(send, step.failure, { part: step.part, skip: step.skip });

        case 'hold': {
          if (step.probe) {
            const probe = await tokens.get(send.pageId, { fresh: true });
            const verdict = decideProbe(probe);
            if (verdict === 'disconnected') {
              return fail(send, { category: 'page_disconnected', reason: PAGE_DISCONNECTED_REASON, graphCode: null, graphSubcode: null }, pendingFrom(parts));
            }
            if (verdict === 'release') {
              const sameToken = probe.kind === 'token' && probe.fingerprint === page.rejectedTokenFingerprint;
              page = tokenReplaced(page, now);
              await savePage(page);
              // The Page's other held sends are due too (those another worker has locked are probing themselves).
              await ledger.wakeHeldSends(tx, send.pageId, now, { skipLocked: true });
              log.info({ ...context, sameToken }, sameToken ? 'auth-token still vouches for the token Meta rejected: trying it once more' : 'auth-token has a new token for the held Page: releasing its sends');
              send = { ...send, status: 'scheduled' };
              continue;
            }
          }
          const retryAt = new Date(now.getTime() + options.holdRecheckMs);
          return { send: await deferred(tx, send, 'page_needs_reconnect', 'A Page admin must reconnect the Page; the message goes out once it is reconnected, if the reply window is still open.', retryAt, 'held') };
        }

        case 'send': {
          const part = parts.find((p) => p.index === step.part)!;
          const reservation = limiter.reserve(send.pageId, now, step.typing ? 2 : 1);
          if (!reservation.ok) return { send: { ...send, status: 'scheduled', nextAttemptAt: reservation.retryAt } };

          const tokenStep = decideOnToken(await tokens.get(send.pageId));
          switch (tokenStep.kind) {
            case 'fail':
              return fail(send, tokenStep.failure, pendingFrom(parts));
            case 'hold':
              page = tokenApiSaysReconnect(page, now);
              await savePage(page);
              continue;
            case 'wait': {
              log.warn({ ...context, detail: tokenStep.detail }, 'no token for the Page yet; trying again shortly');
              return { send: { ...send, status: 'scheduled', nextAttemptAt: new Date(now.getTime() + options.tokenRetryMs * (0.5 + random())) } };
            }
            case 'use':
              break;
            default: {
              const unexpected: never = tokenStep;
              throw new Error(`Unknown token step ${String(unexpected)}`);
            }
          }
          if (tokenStep.accountId !== null && send.accountId === null) send = { ...send, accountId: tokenStep.accountId };

          if (step.typing) {
            const typing = await callGraph(send.pageId, async () => {
              await graph.sendSenderAction(tokenStep.accessToken, send.customer.psid, 'typing_on');
              return null;
            });
            metrics.graphCalls.inc({ call: 'typing', outcome: typing.ok ? 'ok' : 'error' });
            const decision = decideOutcome({ step: 'typing', outcome: typing, send, attempts: part.attempts, now: clock.now(), policy, random });
            if (decision.kind !== 'continue') return settleNotTaken(tx, send, part, decision, tokenStep.fingerprint, false);
          }

          // Durable before the call: if we die during it, the next start knows the part may have gone out.
          if (!(await ledger.movePart(undefined, send.outboundId, part.index, 'claim', { now: clock.now() }))) {
            log.error({ ...context, part: part.index }, 'a part changed state under a locked send; looking again');
            continue;
          }
          const outcome = await callGraph(send.pageId, async () => {
            const result = await graph.sendMessage(tokenStep.accessToken, sendMessageBody(send, part.index, part.content));
            return result.messageId;
          });
          metrics.graphCalls.inc({ call: 'message', outcome: outcome.ok ? 'ok' : 'error' });
          const decision = decideOutcome({ step: 'message', outcome, send, attempts: part.attempts, now: clock.now(), policy, random });

          if (decision.kind === 'sent') {
            const sentAt = clock.now();
            await inShortTransaction(async (tx) => {
              await ledger.movePart(tx, send.outboundId, part.index, 'accepted', { mid: decision.mid, now: sentAt });
              await appendToOutbox(db, tx, [sentEvent(send, part.index, parts.length, part.content, decision.mid, sentAt)]);
            });
            metrics.partsSent.inc({ author: send.author });
            options.onEvents();
            send = { ...send, deferredReason: null };
            continue;
          }
          return settleNotTaken(tx, send, part, decision, tokenStep.fingerprint, true);
        }

        default: {
          const unexpected: never = step;
          throw new Error(`Unknown dispatch step ${String(unexpected)}`);
        }
      }
    }
    log.error(context, 'a send did not settle after many rounds; letting go of it for a while');
    return { send: { ...send, nextAttemptAt: new Date(clock.now().getTime() + options.holdRecheckMs) } };
  }

  /**
   * Meta did not accept the typing indicator or the part. `claimed`: the part is in `sending` (the
   * message call), so it goes back to pending, or to failed/unknown.
   */
  async function settleNotTaken(tx: Transaction, send: Send, part: SendPart, decision: OutcomeDecision, tokenFingerprint: string, claimed: boolean): Promise<Release> {
    const now = clock.now();
    const context = { outboundId: send.outboundId, pageId: send.pageId, part: part.index };
    const laterParts = (await ledger.parts(undefined, send.outboundId)).filter((p) => p.state === 'pending' && p.index !== part.index).map((p) => p.index);
    const notTaken = async (countAttempt: boolean) => {
      if (claimed) await ledger.movePart(undefined, send.outboundId, part.index, 'not_taken', { now, countAttempt });
      else if (countAttempt) await ledger.countAttempt(undefined, send.outboundId, part.index, now);
    };
    switch (decision.kind) {
      case 'retry': {
        await notTaken(decision.countsAsAttempt);
        if (decision.reason === 'rate_limited') limiter.pause(send.pageId, decision.retryAt, now);
        log.warn({ ...context, reason: decision.reason, retryAt: decision.retryAt.toISOString(), detail: decision.detail }, 'Meta did not take the message; retrying later');
        return { send: await deferred(tx, send, decision.reason, decision.detail, decision.retryAt, 'scheduled') };
      }
      case 'hold': {
        await notTaken(false);
        tokens.drop(send.pageId);
        const page = tokenRejected(await ledger.page(undefined, send.pageId), tokenFingerprint, now);
        await savePage(page, [tokenRejectedEvent(send, tokenFingerprint, { graphCode: decision.graphCode, graphSubcode: decision.graphSubcode, detail: decision.detail }, now)]);
        log.warn({ ...context, graphCode: decision.graphCode, graphSubcode: decision.graphSubcode }, "Meta rejected the Page's token; holding its sends until it is reconnected");
        const retryAt = new Date(now.getTime() + options.holdRecheckMs);
        return { send: await deferred(tx, send, 'page_needs_reconnect', decision.detail, retryAt, 'held') };
      }
      case 'fail': {
        const extra: ParleyEvent[] = [];
        if (decision.tokenRejected && decision.failure.graphCode !== null) {
          tokens.drop(send.pageId);
          extra.push(tokenRejectedEvent(send, tokenFingerprint, { graphCode: decision.failure.graphCode, graphSubcode: decision.failure.graphSubcode, detail: decision.failure.reason }, now));
        }
        return fail(send, decision.failure, { part: part.index, ...(claimed ? { failedPart: part.index } : {}), skip: claimed ? laterParts : [part.index, ...laterParts] }, extra);
      }
      case 'unknown':
        return fail(send, decision.failure, { part: part.index, ...(claimed ? { orphanedPart: part.index } : {}), skip: claimed ? laterParts : [part.index, ...laterParts] });
      case 'sent':
      case 'continue':
        throw new Error(`settleNotTaken called with ${decision.kind}`);
      default: {
        const unexpected: never = decision;
        throw new Error(`Unknown outcome ${String(unexpected)}`);
      }
    }
  }

  async function worker(id: number): Promise<void> {
    let failures = 0;
    while (running) {
      let worked = false;
      try {
        worked = await processOne();
        failures = 0;
      } catch (error) {
        failures++;
        log.error({ err: error, worker: id, failures }, 'dispatching failed; the send stays due and is retried');
      }
      if (!running) break;
      if (!worked) await sleep(failures > 0 ? Math.min(10_000, options.pollMs * 2 ** Math.min(failures, 6)) : options.pollMs);
    }
  }

  const workers = Array.from({ length: Math.max(1, options.concurrency) }, (_, i) => worker(i));

  return {
    wake: wakeAll,
    passes: () => passes,
    async stop() {
      running = false;
      wakeAll();
      await Promise.all(workers);
    },
  };
}
