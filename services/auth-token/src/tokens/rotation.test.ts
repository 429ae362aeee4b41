// Key rotation through the real command (`node src/rotate-keys.ts`), on a service's own schema.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { generateFernetKey } from '@parley/fernet';
import { testDatabaseUrl } from '@parley/testing';
import { INTERNAL_TOKEN, startHarness } from '../test-harness.ts';
import type { Harness } from '../test-harness.ts';
import { createTokenVault } from './vault.ts';

const OLD_KEY = generateFernetKey();
const NEW_KEY = generateFernetKey();

let h: Harness;
beforeAll(async () => {
  h = await startHarness({ keys: [OLD_KEY] });
});
afterAll(async () => {
  await h?.stop();
});

function rotateKeys(keys: string[]): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, [path.join(__dirname, '..', 'rotate-keys.ts')], {
    env: { PATH: process.env['PATH'] ?? '', DATABASE_URL: testDatabaseUrl(), DATABASE_SCHEMA: h.schema.schema, TOKEN_ENCRYPTION_KEYS: keys.join(','), LOG_LEVEL: 'silent' },
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

async function sealedTokens(): Promise<string[]> {
  const rows = await h.db.query<{ sealed: string }>(
    `select page_token as sealed from pages where page_token is not null
     union all select user_token from user_grants
     union all select page_token from selection_pages where page_token is not null`,
  );
  return rows.map((r) => r.sealed);
}

async function tokenOf(pageId: string): Promise<{ httpStatus: number; accessToken?: string }> {
  const response = await h.call(`/internal/v1/pages/${pageId}/token`, { headers: { authorization: `Bearer ${INTERNAL_TOKEN}` }, raw: true });
  return { httpStatus: response.status, accessToken: ((await response.json()) as { accessToken?: string }).accessToken };
}

it('re-encrypts every stored token with the new key; afterwards the old key can go and every token still opens', async () => {
  const { userId, pageIds } = h.createAdmin([{ name: 'Rotate one' }, { name: 'Rotate two' }]);
  await h.connectPages(h.accounts.a, userId, pageIds);
  // A selection left open keeps Page tokens too: they are rotated with the rest.
  await h.startConnect({ account: h.accounts.a, userId });
  const before = await Promise.all(pageIds.map(tokenOf));
  expect(before.every((t) => t.httpStatus === 200 && typeof t.accessToken === 'string')).toBe(true);
  const sealedBefore = await sealedTokens();
  expect(sealedBefore.length).toBeGreaterThanOrEqual(6); // 2 Pages, 2 logins, 2 offered Pages

  const first = rotateKeys([NEW_KEY, OLD_KEY]);
  expect(first.stderr).toBe('');
  expect(first.status).toBe(0);
  const report = JSON.parse(first.stdout) as { examined: number; rotated: number; current: number; byTable: Record<string, { rotated: number }> };
  expect(report).toMatchObject({ examined: sealedBefore.length, rotated: sealedBefore.length, current: 0 });
  expect(report.byTable['selection_pages']?.rotated).toBeGreaterThanOrEqual(2);

  // Idempotent: a second run finds nothing to do.
  const second = JSON.parse(rotateKeys([NEW_KEY, OLD_KEY]).stdout) as { examined: number; rotated: number; current: number };
  expect(second).toMatchObject({ examined: sealedBefore.length, rotated: 0, current: sealedBefore.length });

  // The old key alone opens none of them any more; the new key alone opens all.
  const sealedAfter = await sealedTokens();
  const oldOnly = createTokenVault([OLD_KEY]);
  const newOnly = createTokenVault([NEW_KEY]);
  for (const sealed of sealedAfter) {
    expect(() => oldOnly.open(sealed)).toThrow(/cannot be decrypted/);
    expect(newOnly.needsRotation(sealed)).toBe(false);
  }

  // The service, now configured with the new key only, still hands out the same tokens and checks them.
  await h.restartService({ TOKEN_ENCRYPTION_KEYS: NEW_KEY });
  expect(await Promise.all(pageIds.map(tokenOf))).toEqual(before);
  h.advanceClock(h.config.TOKEN_CHECK_INTERVAL_MS + 1_000);
  await h.service.runHealthChecks();
  const pages = (await (await h.call('/v1/pages', { account: h.accounts.a })).json()) as Array<{ pageId: string; status: string; tokenCheckedAt: string | null }>;
  expect(pages.filter((p) => pageIds.includes(p.pageId)).map((p) => [p.status, p.tokenCheckedAt !== null])).toEqual([
    ['connected', true],
    ['connected', true],
  ]);
});

it('changes nothing when a stored token cannot be opened with the given keys (the old key was dropped too early)', async () => {
  const sealedBefore = (await sealedTokens()).sort();
  const failed = rotateKeys([generateFernetKey()]);
  expect(failed.status).toBe(1);
  expect((await sealedTokens()).sort()).toEqual(sealedBefore);
});

it('reports a configuration problem clearly (exit 78)', () => {
  const result = rotateKeys([]);
  expect(result.status).toBe(78);
  expect(result.stderr).toContain('TOKEN_ENCRYPTION_KEYS');
});
