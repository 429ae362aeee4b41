// The connection use cases: connect a Page, disconnect it, record a health check. Each one runs the
// pure state machine under the Page's row lock and writes the new state, the sealed token and the
// events (outbox) in one transaction. Graph calls happen before the transaction, never inside it.
import { randomUUID } from 'node:crypto';
import { createEvent } from '@parley/contracts';
import type { ConnectionStatus, ParleyEvent } from '@parley/contracts';
import type { GraphApiClient } from '@parley/graph-api';
import type { Logger } from '@parley/observability';
import type { Database } from '@parley/persistence';
import { appendToOutbox } from '@parley/outbox';
import type { TokenVault } from '../tokens/vault.ts';
import { ConnectionRefused, OWNED_BY_ANOTHER_ACCOUNT, decide, evolveAll, isOwnedByAnotherAccount, toPublished } from './connection.ts';
import type { CheckFacts, Connection, ConnectionCommand, ConnectionEvent } from './connection.ts';
import { loadPage, savePage } from './connection-store.ts';
import type { PageRecord } from './connection-store.ts';
import { failureOf, subscribeAndConfirm, webhookFields } from './subscription.ts';

export type ConnectOutcome =
  | { pageId: string; name: string; outcome: 'connected' | 'reconnected' | 'subscription_failed' | 'needs_reconnect' | 'revoked'; status: ConnectionStatus; reason: string }
  | { pageId: string; name: string; outcome: 'refused'; status: null; reason: string };

export type DisconnectOutcome =
  | { outcome: 'disconnected'; unsubscribed: boolean; reason: string }
  | { outcome: 'already_disconnected' }
  | { outcome: 'not_found' }
  | { outcome: 'facebook_unavailable'; reason: string };

export type Connections = {
  connect(input: { accountId: string; pageId: string; name: string; pageToken: string; grantId: string | null; subscribeFeed: boolean; correlationId: string | null }): Promise<ConnectOutcome>;
  disconnect(input: { accountId: string; pageId: string }): Promise<DisconnectOutcome>;
  /** Applies a health check's facts, unless the token was replaced while it ran (then they are stale). */
  recordCheck(input: { pageId: string; checkedToken: string; facts: CheckFacts; causationId: string | null; correlationId: string | null }): Promise<void>;
};

export type ConnectionsDeps = {
  db: Database;
  graph: GraphApiClient;
  vault: TokenVault;
  logger: Logger;
  appId: string;
  now: () => number;
  /** Called after a commit that wrote events, so they leave promptly. */
  onEventsWritten: () => void;
  checkIntervalMs: number;
  checkRetryMs: number;
  expiryWarningMs: number;
};

