// The dispatcher: a few workers that take due sends from PostgreSQL and send them, part after part.
//
// Claiming: a worker locks one due send (`for no key update skip locked`) in a transaction it keeps
// open while it works on that send, so no other worker or replica touches it; if the process dies,
// the lock goes with it. Part states are committed on their own, before and after each Send API call
// (`sending`, then `sent` with Meta's mid), together with the events they cause (outbox), so a
// restart knows exactly what went out. The send's own row (status, next attempt) is written by the
// claiming transaction when the worker lets go of it.
//
// Nothing waits in memory: a send that has to wait (retry, rate limit, held Page, an echo) gets its
// `next_attempt_at` and is let go; a restart finds it there.
//
// A part whose delivery Meta did not confirm (the call timed out, or a dispatcher died during it)
// waits for Meta's echo (reconciliation/): the echo consumer may settle a part at any time, so every
// part transition here is guarded by the state it expects, and when one finds the part already moved
// the worker looks again instead of going on with a stale picture.
import type { AsyncLocalStorage } from 'node:async_hooks';
import type { GraphApiClient } from '@parley/graph-api';
import type { ParleyEvent } from '@parley/contracts';
import type { Logger } from '@parley/observability';
import type { Database, Transaction } from '@parley/persistence';
import { appendToOutbox } from '@parley/outbox';
import type { Clock } from '../clock.ts';
import { tokenApiSaysReconnect, tokenRejected, tokenReplaced } from '../page-connections/page-connection.ts';
import type { PageConnection } from '../page-connections/page-connection.ts';
import type { PageTokenProvider } from '../page-tokens/token-provider.ts';
import type { Claimed, Ledger } from '../scheduling/ledger.ts';
import { cancelledEvent, deferredEvent, failedEvent, sentEvent, tokenRejectedEvent } from '../scheduling/outbound-events.ts';
import type { Failure } from '../scheduling/outbound-events.ts';
import type { DeferReason, Send, SendPart } from '../scheduling/send.ts';
import type { PageRateLimiter } from '../throttling/page-rate-limiter.ts';
import type { ReconcilePolicy } from '../reconciliation/reconcile.ts';
import { decideNext, decideOnToken, decideProbe, PAGE_DISCONNECTED_REASON } from './decide.ts';
import type { DispatchMetrics } from './metrics.ts';
import type { PartTransition } from './part-state.ts';
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
  /** Parts Meta did not confirm: how long their echo is awaited, whether they are sent again without one. */
  reconcile: ReconcilePolicy;
  /** Which Page a Graph call is made for, so usage headers slow down the right Page. */
  pageContext: AsyncLocalStorage<string>;
  random?: () => number;
  /** Sends worked on at once (each holds a database connection while it works). */
  concurrency: number;
  /** How often one idle worker looks for sends that became due with time. */
  pollMs: number;
  /** How often a held send re-checks the Page's token with auth-token. */
  holdRecheckMs: number;
  /** How long to wait when auth-token does not answer. */
  tokenRetryMs: number;
  /** Called after events were written to the outbox. */
  onEvents(): void;
};

export type Dispatcher = {
  /** Every sleeping worker looks for due sends now (held sends were released, tests moved the clock). */
  wake(): void;
  /** One sleeping worker looks now: one send became due (a command came in, an echo came). */
  wakeOne(): void;
  /** Finishes the Send API calls in flight, lets go of its sends (still due), then resolves. */
  stop(): Promise<void>;
  /** How many times a worker asked the database for a due send (tests wait on it instead of sleeping). */
  passes(): number;
};

/**
 * Where a worker leaves a send when it lets go of it. `awaitingEcho`: the part it waits for; once the
 * send is let go the worker checks whether the echo came meanwhile (see processOne).
 */
type Release = { send: Send; awaitingEcho?: number };

/**
 * Another party (an echo, another replica) moved a part the worker was about to move: look at the
 * send again rather than act on a stale picture.
 */
const LOOK_AGAIN = 'look_again' as const;
type Settled = Release | typeof LOOK_AGAIN;

