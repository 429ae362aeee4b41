// The connection state machine of one Page: pure (no I/O, time passed in), deciding from Graph error
// codes and subcodes and from debug_token's facts, never from the wording of an error.
//
//   connected ──(data access or token expiring soon, login not renewable)──▶ degraded
//   connected|degraded ──(190 with 459/460/463/464/467/none, data access ended)──▶ needs_reconnect
//   connected|degraded ──(190/458 app removed, 190/492 admin role lost, 10 or 200–299, a scope missing)──▶ revoked
//   connected|degraded ──(webhook subscription lost and re-subscribing failed)──▶ subscription_failed
//   any ──(a check finds everything working / a reconnect)──▶ connected
//   any ──(disconnect)──▶ disconnected
//
// `decide(command, state, context)` returns events; `evolve(state, event)` applies one. The service
// stores the folded state in its `pages` row (it is not rebuilt from the log), and publishes the
// events that other services need (see `toPublished`).
import type { ConnectionStatus } from '@parley/contracts';

export type ProblemCode =
  | 'token_invalid'
  | 'app_removed'
  | 'account_checkpointed'
  | 'password_changed'
  | 'token_expired'
  | 'account_unconfirmed'
  | 'logged_out'
  | 'admin_role_lost'
  | 'permission_missing'
  | 'data_access_expired'
  | 'data_access_expiring'
  | 'token_expiring'
  | 'login_expired'
  | 'subscription_failed';

/** Something wrong with a connection, said for a person: what happened and what to do. */
export type Problem = { code: ProblemCode; reason: string; action: string | null };

/** What the service knows about one Page's connection (the `pages` row without its token). */
export type Connection = {
  accountId: string;
  name: string;
  status: ConnectionStatus;
  problems: Problem[];
  /** The last successful (re)connect; null when the Page never got connected to this account. */
  connectedAt: string | null;
  tokenCheckedAt: string | null;
  /** The webhook fields this Page should be subscribed to. */
  subscribedFields: string[];
};

/** A failed Graph call, reduced to what decisions may use: codes, not text. `detail` is for display only. */
export type GraphFailure = {
  code: number | null;
  subcode: number | null;
  /** Facebook could not be reached or answered "try later": no conclusion about the Page can be drawn. */
  transient: boolean;
  /** Meta's own (already redacted) message, quoted to the person; never used to decide. */
  detail: string | null;
};

export type SubscribeOutcome = { ok: true; fields: string[] } | { ok: false; failure: GraphFailure };

/** What debug_token (or a call with the Page token) told about the Page token. Times in epoch ms. */
export type TokenFacts =
  | { kind: 'valid'; scopes: string[]; expiresAt: number | null; dataAccessExpiresAt: number | null }
  | { kind: 'invalid'; failure: GraphFailure }
  | { kind: 'unknown'; failure: GraphFailure };

/** The webhook subscription as read back from `subscribed_apps` (and re-subscribed when lost). */
export type SubscriptionFacts =
  | { kind: 'present' }
  | { kind: 'restored' }
  | { kind: 'failed'; failure: GraphFailure }
  | { kind: 'unknown' };

export type CheckFacts = {
  token: TokenFacts;
  subscription: SubscriptionFacts;
  /** The long-lived user token behind this Page could not be renewed and has expired. */
  loginExpired: boolean;
};

export type ConnectionCommand =
  | { type: 'connect'; accountId: string; name: string; requestedFields: string[]; subscription: SubscribeOutcome }
  | { type: 'record_check'; facts: CheckFacts }
  | { type: 'disconnect'; reason: string };

export type DecisionContext = {
  /** Epoch ms. */
  now: number;
  /** Warn (degraded) when an expiry is closer than this. */
  expiryWarningMs: number;
};

