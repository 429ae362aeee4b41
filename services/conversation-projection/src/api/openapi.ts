import { z } from 'zod';
import { listConversationsQuery, listMessagesQuery } from '../conversations/routes.ts';
import {
  actionAccepted,
  actionRequest,
  attachmentView,
  conversationList,
  conversationView,
  messageList,
  messageView,
  problemView,
  rebuildView,
  replyAccepted,
  replyRequest,
} from './views.ts';

// The OpenAPI 3.1 document of the projection API, served at GET /v1/openapi.json. Its schemas are
// generated from the same zod schemas the API tests validate answers against; a test also checks
// that its paths and the express routes are the same set.

const components = z.registry<{ id: string }>();
for (const [id, schema] of Object.entries({
  Conversation: conversationView,
  Attachment: attachmentView,
  Message: messageView,
  ConversationList: conversationList,
  MessageList: messageList,
  Problem: problemView,
  ReplyRequest: replyRequest,
  ReplyAccepted: replyAccepted,
  ConversationActionRequest: actionRequest,
  ConversationActionAccepted: actionAccepted,
  Rebuild: rebuildView,
})) {
  components.add(schema as z.ZodType, { id });
}

function componentSchemas(): Record<string, unknown> {
  const { schemas } = z.toJSONSchema(components, { uri: (id) => `#/components/schemas/${id}`, io: 'output' });
  return Object.fromEntries(
    Object.entries(schemas).map(([id, schema]) => {
      const { $schema: _s, $id: _i, id: _id, ...rest } = schema as Record<string, unknown>;
      return [id, rest];
    }),
  );
}

function queryParameters(schema: z.ZodObject): unknown[] {
  return Object.entries(schema.shape).map(([name, field]) => {
    const { $schema: _s, ...fieldSchema } = z.toJSONSchema(field as z.ZodType, { io: 'input' }) as Record<string, unknown>;
    return { name, in: 'query', required: false, schema: fieldSchema, ...(fieldSchema['description'] ? { description: fieldSchema['description'] } : {}) };
  });
}

const ref = (id: string) => ({ $ref: `#/components/schemas/${id}` });
const json = (id: string) => ({ 'application/json': { schema: ref(id) } });
const problem = (description: string) => ({ description, content: { 'application/problem+json': { schema: ref('Problem') } } });
const idParameter = { name: 'id', in: 'path', required: true, schema: { type: 'string' }, description: 'The conversation id (URL-encode its colons if your client needs to)' };
const secured = [{ apiKey: [] }];
const common = {
  '401': problem('Missing or invalid API key (`unauthorized`)'),
};

