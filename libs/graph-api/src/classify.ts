// What a Graph API failure means for Parley and for the Page admin, following
// shared/reference/meta-platform.md §4b (codes, subcodes, retry policy) and §8 (reply window).
// Pure: no I/O, same input → same output.

export type GraphErrorCategory =
  | 'transient'
  | 'rate_limited'
  | 'auth_invalid'
  | 'window_closed'
  | 'recipient_unavailable'
  | 'permission'
  | 'invalid_request'
  | 'policy'
  | 'unknown';

/** How the call failed: Meta answered with an error, or no usable answer arrived. */
export type GraphErrorKind = 'graph' | 'network' | 'timeout' | 'breaker_open' | 'invalid_response';

export interface GraphErrorFacts {
  httpStatus?: number | undefined;
  code?: number | undefined;
  subcode?: number | undefined;
  isTransient?: boolean | undefined;
  /** Defaults to 'graph'. */
  kind?: GraphErrorKind | undefined;
}

export interface GraphErrorClassification {
  category: GraphErrorCategory;
  /** Worth retrying with backoff (and a cap): the same request may succeed later. */
  retriable: boolean;
  /** One sentence a Page admin understands. */
  reason: string;
}

const RETRY_AUTOMATICALLY = 'Parley will retry automatically.';

const AUTH_SUBCODE_REASONS: Record<number, string> = {
  458: 'the Parley app was removed from the account that connected the Page',
  459: 'Facebook has checkpointed the account that connected the Page',
  460: 'the password of the account that connected the Page was changed',
  463: 'the access token has expired',
  464: 'the account that connected the Page is not confirmed',
  467: 'the person who connected the Page logged out or the token was revoked',
};

function classification(category: GraphErrorCategory, retriable: boolean, reason: string): GraphErrorClassification {
  return { category, retriable, reason };
}

function authInvalid(subcode: number | undefined): GraphErrorClassification {
  const why = subcode === undefined ? undefined : AUTH_SUBCODE_REASONS[subcode];
  return classification(
    'auth_invalid',
    false,
    why === undefined
      ? "Facebook no longer accepts this Page's connection (the access token is invalid, expired or revoked); a Page admin must reconnect the Page."
      : `Facebook no longer accepts this Page's connection because ${why}; a Page admin must reconnect the Page.`,
  );
}

const RATE_LIMIT_REASONS: Record<number, string> = {
  4: 'Facebook is limiting how many calls the Parley app can make right now',
  17: 'Facebook is limiting how many calls this account can make right now',
  32: 'Facebook is limiting how many calls can be made for this Page right now',
  613: 'Facebook is limiting how fast messages can be sent right now',
};

