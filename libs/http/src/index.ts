export { createHttpApp, jsonBody, rawBody, startHttpServer } from './app.ts';
export type { HttpAppOptions, ReadinessCheck, RunningServer } from './app.ts';
export { HttpProblem, problemBody, sendProblem, writeProblem } from './problem.ts';
export type { Problem } from './problem.ts';
