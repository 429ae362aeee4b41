// One Jest run over every project: infrastructure (Kafka, PostgreSQL) is brought up once for all
// of them by the global setup, then torn down.
// kafkajs sometimes schedules a timer with a negative delay (its request queue's next check); Node
// then waits 1 ms and prints a TimeoutNegativeWarning each time, hundreds of lines in a test run.
// The services run with --disable-warning=TimeoutNegativeWarning (nodeOptionsFor): so do Jest's
// workers (they inherit NODE_OPTIONS) and this process. Every other warning is printed as before.
process.env.NODE_OPTIONS = `${process.env.NODE_OPTIONS ?? ''} --disable-warning=TimeoutNegativeWarning`.trim();
const emitWarning = process.emitWarning;
process.emitWarning = (warning, ...rest) => {
  const type = typeof rest[0] === 'string' ? rest[0] : rest[0]?.type;
  if (type !== 'TimeoutNegativeWarning') emitWarning.call(process, warning, ...rest);
};

/** @type {import('jest').Config} */
export default {
  projects: ['<rootDir>/libs/*/jest.config.js', '<rootDir>/services/*/jest.config.js', '<rootDir>/tools/*/jest.config.js'],
  globalSetup: '<rootDir>/tools/local-stack/src/jest-global-setup.cjs',
  globalTeardown: '<rootDir>/tools/local-stack/src/jest-global-teardown.cjs',
  maxWorkers: 2,
  // Integration tests share one broker and database on a 2-core machine: give them room.
  testTimeout: 60_000,
};