/** Maps a Graph API failure to a category, whether to retry, and an explanation for the Page admin. */
export function classifyGraphError(facts: GraphErrorFacts): GraphErrorClassification {
  const { httpStatus, code, subcode, isTransient } = facts;
  const kind = facts.kind ?? 'graph';

  switch (kind) {
    case 'timeout':
      // Retrying a send that timed out may deliver it twice; §4b still says retry, so callers that
      // send messages should make the retry idempotent (e.g. check the echo) if duplicates matter.
      return classification('transient', true, `Facebook did not answer in time; ${RETRY_AUTOMATICALLY}`);
    case 'network':
      return classification('transient', true, `Facebook could not be reached; ${RETRY_AUTOMATICALLY}`);
    case 'breaker_open':
      return classification(
        'transient',
        true,
        `Calls to Facebook are paused after repeated failures; ${RETRY_AUTOMATICALLY}`,
      );
    case 'invalid_response':
      // A 2xx whose body we cannot read: the call may well have taken effect, so never repeat it blindly.
      return classification(
        'unknown',
        false,
        'Facebook sent an answer Parley could not understand; the action may or may not have happened.',
      );
    case 'graph':
      break;
    default: {
      const unexpected: never = kind;
      throw new Error(`Unknown Graph error kind: ${String(unexpected)}`);
    }
  }

  // Subcodes that turn a normally retriable code into a permanent one (§4b) come first.
  if (code === 1 && subcode === 99) {
    return classification(
      'permission',
      false,
      'Facebook refused the request, usually because the app lacks a permission or Advanced Access it needs.',
    );
  }
  if (code === 1 && subcode === 1357046) {
    return classification('invalid_request', false, 'Facebook could not read the request Parley sent; it will not be retried.');
  }
  if (code === 2 && subcode === 2018344) {
    return classification(
      'permission',
      false,
      "Facebook's service for this feature is unavailable to the Page (its Terms of Service may not be accepted).",
    );
  }
  if (code === 4 && subcode === 2018354) {
    return classification(
      'policy',
      false,
      'Facebook limits how often marketing messages may be sent to this customer; the message was not sent.',
    );
  }

  if (code === 4 || code === 17 || code === 32 || code === 613) {
    return classification('rate_limited', true, `${RATE_LIMIT_REASONS[code]}; ${RETRY_AUTOMATICALLY}`);
  }
  if (code === 1 || code === 2 || code === 1200) {
    return classification('transient', true, `Facebook had a temporary problem; ${RETRY_AUTOMATICALLY}`);
  }
  // Meta marks some errors transient explicitly; `false` is not taken as overriding the retry codes
  // above, because wrongly dropping a customer's reply costs more than a few capped retries.
  if (isTransient === true) {
    return classification('transient', true, `Facebook reported a temporary problem; ${RETRY_AUTOMATICALLY}`);
  }

  if (code === 190) return authInvalid(subcode);
  if (code === 10 && subcode === 2018278) {
    return classification(
      'window_closed',
      false,
      "The customer's 24-hour reply window is closed; a person may still reply with the human-agent tag for 7 days.",
    );
  }
  if (code === 551) {
    return classification(
      'recipient_unavailable',
      false,
      "This customer isn't available on Messenger right now (they may have blocked the Page or deactivated their account); messages can resume when they write again.",
    );
  }
  if (code === 100 && subcode === 2018001) {
    return classification(
      'recipient_unavailable',
      false,
      'Facebook cannot find this customer for the Page; the conversation may belong to another Page or the account no longer exists.',
    );
  }
  if (code === 10903) {
    return classification('recipient_unavailable', false, 'This customer cannot receive a reply to this activity.');
  }
  if (code === 368) {
    return classification(
      'policy',
      false,
      'Facebook has temporarily blocked this action as abusive or disallowed; wait a long while before trying again and review what the Page sends.',
    );
  }
  if (code === 2022) {
    return classification('policy', false, 'Facebook has temporarily disabled commerce messaging for this Page.');
  }
  if (code === 10904) {
    return classification('permission', false, 'Messaging is turned off for this Page; a Page admin must turn it back on.');
  }
  if (code === 10 || (code !== undefined && code >= 200 && code <= 299)) {
    return classification(
      'permission',
      false,
      'The Parley app lacks a permission Facebook requires for this (for example pages_messaging); a Page admin must reconnect the Page and grant it.',
    );
  }
  if (code === 10900) {
    return classification('invalid_request', false, 'This comment or post has already been answered with a private reply.');
  }
  if (code === 100) {
    return classification('invalid_request', false, 'Facebook rejected the request as invalid; this is a fault in Parley, not in the Page setup.');
  }

  if (httpStatus !== undefined && httpStatus >= 500) {
    return classification('transient', true, `Facebook had a temporary problem; ${RETRY_AUTOMATICALLY}`);
  }
  if (httpStatus === 429) {
    return classification('rate_limited', true, `Facebook is limiting how fast calls can be made; ${RETRY_AUTOMATICALLY}`);
  }
  if (code === undefined && httpStatus !== undefined && httpStatus >= 400) {
    return classification('invalid_request', false, 'Facebook rejected the request; it will not be retried.');
  }
  return classification('unknown', false, 'Facebook returned an unexpected error; it will not be retried automatically.');
}
