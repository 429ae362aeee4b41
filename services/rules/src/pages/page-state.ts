import type { ConnectionStatus, PageSettings, ParleyEvent } from '@parley/contracts';

/** The settings of a connected Page that has none stored: the assistant answers at once, once one is chosen. */
export const DEFAULT_SETTINGS: PageSettings = Object.freeze({
  autoReply: true,
  assistantId: null,
  responseDelay: 'instant',
  greetingMessage: null,
  awayMessage: null,
  escalationKeywords: [],
}) as PageSettings;

/**
 * What rules knows about one Page, from `page.events.v1`: which account owns it (ingress does not
 * know; auth-token says so on `page.connected`), its connection status and its reply settings.
 */
export type PageState = {
  pageId: string;
  /** Null until a `page.connected` is seen: such a Page is unknown to the settings API. */
  accountId: string | null;
  status: ConnectionStatus | null;
  statusChangedAt: string | null;
  /** Null: none stored, the defaults apply. */
  settings: PageSettings | null;
  settingsChangedAt: string | null;
};

export function initialPage(pageId: string): PageState {
  return { pageId, accountId: null, status: null, statusChangedAt: null, settings: null, settingsChangedAt: null };
}

export function effectiveSettings(page: PageState): PageSettings {
  return page.settings ?? DEFAULT_SETTINGS;
}

/** True once a `page.connected` has been seen (even if the Page was disconnected since). */
export function isKnownPage(page: PageState | null): page is PageState & { accountId: string } {
  return page !== null && page.accountId !== null;
}

/**
 * What the connection status means for automated answers. A Page that needs reconnecting (token
 * expired, subscription failed, degraded) still gets its reply requested: outbound-sender holds
 * its sends (deferred, not failed) and sends them after the reconnect while the window is open,
 * so the customer is answered as soon as the admin reconnects. A revoked Page (the admin withdrew
 * the app's permissions) is not coming back on its own: suppress with `page_needs_reconnect`.
 * A disconnected Page, or one never connected, is not ours to answer: `page_disconnected`.
 */
export type ConnectionVerdict = 'answer' | 'page_needs_reconnect' | 'page_disconnected';

export function connectionVerdict(page: PageState | null): ConnectionVerdict {
  if (!isKnownPage(page) || page.status === null) return 'page_disconnected';
  switch (page.status) {
    case 'connected':
    case 'degraded':
    case 'needs_reconnect':
    case 'subscription_failed':
      return 'answer';
    case 'revoked':
      return 'page_needs_reconnect';
    case 'disconnected':
      return 'page_disconnected';
    default: {
      const unknown: never = page.status;
      throw new Error(`Unknown connection status ${String(unknown)}`);
    }
  }
}

/**
 * Applies one event to a Page's state. Pure and idempotent: a status or settings change older than
 * the one already applied (a replay, a duplicate) is ignored, so the latest fact wins whatever the order.
 */
export function evolvePage(state: PageState, event: ParleyEvent): PageState {
  switch (event.type) {
    case 'page.connected': {
      if (!isNewer(state.statusChangedAt, event.occurredAt)) return state;
      // A Page reconnected by another account moves to that account.
      return { ...state, accountId: event.accountId ?? state.accountId, status: 'connected', statusChangedAt: event.occurredAt };
    }
    case 'page.connection.changed':
      if (!isNewer(state.statusChangedAt, event.occurredAt)) return state;
      return { ...state, accountId: event.accountId ?? state.accountId, status: event.data.status, statusChangedAt: event.occurredAt };
    case 'page.disconnected':
      if (!isNewer(state.statusChangedAt, event.occurredAt)) return state;
      // The account keeps its Page's settings (and can read them) after a disconnect.
      return { ...state, status: 'disconnected', statusChangedAt: event.occurredAt };
    case 'page.settings.changed':
      // Strictly newer: our own change, consumed back from the log, must not undo a later one.
      if (state.settingsChangedAt !== null && Date.parse(event.occurredAt) <= Date.parse(state.settingsChangedAt)) return state;
      return { ...state, settings: event.data.settings, settingsChangedAt: event.occurredAt };
    case 'messenger.message.received':
    case 'messenger.message.echoed':
    case 'messenger.postback.received':
    case 'messenger.reaction.received':
    case 'messenger.delivery.received':
    case 'messenger.read.received':
    case 'messenger.referral.received':
    case 'messenger.comment.received':
    case 'messenger.event.unsupported':
    case 'messenger.customer.profile.updated':
    case 'conversation.reply.requested':
    case 'conversation.reply.suppressed':
    case 'conversation.escalated':
    case 'conversation.resolved':
    case 'outbound.send.requested':
    case 'outbound.send.cancelled':
    case 'outbound.message.scheduled':
    case 'outbound.message.sent':
    case 'outbound.message.failed':
    case 'outbound.message.deferred':
    case 'outbound.message.cancelled':
    case 'outbound.token.rejected':
      return state;
    default: {
      const unknown: never = event;
      throw new Error(`Unhandled event ${(unknown as { type: string }).type}`);
    }
  }
}

/** Same instant counts as newer so that `connected` then `connection.changed` in the same millisecond both apply in log order. */
function isNewer(current: string | null, candidate: string): boolean {
  return current === null || Date.parse(candidate) >= Date.parse(current);
}
