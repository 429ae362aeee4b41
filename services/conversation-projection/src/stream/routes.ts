import type { Express, RequestHandler, Response } from 'express';
import type { Logger } from '@parley/observability';
import { accountOf } from '../api/auth.ts';
import { toConversationView } from '../api/views.ts';
import { conversationsByIds } from '../conversations/queries.ts';
import type { AppliedBatch } from '../inbox/projector.ts';
import type { ActiveInbox } from '../rebuild/inbox-host.ts';

// GET /v1/stream: Server-Sent Events of inbox changes, for the caller's account only.
//
// Every committed batch writes one `inbox_changes` row per changed conversation (with its account)
// in the same transaction as the rows. A stream reads those rows after its last position and sends
// each conversation as it is now (`event: conversation.updated`, `id: <generation>.<seq>`). A client
// that reconnects with `Last-Event-ID` resumes after it; when the position is unknown (the inbox was
// rebuilt since, or the change log was pruned past it) the stream says `event: reset` and the client
// reloads the list. A comment line every SSE_HEARTBEAT_MS keeps proxies from closing the connection.

export type StreamDeps = {
  inbox: () => ActiveInbox;
  auth: RequestHandler;
  onApplied: (listener: (batch: AppliedBatch) => void) => () => void;
  onSwitched: (listener: (inbox: ActiveInbox) => void) => () => void;
  heartbeatMs: number;
  logger: Logger;
  /** Streams also poll (another replica may have applied the change). */
  pollMs?: number;
};

export type StreamRegistry = { closeAll(): void; count(): number };

const BATCH = 200;

export function mountStreamRoutes(app: Express, deps: StreamDeps): StreamRegistry {
  const open = new Set<Response>();

  app.get('/v1/stream', deps.auth, async (req, res) => {
    const accountId = accountOf(res);
    let inbox = deps.inbox();
    let position = await startPosition(inbox, req.header('last-event-id') ?? (typeof req.query['lastEventId'] === 'string' ? req.query['lastEventId'] : undefined));

    res.status(200);
    res.setHeader('content-type', 'text/event-stream; charset=utf-8');
    res.setHeader('cache-control', 'no-cache, no-transform');
    res.setHeader('connection', 'keep-alive');
    res.setHeader('x-accel-buffering', 'no');
    res.flushHeaders();
    res.write('retry: 3000\n\n');
    open.add(res);

    let closed = false;
    let busy = false;
    let again = false;

    const send = (text: string) => {
      if (!closed) res.write(text);
    };
    if (position.reset) send(`event: reset\ndata: ${JSON.stringify({ generation: inbox.generation })}\n\n`);

    const drain = async (): Promise<void> => {
      if (busy) {
        again = true;
        return;
      }
      busy = true;
      try {
        do {
          again = false;
          for (;;) {
            const current = inbox;
            const changes = await current.db.query<{ conversation_id: string; seq: string }>(
              `select conversation_id, max(seq)::text as seq from inbox_changes
               where account_id = ? and seq > ? group by conversation_id order by max(seq) limit ?`,
              [accountId, position.seq, BATCH],
            );
            if (changes.length === 0 || closed || current !== inbox) break;
            const rows = new Map((await conversationsByIds(current.db, accountId, changes.map((c) => c.conversation_id))).map((r) => [r.id, r]));
            for (const change of changes) {
              const row = rows.get(change.conversation_id);
              if (row) send(`id: ${current.generation}.${change.seq}\nevent: conversation.updated\ndata: ${JSON.stringify({ conversation: toConversationView(row) })}\n\n`);
              position = { seq: change.seq, reset: false };
            }
            if (changes.length < BATCH) break;
          }
        } while (again && !closed);
      } catch (error) {
        deps.logger.warn({ err: error }, 'stream could not read inbox changes');
      } finally {
        busy = false;
      }
    };

    const heartbeat = setInterval(() => send(`: heartbeat ${new Date().toISOString()}\n\n`), deps.heartbeatMs);
    const poll = setInterval(() => void drain(), deps.pollMs ?? 2_000);
    const offApplied = deps.onApplied(() => void drain());
    const offSwitched = deps.onSwitched((next) => {
      // A rebuilt inbox has its own change log: positions in the old one mean nothing there.
      void (async () => {
        const fresh = await startPosition(next, undefined);
        inbox = next;
        position = fresh;
        send(`event: reset\ndata: ${JSON.stringify({ generation: next.generation })}\n\n`);
      })().catch((error: unknown) => deps.logger.warn({ err: error }, 'stream could not follow the rebuilt inbox'));
    });
    const close = () => {
      if (closed) return;
      closed = true;
      clearInterval(heartbeat);
      clearInterval(poll);
      offApplied();
      offSwitched();
      open.delete(res);
    };
    req.on('close', close);
    res.on('close', close);
    void drain();
  });

  return {
    closeAll() {
      for (const res of [...open]) res.end();
    },
    count: () => open.size,
  };
}

/** Where a stream starts: after `Last-Event-ID` if it still means something here, else at the end. */
async function startPosition(inbox: ActiveInbox, lastEventId: string | undefined): Promise<{ seq: string; reset: boolean }> {
  const [bounds] = await inbox.db.query<{ oldest: string | null; newest: string | null }>(
    'select min(seq)::text as oldest, max(seq)::text as newest from inbox_changes',
  );
  const newest = bounds?.newest ?? '0';
  if (lastEventId === undefined) return { seq: newest, reset: false };
  const match = /^(\d+)\.(\d+)$/.exec(lastEventId.trim());
  if (!match || Number(match[1]) !== inbox.generation) return { seq: newest, reset: true };
  const seq = BigInt(match[2]!);
  const oldest = bounds?.oldest === null || bounds?.oldest === undefined ? null : BigInt(bounds.oldest);
  // Pruned past the client's position (or a position from the future): it cannot resume exactly.
  if (seq > BigInt(newest) || (oldest !== null && seq < oldest - 1n)) return { seq: newest, reset: true };
  return { seq: String(seq), reset: false };
}
