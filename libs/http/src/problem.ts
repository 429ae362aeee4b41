import type { ServerResponse } from 'node:http';
import type { Response } from 'express';

/**
 * An RFC 9457 problem: `type`, `title`, `status`, `detail`, plus a stable machine-readable `code`
 * that clients can switch on without parsing English.
 */
export type Problem = {
  status: number;
  code: string;
  title: string;
  detail?: string;
  type?: string;
  [extension: string]: unknown;
};

/** Throw from a handler to answer with a problem; anything else becomes a 500 without internals. */
export class HttpProblem extends Error {
  readonly problem: Problem;
  constructor(problem: Problem) {
    super(problem.detail ?? problem.title);
    this.name = 'HttpProblem';
    this.problem = problem;
  }
}

/** The RFC 9457 body of a problem. */
export function problemBody(problem: Problem, instance: string | undefined): Record<string, unknown> {
  const { type, ...rest } = problem;
  return { type: type ?? `https://parley.dev/problems/${problem.code}`, ...rest, instance };
}

export function sendProblem(res: Response, problem: Problem): void {
  res.status(problem.status).type('application/problem+json').json(problemBody(problem, res.req?.originalUrl));
}

/** The same answer from a plain `node:http` handler (a route served without express). */
export function writeProblem(res: ServerResponse, problem: Problem, instance: string | undefined, headers: Record<string, string> = {}): void {
  const body = JSON.stringify(problemBody(problem, instance));
  res.writeHead(problem.status, { ...headers, 'content-type': 'application/problem+json; charset=utf-8', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}
