// Jest globalTeardown: stops what jest-global-setup.cjs started (nothing, when the environment provided
// Kafka and PostgreSQL) and restores the environment, so that a watch-mode rerun starts afresh.
'use strict';

const KEY = '__PARLEY_TEST_INFRASTRUCTURE__';

module.exports = async function globalTeardown() {
  const state = globalThis[KEY];
  if (state === undefined) return;
  delete globalThis[KEY];
  await state.infrastructure.stop();
  for (const [name, value] of Object.entries(state.previous)) {
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
  }
};
