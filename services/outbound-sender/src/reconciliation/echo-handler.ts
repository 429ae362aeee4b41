// Consumes messenger.inbound.v1 (its own group, `<CONSUMER_GROUP_ID>.echoes`) for Meta's echoes of
// what the Pages sent, and settles the parts they prove went out (see reconcile.ts).
//
// What happens to each kind of input:
// - any event but `messenger.message.echoed` (customers' messages, deliveries, reads…) → skipped at
//   once, nothing read. Malformed records and unknown types are the consumer library's (DLQ / skipped).
// - an echo without our metadata, or from another app (a person replying in Meta's inbox, another
//   tool) → ignored.
// - an echo naming an outboundId the ledger does not know (another environment, a send never stored)
//   or a send of another Page → ignored.
// - an echo of a part `pending`, `sending` or `unconfirmed` → the part is `sent` with the echo's mid,
//   `outbound.message.sent` is written (its id is deterministic: the same event the dispatcher would
//   have written), and a send that waits for it goes on at once. Of a part `unknown` (given up) → the
//   part is recorded as sent; its send stays failed.
// - a duplicated echo (Meta retries webhooks; ingress dedups only within its own window) → the part
//   is already sent with that mid: nothing happens.
// - an echo of a part already sent with another mid → the customer got it twice (the part was sent
//   again after its echo failed to come in time): logged and counted, nothing else changes.
// - an echo of a part failed/skipped/cancelled → logged (Meta delivered it anyway), nothing changes.
// - out of order (an echo before the Send API's answer) → it wins; the dispatcher finds the part sent.
// - database down → a retriable error: the offset is not committed and the echo is handled later.
import { RetriableError } from '@parley/messaging';
import type { EventOf, ParleyEvent } from '@parley/contracts';
import { Counter } from '@parley/observability';
import type { Logger, Registry } from '@parley/observability';
import type { Database } from '@parley/persistence';
import { appendToOutbox } from '@parley/outbox';
import type { Clock } from '../clock.ts';
import type { DispatchMetrics } from '../dispatch/metrics.ts';
import type { Ledger } from '../scheduling/ledger.ts';
import { sentEvent } from '../scheduling/outbound-events.ts';
import { decideOnEcho, matchEcho } from './reconcile.ts';
import type { EchoDecision } from './reconcile.ts';

/** `outcome`: not_ours, unknown_send, confirmed, already_sent, duplicate_delivery, contradicts. */
export function createEchoMetrics(registry: Registry): Counter<'outcome'> {
  return (
    (registry.getSingleMetric('outbound_echoes_total') as Counter<'outcome'> | undefined) ??
    new Counter({ name: 'outbound_echoes_total', help: "Meta's echoes of the Pages' messages, by what they meant for the ledger", labelNames: ['outcome'], registers: [registry] })
  );
}

export type EchoHandlerDeps = {
  db: Database;
  ledger: Ledger;
  clock: Clock;
  logger: Logger;
  /** Our Meta app id: echoes of other apps' messages are not ours, whatever their metadata says. */
  appId: string;
  echoes: Counter<'outcome'>;
  partsSent: DispatchMetrics['partsSent'];
  /** Called after something was written to the outbox. */
  onEvents(): void;
  /** Called when a send that waited for this echo is due now. */
  onSendDue(): void;
};

