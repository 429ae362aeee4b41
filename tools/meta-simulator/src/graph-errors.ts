// Graph API errors exactly as Meta shapes them (meta-platform.md §4):
// `{ error: { message, type, code, error_subcode?, is_transient?, fbtrace_id } }`.
// Rules return a `GraphError` (no trace id, so they stay pure); the HTTP layer adds `fbtrace_id`.

/** An error the simulated Graph API answers with, before the per-request trace id is added. */
export interface GraphError {
  readonly httpStatus: number;
  readonly code: number;
  readonly subcode?: number;
  readonly message: string;
  readonly type: string;
  readonly isTransient?: boolean;
}

/** The JSON body Meta sends with an error. */
export interface GraphErrorBody {
  error: {
    message: string;
    type: string;
    code: number;
    error_subcode?: number;
    is_transient?: boolean;
    fbtrace_id: string;
  };
}

/** Renders a rule's error as Meta's JSON body. */
export function graphErrorBody(error: GraphError, fbtraceId: string): GraphErrorBody {
  return {
    error: {
      message: error.message,
      type: error.type,
      code: error.code,
      ...(error.subcode === undefined ? {} : { error_subcode: error.subcode }),
      ...(error.isTransient === undefined ? {} : { is_transient: error.isTransient }),
      fbtrace_id: fbtraceId,
    },
  };
}

function oauth(httpStatus: number, code: number, message: string, subcode?: number): GraphError {
  return { httpStatus, code, message, type: 'OAuthException', ...(subcode === undefined ? {} : { subcode }) };
}

// Messages marked [M] in the fact sheet are plausible renderings, not Meta's confirmed wording.
/** Catalogue of the errors the simulator produces, named by what went wrong. */
export const graphErrors = {
  // --- tokens (§4b: 190 and its subcodes, 104 for a missing token) ---
  missingToken: (): GraphError => oauth(400, 104, 'An access token is required to request this resource.'),
  malformedToken: (): GraphError => oauth(400, 190, 'Invalid OAuth access token - Cannot parse access token'),
  expiredToken: (expiredAt: number, now: number): GraphError =>
    oauth(
      400,
      190,
      `Error validating access token: Session has expired on ${metaDate(expiredAt)}. The current time is ${metaDate(now)}.`,
      463,
    ),
  revokedToken: (subcode: number, appId: string, userId?: string): GraphError =>
    oauth(400, 190, revokedTokenMessage(subcode, appId, userId), subcode),
  pageTokenRequired: (): GraphError => oauth(400, 210, '(#210) A page access token is required to request this resource.'),
  invalidAppSecretProof: (): GraphError => oauth(400, 100, 'Invalid appsecret_proof provided in the API argument'),
  // --- permissions ---
  missingMessagingPermission: (): GraphError =>
    oauth(403, 230, '(#230) Requires pages_messaging permission to manage the object'),
  missingMetadataPermission: (): GraphError =>
    oauth(403, 200, '(#200) Requires pages_manage_metadata permission to manage the object'),
  missingPagesShowList: (): GraphError =>
    oauth(403, 200, '(#200) Requires pages_show_list permission to access the object'),
  missingTask: (task: string): GraphError =>
    oauth(403, 200, `(#200) The user must be able to perform the ${task} task on the Page`),
  // --- objects and parameters ---
  unsupportedRequest: (method: 'get' | 'post' | 'delete', id: string): GraphError => ({
    httpStatus: 400,
    code: 100,
    subcode: 33,
    type: 'GraphMethodException',
    message: `Unsupported ${method} request. Object with ID '${id}' does not exist, cannot be loaded due to missing permissions, or does not support this operation. Please read the Graph API documentation at https://developers.facebook.com/docs/graph-api`,
  }),
  unknownPath: (path: string): GraphError => oauth(400, 2500, `Unknown path components: ${path}`),
  invalidParameter: (message: string): GraphError => oauth(400, 100, `(#100) ${message}`),
  nonexistingField: (field: string, nodeType: string): GraphError =>
    oauth(400, 100, `(#100) Tried accessing nonexisting field (${field}) on node type (${nodeType})`),
  // --- Send API (§3, §4b, §8) ---
  noMatchingUser: (): GraphError => oauth(400, 100, '(#100) No matching user found', 2018001),
  personUnavailable: (): GraphError => oauth(400, 551, "(#551) This person isn't available right now.", 1545041),
  outsideWindow: (): GraphError => oauth(400, 10, '(#10) This message is sent outside of allowed window.', 2018278),
  rateLimited: (): GraphError => ({ ...oauth(400, 613, '(#613) Calls to this api have exceeded the rate limit.'), isTransient: true }),
  alreadyReplied: (): GraphError => oauth(400, 10900, '(#10900) Activity already replied to'),
  cannotReplyToActivity: (): GraphError => oauth(400, 10903, '(#10903) This user cant reply to this activity'),
  // --- transient platform failures (code 1 and 2, HTTP 500) ---
  unknownError: (): GraphError => ({ ...oauth(500, 1, 'An unknown error has occurred.'), isTransient: true }),
  serviceUnavailable: (): GraphError => ({
    ...oauth(500, 2, 'An unexpected error has occurred. Please retry your request later.'),
    isTransient: true,
  }),
  // --- User Profile API (§7) ---
  noProfile: (): GraphError => oauth(400, 100, '(#100) No profile available for this user.', 2018218),
  // --- OAuth code exchange (§6b; messages from Meta's answers seen in the wild, subcodes [M]) ---
  invalidClientId: (): GraphError => oauth(400, 101, 'Error validating application. Invalid application ID.'),
  invalidClientSecret: (): GraphError => oauth(400, 1, 'Error validating client secret.'),
  invalidCode: (): GraphError => oauth(400, 100, 'Invalid verification code format.'),
  codeUsed: (): GraphError => oauth(400, 100, 'This authorization code has been used.', 36009),
  codeExpired: (): GraphError => oauth(400, 100, 'This authorization code has expired.', 36007),
  redirectUriMismatch: (): GraphError =>
    oauth(
      400,
      100,
      'Error validating verification code. Please make sure your redirect_uri is identical to the one you used in the OAuth dialog request',
      36008,
    ),
} as const;

function revokedTokenMessage(subcode: number, appId: string, userId?: string): string {
  switch (subcode) {
    case 458:
      return `Error validating access token: User ${userId ?? ''} has not authorized application ${appId}.`;
    case 459:
      return 'Error validating access token: You cannot access the app till you log in to www.facebook.com and follow the instructions given.';
    case 460:
      return 'Error validating access token: The session has been invalidated because the user changed their password or Facebook has changed the session for security reasons.';
    case 464:
      return 'Error validating access token: Sessions for the user are not allowed because the user is not a confirmed user.';
    case 467:
      return 'Error validating access token: The session is invalid because the user logged out.';
    default:
      return 'Error validating access token: The session has been invalidated.';
  }
}

const WEEKDAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** Meta's date style in token errors ("Tuesday, 14-Nov-23 22:00:00 PST"), rendered in UTC. */
export function metaDate(ms: number): string {
  const d = new Date(ms);
  const two = (n: number): string => String(n).padStart(2, '0');
  return `${WEEKDAYS[d.getUTCDay()]}, ${two(d.getUTCDate())}-${MONTHS[d.getUTCMonth()]}-${two(d.getUTCFullYear() % 100)} ${two(d.getUTCHours())}:${two(d.getUTCMinutes())}:${two(d.getUTCSeconds())} UTC`;
}