export function createConnections(deps: ConnectionsDeps): Connections {
  const { db, graph, vault, logger } = deps;
  const log = logger.child({ component: 'connections' });

  /** Runs a command under the Page's row lock; `persist` decides what else the row keeps. */
  async function run(
    pageId: string,
    /** The command to run against the current state; null runs nothing (e.g. a stale check). */
    command: (current: Connection | null, record: PageRecord | null) => ConnectionCommand | null,
    persist: (next: Connection, record: PageRecord | null) => {
      sealedToken: string | null;
      grantId: string | null;
      nextCheckAt: number | null;
    },
    meta: { causationId: string | null; correlationId: string | null },
  ): Promise<{ before: Connection | null; after: Connection | null; events: ConnectionEvent[] } | null> {
    const result = await db.transaction(async (tx) => {
      const now = deps.now();
      const record = await loadPage(db, pageId, { tx, forUpdate: true });
      const before = record?.connection ?? null;
      const toRun = command(before, record);
      if (toRun === null) return null;
      const events = decide(toRun, before, { now, expiryWarningMs: deps.expiryWarningMs });
      const after = evolveAll(before, events);
      if (after === null) return { before, after, events };
      // Saved even without events: the token or the next check may change when the status does not.
      await savePage(db, tx, pageId, after, { ...persist(after, record), now });
      await appendToOutbox(db, tx, envelopes(pageId, after.accountId, events, meta));
      return { before, after, events };
    });
    if (result && result.events.some((e) => toPublished(e) !== null)) deps.onEventsWritten();
    return result;
  }

  return {
    async connect(input) {
      const { pageId, accountId, name } = input;
      // Refuse before calling Facebook when another account holds the Page (checked again under the lock).
      const existing = await loadPage(db, pageId);
      if (existing && isOwnedByAnotherAccount(existing.connection, accountId)) {
        return { pageId, name, outcome: 'refused', status: null, reason: OWNED_BY_ANOTHER_ACCOUNT };
      }
      const fields = webhookFields(input.subscribeFeed);
      const subscription = await subscribeAndConfirm(graph, deps.appId, pageId, input.pageToken, fields);
      const sealedToken = vault.seal(input.pageToken);
      try {
        const result = await run(
          pageId,
          () => ({ type: 'connect', accountId, name, requestedFields: fields, subscription }),
          () => ({
            sealedToken,
            grantId: input.grantId,
            // A failed subscription is retried by the next check, soon; a working one is checked on schedule.
            nextCheckAt: deps.now() + (subscription.ok ? deps.checkIntervalMs : deps.checkRetryMs),
          }),
          { causationId: null, correlationId: input.correlationId },
        );
        const after = result!.after!;
        const changed = result!.events.find((e) => e.type === 'status_changed');
        const connected = result!.events.find((e) => e.type === 'connected');
        log.info({ pageId, accountId, status: after.status, reconnect: connected?.type === 'connected' ? connected.reconnect : false }, 'page connection recorded');
        if (after.status === 'connected') {
          const reconnect = connected?.type === 'connected' && connected.reconnect;
          return { pageId, name, outcome: reconnect ? 'reconnected' : 'connected', status: after.status, reason: changed?.type === 'status_changed' ? changed.reason : 'The Page is connected.' };
        }
        const outcome = after.status === 'needs_reconnect' || after.status === 'revoked' ? after.status : 'subscription_failed';
        return { pageId, name, outcome, status: after.status, reason: after.problems[0]?.reason ?? 'The Page could not be subscribed to webhooks.' };
      } catch (error) {
        if (error instanceof ConnectionRefused) return { pageId, name, outcome: 'refused', status: null, reason: error.message };
        throw error;
      }
    },

    async disconnect({ accountId, pageId }) {
      const record = await loadPage(db, pageId);
      if (!record || record.connection.accountId !== accountId) return { outcome: 'not_found' };
      if (record.connection.status === 'disconnected') return { outcome: 'already_disconnected' };
      let unsubscribed = false;
      let note = '';
      if (record.sealedToken !== null) {
        try {
          await graph.unsubscribeApp(pageId, vault.open(record.sealedToken));
          unsubscribed = true;
        } catch (error) {
          const failure = failureOf(error);
          if (failure.transient) {
            // Keep everything as it is: the person tries again, rather than leaving a subscribed Page without a token.
            return { outcome: 'facebook_unavailable', reason: 'Facebook could not be reached to remove the webhook subscription; nothing was changed. Try again in a moment.' };
          }
          // The token no longer works (or lacks the right): the Page is disconnected anyway.
          note = ' Its webhook subscription could not be removed because Facebook no longer accepts the token; Facebook stops delivering once the app is removed from the Page.';
          log.info({ pageId, graphCode: failure.code, graphSubcode: failure.subcode }, 'could not unsubscribe while disconnecting; disconnecting anyway');
        }
      }
      const reason = `A person disconnected the Page from Parley; its token was destroyed.${note}`;
      const result = await run(
        pageId,
        (current) => (current === null || current.accountId !== accountId ? null : { type: 'disconnect', reason }),
        // The token and the link to the login are deleted, not flagged.
        () => ({ sealedToken: null, grantId: null, nextCheckAt: null }),
        { causationId: null, correlationId: null },
      );
      if (result === null) return { outcome: 'not_found' };
      if (result.events.length === 0) return { outcome: 'already_disconnected' };
      log.info({ pageId, accountId, unsubscribed }, 'page disconnected');
      return { outcome: 'disconnected', unsubscribed, reason };
    },

    async recordCheck({ pageId, checkedToken, facts, causationId, correlationId }) {
      const unknown = facts.token.kind === 'unknown' || facts.subscription.kind === 'unknown';
      let stale = false;
      await run(
        pageId,
        (current, record) => {
          // Reconnected, disconnected or rotated while the check ran: the facts are about a token we no longer hold.
          if (current === null || record?.sealedToken !== checkedToken) {
            stale = true;
            return null;
          }
          return { type: 'record_check', facts };
        },
        (_next, record) => ({
          sealedToken: checkedToken,
          grantId: record?.grantId ?? null,
          nextCheckAt: deps.now() + (unknown ? deps.checkRetryMs : deps.checkIntervalMs),
        }),
        { causationId, correlationId },
      );
      if (stale) log.debug({ pageId }, 'check result dropped: the token changed while it ran');
    },
  };
}

function envelopes(pageId: string, accountId: string, events: readonly ConnectionEvent[], meta: { causationId: string | null; correlationId: string | null }): ParleyEvent[] {
  const out: ParleyEvent[] = [];
  for (const event of events) {
    const published = toPublished(event);
    if (published === null) continue;
    const fields = { id: randomUUID(), pageId, accountId, occurredAt: event.at, recordedAt: event.at, causationId: meta.causationId, correlationId: meta.correlationId };
    switch (published.type) {
      case 'page.connected':
        out.push(createEvent('page.connected', { ...fields, data: published.data }));
        break;
      case 'page.connection.changed':
        out.push(createEvent('page.connection.changed', { ...fields, data: published.data }));
        break;
      case 'page.disconnected':
        out.push(createEvent('page.disconnected', { ...fields, data: published.data }));
        break;
      default: {
        const unknown: never = published;
        throw new Error(`Unknown published event ${JSON.stringify(unknown)}`);
      }
    }
  }
  return out;
}
