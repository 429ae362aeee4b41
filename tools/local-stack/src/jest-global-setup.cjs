// Jest globalSetup for the whole repository (jest.config.js). It runs once, in Jest's own
// process, before any test: it makes Kafka and PostgreSQL available, creates the event topics, and
// puts the addresses in KAFKA_BROKERS and DATABASE_URL, which every Jest worker inherits. Where
// they come from is decided by ensureInfrastructure (src/infrastructure.ts): the environment
// (KAFKA_BROKERS / DATABASE_URL already set), else containers when a Docker engine answers, else
// local processes (Kafka's jars from Maven Central on the JDK, PostgreSQL binaries from npm).
//
// CommonJS because Jest loads this file with require(); the TypeScript is loaded with a native
// dynamic import (Node 24 strips its types), outside Jest's module system. It lives in the local
// stack, not in @parley/testing, so that the libraries whose tests use @parley/testing
// (messaging among them) do not depend, through it, on the local stack that depends on them.
'use strict';

const KEY = '__PARLEY_TEST_INFRASTRUCTURE__';

module.exports = async function globalSetup() {
  const started = Date.now();
  const { startTestInfrastructure } = await import('./test-infrastructure.ts');
  const { redactUrl } = await import('./postgres.ts');
  const report = (message) => process.stderr.write(`[test infrastructure] ${message}\n`);
  const previous = { KAFKA_BROKERS: process.env.KAFKA_BROKERS, DATABASE_URL: process.env.DATABASE_URL };
  const infrastructure = await startTestInfrastructure(report);
  process.env.KAFKA_BROKERS = infrastructure.kafkaBrokers.join(',');
  process.env.DATABASE_URL = infrastructure.databaseUrl;
  // Read back by jest-global-teardown.cjs, which Jest runs in this same process.
  globalThis[KEY] = { infrastructure, previous };
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  report(
    `ready in ${seconds} s: Kafka ${process.env.KAFKA_BROKERS} (${infrastructure.sources.kafka}), ` +
      `PostgreSQL ${redactUrl(infrastructure.databaseUrl)} (${infrastructure.sources.postgres})`,
  );
};
