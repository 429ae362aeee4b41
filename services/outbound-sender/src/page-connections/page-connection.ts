// What outbound-sender knows about each Page's connection, from `page.events.v1` (auth-token's word)
// and from its own Send API calls (a 190 means the token is dead before auth-token has noticed).
// Pure: evolve(state, event) → state.
import type { ConnectionStatus, EventOf } from '@parley/contracts';

export type PageStatus = ConnectionStatus | 'unknown';

export type PageConnection = {
  readonly pageId: string;
  readonly accountId: string | null;
  readonly status: PageStatus;
  /** Who said so: auth-token's page events, our own send (Meta answered 190), or auth-token's token API. */
  readonly source: 'event' | 'send' | 'token_api';
  /** When it became so: the event's `occurredAt`, or our clock for what we saw ourselves. */
  readonly statusAt: Date;
  /** The token Meta rejected (a hash, never the token), so a probe can tell a new token from the dead one. */
  readonly rejectedTokenFingerprint: string | null;
};

export type PageEvent = EventOf<'page.connected'> | EventOf<'page.connection.changed'> | EventOf<'page.disconnected'> | EventOf<'page.settings.changed'>;

/** A Page we have heard nothing about: we try to send, and auth-token's token API has the last word. */
export function unknownPage(pageId: string): PageConnection {
  return { pageId, accountId: null, status: 'unknown', source: 'event', statusAt: new Date(0), rejectedTokenFingerprint: null };
}

/** What a Page's status means for its sends. */
export function connectionVerdict(status: PageStatus): 'send' | 'hold' | 'disconnected' {
  switch (status) {
    case 'connected':
    case 'degraded':
    case 'subscription_failed': // webhooks are broken, the token still sends
    case 'unknown':
      return 'send';
    case 'needs_reconnect':
    case 'revoked':
      return 'hold';
    case 'disconnected':
      return 'disconnected';
    default: {
      const unexpected: never = status;
      throw new Error(`Unknown page status ${String(unexpected)}`);
    }
  }
}

export type PageEvolution = {
  readonly page: PageConnection;
  /** The event was applied (false: an older event arriving late, or one that is not about the connection). */
  readonly applied: boolean;
  /** Held sends of this Page must be looked at again (it can send again, or it is gone for good). */
  readonly wakeHeldSends: boolean;
};

/**
 * Applies a page event. Out-of-order input: an event older than what we know (a late or replayed
 * one) changes nothing, so a stale "connected" never releases sends held after a newer 190; the
 * same event applied twice gives the same state. Settings changes are not about the connection.
 */
export function evolvePage(current: PageConnection, event: PageEvent): PageEvolution {
  const at = new Date(event.occurredAt);
  const unchanged: PageEvolution = { page: current, applied: false, wakeHeldSends: false };
  let status: PageStatus;
  switch (event.type) {
    case 'page.connected':
      status = 'connected';
      break;
    case 'page.connection.changed':
      status = event.data.status;
      break;
    case 'page.disconnected':
      status = 'disconnected';
      break;
    case 'page.settings.changed':
      return unchanged;
    default: {
      const unexpected: never = event;
      throw new Error(`Unknown page event ${String((unexpected as { type: string }).type)}`);
    }
  }
  if (at.getTime() < current.statusAt.getTime()) return unchanged;
  const page: PageConnection = {
    pageId: current.pageId,
    accountId: event.accountId ?? current.accountId,
    status,
    source: 'event',
    statusAt: at,
    // A new connection comes with a new token: forget the rejected one.
    rejectedTokenFingerprint: connectionVerdict(status) === 'hold' ? current.rejectedTokenFingerprint : null,
  };
  return { page, applied: true, wakeHeldSends: connectionVerdict(status) !== 'hold' };
}

/** Meta answered 190 to a send with this token: hold the Page's sends until it is reconnected. */
export function tokenRejected(current: PageConnection, fingerprint: string, now: Date): PageConnection {
  return { ...current, status: 'needs_reconnect', source: 'send', statusAt: now, rejectedTokenFingerprint: fingerprint };
}

/** auth-token's token API says the Page needs reconnecting (409). */
export function tokenApiSaysReconnect(current: PageConnection, now: Date): PageConnection {
  if (connectionVerdict(current.status) === 'hold') return current;
  return { ...current, status: 'needs_reconnect', source: 'token_api', statusAt: now };
}

/** A held Page's token API hands out a token other than the one Meta rejected: it was reconnected. */
export function tokenReplaced(current: PageConnection, now: Date): PageConnection {
  return { ...current, status: 'connected', source: 'token_api', statusAt: now, rejectedTokenFingerprint: null };
}
