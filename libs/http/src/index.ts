export { createHttpApp, jsonBody, rawBody, startHttpServer } from './app.ts';
export type { HttpAppOptions, ReadinessCheck, RunningServer } from './app.ts';
export { HttpProblem, sendProblem } from './problem.ts';
export type { Problem } from './problem.ts';
