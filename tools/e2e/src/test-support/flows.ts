// What a Page admin, a customer and a support tool do, step by step, through public surfaces only:
// the Facebook dialog (simulated), auth-token's connect flow, the settings and assistants APIs,
// Messenger (simulated), and what Meta's Send API received.
import type { SentRecord } from '@parley/meta-simulator';
import { waitFor } from '@parley/testing';
import type { Stack } from './stack.ts';

export type ConnectedPage = { pageId: string; name: string; adminId: string };

/** A Page admin connects a new Page through Facebook's OAuth dialog and auth-token's selection page. */
export async function connectNewPage(stack: Stack, name: string): Promise<ConnectedPage> {
  const { platform } = stack.meta;
  const page = platform.createPage({ name });
  const admin = platform.createUser({ name: `${name} admin`, pages: [page.id] });
  const connected = { pageId: page.id, name, adminId: admin.id };
  await connectPage(stack, connected);
  return connected;
}

/** The admin goes through the connect flow for the Page (again, for a reconnect) and picks it. */
export async function connectPage(stack: Stack, page: ConnectedPage): Promise<void> {
  const { platform } = stack.meta;
  const connect = await fetch(`${stack.url('auth-token')}/v1/integrations/messenger/connect`, { method: 'POST', headers: { ...stack.auth, 'content-type': 'application/json' }, body: '{}' });
  expectStatus(connect, 200, 'connect');
  const dialog = new URL(((await connect.json()) as { url: string }).url);
  const { redirectUrl } = platform.approveOAuth({
    userId: page.adminId,
    pageIds: [page.pageId],
    state: dialog.searchParams.get('state')!,
    redirectUri: dialog.searchParams.get('redirect_uri')!,
    scopes: dialog.searchParams.get('scope')!.split(','),
    clientId: dialog.searchParams.get('client_id')!,
  });
  const callback = await fetch(redirectUrl);
  expectStatus(callback, 200, 'callback');
  const selectionId = /name="selection" value="([^"]+)"/.exec(await callback.text())?.[1];
  if (!selectionId) throw new Error('the callback page offers no selection');
  const picked = await fetch(`${stack.url('auth-token')}/v1/integrations/messenger/pages`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json' },
    body: JSON.stringify({ selectionId, pageIds: [page.pageId] }),
  });
  expectStatus(picked, 200, 'pick pages');
  const outcome = ((await picked.json()) as { pages: { pageId: string; outcome: string }[] }).pages[0];
  if (outcome?.outcome !== 'connected' && outcome?.outcome !== 'reconnected') throw new Error(`connecting ${page.pageId} ended ${JSON.stringify(outcome)}`);
}

export async function createAssistant(stack: Stack, body: { name: string; instructions: string; knowledge?: { title: string; content: string }[] }): Promise<string> {
  const res = await fetch(`${stack.url('responder')}/v1/assistants`, {
    method: 'POST',
    headers: { ...stack.auth, 'content-type': 'application/json' },
    body: JSON.stringify({ visibility: 'private', provider: { type: 'builtin' }, knowledge: [], ...body }),
  });
  expectStatus(res, 201, 'create assistant');
  return ((await res.json()) as { id: string }).id;
}

export type Settings = {
  autoReply: boolean;
  assistantId: string | null;
  responseDelay: 'instant' | 'short' | 'medium' | 'long';
  greetingMessage?: string | null;
  awayMessage?: string | null;
  escalationKeywords: string[];
};

/** Saves a Page's settings, waiting until the rules service has learnt that the Page is connected. */
export async function saveSettings(stack: Stack, pageId: string, settings: Settings): Promise<void> {
  await waitFor(
    async () => {
      const res = await fetch(`${stack.url('rules')}/v1/pages/${pageId}/settings`, { method: 'PUT', headers: { ...stack.auth, 'content-type': 'application/json' }, body: JSON.stringify(settings) });
      if (res.status === 404) return false;
      expectStatus(res, 200, 'save settings');
      return true;
    },
    { description: `settings of ${pageId} saved`, timeoutMs: 30_000, intervalMs: 250 },
  );
}

/** What the Page sent to the customer through the Send API (accepted calls, in order), without typing indicators. */
export function messagesSentTo(stack: Stack, pageId: string, psid: string): { text?: string; attachment?: unknown; request: Record<string, unknown> }[] {
  return stack.meta.platform
    .sentBy(pageId, { psid })
    .filter((r: SentRecord) => r.request['message'] !== undefined)
    .map((r: SentRecord) => {
      const message = r.request['message'] as { text?: string; attachment?: unknown };
      return { ...message, request: r.request };
    });
}

export function senderActionsTo(stack: Stack, pageId: string, psid: string): string[] {
  return stack.meta.platform
    .sentBy(pageId, { psid })
    .map((r: SentRecord) => r.request['sender_action'])
    .filter((a): a is string => typeof a === 'string');
}

function expectStatus(res: Response, status: number, what: string): void {
  if (res.status !== status) throw new Error(`${what}: expected HTTP ${status}, got ${res.status}`);
}
