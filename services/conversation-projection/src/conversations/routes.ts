import type { Express, RequestHandler } from 'express';
import { HttpProblem } from '@parley/http';
import { z } from 'zod';
import { accountOf } from '../api/auth.ts';
import { notFound, parseOr400 } from '../api/validate.ts';
import { toConversationView, toMessageView } from '../api/views.ts';
import type { ActiveInbox } from '../rebuild/inbox-host.ts';
import { getConversation, getPage, listConversations, listMessages } from './queries.ts';

export const listConversationsQuery = z
  .object({
    pageId: z.string().min(1).max(200).optional(),
    channel: z.enum(['messenger', 'page_comment']).optional(),
    status: z.enum(['open', 'escalated', 'resolved']).optional(),
    q: z.string().trim().min(1).max(200).optional().meta({ description: 'Words in the customer\'s name or in a message (case-insensitive, partial)' }),
    limit: z.coerce.number().int().min(1).max(200).default(50),
    cursor: z.string().min(1).optional(),
  })
  .strict();

export const listMessagesQuery = z
  .object({
    limit: z.coerce.number().int().min(1).max(200).default(50),
    cursor: z.string().min(1).optional(),
  })
  .strict();

export type ConversationRouteDeps = {
  inbox: () => ActiveInbox;
  auth: RequestHandler;
  clock: () => number;
};

/** The read side of the inbox: the list, one conversation, its messages. */
export function mountConversationRoutes(app: Express, deps: ConversationRouteDeps): void {
  app.get('/v1/conversations', deps.auth, async (req, res) => {
    const query = parseOr400(listConversationsQuery, req.query, 'invalid_query');
    const accountId = accountOf(res);
    const { db } = deps.inbox();
    if (query.pageId !== undefined) {
      const page = await getPage(db, query.pageId);
      if (!page || page.account_id !== accountId) {
        throw new HttpProblem({ status: 404, code: 'page_not_found', title: 'Page not found', detail: `No Page ${query.pageId} in your account.` });
      }
    }
    const { rows, nextCursor } = await listConversations(db, { ...query, accountId });
    res.json({ items: rows.map(toConversationView), nextCursor });
  });

  app.get('/v1/conversations/:id', deps.auth, async (req, res) => {
    const row = await getConversation(deps.inbox().db, accountOf(res), String(req.params['id']));
    if (!row) throw notFound(String(req.params['id']));
    res.json(toConversationView(row));
  });

  app.get('/v1/conversations/:id/messages', deps.auth, async (req, res) => {
    const query = parseOr400(listMessagesQuery, req.query, 'invalid_query');
    const id = String(req.params['id']);
    const { db } = deps.inbox();
    if (!(await getConversation(db, accountOf(res), id))) throw notFound(id);
    const { messages, nextCursor } = await listMessages(db, id, query);
    const now = deps.clock();
    res.json({ items: messages.map((m) => toMessageView(m, now)), nextCursor });
  });
}