export function openApiDocument(serverUrl?: string): Record<string, unknown> {
  return {
    openapi: '3.1.0',
    info: {
      title: 'Parley projection API',
      version: '1.0.0',
      description:
        'The inbox: every conversation of your Pages, with its messages, and the actions people take on it. ' +
        'Authenticate with `Authorization: Bearer <api key>`; a key sees only its own account\'s Pages. ' +
        'Errors are RFC 9457 problems with a stable `code`.',
    },
    ...(serverUrl ? { servers: [{ url: serverUrl }] } : {}),
    components: {
      securitySchemes: { apiKey: { type: 'http', scheme: 'bearer', description: 'An API key from API_KEYS (`accountId:key`)' } },
      schemas: componentSchemas(),
    },
    paths: {
      '/v1/conversations': {
        get: {
          operationId: 'listConversations',
          summary: 'Conversations, newest activity first',
          security: secured,
          parameters: queryParameters(listConversationsQuery),
          responses: {
            '200': { description: 'A page of conversations; pass `nextCursor` back as `cursor` for the next one', content: json('ConversationList') },
            '400': problem('Invalid query parameters (`invalid_query`) or cursor (`invalid_cursor`)'),
            '404': problem('`pageId` is not a Page of your account (`page_not_found`)'),
            ...common,
          },
        },
      },
      '/v1/conversations/{id}': {
        get: {
          operationId: 'getConversation',
          summary: 'One conversation',
          security: secured,
          parameters: [idParameter],
          responses: { '200': { description: 'The conversation', content: json('Conversation') }, '404': problem('No such conversation in your account (`conversation_not_found`)'), ...common },
        },
      },
      '/v1/conversations/{id}/messages': {
        get: {
          operationId: 'listMessages',
          summary: 'A conversation\'s messages, oldest first',
          security: secured,
          parameters: [idParameter, ...queryParameters(listMessagesQuery)],
          responses: {
            '200': { description: 'A page of messages', content: json('MessageList') },
            '400': problem('Invalid query parameters or cursor'),
            '404': problem('No such conversation in your account'),
            ...common,
          },
        },
      },
      '/v1/conversations/{id}/replies': {
        post: {
          operationId: 'reply',
          summary: 'Reply as a person (author `agent`)',
          description:
            'Inside 24 h of the customer\'s last action the reply is a normal response; up to 7 days it goes with the HUMAN_AGENT tag; ' +
            'after that it is refused (`reply_window_closed`). A Page that needs reconnecting: the reply is accepted and held (`note`). ' +
            'The same `id` (or `Idempotency-Key`) sends once.',
          security: secured,
          parameters: [idParameter, { name: 'Idempotency-Key', in: 'header', required: false, schema: { type: 'string', maxLength: 200 } }],
          requestBody: { required: true, content: json('ReplyRequest') },
          responses: {
            '202': { description: 'Accepted: the reply is on its way (or held)', content: json('ReplyAccepted') },
            '400': problem('Invalid body (`invalid_request`, `malformed_json`)'),
            '404': problem('No such conversation in your account'),
            '409': problem('`reply_window_closed`, `page_disconnected`, or `idempotency_key_reused` (the id was used for a different reply)'),
            '413': problem('Body too large (`body_too_large`)'),
            '422': problem('Attachments on a Page comment thread (`attachments_not_allowed`)'),
            '503': problem('The reply could not be recorded; nothing was sent (`unavailable`)'),
            ...common,
          },
        },
      },
      '/v1/conversations/{id}/resolve': {
        post: {
          operationId: 'resolve',
          summary: 'Resolve (the assistant may answer again)',
          security: secured,
          parameters: [idParameter],
          requestBody: { required: false, content: json('ConversationActionRequest') },
          responses: {
            '202': { description: 'Recorded as conversation.resolved', content: json('ConversationActionAccepted') },
            '400': problem('Invalid body'),
            '404': problem('No such conversation in your account'),
            '503': problem('Could not be recorded'),
            ...common,
          },
        },
      },
      '/v1/conversations/{id}/escalate': {
        post: {
          operationId: 'escalate',
          summary: 'Escalate to a person (the assistant stops answering)',
          security: secured,
          parameters: [idParameter],
          requestBody: { required: false, content: json('ConversationActionRequest') },
          responses: {
            '202': { description: 'Recorded as conversation.escalated (by agent)', content: json('ConversationActionAccepted') },
            '400': problem('Invalid body'),
            '404': problem('No such conversation in your account'),
            '503': problem('Could not be recorded'),
            ...common,
          },
        },
      },
      '/v1/stream': {
        get: {
          operationId: 'stream',
          summary: 'Server-Sent Events of inbox changes for your account',
          description:
            '`event: conversation.updated` with `data: {"conversation": Conversation}` and `id: <generation>.<seq>`; comment lines as heartbeats; ' +
            '`event: reset` when the position cannot be resumed (reload the list). Send `Last-Event-ID` to resume.',
          security: secured,
          parameters: [{ name: 'Last-Event-ID', in: 'header', required: false, schema: { type: 'string' } }],
          responses: { '200': { description: 'An event stream', content: { 'text/event-stream': { schema: { type: 'string' } } } }, ...common },
        },
      },
      '/v1/admin/projections/rebuild': {
        post: {
          operationId: 'rebuild',
          summary: 'Rebuild the inbox from the log while the current one keeps serving, then switch over',
          security: secured,
          responses: {
            '202': { description: 'Started; follow it at the Location', content: json('Rebuild') },
            '403': problem('The key\'s account is not an operator (`forbidden`)'),
            '409': problem('A rebuild is already running (`rebuild_in_progress`)'),
            ...common,
          },
        },
      },
      '/v1/admin/projections/rebuild/{id}': {
        get: {
          operationId: 'getRebuild',
          summary: 'A rebuild\'s status and progress',
          security: secured,
          parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }],
          responses: {
            '200': { description: 'The rebuild', content: json('Rebuild') },
            '403': problem('Not an operator'),
            '404': problem('No such rebuild (`rebuild_not_found`)'),
            ...common,
          },
        },
      },
      '/v1/openapi.json': {
        get: { operationId: 'openapi', summary: 'This document', responses: { '200': { description: 'OpenAPI 3.1', content: { 'application/json': { schema: { type: 'object' } } } } } },
      },
      '/healthz': { get: { operationId: 'healthz', summary: 'Alive', responses: { '200': { description: 'The process is up' } } } },
      '/readyz': {
        get: { operationId: 'readyz', summary: 'Ready: the database and the broker answer', responses: { '200': { description: 'Ready' }, '503': { description: 'Not ready' } } },
      },
      '/metrics': { get: { operationId: 'metrics', summary: 'Prometheus metrics', responses: { '200': { description: 'Metrics in the text format' } } } },
    },
  };
}