/** Internal events; `toPublished` maps the ones other services see to page.events.v1 events. */
export type ConnectionEvent =
  | { type: 'attached'; accountId: string; name: string; subscribedFields: string[]; at: string }
  | { type: 'connected'; name: string; subscribedFields: string[]; reconnect: boolean; at: string }
  | {
      type: 'status_changed';
      status: ConnectionStatus;
      previousStatus: ConnectionStatus | null;
      reason: string;
      action: string | null;
      graphCode: number | null;
      graphSubcode: number | null;
      problems: Problem[];
      at: string;
    }
  | { type: 'problems_changed'; problems: Problem[]; at: string }
  | { type: 'checked'; at: string }
  | { type: 'disconnected'; reason: string; at: string };

export const OWNED_BY_ANOTHER_ACCOUNT =
  'This Page is connected to another Parley account. A Page belongs to one account at a time: disconnect it there first (Settings → Pages → Disconnect), then connect it here.';

/** Connecting a Page that another account holds. */
export class ConnectionRefused extends Error {
  readonly code = 'page_owned_by_another_account' as const;
  constructor(message: string) {
    super(message);
    this.name = 'ConnectionRefused';
  }
}

/** Scopes a Page token needs: messaging and webhook subscription (meta-platform.md §6e, §6f). */
export const REQUIRED_SCOPES = ['pages_messaging', 'pages_manage_metadata'] as const;

const RECONNECT = 'Reconnect the Page from Settings → Pages';

/** True when `accountId` may not connect the Page: another account holds a live connection to it. */
export function isOwnedByAnotherAccount(state: Connection | null, accountId: string): boolean {
  return state !== null && state.status !== 'disconnected' && state.accountId !== accountId;
}

export function decide(command: ConnectionCommand, state: Connection | null, context: DecisionContext): ConnectionEvent[] {
  const at = new Date(context.now).toISOString();
  switch (command.type) {
    case 'connect':
      return decideConnect(command, state, at);
    case 'record_check':
      return decideCheck(command.facts, state, context, at);
    case 'disconnect':
      if (state === null || state.status === 'disconnected') return []; // already gone: disconnecting twice changes nothing
      return [
        statusChanged(state.status, 'disconnected', { reason: command.reason, action: null, graphCode: null, graphSubcode: null }, [], at),
        { type: 'disconnected', reason: command.reason, at },
      ];
    default: {
      const unknown: never = command;
      throw new Error(`Unknown connection command ${JSON.stringify(unknown)}`);
    }
  }
}

function decideConnect(command: Extract<ConnectionCommand, { type: 'connect' }>, state: Connection | null, at: string): ConnectionEvent[] {
  if (isOwnedByAnotherAccount(state, command.accountId)) {
    throw new ConnectionRefused(OWNED_BY_ANOTHER_ACCOUNT);
  }
  const sameAccount = state !== null && state.accountId === command.accountId;
  const previousStatus = state?.status ?? null;
  const events: ConnectionEvent[] = [{ type: 'attached', accountId: command.accountId, name: command.name, subscribedFields: command.requestedFields, at }];
  if (command.subscription.ok) {
    const reconnect = sameAccount && state.connectedAt !== null;
    events.push({ type: 'connected', name: command.name, subscribedFields: command.subscription.fields, reconnect, at });
    if (previousStatus !== 'connected' || (state?.problems.length ?? 0) > 0) {
      events.push(
        statusChanged(
          previousStatus,
          'connected',
          {
            reason: reconnect ? 'The Page was reconnected: its new token works and its webhooks are subscribed.' : 'The Page was connected and its webhooks are subscribed.',
            action: null,
            graphCode: null,
            graphSubcode: null,
          },
          [],
          at,
        ),
      );
    }
    return events;
  }
  const finding = subscriptionFinding(command.subscription.failure);
  events.push(statusChanged(previousStatus, finding.status, explain(finding), [finding.problem], at));
  return events;
}

