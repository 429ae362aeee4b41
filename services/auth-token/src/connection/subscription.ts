// Subscribing the app to a Page's webhooks and reading the subscription back (meta-platform.md §6e).
import { GraphApiError } from '@parley/graph-api';
import type { GraphApiClient, SubscribedApp } from '@parley/graph-api';
import type { GraphFailure, SubscribeOutcome } from './connection.ts';

/** Messenger fields every connected Page is subscribed to. */
export const MESSAGING_FIELDS = [
  'messages',
  'messaging_postbacks',
  'message_deliveries',
  'message_reads',
  'message_echoes',
  'message_reactions',
  'messaging_referrals',
] as const;

/** The fields to subscribe: Messenger, plus `feed` (Page comments) when asked. */
export function webhookFields(subscribeFeed: boolean): string[] {
  return subscribeFeed ? [...MESSAGING_FIELDS, 'feed'] : [...MESSAGING_FIELDS];
}

/** A Graph failure reduced to codes (decisions) and Meta's redacted words (display). */
export function failureOf(error: unknown): GraphFailure {
  if (error instanceof GraphApiError) {
    // No answer (network, timeout, breaker open, unreadable body) or "try later" from Meta: nothing is known about the Page.
    const transient = error.kind !== 'graph' || error.category === 'transient' || error.category === 'rate_limited';
    return {
      code: error.code ?? null,
      subcode: error.subcode ?? null,
      transient,
      // Meta's own sentence when it gave one (the client already removed every secret from it); ours otherwise.
      detail: error.kind === 'graph' ? error.message : error.reason,
    };
  }
  // Not a Graph answer at all (a bug, a thrown TypeError): no conclusion about the Page.
  return { code: null, subcode: null, transient: true, detail: null };
}

/** Our app is subscribed with every field we need. */
export function isSubscribed(apps: readonly SubscribedApp[], appId: string, fields: readonly string[]): boolean {
  const ours = apps.find((app) => app.id === appId);
  return ours !== undefined && fields.every((field) => ours.subscribedFields.includes(field));
}

/** Subscribes, then reads the subscription back: only what Meta lists counts as subscribed. */
export async function subscribeAndConfirm(graph: GraphApiClient, appId: string, pageId: string, pageToken: string, fields: readonly string[]): Promise<SubscribeOutcome> {
  try {
    await graph.subscribeApp(pageId, pageToken, fields);
  } catch (error) {
    return { ok: false, failure: failureOf(error) };
  }
  try {
    const apps = await graph.getSubscribedApps(pageId, pageToken);
    if (isSubscribed(apps, appId, fields)) return { ok: true, fields: [...fields] };
    return {
      ok: false,
      failure: { code: null, subcode: null, transient: false, detail: 'Facebook accepted the subscription but does not list it when asked.' },
    };
  } catch (error) {
    return { ok: false, failure: failureOf(error) };
  }
}
