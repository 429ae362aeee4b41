import type { EventOf } from '@parley/contracts';
import { fallbackCustomerName } from './model.ts';

// The Pages and customers the inbox knows, from page.events.v1 and profile events. Each topic
// orders its own events (by Page, by conversation), so the latest event simply wins.

export type PageStatus = 'connected' | 'degraded' | 'needs_reconnect' | 'revoked' | 'subscription_failed' | 'disconnected';

export type InboxPage = {
  pageId: string;
  /** Null until a page.connected names the account (ingress does not know it). */
  accountId: string | null;
  name: string | null;
  status: PageStatus;
  statusReason: string | null;
};

export type PageEvent = EventOf<'page.connected' | 'page.connection.changed' | 'page.disconnected'>;

export function evolvePage(page: InboxPage | null, event: PageEvent): InboxPage {
  const base: InboxPage = page ?? { pageId: event.pageId, accountId: null, name: null, status: 'disconnected', statusReason: null };
  switch (event.type) {
    case 'page.connected':
      // A Page reconnected to another account moves with its conversations.
      return { ...base, accountId: event.accountId ?? base.accountId, name: event.data.name, status: 'connected', statusReason: null };
    case 'page.connection.changed':
      return { ...base, accountId: event.accountId ?? base.accountId, status: event.data.status, statusReason: event.data.reason };
    case 'page.disconnected':
      return { ...base, accountId: event.accountId ?? base.accountId, status: 'disconnected', statusReason: event.data.reason };
    default: {
      const unknown: never = event;
      return unknown;
    }
  }
}

export type CustomerProfile = {
  pageId: string;
  psid: string;
  available: boolean;
  /** The profile's name; null when Meta has none (the fallback name is shown then). */
  name: string | null;
  firstName: string | null;
  lastName: string | null;
  reason: string | null;
};

export function evolveCustomer(event: EventOf<'messenger.customer.profile.updated'>): CustomerProfile {
  const { data } = event;
  const fromParts = [data.firstName, data.lastName].filter((part): part is string => Boolean(part && part.trim())).join(' ').trim();
  // Only a name Meta gave us: the event's displayName may be the fallback, which we derive ourselves.
  const name = data.available ? fromParts || (data.displayName !== fallbackCustomerName(data.customer.psid) ? data.displayName : null) : null;
  return {
    pageId: event.pageId,
    psid: data.customer.psid,
    available: data.available,
    name,
    firstName: data.firstName,
    lastName: data.lastName,
    reason: data.reason,
  };
}
