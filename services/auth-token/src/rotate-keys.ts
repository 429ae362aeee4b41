// Re-encrypts every stored token with the newest key of TOKEN_ENCRYPTION_KEYS.
//   node services/auth-token/src/rotate-keys.ts      (or: npm run rotate-keys -w services/auth-token)
// Needs DATABASE_URL, TOKEN_ENCRYPTION_KEYS (new key first, then every key still in use) and
// optionally DATABASE_SCHEMA. Prints the counts as JSON; exit 0 on success, 1 when a stored token
// could not be opened (nothing was changed then), 78 on a configuration problem.
import { z } from 'zod';
import { env, loadConfigOrExit } from '@parley/config';
import { createLogger } from '@parley/observability';
import { openDatabase } from '@parley/persistence';
import { migrations } from './migrations.ts';
import { rotateStoredTokens } from './tokens/rotation.ts';
import { createTokenVault } from './tokens/vault.ts';

const config = loadConfigOrExit('auth-token rotate-keys', {
  DATABASE_URL: env.databaseUrl,
  DATABASE_PREPARED_STATEMENTS: env.databasePreparedStatements,
  DATABASE_SCHEMA: z.string().regex(/^[a-z_][a-z0-9_]{0,62}$/).default('auth_token'),
  TOKEN_ENCRYPTION_KEYS: env.list,
  LOG_LEVEL: env.logLevel,
});
const logger = createLogger({ service: 'auth-token-rotate-keys', level: config.LOG_LEVEL });
const db = await openDatabase({ databaseUrl: config.DATABASE_URL, schema: config.DATABASE_SCHEMA, logger, migrations, poolSize: 1, preparedStatements: config.DATABASE_PREPARED_STATEMENTS });
try {
  const report = await rotateStoredTokens(db, createTokenVault(config.TOKEN_ENCRYPTION_KEYS), logger);
  process.stdout.write(`${JSON.stringify(report)}\n`);
} catch (error) {
  logger.error({ err: error }, 'rotation failed; nothing was changed');
  process.exitCode = 1;
} finally {
  await db.close();
}
