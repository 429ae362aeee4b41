// Which of the Pages a person runs they may connect, and why not (pure). The selection page shows
// every Page; those that cannot work are shown with the reason and cannot be picked.
import type { ConnectionStatus } from '@parley/contracts';

/** A Page from /me/accounts, without its token (only whether Facebook gave one). */
export type ManagedPageFacts = { pageId: string; name: string; tasks: readonly string[]; hasToken: boolean };

export type PageChoice = {
  pageId: string;
  name: string;
  pickable: boolean;
  /** Why it cannot be picked, for a person. */
  reason: string | null;
  /** The Page is connected to this account already: picking it reconnects it. */
  reconnect: boolean;
};

export type ChoiceContext = {
  accountId: string;
  /** Permissions the person granted in the dialog; null when Facebook did not say (then we do not guess). */
  grantedScopes: readonly string[] | null;
  /** The current holder of each Page we know. */
  holders: ReadonlyMap<string, { accountId: string; status: ConnectionStatus }>;
};

/** Permissions Parley asks for; each is needed (meta-platform.md §6f). */
export const REQUESTED_SCOPES = ['pages_messaging', 'pages_manage_metadata', 'pages_read_engagement', 'pages_show_list'] as const;
/** Without these the Page cannot work at all: sending and receiving messages, webhook subscription. */
const ESSENTIAL_SCOPES = ['pages_messaging', 'pages_manage_metadata'] as const;

/** The person can handle the Page's messages: the MESSAGING task, or MANAGE (full control). */
export function canManageMessaging(tasks: readonly string[]): boolean {
  return tasks.includes('MESSAGING') || tasks.includes('MANAGE');
}

/** The person can subscribe apps to the Page's webhooks: MANAGE, MODERATE or CREATE_CONTENT (§6e). */
export function canSubscribeApps(tasks: readonly string[]): boolean {
  return tasks.includes('MANAGE') || tasks.includes('MODERATE') || tasks.includes('CREATE_CONTENT');
}

export function choosePages(pages: readonly ManagedPageFacts[], context: ChoiceContext): PageChoice[] {
  const missingScopes = context.grantedScopes === null ? [] : ESSENTIAL_SCOPES.filter((s) => !context.grantedScopes!.includes(s));
  return pages.map((page) => {
    const holder = context.holders.get(page.pageId);
    const heldHere = holder !== undefined && holder.accountId === context.accountId && holder.status !== 'disconnected';
    const reason = whyNot(page, missingScopes, holder, context.accountId);
    return { pageId: page.pageId, name: page.name, pickable: reason === null, reason, reconnect: heldHere };
  });
}

function whyNot(
  page: ManagedPageFacts,
  missingScopes: readonly string[],
  holder: { accountId: string; status: ConnectionStatus } | undefined,
  accountId: string,
): string | null {
  if (holder !== undefined && holder.accountId !== accountId && holder.status !== 'disconnected') {
    return 'This Page is connected to another Parley account. Disconnect it there first, then connect it here.';
  }
  if (missingScopes.length > 0) {
    return `You did not allow Parley the ${missingScopes.join(' and ')} permission, which it needs to handle this Page's messages. Start again and keep every permission switched on.`;
  }
  if (!canManageMessaging(page.tasks)) {
    return "Your role on this Page does not let you manage its messages (Facebook's Messaging task). Ask someone with full control of the Page to connect it, or to give you that access.";
  }
  if (!canSubscribeApps(page.tasks)) {
    return "Your role on this Page does not let you connect apps to its messages (it needs full control, moderation or content creation). Ask someone with full control of the Page to connect it.";
  }
  if (!page.hasToken) {
    return 'Facebook did not give Parley access to this Page. Start again and tick this Page in the Facebook dialog.';
  }
  return null;
}
