import { HttpProblem } from '@parley/http';
import type { z } from 'zod';

/** Parses query parameters or a body; a mismatch is a 400 problem naming every field that is wrong. */
export function parseOr400<T extends z.ZodType>(schema: T, value: unknown, code: 'invalid_query' | 'invalid_request'): z.infer<T> {
  const result = schema.safeParse(value ?? {});
  if (result.success) return result.data;
  throw new HttpProblem({
    status: 400,
    code,
    title: code === 'invalid_query' ? 'Invalid query parameters' : 'Invalid request body',
    detail: result.error.issues.map((i) => `${i.path.join('.') || '(body)'}: ${i.message}`).join('; '),
  });
}

export function notFound(what: string): HttpProblem {
  return new HttpProblem({ status: 404, code: 'conversation_not_found', title: 'Conversation not found', detail: `No conversation ${what} in your account.` });
}
