// Asks Facebook about one Page's token (debug_token) and webhook subscription (subscribed_apps),
// re-subscribing when the subscription is gone. Returns facts for the state machine; decides nothing.
import type { GraphApiClient, TokenDebugInfo } from '@parley/graph-api';
import type { SubscriptionFacts, TokenFacts } from '../connection/connection.ts';
import { failureOf, isSubscribed, subscribeAndConfirm } from '../connection/subscription.ts';

export type GatheredFacts = { token: TokenFacts; subscription: SubscriptionFacts; resubscribed: boolean };

export async function gatherFacts(graph: GraphApiClient, appId: string, pageId: string, pageToken: string, fields: readonly string[]): Promise<GatheredFacts> {
  let info: TokenDebugInfo;
  try {
    info = await graph.debugToken(pageToken);
  } catch (error) {
    // debug_token is called with the app's own token: its failure says nothing about the Page's token.
    return { token: { kind: 'unknown', failure: failureOf(error) }, subscription: { kind: 'unknown' }, resubscribed: false };
  }
  const token = tokenFactsOf(info, pageId);
  if (token.kind !== 'valid') return { token, subscription: { kind: 'unknown' }, resubscribed: false };

  try {
    const apps = await graph.getSubscribedApps(pageId, pageToken);
    if (isSubscribed(apps, appId, fields)) return { token, subscription: { kind: 'present' }, resubscribed: false };
  } catch (error) {
    const failure = failureOf(error);
    if (failure.transient) return { token, subscription: { kind: 'unknown' }, resubscribed: false };
    // The Page token itself was refused (a revocation between the two calls): that is a token fact.
    if (failure.code === 190) return { token: { kind: 'invalid', failure }, subscription: { kind: 'unknown' }, resubscribed: false };
    // Any other refusal to even read the subscription: try to subscribe again, which says more.
  }
  // Lost (the app is not listed, or not with every field): subscribe again and read it back.
  const outcome = await subscribeAndConfirm(graph, appId, pageId, pageToken, fields);
  if (outcome.ok) return { token, subscription: { kind: 'restored' }, resubscribed: true };
  if (outcome.failure.transient) return { token, subscription: { kind: 'unknown' }, resubscribed: true };
  return { token, subscription: { kind: 'failed', failure: outcome.failure }, resubscribed: true };
}

/** debug_token's answer as facts: validity, scopes that apply to this Page, expiries in epoch ms. */
export function tokenFactsOf(info: TokenDebugInfo, pageId: string): TokenFacts {
  if (!info.isValid) {
    return {
      kind: 'invalid',
      failure: { code: info.error?.code ?? null, subcode: info.error?.subcode ?? null, transient: false, detail: info.error?.message ?? null },
    };
  }
  // A Page-scoped permission granted for other Pages only does not count for this one (granular_scopes, §6d).
  const scopes = info.scopes.filter((scope) => {
    const granular = info.granularScopes.find((g) => g.scope === scope);
    return granular === undefined || granular.targetIds.length === 0 || granular.targetIds.includes(pageId);
  });
  return {
    kind: 'valid',
    scopes,
    // 0 means "never expires" (§6d).
    expiresAt: info.expiresAt ? info.expiresAt * 1000 : null,
    dataAccessExpiresAt: info.dataAccessExpiresAt ? info.dataAccessExpiresAt * 1000 : null,
  };
}
