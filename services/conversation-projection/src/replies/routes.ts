import { createHash, randomUUID } from 'node:crypto';
import type { Express, RequestHandler, Response } from 'express';
import { createEvent, deterministicId } from '@parley/contracts';
import type { ParleyEvent } from '@parley/contracts';
import { HttpProblem, jsonBody } from '@parley/http';
import type { EventPublisher } from '@parley/messaging';
import type { Logger } from '@parley/observability';
import type { Database } from '@parley/persistence';
import { accountOf } from '../api/auth.ts';
import { notFound, parseOr400 } from '../api/validate.ts';
import { actionRequest, replyRequest } from '../api/views.ts';
import type { ConversationRow } from '../api/views.ts';
import { getConversation, getPage } from '../conversations/queries.ts';
import { outboundMessageId } from '../inbox/evolve.ts';
import type { ActiveInbox } from '../rebuild/inbox-host.ts';
import { AgentReplyEntity } from './agent-reply.ts';
import type { StoredReply } from './agent-reply.ts';
import { decideReply } from './decide.ts';

export type ReplyRouteDeps = {
  inbox: () => ActiveInbox;
  /** The control schema (idempotency keys survive rebuilds). */
  control: Database;
  publisher: EventPublisher;
  auth: RequestHandler;
  clock: () => number;
  logger: Logger;
};


