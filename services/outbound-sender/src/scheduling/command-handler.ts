// Consumes outbound.commands.v1: stores each send durably (the dispatcher sends it when due) and
// applies cancellations.
//
// What happens to each kind of input:
// - malformed / fails its schema → the consumer library sends it to outbound.commands.v1.dlq; the partition moves on.
// - an event type this build does not know → skipped by the consumer library (it stays in the log).
// - a send command that breaks the rules (tag on an automated message, attachment on a comment…) →
//   stored as failed and announced once as `outbound.message.failed` (invalid_request).
// - a duplicated command (same outboundId: a replay, a double click) → no-op; a different command
//   reusing an outboundId is logged and ignored (the first one wins).
// - a cancellation before its command (out of order) → kept; the command is stored as cancelled when it comes.
// - a cancellation of a send already sent/failed → no-op. Of a send in flight → the dispatcher stops
//   before the next part. Of a send of another Page → ignored with a warning.
// - database down → the handler throws a retriable error: the consumer retries, the offset is not committed.
import { RetriableError } from '@parley/messaging';
import type { ParleyEvent, EventOf } from '@parley/contracts';
import type { Logger } from '@parley/observability';
import type { Database } from '@parley/persistence';
import type { Clock } from '../clock.ts';
import { appendToOutbox } from '../outbox/outbox.ts';
import type { Ledger } from './ledger.ts';
import { cancelledEvent, failedEvent, scheduledEvent } from './outbound-events.ts';
import { commandFingerprint, isFinal, planSend } from './send.ts';
import type { SendPart } from './send.ts';

export type CommandHandlerDeps = {
  db: Database;
  ledger: Ledger;
  clock: Clock;
  logger: Logger;
  /** Called after a command was stored, with its due time, so the dispatcher can look at once. */
  onStored(dueAt: Date): void;
  /** Called after something was written to the outbox. */
  onEvents(): void;
};

export function createCommandHandler(deps: CommandHandlerDeps): (event: ParleyEvent) => Promise<void> {
  const log = deps.logger.child({ component: 'commands' });

  async function sendRequested(command: EventOf<'outbound.send.requested'>): Promise<void> {
    let planned = planSend(command);
    const fingerprint = commandFingerprint(command);
    const now = deps.clock.now();
    const outcome = await deps.db.transaction(async (_em, tx) => {
      if (planned.send.accountId === null) {
        // Producers may not know the account (page events do): our events carry it when we can.
        const page = await deps.ledger.page(tx, planned.send.pageId);
        planned = { ...planned, send: { ...planned.send, accountId: page.accountId } };
      }
      const { send: plannedSend } = planned;
      const recorded = await deps.ledger.cancellation(tx, plannedSend.outboundId);
      const cancellation = recorded && recorded.pageId === plannedSend.pageId ? recorded : null;
      if (planned.kind === 'refuse') {
        if (!(await deps.ledger.insertSend(tx, planned.send, planned.parts, fingerprint))) return 'duplicate' as const;
        await appendToOutbox(deps.db, tx, [failedEvent(planned.send, null, { category: 'invalid_request', reason: planned.reason, graphCode: null, graphSubcode: null }, now)]);
        return 'refused' as const;
      }
      if (cancellation) {
        const send = { ...plannedSend, status: 'cancelled' as const };
        const parts: SendPart[] = planned.parts.map((p) => ({ ...p, state: 'cancelled' }));
        if (!(await deps.ledger.insertSend(tx, send, parts, fingerprint))) return 'duplicate' as const;
        await appendToOutbox(deps.db, tx, [cancelledEvent(send, cancellation.reason, 0, now)]);
        return 'cancelled' as const;
      }
      if (!(await deps.ledger.insertSend(tx, plannedSend, planned.parts, fingerprint))) return 'duplicate' as const;
      await appendToOutbox(deps.db, tx, [scheduledEvent(plannedSend, planned.parts, now)]);
      return 'scheduled' as const;
    });
    const context = { outboundId: planned.send.outboundId, pageId: command.pageId, eventId: command.id };
    switch (outcome) {
      case 'duplicate': {
        const existing = await deps.ledger.fingerprintOf(undefined, planned.send.outboundId);
        if (existing !== fingerprint) log.warn(context, 'a different command reuses an outboundId already in the ledger; the first one stands');
        else log.debug(context, 'replayed command ignored');
        return;
      }
      case 'refused':
        log.warn({ ...context, reason: planned.kind === 'refuse' ? planned.reason : undefined }, 'refused a send command');
        deps.onEvents();
        return;
      case 'cancelled':
        log.info(context, 'a send cancelled before it arrived was stored as cancelled');
        deps.onEvents();
        return;
      case 'scheduled':
        deps.onEvents();
        deps.onStored(planned.send.nextAttemptAt);
        return;
      default: {
        const unexpected: never = outcome;
        throw new Error(`Unknown outcome ${String(unexpected)}`);
      }
    }
  }

  async function sendCancelled(command: EventOf<'outbound.send.cancelled'>): Promise<void> {
    const { outboundId, reason } = command.data;
    const now = deps.clock.now();
    const result = await deps.db.transaction(async (_em, tx) => {
      const recorded = await deps.ledger.recordCancellation(tx, { outboundId, pageId: command.pageId, reason, eventId: command.id });
      if (!recorded) return 'duplicate' as const;
      const send = await deps.ledger.lockSend(tx, outboundId);
      // Not stored yet (it will be stored as cancelled), or a dispatcher is on it (it stops before the next part).
      if (!send) return 'recorded' as const;
      if (send.pageId !== command.pageId) return 'other_page' as const;
      if (isFinal(send.status)) return 'too_late' as const;
      const parts = await deps.ledger.parts(tx, outboundId);
      // A part left in `sending` by a dispatcher that died, or waiting for its echo: the dispatcher
      // settles it first (the echo, or its deadline), then sees the cancellation.
      if (parts.some((p) => p.state === 'sending' || p.state === 'unconfirmed')) return 'recorded' as const;
      for (const part of parts) {
        if (part.state === 'pending') await deps.ledger.movePart(tx, outboundId, part.index, 'cancel', { now });
      }
      await deps.ledger.updateSend(tx, outboundId, { status: 'cancelled', now });
      await appendToOutbox(deps.db, tx, [cancelledEvent(send, reason, parts.filter((p) => p.state === 'sent').length, now)]);
      return 'cancelled' as const;
    });
    const context = { outboundId, pageId: command.pageId, eventId: command.id };
    if (result === 'other_page') log.warn(context, 'a cancellation names a send of another Page; ignored');
    else if (result === 'too_late') log.info(context, 'cancellation arrived after the send was settled; nothing to do');
    else if (result === 'cancelled') deps.onEvents();
  }

  return async (event) => {
    try {
      switch (event.type) {
        case 'outbound.send.requested':
          return await sendRequested(event);
        case 'outbound.send.cancelled':
          return await sendCancelled(event);
        default:
          // Other events on the topic are not for us.
          return;
      }
    } catch (error) {
      // The command is valid (the consumer checked its schema): a failure here is the database's,
      // so retry until it works rather than dead-letter a customer's message.
      throw new RetriableError(`storing ${event.type} ${event.id} failed: ${(error as Error).message}`, { cause: error });
    }
  };
}