export function createEchoHandler(deps: EchoHandlerDeps): (event: ParleyEvent) => Promise<void> {
  const log = deps.logger.child({ component: 'echoes' });

  async function echoed(echo: EventOf<'messenger.message.echoed'>): Promise<void> {
    const { mid, appId, metadata } = echo.data;
    const match = matchEcho({ pageId: echo.pageId, appId, metadata, mid }, deps.appId);
    if (match.kind === 'not_ours') {
      deps.echoes.inc({ outcome: 'not_ours' });
      return;
    }
    const { outboundId, part: index } = match.target;
    const context = { outboundId, part: index, pageId: echo.pageId, mid };
    const now = deps.clock.now();
    // Meta's timestamp is when the message went out: that is the part's sentAt.
    const sentAt = new Date(echo.data.timestamp);
    let result: { decision: EchoDecision; author: string | null };
    try {
      // Most echoes come after the Send API's answer has settled their part. The states an echo
      // finds there without settling anything (sent, failed, skipped, cancelled) are final, so one
      // read without a lock decides those; only a part the echo settles takes the transaction
      // below, which reads it again under its lock. (Every echo used to: four round trips.)
      const glance = await deps.ledger.partForEcho(outboundId, index);
      const early = decideOnEcho({ echo: { pageId: echo.pageId, mid }, send: glance && { pageId: glance.pageId }, part: glance?.part ?? null });
      result = early.kind !== 'confirm' ? { decision: early, author: null } : await deps.db.transaction(async (tx) => {
        // The part is locked while we decide, so the dispatcher's guarded moves wait or find it settled.
        const part = await deps.ledger.lockPart(tx, outboundId, index);
        const send = part ? await deps.ledger.send(tx, outboundId) : null;
        const decided = decideOnEcho({ echo: { pageId: echo.pageId, mid }, send, part });
        if (decided.kind !== 'confirm' || !send || !part) return { decision: decided, author: null };
        if (!(await deps.ledger.movePart(tx, outboundId, index, 'echoed', { mid, now, sentAt }))) {
          throw new Error(`part ${outboundId}:${index} moved while it was locked`);
        }
        const partCount = (await deps.ledger.parts(tx, outboundId)).length;
        await appendToOutbox(deps.db, tx, [sentEvent(send, index, partCount, part.content, mid, sentAt)]);
        return { decision: decided, author: send.author };
      });
    } catch (error) {
      throw new RetriableError(`applying echo ${echo.id} failed: ${(error as Error).message}`, { cause: error });
    }

    const { decision, author } = result;
    switch (decision.kind) {
      case 'ignore':
        deps.echoes.inc({ outcome: 'unknown_send' });
        if (decision.why === 'other_page') log.warn(context, 'an echo names a send of another Page; ignored');
        return;
      case 'already_sent':
        deps.echoes.inc({ outcome: 'already_sent' });
        return;
      case 'duplicate_delivery':
        deps.echoes.inc({ outcome: 'duplicate_delivery' });
        log.warn({ ...context, recordedMid: decision.recordedMid }, 'Meta delivered this part twice: its echo came after it was sent again');
        return;
      case 'contradicts':
        deps.echoes.inc({ outcome: 'contradicts' });
        log.warn({ ...context, state: decision.state }, 'Meta echoed a part we recorded as not sent; the record stays as it is');
        return;
      case 'confirm': {
        deps.echoes.inc({ outcome: 'confirmed' });
        if (author !== null) deps.partsSent.inc({ author });
        deps.onEvents();
        if (decision.from !== 'sending') log.info({ ...context, was: decision.from }, "Meta's echo confirms the part went out");
        if (!decision.resume) return;
        // A send waiting for this echo goes on now. One a dispatcher holds is skipped here: that
        // dispatcher looks again after letting go of it (dispatcher.ts, echoCameMeanwhile).
        try {
          if ((await deps.ledger.makeDue(outboundId, deps.clock.now())) === 'made_due') deps.onSendDue();
        } catch (error) {
          // The part is recorded; the send goes on at its deadline anyway.
          log.warn({ ...context, err: error }, 'could not make the send due at once; it goes on at its deadline');
        }
        return;
      }
      default: {
        const unexpected: never = decision;
        throw new Error(`Unknown echo decision ${String(unexpected)}`);
      }
    }
  }

  return async (event) => {
    // Everything else on messenger.inbound.v1 is someone else's business.
    if (event.type !== 'messenger.message.echoed') return;
    await echoed(event);
  };
}