/** What people do in the inbox: reply, resolve, escalate. Each becomes an event; the inbox shows it once projected. */
export function mountReplyRoutes(app: Express, deps: ReplyRouteDeps): void {
  app.post('/v1/conversations/:id/replies', deps.auth, jsonBody('64kb'), async (req, res) => {
    const body = parseOr400(replyRequest, req.body, 'invalid_request');
    const header = req.header('idempotency-key');
    if (header !== undefined && (header.length === 0 || header.length > 200)) {
      throw new HttpProblem({ status: 400, code: 'invalid_request', title: 'Invalid Idempotency-Key', detail: 'The Idempotency-Key header must be 1 to 200 characters.' });
    }
    if (body.id !== undefined && header !== undefined && body.id !== header) {
      throw new HttpProblem({ status: 400, code: 'invalid_request', title: 'Two different ids', detail: 'The body\'s id and the Idempotency-Key header differ; send one, or the same value in both.' });
    }
    const key = body.id ?? header;
    const accountId = accountOf(res);
    const conversation = await conversationOr404(deps, accountId, String(req.params['id']));
    const requestHash = createHash('sha256')
      .update(JSON.stringify([conversation.id, body.text ?? null, body.attachments ?? []]))
      .digest('hex');

    if (key !== undefined) {
      const previous = await deps.control.fork().findOne(AgentReplyEntity, { accountId, idempotencyKey: key });
      if (previous) {
        if (previous.requestHash !== requestHash) {
          throw new HttpProblem({
            status: 409,
            code: 'idempotency_key_reused',
            title: 'Id already used',
            detail: 'This id was already used for a different reply. Use a new id for a new reply.',
          });
        }
        // A double click, or a retry after a lost answer: the reply was accepted once; say how it is doing.
        res.status(202).json({ ...previous.response, status: await currentStatus(deps, previous.response.id, previous.response.status) });
        return;
      }
    }

    const page = await getPage(deps.inbox().db, conversation.page_id);
    const state = conversation.state;
    const now = deps.clock();
    const decision = decideReply(
      body,
      { channel: state.channel, lastInboundAt: state.lastInboundAt, lastCommentAt: state.lastCommentAt, lastCommentId: state.lastCommentId, pageStatus: page?.status ?? null },
      now,
    );
    if (decision.kind === 'reject') {
      throw new HttpProblem({ status: decision.status, code: decision.code, title: decision.title, detail: decision.detail });
    }

    const outboundId = key !== undefined ? deterministicId('manual-reply', accountId, conversation.id, key) : randomUUID();
    const event = createEvent('outbound.send.requested', {
      id: deterministicId('manual-reply-command', outboundId),
      pageId: conversation.page_id,
      accountId,
      conversationId: conversation.id,
      occurredAt: new Date(now),
      recordedAt: new Date(now),
      correlationId: requestIdOf(res),
      data: {
        outboundId,
        customer: { psid: conversation.customer_psid },
        channel: state.channel,
        commentId: decision.commentId,
        author: 'agent',
        purpose: 'manual',
        parts: decision.parts,
        messagingType: decision.messagingType,
        tag: decision.tag,
        sendAt: new Date(now).toISOString(),
        typingIndicator: false,
        agentId: body.agentId ?? null,
        replyWindowClosesAt: decision.replyWindowClosesAt === null ? null : new Date(decision.replyWindowClosesAt).toISOString(),
      },
    });
    await publishOr503(deps, [event]);
    const response: StoredReply = {
      id: outboundId,
      status: 'scheduled',
      messagingType: decision.messagingType,
      tag: decision.tag,
      ...(decision.held
        ? { note: 'The Page needs to be reconnected: the reply is held and goes out once the Page is reconnected, if the customer can still be answered then.' }
        : {}),
    };
    if (key !== undefined) {
      const em = deps.control.fork();
      em.create(AgentReplyEntity, { accountId, idempotencyKey: key, outboundId, conversationId: conversation.id, requestHash, response, createdAt: new Date(now) });
      // A concurrent double click recorded the same reply first: same key, same send.
      await em.flush().catch((error: unknown) => {
        if ((error as { name?: string }).name !== 'UniqueConstraintViolationException') throw error;
      });
    }
    res.status(202).json(response);
  });

  for (const action of ['resolve', 'escalate'] as const) {
    app.post(`/v1/conversations/:id/${action}`, deps.auth, jsonBody('8kb'), async (req, res) => {
      const body = parseOr400(actionRequest, req.body, 'invalid_request');
      const accountId = accountOf(res);
      const conversation = await conversationOr404(deps, accountId, String(req.params['id']));
      const now = new Date(deps.clock());
      const envelope = {
        id: randomUUID(),
        pageId: conversation.page_id,
        accountId,
        conversationId: conversation.id,
        occurredAt: now,
        recordedAt: now,
        correlationId: requestIdOf(res),
      };
      const customer = { psid: conversation.customer_psid };
      const event =
        action === 'resolve'
          ? createEvent('conversation.resolved', { ...envelope, data: { customer, channel: conversation.channel, by: 'agent', agentId: body.agentId ?? null } })
          : createEvent('conversation.escalated', {
              ...envelope,
              data: { customer, channel: conversation.channel, reason: 'agent', detail: body.note ?? null, by: 'agent', triggerEventId: null },
            });
      await publishOr503(deps, [event]);
      res.status(202).json({ conversationId: conversation.id, status: action === 'resolve' ? 'resolved' : 'escalated', eventId: event.id });
    });
  }
}

async function conversationOr404(deps: ReplyRouteDeps, accountId: string, id: string): Promise<ConversationRow> {
  const conversation = await getConversation(deps.inbox().db, accountId, id);
  if (!conversation) throw notFound(id);
  return conversation;
}

async function currentStatus(deps: ReplyRouteDeps, outboundId: string, fallback: string): Promise<string> {
  const [row] = await deps.inbox().db.query<{ status: string }>('select status from messages where id = ?', [outboundMessageId(outboundId, 0)]);
  return row?.status ?? fallback;
}

async function publishOr503(deps: ReplyRouteDeps, events: ParleyEvent[]): Promise<void> {
  try {
    await deps.publisher.publish(events);
  } catch (error) {
    deps.logger.warn({ err: error }, 'could not publish a person\'s action');
    throw new HttpProblem({ status: 503, code: 'unavailable', title: 'Try again', detail: 'The request could not be recorded right now; nothing was sent. Try again in a moment.' });
  }
}

function requestIdOf(res: Response): string | null {
  return (res.locals['requestId'] as string | undefined) ?? null;
}