function decideCheck(facts: CheckFacts, state: Connection | null, context: DecisionContext, at: string): ConnectionEvent[] {
  // A check that finishes after a disconnect (or for a Page we never held) must not revive it.
  if (state === null || state.status === 'disconnected') return [];
  // Facebook could not tell us anything: keep the status; the check runs again soon.
  if (facts.token.kind === 'unknown') return [];

  const findings: Finding[] = [];
  if (facts.token.kind === 'invalid') {
    findings.push(tokenFinding(facts.token.failure));
  } else {
    findings.push(...validTokenFindings(facts.token, context));
  }
  if (facts.subscription.kind === 'failed') findings.push(subscriptionFinding(facts.subscription.failure));
  if (facts.subscription.kind === 'unknown') {
    // Not looked at this time (Facebook did not answer): a known subscription failure still stands.
    for (const problem of state.problems) {
      if (problem.code === 'subscription_failed') findings.push({ status: 'subscription_failed', problem, graphCode: null, graphSubcode: null });
    }
  }
  if (facts.loginExpired) {
    findings.push({
      status: 'degraded',
      problem: {
        code: 'login_expired',
        reason: "Parley's Facebook login for this Page expired and could not be renewed, so its data access will not be extended.",
        action: `${RECONNECT} to renew it.`,
      },
      graphCode: null,
      graphSubcode: null,
    });
  }

  findings.sort((a, b) => SEVERITY[b.status] - SEVERITY[a.status]);
  const problems = findings.map((f) => f.problem);
  const top = findings[0];
  const status: ConnectionStatus = top?.status ?? 'connected';
  const events: ConnectionEvent[] = [];
  if (status !== state.status) {
    const explanation = top
      ? explain(top)
      : { reason: "The Page's token and webhook subscription work again.", action: null, graphCode: null, graphSubcode: null };
    events.push(statusChanged(state.status, status, explanation, problems, at));
  } else if (!sameProblems(problems, state.problems)) {
    events.push({ type: 'problems_changed', problems, at });
  }
  events.push({ type: 'checked', at });
  return events;
}

type Finding = { status: Exclude<ConnectionStatus, 'connected' | 'disconnected'>; problem: Problem; graphCode: number | null; graphSubcode: number | null };

const SEVERITY: Record<ConnectionStatus, number> = {
  connected: 0,
  degraded: 1,
  subscription_failed: 2,
  needs_reconnect: 3,
  revoked: 4,
  disconnected: 5,
};

function explain(finding: Finding): { reason: string; action: string | null; graphCode: number | null; graphSubcode: number | null } {
  return { reason: finding.problem.reason, action: finding.problem.action, graphCode: finding.graphCode, graphSubcode: finding.graphSubcode };
}

/**
 * What a rejected token means, from Meta's code and subcode (meta-platform.md §4b): 190 is an
 * invalid token (its subcode says why), 10 and 200–299 are permission errors.
 */
export function tokenFinding(failure: GraphFailure): Finding {
  const codes = { graphCode: failure.code, graphSubcode: failure.subcode };
  if (failure.code === 190) {
    switch (failure.subcode) {
      case 458:
        return { status: 'revoked', ...codes, problem: { code: 'app_removed', reason: 'The Parley app was removed from the Facebook account that connected the Page.', action: `${RECONNECT} and allow Parley again.` } };
      case 492: // [M] the simulator's (and Meta's observed) subcode when the person lost their role on the Page
        return { status: 'revoked', ...codes, problem: { code: 'admin_role_lost', reason: 'The person who connected the Page is no longer allowed to manage it.', action: `${RECONNECT} as a person who manages the Page.` } };
      case 459:
        return { status: 'needs_reconnect', ...codes, problem: { code: 'account_checkpointed', reason: 'Facebook locked (checkpointed) the account that connected the Page.', action: `Log in to facebook.com and follow Facebook's instructions, then ${lowerFirst(RECONNECT)}.` } };
      case 460:
        return { status: 'needs_reconnect', ...codes, problem: { code: 'password_changed', reason: "The password of the Facebook account that connected the Page was changed, which ended Parley's access.", action: `${RECONNECT}; the Page's password was changed.` } };
      case 463:
        return { status: 'needs_reconnect', ...codes, problem: { code: 'token_expired', reason: "The Page's access token expired.", action: `${RECONNECT}.` } };
      case 464:
        return { status: 'needs_reconnect', ...codes, problem: { code: 'account_unconfirmed', reason: 'The Facebook account that connected the Page is not confirmed.', action: `Confirm the account on facebook.com, then ${lowerFirst(RECONNECT)}.` } };
      case 467:
        return { status: 'needs_reconnect', ...codes, problem: { code: 'logged_out', reason: "The person who connected the Page logged out of Facebook or ended Parley's session.", action: `${RECONNECT}.` } };
      default:
        return { status: 'needs_reconnect', ...codes, problem: { code: 'token_invalid', reason: "Facebook no longer accepts the Page's access token.", action: `${RECONNECT}.` } };
    }
  }
  if (failure.code === 10 || (failure.code !== null && failure.code >= 200 && failure.code <= 299)) {
    return {
      status: 'revoked',
      ...codes,
      problem: { code: 'permission_missing', reason: 'Facebook refused: Parley no longer has a permission it needs on this Page (for example pages_messaging).', action: `${RECONNECT} and keep every permission switched on.` },
    };
  }
  // Any other rejection of the token (debug_token said "not valid" without a code): a new token fixes it.
  return { status: 'needs_reconnect', ...codes, problem: { code: 'token_invalid', reason: "Facebook no longer accepts the Page's access token.", action: `${RECONNECT}.` } };
}