/**
 * Where a failure before any Send API call lands: the first unsent part (null when none was sent and
 * none may have been), every pending part skipped, a part whose echo did not come given up.
 */
function openPartsOf(parts: ReadonlyArray<SendPart>): { part: number | null; skip: number[]; abandonedPart?: number } {
  const pending = parts.filter((p) => p.state === 'pending').map((p) => p.index);
  const unconfirmed = parts.find((p) => p.state === 'unconfirmed');
  const anySent = parts.some((p) => p.state === 'sent');
  if (unconfirmed) return { part: unconfirmed.index, skip: pending, abandonedPart: unconfirmed.index };
  return { part: anySent ? (pending[0] ?? null) : null, skip: pending };
}

/** Thrown inside a short transaction to roll it back when a guarded part transition found the part moved. */
class PartMoved extends Error {}

type GuardedMove = (part: number, transition: PartTransition, fields: { mid?: string; now: Date; countAttempt?: boolean; reconcileUntil?: Date }) => Promise<void>;

export function startDispatcher(options: DispatcherOptions): Dispatcher {
  const { db, ledger, graph, tokens, limiter, clock, metrics, policy } = options;
  const random = options.random ?? Math.random;
  const log = options.logger.child({ component: 'dispatcher' });
  let running = true;
  let passes = 0;

  const inShortTransaction = <T>(work: (tx: Transaction) => Promise<T>) => db.transaction(work);

  /**
   * Why a worker looks for a due send. `send`: it was woken for one send that became due (a command,
   * an echo); the others: sends may have become due with time or all at once (a tick, a Page
   * released), so a worker that finds one wakes another (`chain`) until a look finds none.
   */
  type Look = 'send' | 'chain' | 'tick' | 'all';
  const sleepers = new Set<(why: Look) => void>();
  /** Wakes that found every worker busy: as many looks are owed as soon as workers are free. */
  const owed: Look[] = [];

  function wakeAll(): void {
    for (const wake of [...sleepers]) wake('all');
  }

  /**
   * One sleeping worker looks now, or the next worker to finish does. One look per new due send:
   * waking every worker for each made each send cost a dozen empty claims under load, and a worker
   * looking again after each send it finished cost one more (a third of the claims).
   */
  function wakeOne(why: Look = 'send'): void {
    const [first] = sleepers;
    if (first) first(why);
    else if (owed.length < options.concurrency * 4) owed.push(why);
    // Past the bound (a burst), the last look owed becomes a chain: it goes on until a look finds nothing.
    else owed[owed.length - 1] = 'chain';
  }

  /** Until woken (with why), or until `ms` pass when given (a worker backing off after a failure). */
  function sleep(ms: number | null): Promise<Look> {
    return new Promise((resolve) => {
      const done = (why: Look) => {
        if (timer !== undefined) clearTimeout(timer);
        sleepers.delete(done);
        resolve(why);
      };
      const timer = ms === null ? undefined : setTimeout(() => done('tick'), ms);
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
  async function processOne(why: Look): Promise<boolean> {
    const claim = await db.transaction(async (tx) => {
      const claimed = await ledger.claimDue(tx, clock.now());
      passes++;
      if (!claimed) return null;
      // More may have become due with it: another worker looks while this one works (a burst wakes them one by one).
      if (why !== 'send') wakeOne('chain');
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
      // A deferral announced (see `deferred`) is the only event this transaction writes.
      return { release, wroteEvents: send.deferrals !== claimed.send.deferrals };
    });
    if (!claim) return false;
    const { release } = claim;
    // The deferral's event can be published now that it committed. (Waking the relay after every
    // claim cost it an empty transaction per send.)
    if (claim.wroteEvents) options.onEvents();
    if (release.awaitingEcho !== undefined) await echoCameMeanwhile(release.send.outboundId, release.awaitingEcho);
    return true;
  }

  /**
   * The echo consumer makes a waiting send due when an echo settles its part; but while this worker
   * held the send it could not (it skips locked sends), and the worker may have decided to wait on a
   * picture read just before the echo committed. So, once the send is let go, look: if the part is no
   * longer waiting, the send is due now. (Either the echo committed before this read, or after the
   * send was let go — and then the echo consumer made it due itself.)
   */
  async function echoCameMeanwhile(outboundId: string, part: number): Promise<void> {
    const current = (await ledger.parts(undefined, outboundId)).find((p) => p.index === part);
    if (current && current.state !== 'unconfirmed' && (await ledger.makeDue(outboundId, clock.now())) === 'made_due') wakeOne();
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
    }
    return next;
  }

  /**
   * Runs part transitions (and their events) in one short transaction; LOOK_AGAIN (rolled back) when
   * a guarded transition found its part already moved — by an echo, most likely.
   */
  async function guarded(outboundId: string, work: (tx: Transaction, move: GuardedMove) => Promise<void>): Promise<'done' | typeof LOOK_AGAIN> {
    try {
      await inShortTransaction(async (tx) => {
        const move: GuardedMove = async (part, transition, fields) => {
          if (!(await ledger.movePart(tx, outboundId, part, transition, fields))) throw new PartMoved(`part ${part} moved before ${transition}`);
        };
        await work(tx, move);
      });
      return 'done';
    } catch (error) {
      if (error instanceof PartMoved) return LOOK_AGAIN;
      throw error;
    }
  }

  /**
   * Settles the send as failed: `failedPart` (was `sending`) failed, `abandonedPart` (was `unconfirmed`)
   * is unknown, `skip` parts never go out. LOOK_AGAIN when an echo settled the failed or abandoned part first.
   */
  async function fail(
    send: Send,
    failure: Failure,
    where: { part: number | null; failedPart?: number; abandonedPart?: number; skip: ReadonlyArray<number> },
    extraEvents: ReadonlyArray<ParleyEvent> = [],
  ): Promise<Settled> {
    const now = clock.now();
    const done = await guarded(send.outboundId, async (tx, move) => {
      if (where.failedPart !== undefined) await move(where.failedPart, 'rejected', { now });
      if (where.abandonedPart !== undefined) await move(where.abandonedPart, 'abandon', { now });
      // Later parts are pending; one an echo settled meanwhile is simply left as it is.
      for (const index of where.skip) await ledger.movePart(tx, send.outboundId, index, 'skip', { now });
      await appendToOutbox(db, tx, [...extraEvents, failedEvent(send, where.part, failure, now)]);
    });
    if (done === LOOK_AGAIN) return LOOK_AGAIN;
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

  async function work(tx: Transaction, claimed: Claimed): Promise<Release> {
    let send = claimed.send;
    let page = claimed.page;
    const context = { outboundId: send.outboundId, pageId: send.pageId };

    // Each round settles a part or lets go of the send; the bound only guards against a bug looping.
    for (let round = 0; round < 1_000; round++) {
      const now = clock.now();
      if (!running) return { send: { ...send, nextAttemptAt: now } }; // stopping: still due, the next start picks it up
      // The first round's picture came with the claim; later rounds look again (an echo may have moved a part).
      const { parts, cancellation: recorded } = round === 0 ? claimed : await ledger.partsAndCancellation(undefined, send.outboundId);
      const cancellation = recorded && recorded.pageId === send.pageId ? recorded : null;
      const step = decideNext({ send, parts, cancellation, page, now, reconcile: options.reconcile });

      switch (step.kind) {
        case 'await_echo': {
          if (step.orphaned) {
            // The attempt counts, so a part whose call keeps killing the process is given up in the end.
            if (!(await ledger.movePart(undefined, send.outboundId, step.part, 'orphaned', { now, countAttempt: true, reconcileUntil: step.until }))) continue;
            metrics.partsUnconfirmed.inc({ cause: 'crash' });
            log.warn({ ...context, part: step.part, until: step.until.toISOString() }, "found a part still marked sending: the process that sent it stopped mid-call; waiting for Meta's echo before sending it again");
          }
          // `scheduled` keeps the conversation's later sends behind this one while it waits.
          return { send: { ...send, status: 'scheduled', nextAttemptAt: step.until }, awaitingEcho: step.part };
        }

        case 'give_up': {
          const settled = await fail(send, step.failure, { part: step.part, abandonedPart: step.part, skip: step.skip });
          if (settled === LOOK_AGAIN) continue;
          return settled;
        }

        case 'close':
          return { send: { ...send, status: step.status, deferredReason: null } };

        case 'cancel': {
          const done = await guarded(send.outboundId, async (tx, move) => {
            for (const index of step.cancel) await move(index, 'cancel', { now });
            await appendToOutbox(db, tx, [cancelledEvent(send, step.reason, step.partsSent, now)]);
          });
          if (done === LOOK_AGAIN) continue; // an echo confirmed the part that waited for it: count it
          metrics.sendsCancelled.inc();
          options.onEvents();
          log.info({ ...context, partsSent: step.partsSent }, 'send cancelled');
          return { send: { ...send, status: 'cancelled', deferredReason: null } };
        }

        case 'fail': {
          const settled = await fail(send, step.failure, { part: step.part, skip: step.skip, ...(step.abandon === null ? {} : { abandonedPart: step.abandon }) });
          if (settled === LOOK_AGAIN) continue;
          return settled;
        }

        case 'hold': {
          if (step.probe) {
            const probe = await tokens.get(send.pageId, { fresh: true });
            const verdict = decideProbe(probe);
            if (verdict === 'disconnected') {
              const settled = await fail(send, { category: 'page_disconnected', reason: PAGE_DISCONNECTED_REASON, graphCode: null, graphSubcode: null }, openPartsOf(parts));
              if (settled === LOOK_AGAIN) continue;
              return settled;
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
            case 'fail': {
              const settled = await fail(send, tokenStep.failure, openPartsOf(parts));
              if (settled === LOOK_AGAIN) continue;
              return settled;
            }
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
            if (decision.kind !== 'continue') {
              const settled = await settleNotTaken(tx, send, part, decision, tokenStep.fingerprint, false);
              if (settled === LOOK_AGAIN) continue;
              return settled;
            }
          }

          // Durable before the call: if we die during it, the next start knows the part may have gone out.
          // (An echo may have settled the part since we looked: then the guarded move fails and we look again.)
          if (!(await ledger.movePart(undefined, send.outboundId, part.index, step.resend ? 'resend' : 'claim', { now: clock.now() }))) {
            log.info({ ...context, part: part.index }, 'the part changed state before it was sent (an echo, most likely); looking again');
            continue;
          }
          if (step.resend) {
            metrics.partsResent.inc();
            log.warn({ ...context, part: part.index, attempts: part.attempts }, "no echo of this part came in time: Meta did not deliver it; sending it again");
          }
          const outcome = await callGraph(send.pageId, async () => {
            const result = await graph.sendMessage(tokenStep.accessToken, sendMessageBody(send, part.index, part.content));
            return result.messageId;
          });
          metrics.graphCalls.inc({ call: 'message', outcome: outcome.ok ? 'ok' : 'error' });
          const decision = decideOutcome({ step: 'message', outcome, send, attempts: part.attempts, now: clock.now(), policy, random });

          if (decision.kind === 'sent') {
            const sentAt = clock.now();
            // The move and its event in one statement: the part moves only from `sending`.
            const moved = await ledger.movePart(undefined, send.outboundId, part.index, 'accepted', { mid: decision.mid, now: sentAt }, [
              sentEvent(send, part.index, parts.length, part.content, decision.mid, sentAt),
            ]);
            // Not moved: its echo came before Meta's answer and already recorded it (and its event).
            if (moved) {
              metrics.partsSent.inc({ author: send.author });
              options.onEvents();
            }
            send = { ...send, deferredReason: null };
            // The part is sent either way (by this answer or by its echo), and `sent` is final: when
            // it was the last part not sent, the send is done, which reading the parts again would
            // only confirm (decideNext closes a send whose parts are all sent, cancelled or not).
            if (parts.every((p) => p.index === part.index || p.state === 'sent')) return { send: { ...send, status: 'sent' } };
            continue;
          }
          const settled = await settleNotTaken(tx, send, part, decision, tokenStep.fingerprint, true);
          if (settled === LOOK_AGAIN) continue;
          return settled;
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
   * message call), so it goes back to pending, to failed, or waits for its echo (no answer).
   * LOOK_AGAIN: the part's echo settled it meanwhile.
   */
  async function settleNotTaken(tx: Transaction, send: Send, part: SendPart, decision: OutcomeDecision, tokenFingerprint: string, claimed: boolean): Promise<Settled> {
    const now = clock.now();
    const context = { outboundId: send.outboundId, pageId: send.pageId, part: part.index };
    const laterParts = (await ledger.parts(undefined, send.outboundId)).filter((p) => p.state === 'pending' && p.index !== part.index).map((p) => p.index);
    /** false: the part was no longer `sending` (its echo came first). */
    const notTaken = async (countAttempt: boolean): Promise<boolean> => {
      if (claimed) return ledger.movePart(undefined, send.outboundId, part.index, 'not_taken', { now, countAttempt });
      if (countAttempt) await ledger.countAttempt(undefined, send.outboundId, part.index, now);
      return true;
    };
    switch (decision.kind) {
      case 'retry': {
        if (!(await notTaken(decision.countsAsAttempt))) return LOOK_AGAIN;
        if (decision.reason === 'rate_limited') limiter.pause(send.pageId, decision.retryAt, now);
        log.warn({ ...context, reason: decision.reason, retryAt: decision.retryAt.toISOString(), detail: decision.detail }, 'Meta did not take the message; retrying later');
        return { send: await deferred(tx, send, decision.reason, decision.detail, decision.retryAt, 'scheduled') };
      }
      case 'unconfirmed': {
        if (!claimed) throw new Error('a typing indicator is never unconfirmed');
        const until = new Date(now.getTime() + options.reconcile.echoWaitMs);
        if (!(await ledger.movePart(undefined, send.outboundId, part.index, 'timed_out', { now, countAttempt: true, reconcileUntil: until }))) return LOOK_AGAIN;
        metrics.partsUnconfirmed.inc({ cause: 'timeout' });
        log.warn({ ...context, until: until.toISOString(), detail: decision.detail }, "Meta did not answer in time; waiting for the part's echo before sending it again");
        return { send: await deferred(tx, send, 'graph_unavailable', decision.detail, until, 'scheduled'), awaitingEcho: part.index };
      }
      case 'hold': {
        if (!(await notTaken(false))) return LOOK_AGAIN;
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
    let why: Look = 'tick';
    while (running) {
      try {
        await processOne(why);
        failures = 0;
      } catch (error) {
        failures++;
        log.error({ err: error, worker: id, failures }, 'dispatching failed; the send stays due and is retried');
      }
      if (!running) break;
      const next = failures === 0 ? owed.shift() : undefined;
      why = next ?? (await sleep(failures > 0 ? Math.min(10_000, options.pollMs * 2 ** Math.min(failures, 6)) : null));
    }
  }

  // Idle workers sleep until woken: by a new due send (wakeOne), by a worker that just claimed one
  // after a tick (there may be more), or by this tick, which has one of them look for sends that
  // became due with time (a later sendAt, a retry). Each worker polling on its own timer made an idle
  // replica run two dozen empty claims a second.
  const ticker = setInterval(() => wakeOne('tick'), options.pollMs);
  const workers = Array.from({ length: Math.max(1, options.concurrency) }, (_, i) => worker(i));

  return {
    wake: wakeAll,
    wakeOne: () => wakeOne('send'),
    passes: () => passes,
    async stop() {
      running = false;
      clearInterval(ticker);
      wakeAll();
      await Promise.all(workers);
    },
  };
}
