// The comparison bot of the reply-pipeline benchmark (pipeline.ts): a Bottender 1.5 Messenger bot
// in one process, set up the way Bottender documents a custom server: `MessengerBot` (its
// MessengerConnector checks X-Hub-Signature with the app secret and answers through
// messaging-api-messenger's Send API client) behind `@bottender/express`'s `createServer`.
// It answers with the very same built-in assistant as Parley's responder (`@parley/builtin-assistant`),
// from the same knowledge, keeping each conversation's last messages in Bottender's session state
// (its default in-memory session store: nothing is durable, which is the difference measured).
//
// Environment (set by pipeline.ts):
//   PORT                 where to listen (127.0.0.1)
//   META_APP_ID, META_APP_SECRET
//   GRAPH_API_BASE_URL   the simulator: messaging-api-messenger's `origin`
//   PAGE_TOKENS          JSON { pageId: pageAccessToken }: Bottender's multi-Page mapPageToAccessToken
//   ASSISTANT            JSON { instructions, knowledge: [{ id, title, content }] }
import { createRequire } from 'node:module';
import { builtinAnswer } from '@parley/builtin-assistant';
import type { AttachmentKind, AttachmentNote, ConversationEntry, Passage } from '@parley/builtin-assistant';

// Both are CommonJS packages without type declarations that Node's type stripping could use.
const require = createRequire(import.meta.url);
const { MessengerBot } = require('bottender') as { MessengerBot: new (options: Record<string, unknown>) => BottenderBot };
const createServer = (require('@bottender/express') as { createServer: (bot: BottenderBot, config: { path: string }) => ExpressLike }).createServer;

type BottenderBot = {
  setInitialState(state: Record<string, unknown>): BottenderBot;
  onEvent(handler: (context: MessengerContext) => Promise<void>): BottenderBot;
  onError(handler: (context: MessengerContext, props: { error: Error }) => Promise<void>): BottenderBot;
};
type ExpressLike = {
  get(path: string, handler: (req: unknown, res: { send(body: string): void }) => void): void;
  listen(port: number, host: string, callback: () => void): void;
};
type RawAttachment = { type: string; payload?: { sticker_id?: number | string; title?: string } | null; title?: string };
type MessengerContext = {
  event: {
    isMessage: boolean;
    isEcho: boolean;
    isPostback: boolean;
    text?: string;
    message?: { attachments?: RawAttachment[]; sticker_id?: number };
    postback?: { title?: string; payload?: string };
  };
  state: { entries: ConversationEntry[] };
  setState(state: { entries: ConversationEntry[] }): void;
  sendText(text: string): Promise<unknown>;
};

const env = (name: string): string => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is required`);
  return value;
};

/** As many messages as Parley's responder keeps per conversation (RECENT_MESSAGES). */
const RECENT_MESSAGES = 20;
const LIKE_STICKERS = new Set(['369239263222822', '369239343222814', '369239383222810']);
const KINDS: ReadonlySet<string> = new Set(['image', 'video', 'audio', 'file', 'location', 'fallback']);

const assistant = JSON.parse(env('ASSISTANT')) as { instructions: string; knowledge: Passage[] };
const pageTokens = JSON.parse(env('PAGE_TOKENS')) as Record<string, string>;

/** Media as the responder notes it: a sticker (also when it comes as an image with a sticker id) once. */
function notes(attachments: ReadonlyArray<RawAttachment>): AttachmentNote[] {
  const result: AttachmentNote[] = [];
  for (const a of attachments) {
    const stickerId = a.payload?.sticker_id === undefined ? null : String(a.payload.sticker_id);
    if (stickerId !== null) {
      if (!result.some((n) => n.kind === 'sticker')) result.push({ kind: 'sticker', title: null, like: LIKE_STICKERS.has(stickerId) });
      continue;
    }
    const kind: AttachmentKind = KINDS.has(a.type) ? (a.type as AttachmentKind) : 'other';
    result.push({ kind, title: a.payload?.title ?? a.title ?? null, like: false });
  }
  return result;
}

function entryOf(event: MessengerContext['event']): ConversationEntry | null {
  if (event.isMessage && !event.isEcho) {
    return { author: 'customer', text: event.text?.trim() || null, attachments: notes(event.message?.attachments ?? []), postback: null };
  }
  if (event.isPostback) {
    const getStarted = event.postback?.payload === 'GET_STARTED';
    return { author: 'customer', text: null, attachments: [], postback: { title: event.postback?.title ?? event.postback?.payload ?? null, getStarted } };
  }
  // Echoes, deliveries, reads, reactions: nothing to answer.
  return null;
}

const bot = new MessengerBot({
  appId: env('META_APP_ID'),
  appSecret: env('META_APP_SECRET'),
  verifyToken: 'bench-bottender',
  origin: env('GRAPH_API_BASE_URL'),
  mapPageToAccessToken: async (pageId: string) => pageTokens[pageId],
});

bot.setInitialState({ entries: [] });
bot.onEvent(async (context) => {
  const entry = entryOf(context.event);
  if (!entry) return;
  const entries = [...context.state.entries, entry].slice(-RECENT_MESSAGES);
  const answer = builtinAnswer({ assistant, customerFirstName: null, entries });
  await context.sendText(answer.text);
  const said: ConversationEntry = { author: 'assistant', text: answer.text, attachments: [], postback: null };
  context.setState({ entries: [...entries, said].slice(-RECENT_MESSAGES) });
});
bot.onError(async (_context, { error }) => {
  console.error(`bottender bot: ${error.message}`);
});

const server = createServer(bot, { path: '/webhooks/messenger' });
server.get('/healthz', (_req, res) => res.send('ok'));
const port = Number(env('PORT'));
server.listen(port, '127.0.0.1', () => console.log(`bottender bot listening on 127.0.0.1:${port}`));
process.on('SIGTERM', () => process.exit(0));