/** A failed (re-)subscription: a dead token is a token problem; anything else is `subscription_failed` with Meta's words. */
export function subscriptionFinding(failure: GraphFailure): Finding {
  if (failure.code === 190) return tokenFinding(failure);
  const said = failure.detail ? ` Facebook said: "${failure.detail}"` : '';
  if (failure.transient) {
    return {
      status: 'subscription_failed',
      graphCode: failure.code,
      graphSubcode: failure.subcode,
      problem: { code: 'subscription_failed', reason: `Facebook could not be reached to subscribe Parley to the Page's messages; Parley tries again at the next check.${said}`, action: null },
    };
  }
  return {
    status: 'subscription_failed',
    graphCode: failure.code,
    graphSubcode: failure.subcode,
    problem: {
      code: 'subscription_failed',
      reason: `Facebook refused to subscribe Parley to the Page's messages, so no messages reach Parley.${said}`,
      action: `Make sure you can manage the Page's messages and that apps are allowed on the Page, then ${lowerFirst(RECONNECT)}.`,
    },
  };
}

function validTokenFindings(token: Extract<TokenFacts, { kind: 'valid' }>, context: DecisionContext): Finding[] {
  const findings: Finding[] = [];
  const none = { graphCode: null, graphSubcode: null };
  const missing = REQUIRED_SCOPES.filter((scope) => !token.scopes.includes(scope));
  if (missing.length > 0) {
    findings.push({
      status: 'revoked',
      ...none,
      problem: { code: 'permission_missing', reason: `Parley no longer has the ${missing.join(' and ')} permission on this Page, so it cannot ${missing.includes('pages_messaging') ? 'send or receive messages' : 'keep its webhooks subscribed'}.`, action: `${RECONNECT} and keep every permission switched on.` },
    });
  }
  if (token.expiresAt !== null) {
    if (token.expiresAt <= context.now) {
      findings.push({ status: 'needs_reconnect', ...none, problem: { code: 'token_expired', reason: "The Page's access token expired.", action: `${RECONNECT}.` } });
    } else if (token.expiresAt - context.now <= context.expiryWarningMs) {
      findings.push({ status: 'degraded', ...none, problem: { code: 'token_expiring', reason: `The Page's access token expires on ${day(token.expiresAt)}.`, action: `${RECONNECT} before ${day(token.expiresAt)}.` } });
    }
  }
  if (token.dataAccessExpiresAt !== null && token.dataAccessExpiresAt > 0) {
    if (token.dataAccessExpiresAt <= context.now) {
      findings.push({ status: 'needs_reconnect', ...none, problem: { code: 'data_access_expired', reason: "Facebook's 90-day data access for this Page ended, so Parley can no longer read its conversations.", action: `${RECONNECT} to renew it.` } });
    } else if (token.dataAccessExpiresAt - context.now <= context.expiryWarningMs) {
      findings.push({
        status: 'degraded',
        ...none,
        problem: { code: 'data_access_expiring', reason: `Facebook's 90-day data access for this Page ends on ${day(token.dataAccessExpiresAt)}.`, action: `${RECONNECT} before ${day(token.dataAccessExpiresAt)} to renew it.` },
      });
    }
  }
  return findings;
}

