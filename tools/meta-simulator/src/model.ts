// The simulator's domain: what Meta knows about pages, the people who run them, the customers who
// write to them, tokens, and the threads between them. Plain in-memory structures: this is a test
// double for Meta, it is thrown away with the process.

/** Tasks a person can perform on a Page (the `tasks` field of /me/accounts). */
export type PageTask = 'ADVERTISE' | 'ANALYZE' | 'CREATE_CONTENT' | 'MESSAGING' | 'MODERATE' | 'MANAGE';
export const ALL_PAGE_TASKS: readonly PageTask[] = ['ADVERTISE', 'ANALYZE', 'CREATE_CONTENT', 'MESSAGING', 'MODERATE', 'MANAGE'];

/** Webhook subscription fields a Page can subscribe the app to (meta-platform.md §6e). */
export const WEBHOOK_FIELDS = [
  'messages',
  'messaging_postbacks',
  'message_deliveries',
  'message_reads',
  'message_echoes',
  'message_reactions',
  'messaging_optins',
  'messaging_referrals',
  'messaging_handovers',
  'standby',
  'message_edits',
  'messaging_policy_enforcement',
  'messaging_account_linking',
  'feed',
] as const;
export type WebhookField = (typeof WEBHOOK_FIELDS)[number];

export interface SimApp {
  readonly id: string;
  readonly secret: string;
  readonly name: string;
}

export interface SimPage {
  readonly id: string;
  name: string;
  category: string;
  /** userId → tasks that person can perform on the Page. */
  readonly roles: Map<string, PageTask[]>;
  /** Fields the app is subscribed to on this Page; undefined when the app is not installed. */
  subscribedFields: WebhookField[] | undefined;
  /** A Page token made by the control API, so tests can send without going through OAuth. */
  controlToken: string;
}

export interface SimUser {
  readonly id: string;
  name: string;
}

/** A person as one Page sees them: a PSID is unique per (person, Page). */
export interface SimCustomer {
  readonly pageId: string;
  readonly psid: string;
  firstName: string;
  lastName: string;
  profilePic: string;
  /** False for accounts that answer the Profile API with 2018218 (e.g. created with a phone number). */
  hasProfile: boolean;
  /** Blocked the Page, deactivated, or otherwise unreachable: sends fail with 551. */
  unavailable: boolean;
  /** Sim-clock ms of the last message, postback or reaction: opens the reply window (§8). */
  lastCustomerActionAt: number | null;
}

export type TokenType = 'USER' | 'PAGE' | 'APP';

export interface SimToken {
  readonly value: string;
  readonly type: TokenType;
  readonly appId: string;
  readonly userId?: string;
  readonly pageId?: string;
  readonly scopes: string[];
  /** Pages the person chose in the dialog; page-scoped permissions apply to these only. */
  readonly grantedPageIds: string[];
  readonly issuedAt: number;
  /** Sim-clock ms; null = never expires. */
  readonly expiresAt: number | null;
  readonly dataAccessExpiresAt: number;
  readonly longLived: boolean;
  /** Set once the token is invalidated (password change, app removed, …); calls answer 190/subcode. */
  revoked?: { subcode: number; at: number };
}

export interface AuthCode {
  readonly code: string;
  readonly clientId: string;
  readonly redirectUri: string;
  readonly userId: string;
  readonly pageIds: string[];
  readonly scopes: string[];
  readonly issuedAt: number;
  usedAt?: number;
}

export interface SavedAttachment {
  readonly attachmentId: string;
  readonly pageId: string;
  readonly type: string;
  readonly url: string;
}

export interface SimPost {
  readonly id: string;
  readonly pageId: string;
  readonly message: string;
  readonly createdAt: number;
}

export interface SimComment {
  readonly id: string;
  readonly postId: string;
  readonly pageId: string;
  readonly fromId: string;
  readonly fromName: string;
  readonly message: string;
  readonly parentId?: string;
  readonly createdAt: number;
  privateReplyAt?: number;
}

/** One message or event in a (page, customer) thread, as the chat page shows it. */
export interface ThreadEntry {
  readonly mid: string;
  readonly direction: 'inbound' | 'outbound';
  readonly at: number;
  readonly kind: 'message' | 'postback' | 'reaction' | 'sender_action' | 'comment';
  readonly text?: string;
  readonly attachments?: Array<{ type: string; payload?: Record<string, unknown> }>;
  readonly quickReplies?: Array<{ content_type: string; title?: string; payload?: string }>;
  readonly quickReplyPayload?: string;
  readonly postbackPayload?: string;
  readonly reaction?: { reaction: string; emoji: string; action: 'react' | 'unreact'; mid: string };
  readonly senderAction?: string;
  readonly appId?: string;
  readonly metadata?: string;
  readonly messagingType?: string;
  readonly tag?: string;
  deliveredAt?: number;
  readAt?: number;
}

/** A call to the Send API and what the simulator answered. */
export interface SentRecord {
  readonly seq: number;
  readonly pageId: string;
  readonly at: number;
  readonly path: string;
  readonly request: Record<string, unknown>;
  readonly accepted: boolean;
  readonly response: Record<string, unknown>;
  readonly recipientId?: string;
  readonly messageId?: string;
}

export interface SimState {
  app: SimApp;
  readonly pages: Map<string, SimPage>;
  readonly users: Map<string, SimUser>;
  /** key: `${pageId}:${psid}` */
  readonly customers: Map<string, SimCustomer>;
  readonly tokens: Map<string, SimToken>;
  readonly authCodes: Map<string, AuthCode>;
  readonly attachments: Map<string, SavedAttachment>;
  readonly posts: Map<string, SimPost>;
  readonly comments: Map<string, SimComment>;
  /** key: `${pageId}:${psid}` */
  readonly threads: Map<string, ThreadEntry[]>;
  readonly sent: SentRecord[];
  /** Sim-clock ms of recent Send API calls per Page, for the per-second rate limit. */
  readonly sendCalls: Map<string, number[]>;
  /** Page tokens handed out by /me/accounts, one per (user token, page), so repeated calls agree. */
  readonly pageTokensByGrant: Map<string, string>;
  seq: number;
}

export function createState(app: SimApp): SimState {
  return {
    app,
    pages: new Map(),
    users: new Map(),
    customers: new Map(),
    tokens: new Map(),
    authCodes: new Map(),
    attachments: new Map(),
    posts: new Map(),
    comments: new Map(),
    threads: new Map(),
    sent: [],
    sendCalls: new Map(),
    pageTokensByGrant: new Map(),
    seq: 0,
  };
}

export function customerKey(pageId: string, psid: string): string {
  return `${pageId}:${psid}`;
}
