// Shared Jest settings for every project. Sources are TypeScript run by Node's type stripping in
// production; under Jest, SWC compiles them to CommonJS (fast, no type check: `npm run typecheck`
// does that once for the whole repository).
/** @type {import('jest').Config} */
export default {
  testEnvironment: 'node',
  transform: {
    '^.+\\.ts$': [
      '@swc/jest',
      { jsc: { parser: { syntax: 'typescript' }, target: 'es2023' }, module: { type: 'commonjs' } },
    ],
  },
  moduleFileExtensions: ['ts', 'js', 'json'],
  testMatch: ['<rootDir>/src/**/*.test.ts'],
  // Integration tests share one broker and database; give them room on a 2-core machine.
  testTimeout: 60_000,
};