function statusChanged(
  previousStatus: ConnectionStatus | null,
  status: ConnectionStatus,
  explanation: { reason: string; action: string | null; graphCode: number | null; graphSubcode: number | null },
  problems: Problem[],
  at: string,
): ConnectionEvent {
  return { type: 'status_changed', status, previousStatus, ...explanation, problems, at };
}

function sameProblems(a: readonly Problem[], b: readonly Problem[]): boolean {
  return a.length === b.length && a.every((p, i) => p.code === b[i]!.code && p.reason === b[i]!.reason && p.action === b[i]!.action);
}

function day(epochMs: number): string {
  return new Date(epochMs).toISOString().slice(0, 10);
}

function lowerFirst(text: string): string {
  return text.charAt(0).toLowerCase() + text.slice(1);
}

/** Applies one event to the state. A Page we hold nothing for starts as `disconnected`. */
export function evolve(state: Connection | null, event: ConnectionEvent): Connection | null {
  switch (event.type) {
    case 'attached': {
      const sameAccount = state !== null && state.accountId === event.accountId;
      return {
        accountId: event.accountId,
        name: event.name,
        status: state?.status ?? 'disconnected',
        problems: state?.problems ?? [],
        connectedAt: sameAccount ? state.connectedAt : null,
        tokenCheckedAt: sameAccount ? state.tokenCheckedAt : null,
        subscribedFields: event.subscribedFields,
      };
    }
    case 'connected':
      return state === null ? null : { ...state, name: event.name, subscribedFields: event.subscribedFields, connectedAt: event.at };
    case 'status_changed':
      return state === null ? null : { ...state, status: event.status, problems: event.problems };
    case 'problems_changed':
      return state === null ? null : { ...state, problems: event.problems };
    case 'checked':
      return state === null ? null : { ...state, tokenCheckedAt: event.at };
    case 'disconnected':
      return state === null ? null : { ...state, status: 'disconnected', problems: [] };
    default: {
      const unknown: never = event;
      throw new Error(`Unknown connection event ${JSON.stringify(unknown)}`);
    }
  }
}

/** Folds events onto a state. */
export function evolveAll(state: Connection | null, events: readonly ConnectionEvent[]): Connection | null {
  return events.reduce<Connection | null>(evolve, state);
}

export type PublishedConnectionEvent =
  | { type: 'page.connected'; data: { name: string; subscribedFields: string[]; reconnect: boolean } }
  | {
      type: 'page.connection.changed';
      data: { status: ConnectionStatus; previousStatus: ConnectionStatus | null; reason: string; action: string | null; graphCode: number | null; graphSubcode: number | null };
    }
  | { type: 'page.disconnected'; data: { reason: string } };

/** The page.events.v1 event an internal event becomes, or null for bookkeeping other services do not need. */
export function toPublished(event: ConnectionEvent): PublishedConnectionEvent | null {
  switch (event.type) {
    case 'connected':
      return { type: 'page.connected', data: { name: event.name, subscribedFields: event.subscribedFields, reconnect: event.reconnect } };
    case 'status_changed':
      return {
        type: 'page.connection.changed',
        data: { status: event.status, previousStatus: event.previousStatus, reason: event.reason, action: event.action, graphCode: event.graphCode, graphSubcode: event.graphSubcode },
      };
    case 'disconnected':
      return { type: 'page.disconnected', data: { reason: event.reason } };
    case 'attached':
    case 'problems_changed':
    case 'checked':
      return null;
    default: {
      const unknown: never = event;
      throw new Error(`Unknown connection event ${JSON.stringify(unknown)}`);
    }
  }
}
