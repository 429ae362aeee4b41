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
import type { Database, Transaction } from '@parley/persistence';
import { appendToOutbox } from '@parley/outbox';
import type { Clock } from '../clock.ts';
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

/**
 * The command consumer's handler: `(events) => …` applies the commands of one partition in order
 * (a batch of one is the single-event path). A send command as most come (its account known, valid,
 * not cancelled before it came) is stored in one statement, without a transaction
 * (`Ledger.insertSendUnlessCancelled`); any other command in a transaction of its own. Round trips
 * were the cost that mattered: under load, a transaction of five per command kept sends waiting
 * seconds before they were even stored.
 */
export function createCommandHandler(deps: CommandHandlerDeps): (events: ReadonlyArray<ParleyEvent>) => Promise<void> {
  const log = deps.logger.child({ component: 'commands' });

  type Stored =
    | { kind: 'requested'; command: EventOf<'outbound.send.requested'>; planned: ReturnType<typeof planSend>; fingerprint: string; outcome: 'duplicate' | 'refused' | 'cancelled' | 'scheduled' }
    | { kind: 'cancelled'; command: EventOf<'outbound.send.cancelled'>; outcome: 'duplicate' | 'recorded' | 'other_page' | 'too_late' | 'cancelled' };

  async function storeSendRequested(tx: Transaction, command: EventOf<'outbound.send.requested'>, now: Date): Promise<Stored> {
    let planned = planSend(command);
    const fingerprint = commandFingerprint(command);
    const stored = (outcome: 'duplicate' | 'refused' | 'cancelled' | 'scheduled'): Stored => ({ kind: 'requested', command, planned, fingerprint, outcome });
    if (planned.send.accountId === null) {
      // Producers may not know the account (page events do): our events carry it when we can.
      const page = await deps.ledger.page(tx, planned.send.pageId);
      planned = { ...planned, send: { ...planned.send, accountId: page.accountId } };
    }
    const { send: plannedSend } = planned;
    const recorded = await deps.ledger.cancellation(tx, plannedSend.outboundId);
    const cancellation = recorded && recorded.pageId === plannedSend.pageId ? recorded : null;
    if (planned.kind === 'refuse') {
      if (!(await deps.ledger.insertSend(tx, planned.send, planned.parts, fingerprint))) return stored('duplicate');
      await appendToOutbox(deps.db, tx, [failedEvent(planned.send, null, { category: 'invalid_request', reason: planned.reason, graphCode: null, graphSubcode: null }, now)]);
      return stored('refused');
    }
    if (cancellation) {
      const send = { ...plannedSend, status: 'cancelled' as const };
      const parts: SendPart[] = planned.parts.map((p) => ({ ...p, state: 'cancelled' }));
      if (!(await deps.ledger.insertSend(tx, send, parts, fingerprint))) return stored('duplicate');
      await appendToOutbox(deps.db, tx, [cancelledEvent(send, cancellation.reason, 0, now)]);
      return stored('cancelled');
    }
    if (!(await deps.ledger.insertSend(tx, plannedSend, planned.parts, fingerprint))) return stored('duplicate');
    await appendToOutbox(deps.db, tx, [scheduledEvent(plannedSend, planned.parts, now)]);
    return stored('scheduled');
  }

  /** A send command in one statement, or null when it needs storeSendRequested's transaction. */
  async function storeSendRequestedAlone(command: EventOf<'outbound.send.requested'>, now: Date): Promise<Stored | null> {
    const planned = planSend(command);
    if (planned.kind === 'refuse' || planned.send.accountId === null) return null;
    const fingerprint = commandFingerprint(command);
    const outcome = await deps.ledger.insertSendUnlessCancelled(planned.send, planned.parts, fingerprint, [scheduledEvent(planned.send, planned.parts, now)]);
    if (outcome === 'cancelled_before') return null;
    return { kind: 'requested', command, planned, fingerprint, outcome: outcome === 'stored' ? 'scheduled' : 'duplicate' };
  }

  async function storeSendCancelled(tx: Transaction, command: EventOf<'outbound.send.cancelled'>, now: Date): Promise<Stored> {
    const { outboundId, reason } = command.data;
    const stored = (outcome: 'duplicate' | 'recorded' | 'other_page' | 'too_late' | 'cancelled'): Stored => ({ kind: 'cancelled', command, outcome });
    const recorded = await deps.ledger.recordCancellation(tx, { outboundId, pageId: command.pageId, reason, eventId: command.id });
    if (!recorded) return stored('duplicate');
    const send = await deps.ledger.lockSend(tx, outboundId);
    // Not stored yet (it will be stored as cancelled), or a dispatcher is on it (it stops before the next part).
    if (!send) return stored('recorded');
    if (send.pageId !== command.pageId) return stored('other_page');
    if (isFinal(send.status)) return stored('too_late');
    const parts = await deps.ledger.parts(tx, outboundId);
    // A part left in `sending` by a dispatcher that died, or waiting for its echo: the dispatcher
    // settles it first (the echo, or its deadline), then sees the cancellation.
    if (parts.some((p) => p.state === 'sending' || p.state === 'unconfirmed')) return stored('recorded');
    for (const part of parts) {
      if (part.state === 'pending') await deps.ledger.movePart(tx, outboundId, part.index, 'cancel', { now });
    }
    await deps.ledger.updateSend(tx, outboundId, { status: 'cancelled', now });
    await appendToOutbox(deps.db, tx, [cancelledEvent(send, reason, parts.filter((p) => p.state === 'sent').length, now)]);
    return stored('cancelled');
  }

  /** What follows a committed command: logs, and waking the relay and the dispatcher. */
  async function afterCommit(stored: Stored): Promise<void> {
    if (stored.kind === 'cancelled') {
      const context = { outboundId: stored.command.data.outboundId, pageId: stored.command.pageId, eventId: stored.command.id };
      if (stored.outcome === 'other_page') log.warn(context, 'a cancellation names a send of another Page; ignored');
      else if (stored.outcome === 'too_late') log.info(context, 'cancellation arrived after the send was settled; nothing to do');
      else if (stored.outcome === 'cancelled') deps.onEvents();
      return;
    }
    const { planned, command, fingerprint, outcome } = stored;
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

  return async (events) => {
    // Other events on the topic are not for us.
    const commands = events.filter((event): event is EventOf<'outbound.send.requested' | 'outbound.send.cancelled'> => event.type === 'outbound.send.requested' || event.type === 'outbound.send.cancelled');
    if (commands.length === 0) return;
    const now = deps.clock.now();
    for (const command of commands) {
      let stored: Stored;
      try {
        stored =
          (command.type === 'outbound.send.requested' ? await storeSendRequestedAlone(command, now) : null) ??
          (await deps.db.transaction((tx) => (command.type === 'outbound.send.requested' ? storeSendRequested(tx, command, now) : storeSendCancelled(tx, command, now))));
      } catch (error) {
        // The commands are valid (the consumer checked their schema): a failure here is the database's,
        // so retry until it works rather than dead-letter a customer's message. The commands of the
        // batch stored before this one are replays then, which change nothing.
        throw new RetriableError(`storing ${command.type} ${command.id} failed: ${(error as Error).message}`, { cause: error });
      }
      await afterCommit(stored);
    }
  };
}
