// One Jest run over every project: infrastructure (Kafka, PostgreSQL) is brought up once for all
// of them by the global setup, then torn down.
/** @type {import('jest').Config} */
export default {
  projects: ['<rootDir>/libs/*/jest.config.js', '<rootDir>/services/*/jest.config.js', '<rootDir>/tools/*/jest.config.js'],
  globalSetup: '<rootDir>/tools/local-stack/src/jest-global-setup.cjs',
  globalTeardown: '<rootDir>/tools/local-stack/src/jest-global-teardown.cjs',
  maxWorkers: 2,
  // Integration tests share one broker and database on a 2-core machine: give them room.
  testTimeout: 60_000,
};
