// End to end, from the side of the people who run the inbox: a support tool reads and answers
// conversations through the projection API, and a Page whose token Meta revokes is noticed,
// explained, and repaired by reconnecting, without losing the customer's answer.
import { uniqueName, waitFor } from '@parley/testing';
import { connectNewPage, connectPage, createAssistant, messagesSentTo, saveSettings } from './test-support/flows.ts';
import type { ConnectedPage } from './test-support/flows.ts';
import { startStack } from './test-support/stack.ts';
import type { Stack } from './test-support/stack.ts';

let stack: Stack;
let assistantId: string;

beforeAll(async () => {
  stack = await startStack();
  assistantId = await createAssistant(stack, {
    name: 'Shop helper',
    instructions: 'You answer customers of a small shop.',
    knowledge: [
      { title: 'Opening hours', content: 'We are open Monday to Friday from 9am to 6pm.' },
      { title: 'Returns policy', content: 'You can return any item within 30 days of delivery.' },
    ],
  });
}, 180_000);

afterAll(async () => {
  await stack?.stop();
}, 60_000);

async function shop(): Promise<ConnectedPage> {
  const page = await connectNewPage(stack, uniqueName('Shop'));
  await saveSettings(stack, page.pageId, { autoReply: true, assistantId, responseDelay: 'instant', escalationKeywords: [] });
  return page;
}

const answers = (pageId: string, psid: string) => messagesSentTo(stack, pageId, psid).map((m) => m.text ?? '[attachment]');

async function api<T>(service: 'conversation-projection' | 'auth-token', path: string, init: RequestInit = {}): Promise<{ status: number; body: T }> {
  const res = await fetch(`${stack.url(service)}${path}`, { ...init, headers: { ...stack.auth, 'content-type': 'application/json', ...(init.headers ?? {}) } });
  return { status: res.status, body: (await res.json().catch(() => null)) as T };
}

type Conversation = { id: string; status: string; customer: { psid: string; name?: string }; lastMessagePreview: string; unreadCount: number };
type Message = { direction: string; author: string; text?: string; status: string };

describe('the inbox', () => {
  it('shows the conversation with the customer\'s message and the assistant\'s answer, delivered and read, and sends a person\'s reply', async () => {
    const { pageId } = await shop();
    const customer = stack.meta.platform.createCustomer(pageId, { firstName: 'Ana', lastName: 'Lima' });
    await stack.meta.platform.customerMessage(pageId, customer.psid, { text: 'What are your opening hours?' }).delivery;
    await waitFor(() => answers(pageId, customer.psid).length > 0, { description: 'the assistant\'s answer', timeoutMs: 30_000 });

    const conversation = await waitFor(
      async () => {
        const list = await api<{ items: Conversation[] }>('conversation-projection', `/v1/conversations?pageId=${pageId}`);
        return list.body.items.find((c) => c.customer.psid === customer.psid && c.lastMessagePreview.includes('Monday'));
      },
      { description: 'the conversation in the inbox with the answer as its last message', timeoutMs: 30_000 },
    );
    expect(conversation.status).toBe('open');
    // The projection asks Meta for the profile: the customer's real name, never a made-up one.
    await waitFor(async () => (await api<Conversation>('conversation-projection', `/v1/conversations/${encodeURIComponent(conversation.id)}`)).body.customer.name === 'Ana Lima', { description: 'the customer\'s name from the profile', timeoutMs: 30_000 });

    // The customer opens Messenger and reads the answer: Meta sends a read watermark.
    await stack.meta.platform.markRead(pageId, customer.psid, {});
    const messages = await waitFor(
      async () => {
        const page = await api<{ items: Message[] }>('conversation-projection', `/v1/conversations/${encodeURIComponent(conversation.id)}/messages`);
        const outbound = page.body.items.find((m) => m.direction === 'outbound');
        return outbound?.status === 'read' ? page.body.items : undefined;
      },
      { description: 'the answer marked read from Meta\'s watermarks', timeoutMs: 30_000 },
    );
    expect(messages.map((m) => [m.direction, m.author])).toEqual([
      ['inbound', 'customer'],
      ['outbound', 'assistant'],
    ]);

    const reply = await api<{ id: string; status: string }>('conversation-projection', `/v1/conversations/${encodeURIComponent(conversation.id)}/replies`, {
      method: 'POST',
      body: JSON.stringify({ id: uniqueName('reply'), text: 'Hi Ana, this is Sam from the shop — anything else?' }),
    });
    expect(reply.status).toBe(202);
    await waitFor(() => answers(pageId, customer.psid).includes('Hi Ana, this is Sam from the shop — anything else?'), { description: 'the person\'s reply reaching the customer', timeoutMs: 30_000 });
  });
});

describe('a Page whose token Meta revokes', () => {
  it('is shown as needing reconnection with the reason, holds the answer, and sends it once the admin reconnects', async () => {
    const page = await shop();
    const customer = stack.meta.platform.createCustomer(page.pageId, { firstName: 'Bo' });
    await stack.meta.platform.customerMessage(page.pageId, customer.psid, { text: 'What are your opening hours?' }).delivery;
    await waitFor(() => answers(page.pageId, customer.psid).length === 1, { description: 'the first answer', timeoutMs: 30_000 });

    // The admin changed their Facebook password: Meta invalidates the Page token (190/460).
    stack.meta.platform.revokeTokens({ pageId: page.pageId, subcode: 460 });
    await stack.meta.platform.customerMessage(page.pageId, customer.psid, { text: 'What is your returns policy?' }).delivery;

    type PageView = { pageId: string; status: string; problems: { code: string; reason: string; action: string | null }[] };
    const broken = await waitFor(
      async () => (await api<PageView[]>('auth-token', '/v1/pages')).body.find((p) => p.pageId === page.pageId && p.status === 'needs_reconnect'),
      { description: 'the Page marked needs_reconnect after Meta rejected its token', timeoutMs: 60_000 },
    );
    expect(broken.problems[0]?.reason).toBeTruthy();
    expect(broken.problems[0]?.action).toMatch(/reconnect/i);
    expect(answers(page.pageId, customer.psid)).toHaveLength(1);

    await connectPage(stack, page);
    await waitFor(() => answers(page.pageId, customer.psid).length === 2, { description: 'the held answer sent after the reconnect', timeoutMs: 60_000 });
    expect(answers(page.pageId, customer.psid)[1]).toContain('30 days');
    const healed = (await api<PageView[]>('auth-token', '/v1/pages')).body.find((p) => p.pageId === page.pageId);
    expect(healed?.status).toBe('connected');
  });
});
