// Key rotation: re-encrypts every stored token with the newest key of TOKEN_ENCRYPTION_KEYS.
// Procedure: put the new key first (keep the old ones after it), deploy, run rotate-keys, then drop
// the old keys. It runs in one transaction with the rows locked, so a failure (a token no configured
// key can open) changes nothing; running it again finds nothing left to do.
import type { Logger } from '@parley/observability';
import type { Database } from '@parley/persistence';
import type { TokenVault } from './vault.ts';

export type RotationReport = {
  /** Tokens looked at, per table. */
  examined: number;
  /** Re-encrypted with the newest key. */
  rotated: number;
  /** Already under the newest key. */
  current: number;
  byTable: Record<string, { examined: number; rotated: number }>;
};

/** Every column that holds a sealed token, with the key that identifies its row. */
const SEALED_COLUMNS = [
  { table: 'pages', key: ['page_id'], column: 'page_token' },
  { table: 'user_grants', key: ['grant_id'], column: 'user_token' },
  { table: 'selection_pages', key: ['selection_id', 'page_id'], column: 'page_token' },
] as const;

export async function rotateStoredTokens(db: Database, vault: TokenVault, logger: Logger): Promise<RotationReport> {
  const report: RotationReport = { examined: 0, rotated: 0, current: 0, byTable: {} };
  await db.transaction(async (tx) => {
    for (const { table, key, column } of SEALED_COLUMNS) {
      const rows = await db.query<Record<string, string>>(
        `select ${key.join(', ')}, ${column} as sealed from ${table} where ${column} is not null for update`,
        [],
        tx,
      );
      const counts = { examined: rows.length, rotated: 0 };
      for (const row of rows) {
        const sealed = row['sealed']!;
        // Throws UnreadableTokenError when no key opens it: the whole rotation rolls back.
        if (!vault.needsRotation(sealed)) continue;
        await db.query(
          `update ${table} set ${column} = ? where ${key.map((k) => `${k} = ?`).join(' and ')}`,
          [vault.reseal(sealed), ...key.map((k) => row[k])],
          tx,
        );
        counts.rotated++;
      }
      report.byTable[table] = counts;
      report.examined += counts.examined;
      report.rotated += counts.rotated;
    }
  });
  report.current = report.examined - report.rotated;
  logger.info({ ...report }, 'token encryption keys rotated');
  return report;
}
