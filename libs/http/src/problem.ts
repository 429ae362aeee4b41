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

export function sendProblem(res: Response, problem: Problem): void {
  const { type, ...rest } = problem;
  res
    .status(problem.status)
    .type('application/problem+json')
    .json({ type: type ?? `https://parley.dev/problems/${problem.code}`, ...rest, instance: res.req?.originalUrl });
}
